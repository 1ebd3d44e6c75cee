/**
 * Run-time backend selection (DESIGN.md section 4).
 *
 * Order: `@tensorflow/tfjs-node-gpu`, then `@tensorflow/tfjs-node` (native
 * libtensorflow; both optional and imported dynamically), then
 * `@tensorflow/tfjs-backend-wasm` with our extra kernels, then `cpu` with a
 * warning. A node package that is missing, or present but whose native
 * binding fails to load, counts as absent; why is said once through `log`.
 *
 * On wasm, the convolutions and matmuls run natively through oneDNN when the
 * addon is built (native.ts; `UNETC_NATIVE=0` turns it off): then `threads`
 * (or `UNETC_WASM_THREADS`; default: the available cores) is the native
 * (OpenMP) thread count and wasm itself stays at 1 thread. Without the addon,
 * wasm runs single-threaded unless `threads` asks for more: then the threaded
 * build is forced and a watchdog started (see wasmThreads.ts). The wasm thread
 * count is fixed when wasm is first initialised.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import './gradients.ts';
import { createRequire } from 'node:module';
import path from 'node:path';
import { loadNative, NATIVE_HINT, registerNativeKernels } from './native.ts';
import { registerWasmKernels } from './wasmKernels.ts';
import { initWasmThreaded, requestedThreads, startWatchdog, watchdogSeconds, type WasmPackage } from './wasmThreads.ts';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

export interface SelectBackendOptions {
  /** Use this backend (`tensorflow`: either tfjs-node package) or fail. */
  name?: BackendName;
  /** Where the choice and the reasons for skipping backends go (default: stderr). */
  log?: (msg: string) => void;
  /**
   * wasm threads (1 to 8; default: the `UNETC_WASM_THREADS` environment
   * variable, else 1). More than 1 loads the threaded wasm build and starts
   * a hang watchdog (`UNETC_WASM_WATCHDOG_SECONDS`, default 300, 0 = off).
   * Fixed when wasm is first initialised: asking for another count later is
   * an error. Asking for more than 1 makes wasm required.
   */
  threads?: number;
}

export interface SelectedBackend {
  /** The tfjs backend name now active: `tensorflow`, `wasm` or `cpu`. */
  name: string;
  /** Why better backends were not used, or that the backend was requested. */
  reason?: string;
  /** wasm only: the threads the heavy kernels use (oneDNN's when native, else XNNPACK's). */
  threads?: number;
  /** wasm only: the native oneDNN kernels, when they run (then wasm itself has 1 thread). */
  native?: { onednn: string; threads: number };
}

/** The package specifiers of the native backends, best first. */
export const NODE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;
const WASM_PACKAGE = '@tensorflow/tfjs-backend-wasm';

/** What {@link createBackendSelector} needs from the outside world (replaceable in tests). */
export interface SelectorDeps {
  /** Dynamic import of a package by name. */
  importModule: (specifier: string) => Promise<unknown>;
  /** The directory holding the wasm binaries, with a trailing separator. */
  wasmDir: () => string;
}

const defaultDeps: SelectorDeps = {
  // A non-literal specifier: the optional packages need not exist for tsc.
  importModule: (specifier) => import(specifier),
  wasmDir: () => {
    const require = createRequire(import.meta.url);
    return path.dirname(require.resolve(WASM_PACKAGE)) + path.sep;
  },
};

const defaultLog = (msg: string): void => {
  process.stderr.write(`${msg}\n`);
};

function threadMismatch(actual: number | undefined, wanted: number): Error {
  return new Error(
    `the wasm backend already runs with ${actual} thread${actual === 1 ? '' : 's'}; ${wanted} cannot be chosen after it was first initialised`,
  );
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const line = msg.split('\n').find((l) => l.trim() !== '') ?? msg;
  return line.length > 300 ? `${line.slice(0, 297)}...` : line.trim();
}

