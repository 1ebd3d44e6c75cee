/**
 * Multithreaded wasm backend under Node (opt-in; issue #5).
 *
 * @tensorflow/tfjs-backend-wasm 4.22 always loads its single-threaded SIMD
 * binary under Node: the `WASM_HAS_MULTITHREAD_SUPPORT` flag returns false
 * when `IS_NODE`, so `setThreadsCount` has no effect. Its threaded SIMD
 * binary (tfjs-backend-wasm-threaded-simd.wasm, an Emscripten pthreads
 * build) does work under Node once four things are fixed up at start-up.
 * Nothing in node_modules is modified; each fix is scoped to the one
 * `tf.setBackend('wasm')` call that initialises the backend
 * ({@link initWasmThreaded}) and undone afterwards:
 *
 * 1. The flag. `tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true)` makes
 *    tfjs pick the threaded factory and binary (it also needs
 *    `WASM_HAS_SIMD_SUPPORT`, which Node 20 has, and no `setWasmPaths` full
 *    path override: select.ts passes a directory prefix, which is fine).
 * 2. The pthread worker script. Emscripten starts a pool of 8 pthread
 *    workers while the module is created, at the path the module's
 *    `locateFile('….worker.js')` returns. tfjs's `locateFile` returns
 *    `URL.createObjectURL(new Blob([worker source]))`, a `blob:` URL that
 *    Node's `Worker` cannot load. While the backend initialises,
 *    `URL.createObjectURL` is wrapped: for a Blob of type
 *    `application/javascript` (the type tfjs gives the worker source) it
 *    returns the path of a real file instead: the same worker source (from
 *    wasm-out/tfjs-backend-wasm-threaded-simd.worker.js), written to a fresh
 *    private temporary folder, which is removed once the workers have loaded.
 * 3. The main script. Each worker then evaluates the module's JS glue from
 *    `Module.mainScriptUrlOrBlob`, which tfjs sets to a Blob of the factory's
 *    source (taken from its Node bundle, where it refers to bundle-local
 *    variables, so it would not even run as a script). The worker file
 *    written in (2) ends with a few lines that replace that Blob, in the
 *    worker's "load" message, with the real path of the same glue,
 *    wasm-out/tfjs-backend-wasm-threaded-simd.js.
 * 4. The thread count. The C++ side computes, in a static initialiser that
 *    runs while the module is created, `num_cores = logical cores / 2`
 *    (`emscripten_num_logical_cores`, which under Node is
 *    `require('os').cpus().length`) and caps every thread count at it: on
 *    this 2-vCPU machine, at 1. While the backend initialises, `os.cpus` is
 *    wrapped to report at least 2 x threads CPUs; `setThreadsCount(threads)`
 *    then sizes XNNPACK's pthreadpool (at most 8, the worker pool size).
 *
 * Also:
 * - Exit. Emscripten `ref()`s the worker of every running pthread, so the
 *   pthreadpool's threads would keep the process alive after the work is
 *   done: they are `unref()`ed once the backend exists (Node terminates
 *   them when the process exits).
 * - Watchdog ({@link startWatchdog}). One run with two threads hung (0% CPU,
 *   the main thread blocked inside wasm waiting on a pthread). A
 *   worker_thread, which keeps running while the main thread is blocked,
 *   kills the process (SIGKILL, after a message on stderr) when the main
 *   thread has not bumped a shared heartbeat for `timeoutSeconds` AND the
 *   whole process used under 5% of a core over that time. A timer on the
 *   main thread bumps the heartbeat every second, so an idle event loop
 *   never counts as a hang; a long synchronous stretch that computes (a
 *   training step, a whole sampling run) uses CPU and does not either.
 *
 * Heap views: with threads the wasm memory is a SharedArrayBuffer.
 * `new Int32Array(HEAPU8.buffer, …)`, `subarray`, `set`, `slice` and
 * `typedArrayFromHeap` all work on it unchanged (test/wasmThreads.test.ts
 * runs the unetc kernels with 2 threads and compares with 1 thread).
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';

/** The largest thread count: the C++ side caps at 8, the size of Emscripten's worker pool. */
export const MAX_WASM_THREADS = 8;

/** What this module uses of `@tensorflow/tfjs-backend-wasm`. */
export interface WasmPackage {
  setThreadsCount: (n: number) => void;
  getThreadsCount: () => number;
}

/** What this module uses of the Emscripten module of the threaded build. */
interface PThreadModule {
  PThread?: { runningWorkers: Array<{ unref?: () => void }>; unusedWorkers: Array<{ unref?: () => void }> };
}

const require = createRequire(import.meta.url);
const WASM_OUT = 'wasm-out';
const WORKER_SOURCE = 'tfjs-backend-wasm-threaded-simd.worker.js';
const MAIN_SCRIPT = 'tfjs-backend-wasm-threaded-simd.js';

/**
 * The thread count asked for: `option`, else the `UNETC_WASM_THREADS`
 * environment variable, else undefined (meaning 1, or whatever the wasm
 * backend was already initialised with).
 */
