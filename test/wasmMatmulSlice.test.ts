/**
 * The wasm BatchMatMul, Slice, SplitV and Unpack replacements
 * (src/runtime/engine/wasmMatMulSlice.ts) against the tfjs cpu backend.
 *
 * Matmul tolerance: max |wasm - cpu| / max |cpu| < 1e-5 per result tensor.
 * Both compute in float32, but XNNPACK adds the products in a blocked SIMD
 * order and the cpu backend in plain loops, so results differ by a few
 * float32 roundings (measured worst ~5e-7 here, sums of at most 64 terms of
 * values in [-1, 1)). A wrong batch item, transpose or broadcast gives errors
 * of order 1.
 *
 * Slices, splits and unstacks only move data: they must be byte-for-byte
 * equal to cpu (the data include -0, NaN and infinities).
 *
 * Every comparison also checks that no tensor, engine data buffer or wasm
 * backend buffer is left over, and the engine runs with IS_TEST, so it checks
 * every single kernel call for buffers it leaves behind.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/runtime/engine/select.ts';
import {
  isExtraWasmKernel,
  registerWasmKernels,
  unregisterWasmKernels,
  WASM_MATMUL_SLICE_KERNEL_NAMES,
} from '../src/runtime/engine/wasmKernels.ts';

const TOLERANCE = 1e-5;

const worst = { value: 0, label: '' };

type Data = Float32Array | Int32Array | Uint8Array;

interface Result {
  shape: number[];
  dtype: tf.DataType;
  data: Data;
}

function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let maxAbs = 0;
  let maxDiff = 0;
  for (let i = 0; i < expected.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(expected[i]!));
    maxDiff = Math.max(maxDiff, Math.abs(actual[i]! - expected[i]!));
  }
  expect(maxAbs).toBeGreaterThan(0); // a vacuous comparison would hide bugs
  return maxDiff / maxAbs;
}

function expectClose(label: string, actual: Result, expected: Result): void {
  expect(actual.shape, label).toEqual(expected.shape);
  const err = relativeError(actual.data, expected.data);
  if (err > worst.value) Object.assign(worst, { value: err, label });
  expect(err, label).toBeLessThan(TOLERANCE);
}

function bytes(d: Data): Uint8Array {
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

function expectIdentical(label: string, actual: Result, expected: Result): void {
  expect(actual.shape, label).toEqual(expected.shape);
  expect(actual.dtype, label).toBe(expected.dtype);
  expect(Buffer.from(bytes(actual.data)).equals(Buffer.from(bytes(expected.data))), label).toBe(true);
}

/** Deterministic values in [-1, 1). */
function values(size: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  let s = seed >>> 0;
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** Distinct values with special floats mixed in (byte-exact comparisons). */
function specialValues(size: number, seed: number): Float32Array {
  const out = values(size, seed);
  const specials = [-0, NaN, Infinity, -Infinity, 0];
  for (let i = 0; i < size; i += 7) out[i] = specials[(i / 7) % specials.length]!;
  return out;
}

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * Runs `compute` on the cpu and on the wasm backend and returns both results;
 * on each also checks that no tensor or backend data buffer is left over.
 */
async function onBoth(compute: () => tf.Tensor[]): Promise<{ cpu: Result[]; wasm: Result[] }> {
  const run = async (backend: string): Promise<Result[]> => {
    await tf.setBackend(backend);
    const before = tf.memory();
    // The engine counts only the tensors it made; a buffer leaked inside a
    // kernel shows up only in the backend's own count.
    const buffersBefore = tf.backend().numDataIds();
    const outs = compute();
    const results = await Promise.all(outs.map(async (t) => ({ shape: t.shape, dtype: t.dtype, data: (await t.data()).slice() as Data })));
    tf.dispose(outs);
    const after = tf.memory();
    expect(after.numTensors, `${backend}: tensors leaked`).toBe(before.numTensors);
    expect(after.numDataBuffers, `${backend}: data buffers leaked`).toBe(before.numDataBuffers);
    expect(tf.backend().numDataIds(), `${backend}: backend buffers leaked`).toBe(buffersBefore);
    return results;
  };
  const cpu = await run('cpu');
  const wasm = await run('wasm');
  return { cpu, wasm };
}

beforeAll(async () => {
  tf.env().set('IS_TEST', true);
  const chosen = await selectBackend({ log: () => {} });
  expect(chosen.name).toBe('wasm');
});

afterAll(() => {
  console.log(`worst relative matmul error wasm vs cpu: ${worst.value.toExponential(2)} (${worst.label})`);
});

describe('registration', () => {
  it('replaces BatchMatMul, Slice, SplitV and Unpack; unregistering restores the stock kernels', () => {
    registerWasmKernels();
    registerWasmKernels();
    expect([...WASM_MATMUL_SLICE_KERNEL_NAMES].sort()).toEqual([tf.BatchMatMul, tf.Slice, tf.SplitV, tf.Unpack].sort());
    const ours = WASM_MATMUL_SLICE_KERNEL_NAMES.map((name) => tf.getKernel(name, 'wasm')?.kernelFunc);
    for (const name of WASM_MATMUL_SLICE_KERNEL_NAMES) expect(isExtraWasmKernel(name), name).toBe(true);
    unregisterWasmKernels();
    try {
      for (const name of WASM_MATMUL_SLICE_KERNEL_NAMES) {
        expect(tf.getKernel(name, 'wasm'), name).toBeDefined();
        expect(isExtraWasmKernel(name), name).toBe(false);
      }
    } finally {
      registerWasmKernels();
    }
    expect(WASM_MATMUL_SLICE_KERNEL_NAMES.map((name) => tf.getKernel(name, 'wasm')?.kernelFunc)).toEqual(ours);
  });
});

// ---------------------------------------------------------------------------
// matMul
// ---------------------------------------------------------------------------

interface MatMulCase {
  label: string;
  /** Shapes as stored (i.e. already transposed where the flag says so). */
  a: number[];
  b: number[];
  tA: boolean;
  tB: boolean;
}

/** All four transpose combinations of a [...batchA, m, k] x [...batchB, k, n] product. */
function fourWays(label: string, batchA: number[], batchB: number[], m: number, k: number, n: number): MatMulCase[] {
  const out: MatMulCase[] = [];
  for (const tA of [false, true]) {
    for (const tB of [false, true]) {
      out.push({
        label: `${label} tA=${tA} tB=${tB}`,
        a: [...batchA, ...(tA ? [k, m] : [m, k])],
        b: [...batchB, ...(tB ? [n, k] : [k, n])],
        tA,
        tB,
      });
    }
  }
  return out;
}

const MATMUL_CASES: MatMulCase[] = [
  ...fourWays('2-D', [], [], 5, 7, 3),
  ...fourWays('batch 1', [1], [1], 6, 9, 5),
  ...fourWays('batched rank 3', [3], [3], 20, 24, 18),
  ...fourWays('attention rank 4', [2, 4], [2, 4], 16, 8, 16),
  ...fourWays('a broadcast (batch 1 vs 3)', [1], [3], 5, 7, 4),
  ...fourWays('b broadcast (batch 3 vs 1)', [3], [1], 5, 7, 4),
  ...fourWays('b rank 2 under rank 4 a', [2, 3], [], 5, 7, 4),
  ...fourWays('a rank 2 under rank 3 b', [], [3], 5, 7, 4),
  ...fourWays('vector rows and columns', [3], [3], 1, 7, 1),
  ...fourWays('row vector times matrix', [2], [2], 1, 8, 6),
  ...fourWays('matrix times column vector', [2], [2], 6, 8, 1),
];

describe('tf.matMul matches cpu', () => {
  for (const c of MATMUL_CASES) {
    it(`${c.label}: [${c.a}] x [${c.b}]`, async () => {
      const av = values(size(c.a), 1);
      const bv = values(size(c.b), 2);
      const { cpu, wasm } = await onBoth(() => tf.tidy(() => [tf.matMul(tf.tensor(av, c.a), tf.tensor(bv, c.b), c.tA, c.tB)]));
      expectClose(`matMul ${c.label}`, wasm[0]!, cpu[0]!);
    });
  }

  it('broadcasts batch axes one by one ([2,1] x [1,3]), against cpu on tiled operands', async () => {
    // The cpu kernel indexes broadcast batches modulo the flat batch size,
    // which is right only when one side's batch is 1 or a suffix; tiling the
    // operands first gives it a plain batched product.
    const av = values(2 * 1 * 5 * 7, 3);
    const bv = values(1 * 3 * 7 * 4, 4);
    const a = () => tf.tensor(av, [2, 1, 5, 7]);
    const b = () => tf.tensor(bv, [1, 3, 7, 4]);
    await tf.setBackend('cpu');
    const expected = tf.tidy(() => tf.matMul(tf.tile(a(), [1, 3, 1, 1]), tf.tile(b(), [2, 1, 1, 1])));
    const want: Result = { shape: expected.shape, dtype: expected.dtype, data: expected.dataSync().slice() };
    expected.dispose();
    const { wasm } = await onBoth(() => tf.tidy(() => [tf.matMul(a(), b())]));
    expectClose('matMul [2,1] x [1,3] broadcast', wasm[0]!, want);
  });

  it('empty products: zero rows, and an empty inner dimension (all zeros)', async () => {
    const { cpu, wasm } = await onBoth(() =>
      tf.tidy(() => [
        tf.matMul(tf.zeros([2, 0, 4]), tf.ones([2, 4, 3])),
        tf.matMul(tf.zeros([2, 3, 0]), tf.ones([2, 0, 4])),
        tf.matMul(tf.zeros([0, 3]), tf.ones([4, 3]), false, true),
      ]),
    );
    for (let i = 0; i < 3; i++) expectIdentical(`empty matMul ${i}`, wasm[i]!, cpu[i]!);
    expect(wasm[1]!.shape).toEqual([2, 3, 4]);
  });

  it('one buffer used as b with two shapes (XNNPACK caches its operator on the buffer id)', async () => {
    const bv = values(24, 5);
    const xv = values(8, 6);
    const yv = values(12, 7);
    const { cpu, wasm } = await onBoth(() =>
      tf.tidy(() => {
        const b = tf.tensor2d(bv, [4, 6]);
        const first = tf.matMul(tf.tensor2d(xv, [2, 4]), b);
        const second = tf.matMul(tf.tensor2d(yv, [2, 6]), tf.reshape(b, [6, 4]));
        const third = tf.matMul(tf.tensor2d(xv, [2, 4]), b); // the cached operator again
        return [first, second, third];
      }),
    );
    for (let i = 0; i < 3; i++) expectClose(`reshaped b, product ${i}`, wasm[i]!, cpu[i]!);
  });

  it('an attention-sized product exercising full XNNPACK tiles: [4,64,48] x [4,40,48]^T', async () => {
    const av = values(4 * 64 * 48, 8);
    const bv = values(4 * 40 * 48, 9);
    const { cpu, wasm } = await onBoth(() =>
      tf.tidy(() => [tf.matMul(tf.tensor3d(av, [4, 64, 48]), tf.tensor3d(bv, [4, 40, 48]), false, true)]),
    );
    expectClose('matMul [4,64,48] x [4,40,48]^T', wasm[0]!, cpu[0]!);
  });
});

describe('tf.matMul gradients match cpu', () => {
  const GRAD_CASES = [
    ...fourWays('2-D', [], [], 6, 5, 4),
    ...fourWays('batched rank 3', [3], [3], 6, 5, 4),
    ...fourWays('attention rank 4', [2, 4], [2, 4], 16, 8, 16),
  ];
  for (const c of GRAD_CASES) {
    it(`${c.label}: [${c.a}] x [${c.b}]`, async () => {
      const av = values(size(c.a), 11);
      const bv = values(size(c.b), 12);
      const { cpu, wasm } = await onBoth(() =>
        tf.tidy(() => {
          const f = (a: tf.Tensor, b: tf.Tensor) => tf.matMul(a, b, c.tA, c.tB);
          const a = tf.tensor(av, c.a);
          const b = tf.tensor(bv, c.b);
          const y = f(a, b);
          const dy = tf.tensor(values(y.size, 13), y.shape);
          const [da, db] = tf.grads(f)([a, b], dy);
          return [da!, db!];
        }),
      );
      expectClose(`matMul ${c.label} d/da`, wasm[0]!, cpu[0]!);
      expectClose(`matMul ${c.label} d/db`, wasm[1]!, cpu[1]!);
    });
  }
});

// ---------------------------------------------------------------------------
// Slice, SplitV, Unpack
// ---------------------------------------------------------------------------

interface SliceCase {
  shape: number[];
  begin: number[];
  size: number[];
}

const SLICE_CASES: SliceCase[] = [
  { shape: [17], begin: [3], size: [9] },
  { shape: [17], begin: [5], size: [-1] },
  { shape: [6, 40], begin: [1, 0], size: [3, -1] }, // contiguous rows
  { shape: [6, 40], begin: [2, 5], size: [-1, 30] },
  { shape: [6, 40], begin: [0, 39], size: [6, 1] }, // one column
  { shape: [4, 5, 33], begin: [1, 2, 0], size: [2, 3, -1] },
  { shape: [4, 5, 33], begin: [0, 0, 3], size: [-1, -1, 4] }, // short runs
  { shape: [4, 5, 33], begin: [3, 4, 32], size: [1, 1, 1] },
  { shape: [3, 6, 7, 20], begin: [0, 1, 2, 0], size: [-1, 4, 3, 20] },
  { shape: [3, 6, 7, 20], begin: [1, 0, 0, 5], size: [2, -1, -1, 10] }, // a channel range
  { shape: [3, 6, 7, 20], begin: [2, 0, 0, 0], size: [1, -1, -1, -1] }, // contiguous item
  { shape: [2, 3, 4, 5, 6], begin: [1, 1, 0, 2, 1], size: [1, 2, -1, 3, 4] },
  { shape: [2, 3, 4, 5, 6], begin: [0, 0, 0, 0, 0], size: [-1, -1, -1, -1, -1] }, // the whole tensor
  { shape: [2, 3, 2, 3, 2, 5], begin: [1, 0, 1, 1, 0, 2], size: [1, -1, 1, 2, -1, 3] }, // rank 6
  { shape: [4, 5, 6], begin: [1, 2, 3], size: [2, 0, 3] }, // empty
];

describe('tf.slice matches cpu exactly', () => {
  for (const c of SLICE_CASES) {
    it(`[${c.shape}] begin [${c.begin}] size [${c.size}]`, async () => {
      const fv = specialValues(size(c.shape), 21);
      const iv = Int32Array.from(values(size(c.shape), 22), (v) => Math.round(v * 1e9));
      const bv = Uint8Array.from(values(size(c.shape), 23), (v) => (v > 0 ? 1 : 0));
      const { cpu, wasm } = await onBoth(() =>
        tf.tidy(() => [
          tf.slice(tf.tensor(fv, c.shape), c.begin, c.size),
          tf.slice(tf.tensor(iv, c.shape, 'int32'), c.begin, c.size),
          tf.slice(tf.tensor(bv, c.shape, 'bool'), c.begin, c.size),
        ]),
      );
      for (let i = 0; i < 3; i++) expectIdentical(`slice ${cpu[i]!.dtype}`, wasm[i]!, cpu[i]!);
    });
  }
});

describe('tf.split and tf.unstack match cpu exactly', () => {
  const SHAPES = [[12], [4, 6], [3, 4, 6], [2, 3, 4, 6], [2, 2, 3, 2, 6]];
  for (const shape of SHAPES) {
    it(`rank ${shape.length} [${shape}]: split on every axis, unstack on every axis`, async () => {
      const fv = specialValues(size(shape), 31);
      const iv = Int32Array.from(values(size(shape), 32), (v) => Math.round(v * 1e9));
      const { cpu, wasm } = await onBoth(() =>
        tf.tidy(() => {
          const x = tf.tensor(fv, shape);
          const xi = tf.tensor(iv, shape, 'int32');
          const outs: tf.Tensor[] = [];
          for (let axis = 0; axis < shape.length; axis++) {
            const len = shape[axis]!;
            if (len % 2 === 0) outs.push(...tf.split(x, 2, axis));
            if (len >= 3) outs.push(...tf.split(x, [1, -1, 1], axis - shape.length)); // negative axis, -1 size
            outs.push(...tf.unstack(x, axis));
            outs.push(...tf.unstack(xi, axis));
          }
          outs.push(...tf.split(xi, [shape[0]!], 0)); // one piece: the whole tensor
          return outs;
        }),
      );
      expect(wasm.length).toBe(cpu.length);
      for (let i = 0; i < cpu.length; i++) expectIdentical(`piece ${i}`, wasm[i]!, cpu[i]!);
    });
  }

  it('bool data', async () => {
    const bv = Uint8Array.from(values(60, 41), (v) => (v > 0 ? 1 : 0));
    const { cpu, wasm } = await onBoth(() =>
      tf.tidy(() => {
        const x = tf.tensor(bv, [3, 4, 5], 'bool');
        return [...tf.split(x, [2, 3], 2), ...tf.unstack(x, 1)];
      }),
    );
    for (let i = 0; i < cpu.length; i++) expectIdentical(`bool piece ${i}`, wasm[i]!, cpu[i]!);
  });
});