/** Why importing `specifier` failed, in a few words. */
function importFailure(specifier: string, err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  const msg = err instanceof Error ? err.message : String(err);
  if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && msg.includes(`'${specifier}'`)) {
    return 'not installed';
  }
  return `installed but failed to load: ${firstLine(err)}`;
}

/**
 * Makes an independent `selectBackend` (with its own cache and log
 * de-duplication). The module's {@link selectBackend} is one of these.
 */
export function createBackendSelector(deps: SelectorDeps = defaultDeps) {
  const cache = new Map<string, Promise<SelectedBackend>>();
  const said = new Set<string>();
  let wasmLoaded: Promise<{ why?: string; wasm?: WasmPackage }> | undefined;

  const sayOnce = (log: (m: string) => void, msg: string): void => {
    if (said.has(msg)) return;
    said.add(msg);
    log(msg);
  };

  /** Loads a native package; returns undefined when usable, else why not. */
  async function tryNode(specifier: string): Promise<string | undefined> {
    try {
      await deps.importModule(specifier);
    } catch (err) {
      return importFailure(specifier, err);
    }
    if (tf.findBackendFactory('tensorflow') == null) {
      return 'loaded, but registered no "tensorflow" backend with this copy of @tensorflow/tfjs-core';
    }
    try {
      if (await tf.setBackend('tensorflow')) return undefined;
      return 'loaded, but its backend failed to initialise';
    } catch (err) {
      return `loaded, but its backend failed to initialise: ${firstLine(err)}`;
    }
  }

  /**
   * Loads and initialises wasm with our kernels (with `threads` threads when
   * it is not initialised yet); the thread count when usable, else why not.
   */
  async function tryWasm(
    threads: number | undefined,
    log: (m: string) => void,
  ): Promise<{ threads: number; native?: { onednn: string; threads: number } } | { why: string }> {
    wasmLoaded ??= (async () => {
      try {
        const wasm = (await deps.importModule(WASM_PACKAGE)) as WasmPackage & {
          setWasmPaths: (prefix: string) => void;
        };
        // Paths can only be set before the backend is first initialised.
        if (!('wasm' in tf.engine().registry)) wasm.setWasmPaths(deps.wasmDir());
        registerWasmKernels();
        return { wasm };
      } catch (err) {
        return { why: importFailure(WASM_PACKAGE, err) };
      }
    })();
    const { why, wasm } = await wasmLoaded;
    if (why !== undefined || wasm === undefined) return { why: why ?? 'not loaded' };
    const first = !('wasm' in tf.engine().registry);
    const nat = loadNative(threads);
    if (nat.ok) {
      registerNativeKernels();
      try {
        if (!(await tf.setBackend('wasm'))) return { why: 'its backend failed to initialise' };
      } catch (err) {
        return { why: `its backend failed to initialise: ${firstLine(err)}` };
      }
      return { threads: nat.threads, native: { onednn: nat.version, threads: nat.threads } };
    }
    sayOnce(
      log,
      `backend: native oneDNN kernels unavailable (${nat.why})${nat.why.includes(NATIVE_HINT) || nat.why.startsWith('disabled') ? '' : `; ${NATIVE_HINT}`}`,
    );
    try {
      if (first && threads !== undefined && threads > 1) {
        // Before initialising: a hang can happen as soon as threads start.
        startWatchdog({ timeoutSeconds: watchdogSeconds(undefined), what: `wasm backend with ${threads} threads` });
        await initWasmThreaded(wasm, threads, () => tf.setBackend('wasm'));
      } else if (!(await tf.setBackend('wasm'))) {
        return { why: 'its backend failed to initialise' };
      }
    } catch (err) {
      return { why: `its backend failed to initialise: ${firstLine(err)}` };
    }
    const actual = wasm.getThreadsCount();
    if (threads !== undefined && actual !== threads) throw threadMismatch(actual, threads);
    return { threads: actual };
  }

  async function useCpu(): Promise<string | undefined> {
    if (await tf.setBackend('cpu')) return undefined;
    return 'the cpu backend failed to initialise';
  }

  async function select(name: BackendName | undefined, threads: number | undefined, log: (m: string) => void): Promise<SelectedBackend> {
    const skipped: string[] = [];
    const skip = (what: string, why: string): void => {
      skipped.push(`${what}: ${why}`);
      sayOnce(log, `backend: ${what} unavailable (${why})`);
    };

    if (name === undefined || name === 'tensorflow') {
      for (const pkg of NODE_PACKAGES) {
        const why = await tryNode(pkg);
        if (why === undefined) {
          sayOnce(
            log,
            `backend: tensorflow (native, from ${pkg})${threads !== undefined && threads > 1 ? '; the wasm thread count is ignored' : ''}`,
          );
          return { name: 'tensorflow', reason: name ? 'requested' : skipped.join('; ') || undefined };
        }
        skip(pkg, why);
      }
      if (name === 'tensorflow') {
        throw new Error(`backend 'tensorflow' requested but unavailable: ${skipped.join('; ')}`);
      }
    }

    if (name === undefined || name === 'wasm') {
      const got = await tryWasm(threads, log);
      if ('threads' in got) {
        const n = got.threads;
        const reason = name ? 'requested' : skipped.join('; ') || undefined;
        if (got.native) {
          sayOnce(
            log,
            `backend: wasm + oneDNN ${got.native.onednn}, ${n} thread${n === 1 ? '' : 's'} (native convolutions and matmuls on the wasm heap; unetc wasm kernels for the rest)`,
          );
          return { name: 'wasm', reason, threads: n, native: got.native };
        }
        sayOnce(
          log,
          `backend: wasm (XNNPACK, ${n} thread${n === 1 ? '' : 's'}, with unetc kernels: conv gradients, segment sums, batched matmul, slices)`,
        );
        return { name: 'wasm', reason, threads: n };
      }
      skip(WASM_PACKAGE, got.why);
      if (name === 'wasm') throw new Error(`backend 'wasm' requested but unavailable: ${got.why}`);
      if (threads !== undefined && threads > 1) throw new Error(`${threads} wasm threads requested but wasm is unavailable: ${got.why}`);
    }

    const why = await useCpu();
    if (why !== undefined) throw new Error(`no usable backend: ${[...skipped, why].join('; ')}`);
    if (name === 'cpu') {
      sayOnce(log, 'backend: cpu (requested; warning: far too slow to train models)');
      return { name: 'cpu', reason: 'requested' };
    }
    sayOnce(log, 'backend: cpu (warning: no faster backend could be loaded; training will be very slow)');
    return { name: 'cpu', reason: skipped.join('; ') };
  }

  return async function selectBackend(opts: SelectBackendOptions = {}): Promise<SelectedBackend> {
    const key = opts.name ?? 'auto';
    const threads = requestedThreads(opts.threads);
    let pending = cache.get(key);
    if (pending === undefined) {
      pending = select(opts.name, threads, opts.log ?? defaultLog);
      cache.set(key, pending);
      pending.catch(() => cache.delete(key));
      return pending;
    }
    const chosen = await pending;
    if (chosen.name === 'wasm' && chosen.native && threads !== undefined && chosen.threads !== threads) {
      // OpenMP's thread count can change at any time.
      const n = loadNative(threads);
      return {
        ...chosen,
        threads: n.ok ? n.threads : chosen.threads,
        native: n.ok ? { onednn: n.version, threads: n.threads } : chosen.native,
      };
    }
    if (chosen.name === 'wasm' && threads !== undefined && chosen.threads !== threads) throw threadMismatch(chosen.threads, threads);
    // Another call may have switched backends since: switch back.
    if (tf.getBackend() !== chosen.name) await tf.setBackend(chosen.name);
    return chosen;
  };
}

/**
 * Chooses, initialises and activates the tfjs backend. Calling it again with
 * the same `name` returns the same result (re-activating that backend if
 * another call switched away from it); a different `name` switches.
 */
export const selectBackend: (opts?: SelectBackendOptions) => Promise<SelectedBackend> = createBackendSelector();
