/**
 * The multithreaded wasm backend (src/runtime/engine/wasmThreads.ts), in
 * child processes: the thread count is fixed once per process, and whether
 * a process with live pthreads exits on its own is part of what is tested.
 *
 * Results with 2 threads are compared with 1 thread: a conv forward pass and
 * its two gradients (unetc's Conv2DBackpropInput/Filter kernels), matmuls
 * (unetc's BatchMatMul, with transposes and batch), slices and unstack
 * (unetc's heap-view copies). Tolerance 1e-5 relative to the largest value;
 * XNNPACK splits work across threads by output tiles, so in practice the
 * sums are the same and the results identical.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { requestedThreads, threadsUnsupported } from '../src/runtime/engine/wasmThreads.ts';

const ROOT = join(import.meta.dirname, '..');
const url = (f: string) => JSON.stringify(pathToFileURL(join(ROOT, f)).href);
const dir = mkdtempSync(join(tmpdir(), 'unetc-wasm-threads-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs a TypeScript module (written to `dir`) through bin/run-ts.mjs. */
function runTs(name: string, source: string, env: Record<string, string> = {}, timeout = 180_000) {
  const file = join(dir, name);
  writeFileSync(file, source);
  return spawnSync(process.execPath, [join(ROOT, 'bin/run-ts.mjs'), file], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout,
    // UNETC_NATIVE=0: these are the wasm threads (with the native kernels wasm stays at 1 thread).
    env: { ...process.env, UNETC_WASM_THREADS: '', UNETC_NATIVE: '0', ...env },
    maxBuffer: 256 * 1024 * 1024,
  });
}

const COMPUTE = `
import { createRequire } from 'node:module';
import { selectBackend, tf } from ${url('src/runtime/index.ts')};
const threads = Number(process.env.TEST_THREADS);
const chosen = await selectBackend({ name: 'wasm', threads, log: (m) => process.stderr.write(m + '\\n') });
const wasm = createRequire(${JSON.stringify(join(ROOT, 'package.json'))})('@tensorflow/tfjs-backend-wasm');

function values(shape, seed) {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; out[i] = s / 2 ** 31 - 1; }
  return tf.tensor(out, shape);
}
const out = {};
const put = (k, t) => { out[k] = Array.from(t.dataSync()); };
tf.tidy(() => {
  // Large enough for XNNPACK to split the work across threads.
  const x = values([4, 24, 24, 32], 1), f = values([3, 3, 32, 48], 2), f2 = values([3, 3, 32, 16], 7);
  put('conv', tf.conv2d(x, f, 1, 'same'));
  put('conv_s2', tf.conv2d(x, f2, 2, 'same'));
  const dy = values([4, 24, 24, 48], 3);
  const [dx, df] = tf.grads((a, b) => tf.conv2d(a, b, 1, 'same'))([x, f], dy);
  put('conv_dx', dx); put('conv_df', df);
  const dy2 = values([4, 12, 12, 16], 8);
  const [dx2, df2] = tf.grads((a, b) => tf.conv2d(a, b, 2, 'same'))([x, f2], dy2);
  put('conv_s2_dx', dx2); put('conv_s2_df', df2);
  put('matmul', tf.matMul(values([256, 384], 4), values([384, 320], 5)));
  put('bmm_tb', tf.matMul(values([6, 96, 64], 6), values([6, 80, 64], 9), false, true));
  put('bmm_ta', tf.matMul(values([6, 64, 96], 10), values([6, 64, 80], 11), true, false));
  const big = values([8, 50, 30], 12);
  put('slice', tf.slice(big, [1, 3, 5], [5, 40, 20]));
  tf.unstack(big, 1).slice(0, 4).forEach((t, i) => put('unstack' + i, t));
});
let mismatch = '';
try { await selectBackend({ name: 'wasm', threads: threads === 1 ? 2 : 1 }); } catch (e) { mismatch = e.message; }
process.stdout.write(JSON.stringify({ chosen, reported: wasm.getThreadsCount(), mismatch, out }) + '\\n');
// No process.exit: the process must end on its own, pthreads or not.
`;

interface ComputeResult {
  chosen: { name: string; threads?: number };
  reported: number;
  mismatch: string;
  out: Record<string, number[]>;
}

function compute(threads: number): { result: ComputeResult; ms: number; stderr: string } {
  const t0 = Date.now();
  const r = runTs(`compute-${threads}.mts`, COMPUTE, { TEST_THREADS: String(threads) });
  const ms = Date.now() - t0;
  expect(r.error, `the child did not end on its own (${r.error?.message})`).toBeUndefined();
  expect(r.signal, r.stderr).toBeNull();
  expect(r.status, r.stderr).toBe(0);
  return { result: JSON.parse(r.stdout.trim().split('\n').pop()!) as ComputeResult, ms, stderr: r.stderr };
}