export function requestedThreads(option: number | undefined, env: NodeJS.ProcessEnv = process.env): number | undefined {
  let n = option;
  let from = 'threads';
  if (n === undefined) {
    const v = env.UNETC_WASM_THREADS;
    if (v === undefined || v.trim() === '') return undefined;
    n = Number(v);
    from = 'UNETC_WASM_THREADS';
  }
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_WASM_THREADS) {
    throw new Error(`${from} takes a whole number from 1 to ${MAX_WASM_THREADS}, got '${String(option ?? env.UNETC_WASM_THREADS)}'`);
  }
  return n;
}

/** Why the threaded wasm binary cannot run in this process, or undefined when it can. */
export function threadsUnsupported(): string | undefined {
  if (typeof SharedArrayBuffer !== 'function') return 'SharedArrayBuffer is unavailable';
  if (typeof Atomics !== 'object') return 'Atomics is unavailable';
  if (typeof URL.createObjectURL !== 'function') return 'URL.createObjectURL is unavailable';
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  } catch (err) {
    return `shared WebAssembly memory is unavailable (${(err as Error).message})`;
  }
  if (!WebAssembly.validate(SIMD_PROBE)) return 'WebAssembly SIMD is unavailable (the threaded binary needs it)';
  return undefined;
}

/** A tiny module using a SIMD instruction (tfjs's own `WASM_HAS_SIMD_SUPPORT` probe). */
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 10, 9, 1, 7, 0, 65, 0, 253, 15, 26, 11]);

/** The directory of the tfjs-backend-wasm package's Emscripten outputs. */
function wasmOutDir(): string {
  // The package's `main` is dist/tf-backend-wasm.node.js.
  return path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '..', WASM_OUT);
}

/**
 * The pthread worker script: tfjs's own worker source, plus a wrapper of its
 * message handler that loads the module glue from `mainScript` (a real path)
 * instead of the Blob tfjs passes.
 */
function workerScript(mainScript: string): string {
  const { wasmWorkerContents } = require(path.join(wasmOutDir(), WORKER_SOURCE)) as { wasmWorkerContents: string };
  if (typeof wasmWorkerContents !== 'string' || !wasmWorkerContents.includes('self.onmessage')) {
    throw new Error(`unexpected contents of ${WORKER_SOURCE}`);
  }
  // tfjs escapes newlines the same way before making its Blob: the source
  // has "\n" escapes that the template literal it is stored in turned into
  // real newlines inside string literals.
  const source = wasmWorkerContents.replace(/\n/g, '\\n');
  return `${source}
;(function () {
  // unetc: Node cannot import the Blob tfjs sends as the main script; load
  // the same Emscripten glue from its file instead.
  var handle = self.onmessage;
  self.onmessage = function (e) {
    if (e && e.data && e.data.cmd === 'load') e.data.urlOrBlob = ${JSON.stringify(mainScript)};
    return handle(e);
  };
})();
`;
}

/**
 * Runs `init` (the `tf.setBackend('wasm')` call that first creates the wasm
 * backend) with the threaded binary and `threads` threads, then checks the
 * thread count and lets the process exit while the threads live. Returns
 * the thread count the backend reports.
 *
 * Call it before anything else initialises the wasm backend: the binary is
 * chosen once per process.
 */
export async function initWasmThreaded(wasm: WasmPackage, threads: number, init: () => Promise<boolean>): Promise<number> {
  const why = threadsUnsupported();
  if (why !== undefined) throw new Error(`cannot run the wasm backend with ${threads} threads: ${why}`);
  const outDir = wasmOutDir();
  const mainScript = path.join(outDir, MAIN_SCRIPT);
  require.resolve(mainScript); // fails clearly when the package lacks it

  // (1) The flag tfjs hard-codes to false under Node.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  wasm.setThreadsCount(threads);

  // (2, 3) A private folder (mkdtemp: mode 0700) for the worker script.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'unetc-wasm-threads-'));
  const workerFile = path.join(dir, 'pthread-worker.cjs');
  writeFileSync(workerFile, workerScript(mainScript), { mode: 0o600 });
  const createObjectURL = URL.createObjectURL;
  URL.createObjectURL = function (obj: Blob): string {
    if (obj instanceof Blob && obj.type === 'application/javascript') return workerFile;
    return createObjectURL.call(URL, obj);
  };

  // (4) Report enough CPUs that num_cores = cpus / 2 >= threads. The same
  // object as the `require('os')` inside the tfjs bundle.
  const nodeOs = require('node:os') as { cpus: typeof os.cpus };
  const cpus = nodeOs.cpus;
  nodeOs.cpus = function (): os.CpuInfo[] {
    const real = cpus.call(nodeOs);
    const want = Math.max(real.length, 2 * threads);
    return Array.from({ length: want }, (_, i) => real[i % Math.max(real.length, 1)]!);
  };

  let ok: boolean;
  try {
    ok = await init();
  } finally {
    nodeOs.cpus = cpus;
    URL.createObjectURL = createObjectURL;
    // The workers have read their script: Emscripten resolves the module
    // only after every pool worker has loaded.
    rmSync(dir, { recursive: true, force: true });
  }
  if (!ok) throw new Error('the threaded wasm backend failed to initialise');

  // Let the process exit: running pthreads' workers are ref()ed.
  const backend = tf.findBackend('wasm') as unknown as { wasm?: PThreadModule } | null;
  const pthread = backend?.wasm?.PThread;
  if (pthread === undefined) {
    throw new Error('the wasm backend did not load its threaded build (no PThread in the module)');
  }
  for (const w of [...pthread.runningWorkers, ...pthread.unusedWorkers]) w.unref?.();
  return wasm.getThreadsCount();
}