function relativeError(actual: number[], expected: number[]): number {
  expect(actual.length).toBe(expected.length);
  let maxAbs = 0;
  let maxDiff = 0;
  for (let i = 0; i < expected.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(expected[i]!));
    maxDiff = Math.max(maxDiff, Math.abs(actual[i]! - expected[i]!));
  }
  expect(maxAbs).toBeGreaterThan(0);
  return maxDiff / maxAbs;
}

const unsupported = threadsUnsupported();
if (unsupported) console.log(`skipping the multithreaded wasm tests: ${unsupported}`);

describe.skipIf(unsupported !== undefined)('wasm with 2 threads', () => {
  it('reports 2 threads, matches 1 thread on convs, conv gradients, matmuls and slices, and exits on its own', () => {
    const one = compute(1);
    const two = compute(2);
    expect(one.result.chosen).toMatchObject({ name: 'wasm', threads: 1 });
    expect(one.result.reported).toBe(1);
    expect(two.result.chosen).toMatchObject({ name: 'wasm', threads: 2 });
    expect(two.result.reported).toBe(2);
    expect(two.stderr).toMatch(/backend: wasm \(XNNPACK, 2 threads,/);
    // The count is fixed once chosen.
    expect(two.result.mismatch).toMatch(/already runs with 2 threads; 1 cannot be chosen/);
    expect(one.result.mismatch).toMatch(/already runs with 1 thread; 2 cannot be chosen/);
    const keys = Object.keys(one.result.out);
    expect(keys.length).toBe(14);
    expect(Object.keys(two.result.out)).toEqual(keys);
    let worst = 0;
    for (const k of keys) {
      const err = relativeError(two.result.out[k]!, one.result.out[k]!);
      worst = Math.max(worst, err);
      expect(err, k).toBeLessThan(1e-5);
    }
    console.log(
      `worst relative difference 2 threads vs 1: ${worst.toExponential(2)}; child run ${one.ms} ms (1 thread), ${two.ms} ms (2 threads)`,
    );
  }, 300_000);
});

describe('thread count option', () => {
  it('reads the option, else UNETC_WASM_THREADS, and rejects counts outside 1..8', () => {
    expect(requestedThreads(undefined, {})).toBeUndefined();
    expect(requestedThreads(undefined, { UNETC_WASM_THREADS: '' })).toBeUndefined();
    expect(requestedThreads(undefined, { UNETC_WASM_THREADS: '2' })).toBe(2);
    expect(requestedThreads(3, { UNETC_WASM_THREADS: '2' })).toBe(3);
    expect(() => requestedThreads(0, {})).toThrow(/threads takes a whole number from 1 to 8, got '0'/);
    expect(() => requestedThreads(undefined, { UNETC_WASM_THREADS: '9' })).toThrow(
      /UNETC_WASM_THREADS takes a whole number from 1 to 8, got '9'/,
    );
    expect(() => requestedThreads(undefined, { UNETC_WASM_THREADS: 'two' })).toThrow(/UNETC_WASM_THREADS/);
  });
});

describe('watchdog', () => {
  const script = (body: string) => `
import { startWatchdog } from ${url('src/runtime/engine/wasmThreads.ts')};
startWatchdog({ timeoutSeconds: 1.5, pollMs: 100, what: 'test' });
await new Promise((r) => setTimeout(r, 300)); // the watchdog worker starts
${body}
process.stdout.write('done\\n');
`;

  it('kills a process whose main thread is blocked while nothing computes, with a clear message', () => {
    const t0 = Date.now();
    // Blocks the main thread at 0% CPU, as the wasm hang did.
    const r = runTs('hang.mts', script('Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30_000);'), {}, 60_000);
    expect(r.signal).toBe('SIGKILL');
    expect(r.stdout).not.toContain('done');
    expect(r.stderr).toMatch(/unetc: test: the main thread has been blocked with the process idle for \d+ s/);
    expect(r.stderr).toContain('--resume');
    expect(Date.now() - t0).toBeLessThan(25_000);
  }, 60_000);

  it('leaves a main thread that is blocked but computing, or idle in the event loop, alone; and does not keep the process alive', () => {
    const busy = 'const end = Date.now() + 3500; let x = 0; while (Date.now() < end) x += Math.sqrt(x + 1);';
    const idle = 'await new Promise((r) => setTimeout(r, 3500));';
    for (const body of [busy, idle]) {
      const r = runTs('alive.mts', script(body), {}, 60_000);
      expect(r.signal, r.stderr).toBeNull();
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain('done');
    }
  }, 60_000);
});