// ---------------------------------------------------------------------------
// Watchdog
// ---------------------------------------------------------------------------

/** Default seconds of a blocked, idle main thread before the watchdog kills the process. */
export const DEFAULT_WATCHDOG_SECONDS = 300;

let beat: Int32Array | undefined;

/**
 * Tells the watchdog (if running) that the main thread is making progress.
 * Optional: a timer already does this whenever the event loop runs; a call
 * from a long synchronous loop is harmless. Cheap; a no-op without watchdog.
 */
export function heartbeat(): void {
  if (beat !== undefined) Atomics.add(beat, 0, 1);
}

/** Runs in the watchdog worker_thread (CommonJS, `eval: true`). */
const WATCHDOG_SOURCE = `
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
const beat = new Int32Array(workerData.heartbeat);
const timeoutMs = workerData.timeoutMs;
const samples = [];
let lastPoll = Date.now();
setInterval(() => {
  const now = Date.now();
  // A poll much later than due means this thread did not run either (the
  // process was stopped, e.g. Ctrl-Z, or the machine slept): start over, or
  // the first poll after resuming would see a long silence.
  if (now - lastPoll > 5 * workerData.pollMs + 2000) samples.length = 0;
  lastPoll = now;
  const u = process.cpuUsage();
  const s = { now, beat: Atomics.load(beat, 0), cpuMs: (u.user + u.system) / 1000 };
  samples.push(s);
  // Keep the newest sample at least timeoutMs old as samples[0].
  while (samples.length > 1 && now - samples[1].now >= timeoutMs) samples.shift();
  const old = samples[0];
  const span = now - old.now;
  if (span < timeoutMs || old.beat !== s.beat) return;
  if (s.cpuMs - old.cpuMs >= 0.05 * span) return; // blocked but computing
  try {
    fs.writeSync(2, '\\nunetc: ' + workerData.what + ': the main thread has been blocked with the process idle for ' +
      Math.round(span / 1000) + ' s, a known rare hang of the multithreaded wasm backend under Node. ' +
      'Killing the process (SIGKILL). Training checkpoints are written atomically: resume with --resume, ' +
      'or run with --threads 1 to avoid threads.\\n');
  } finally {
    process.kill(process.pid, 'SIGKILL');
  }
}, workerData.pollMs);
`;

export interface WatchdogOptions {
  /** Seconds of blocked main thread with an idle process before the kill (default {@link DEFAULT_WATCHDOG_SECONDS}). */
  timeoutSeconds?: number;
  /** What is running, for the message (default "wasm backend"). */
  what?: string;
  /** Poll interval in ms (default 1000; tests use less). */
  pollMs?: number;
}

let watchdog: { worker: Worker; timer: NodeJS.Timeout } | undefined;

/**
 * Starts the process-wide watchdog (once; later calls do nothing). It
 * neither keeps the process alive nor costs measurable time.
 */
export function startWatchdog(opts: WatchdogOptions = {}): void {
  if (watchdog !== undefined) return;
  const timeoutSeconds = opts.timeoutSeconds ?? DEFAULT_WATCHDOG_SECONDS;
  if (!(timeoutSeconds > 0)) return;
  const sab = new SharedArrayBuffer(4);
  beat = new Int32Array(sab);
  const pollMs = opts.pollMs ?? 1000;
  const worker = new Worker(WATCHDOG_SOURCE, {
    eval: true,
    workerData: { heartbeat: sab, timeoutMs: timeoutSeconds * 1000, pollMs, what: opts.what ?? 'wasm backend' },
    // The watchdog must not inherit loaders (tsx) it does not need.
    execArgv: [],
  });
  worker.unref();
  const timer = setInterval(heartbeat, Math.min(1000, pollMs));
  timer.unref();
  watchdog = { worker, timer };
}

/** Stops the watchdog (tests; not needed before exit). */
export async function stopWatchdog(): Promise<void> {
  if (watchdog === undefined) return;
  clearInterval(watchdog.timer);
  const { worker } = watchdog;
  watchdog = undefined;
  beat = undefined;
  await worker.terminate();
}

/** The watchdog timeout asked for: `option`, else `UNETC_WASM_WATCHDOG_SECONDS`, else the default; 0 turns it off. */
export function watchdogSeconds(option: number | undefined, env: NodeJS.ProcessEnv = process.env): number {
  if (option !== undefined) return option;
  const v = env.UNETC_WASM_WATCHDOG_SECONDS;
  if (v === undefined || v.trim() === '') return DEFAULT_WATCHDOG_SECONDS;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`UNETC_WASM_WATCHDOG_SECONDS takes a number of seconds >= 0, got '${v}'`);
  return n;
}
