/**
 * The extra wasm kernels (src/runtime/engine/wasmKernels.ts) against the
 * tfjs cpu backend's reference kernels.
 *
 * Tolerance: max |wasm - cpu| / max |cpu| < 1e-4 per result tensor. Both
 * backends compute in float32 but add the products in different orders
 * (XNNPACK's blocked SIMD accumulation vs the cpu backend's plain loops), so
 * they differ by a few float32 roundings: measured worst ~4e-7 here, over sums
 * of at most a few hundred terms. A wrong tap, stride, pad or channel order
 * gives errors of order 1, so 1e-4 is 2-3 orders above the rounding noise and
 * 3-4 below any indexing bug.
 *
 * Gradients: the Node bundle of @tensorflow/tfjs-core registers no gradient
 * functions (the umbrella @tensorflow/tfjs package normally does), so this
 * file registers the three it needs when they are missing: Conv2D and
 * Conv2DBackpropInput (wired to the backprop kernels as tfjs wires them) and
 * GatherV2 (axis 0 only). `tf.grads` is given the upstream gradient
 * explicitly, so no other gradient is involved.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/runtime/engine/select.ts';
import { unregisterNativeKernels } from '../src/runtime/engine/native.ts';
import { isExtraWasmKernel, registerWasmKernels, WASM_EXTRA_KERNEL_NAMES } from '../src/runtime/engine/wasmKernels.ts';

const TOLERANCE = 1e-4;

type Shape4 = [number, number, number, number];
type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
type Strides = number | [number, number];

const worst = { value: 0, label: '' };

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

function expectClose(label: string, actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  const err = relativeError(actual, expected);
  if (err > worst.value) Object.assign(worst, { value: err, label });
  expect(err, label).toBeLessThan(TOLERANCE);
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

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * Runs `compute` on the cpu and on the wasm backend and returns both results
 * as arrays; on each also checks that no tensor or backend data buffer is left
 * over.
 */
async function onBoth(compute: () => tf.Tensor[]): Promise<{ cpu: Float32Array[]; wasm: Float32Array[] }> {
  const run = async (backend: string): Promise<Float32Array[]> => {
    await tf.setBackend(backend);
    const before = tf.memory();
    // The engine counts only the tensors it made; a buffer leaked inside a
    // kernel shows up only in the backend's own count.
    const buffersBefore = tf.backend().numDataIds();
    const outs = compute();
    const data = await Promise.all(outs.map(async (t) => Float32Array.from(await t.data())));
    tf.dispose(outs);
    const after = tf.memory();
    expect(after.numTensors, `${backend}: tensors leaked`).toBe(before.numTensors);
    expect(after.numDataBuffers, `${backend}: data buffers leaked`).toBe(before.numDataBuffers);
    expect(tf.backend().numDataIds(), `${backend}: backend buffers leaked`).toBe(buffersBefore);
    return data;
  };
  const cpu = await run('cpu');
  const wasm = await run('wasm');
  return { cpu, wasm };
}

function runKernel(name: string, inputs: tf.NamedTensorMap, attrs: object): tf.Tensor {
  return tf.engine().runKernel(name, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}

beforeAll(async () => {
  // Makes the engine check every kernel call for buffers it leaves behind
  // (and silences the cpu backend's "install tfjs-node" banner).
  tf.env().set('IS_TEST', true);
  const chosen = await selectBackend({ log: () => {} });
  expect(chosen.name).toBe('wasm');
  // These are the wasm kernels (also the fallback of the native ones, test/native.test.ts).
  unregisterNativeKernels();
});

afterAll(() => {
  // Reported by the task that added these kernels; visible with --reporter=verbose.
  console.log(`worst relative error wasm vs cpu: ${worst.value.toExponential(2)} (${worst.label})`);
});

describe('registration', () => {
  it('provides the missing kernels and replaces Conv2DBackpropInput, idempotently', () => {
    const before = tf.getKernel(tf.Conv2DBackpropInput, 'wasm')?.kernelFunc;
    registerWasmKernels();
    registerWasmKernels();
    expect([...WASM_EXTRA_KERNEL_NAMES].sort()).toEqual([tf.Conv2DBackpropFilter, tf.Conv2DBackpropInput, tf.UnsortedSegmentSum].sort());
    for (const name of WASM_EXTRA_KERNEL_NAMES) expect(isExtraWasmKernel(name), name).toBe(true);
    expect(tf.getKernel(tf.Conv2DBackpropInput, 'wasm')?.kernelFunc).toBe(before);
  });
});

interface ConvCase {
  x: Shape4;
  filter: Shape4;
  strides: Strides;
  pad: Pad;
}

const explicit1: Pad = [
  [0, 0],
  [1, 1],
  [1, 1],
  [0, 0],
];

const CONV_CASES: ConvCase[] = [
  { x: [2, 6, 6, 3], filter: [1, 1, 3, 4], strides: 1, pad: 'same' }, // single matmul path
  { x: [2, 7, 7, 3], filter: [1, 1, 3, 4], strides: 2, pad: 'valid' },
  { x: [2, 8, 8, 3], filter: [1, 1, 3, 4], strides: 2, pad: 'same' },
  { x: [2, 7, 7, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { x: [2, 7, 7, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'valid' },
  { x: [2, 8, 8, 3], filter: [3, 3, 3, 4], strides: 2, pad: 'same' },
  { x: [2, 9, 9, 3], filter: [3, 3, 3, 4], strides: 2, pad: 'same' },
  { x: [2, 8, 8, 3], filter: [3, 3, 3, 4], strides: 2, pad: 'valid' }, // last row never read
  { x: [2, 8, 8, 3], filter: [4, 4, 3, 4], strides: 1, pad: 'same' },
  { x: [2, 8, 8, 3], filter: [4, 4, 3, 4], strides: 2, pad: 'same' },
  { x: [2, 8, 8, 3], filter: [4, 4, 3, 4], strides: 2, pad: explicit1 }, // downsampling 4x4/2
  { x: [2, 8, 8, 3], filter: [4, 4, 3, 4], strides: 2, pad: 1 },
  { x: [2, 8, 10, 3], filter: [2, 3, 3, 5], strides: [2, 1], pad: 'same' }, // non-square
  { x: [1, 10, 11, 2], filter: [3, 2, 2, 3], strides: 3, pad: 'valid' },
  {
    x: [1, 6, 7, 2],
    filter: [3, 3, 2, 3],
    strides: 2,
    pad: [
      [0, 0],
      [0, 2],
      [3, 1],
      [0, 0],
    ],
  }, // asymmetric, pad larger than the kernel reach
];

const describeCase = (c: ConvCase): string =>
  `x [${c.x}] filter [${c.filter}] strides ${JSON.stringify(c.strides)} pad ${JSON.stringify(c.pad)}`;

describe('tf.conv2d gradients (Conv2DBackpropInput, Conv2DBackpropFilter) match cpu', () => {
  for (const c of CONV_CASES) {
    it(describeCase(c), async () => {
      const xv = values(size(c.x), 1);
      const fv = values(size(c.filter), 2);
      const { cpu, wasm } = await onBoth(() =>
        tf.tidy(() => {
          const x = tf.tensor4d(xv, c.x);
          const filter = tf.tensor4d(fv, c.filter);
          const f = (a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad);
          const y = f(x, filter);
          const dy = tf.tensor(values(y.size, 3), y.shape);
          const [dx, dfilter] = tf.grads(f)([x, filter], dy);
          return [y, dx!, dfilter!];
        }),
      );
      expectClose(`conv2d ${describeCase(c)} forward`, wasm[0]!, cpu[0]!);
      expectClose(`conv2d ${describeCase(c)} d/dx`, wasm[1]!, cpu[1]!);
      expectClose(`conv2d ${describeCase(c)} d/dfilter`, wasm[2]!, cpu[2]!);
    });
  }
});

describe('NCHW data format (kernels called directly; wasm has no NCHW forward conv)', () => {
  it('Conv2DBackpropInput and Conv2DBackpropFilter, 3x3 stride 2 same', async () => {
    const xv = values(2 * 3 * 9 * 8, 11);
    const fv = values(3 * 3 * 3 * 4, 12);
    const dyv = values(2 * 4 * 5 * 4, 13);
    const attrs = { strides: 2, pad: 'same', dataFormat: 'NCHW', dimRoundingMode: undefined };
    const { cpu, wasm } = await onBoth(() =>
      tf.tidy(() => {
        const x = tf.tensor4d(xv, [2, 3, 9, 8]);
        const filter = tf.tensor4d(fv, [3, 3, 3, 4]);
        const dy = tf.tensor4d(dyv, [2, 4, 5, 4]);
        return [
          runKernel(tf.Conv2DBackpropInput, { dy, filter }, { ...attrs, inputShape: x.shape }),
          runKernel(tf.Conv2DBackpropFilter, { x, dy }, { ...attrs, filterShape: filter.shape }),
        ];
      }),
    );
    expectClose('NCHW Conv2DBackpropInput', wasm[0]!, cpu[0]!);
    expectClose('NCHW Conv2DBackpropFilter', wasm[1]!, cpu[1]!);
  });
});

interface TransposeCase {
  /** The input of the transposed conv (the dy of Conv2DBackpropInput). */
  x: Shape4;
  /** [kh, kw, outChannels, inChannels], as tf.conv2dTranspose takes it. */
  filter: Shape4;
  outShape: Shape4;
  strides: Strides;
  pad: Pad;
}

const TRANSPOSE_CASES: TransposeCase[] = [
  // The U-Net upsampler: 4x4, stride 2, pad 1 doubles the resolution.
  { x: [2, 4, 4, 5], filter: [4, 4, 3, 5], outShape: [2, 8, 8, 3], strides: 2, pad: explicit1 },
  { x: [2, 4, 5, 5], filter: [4, 4, 3, 5], outShape: [2, 8, 10, 3], strides: 2, pad: 1 },
  { x: [2, 4, 4, 5], filter: [3, 3, 3, 5], outShape: [2, 8, 8, 3], strides: 2, pad: 'same' },
  { x: [2, 4, 4, 5], filter: [3, 3, 3, 5], outShape: [2, 9, 9, 3], strides: 2, pad: 'valid' },
  { x: [2, 5, 5, 4], filter: [3, 3, 3, 4], outShape: [2, 5, 5, 3], strides: 1, pad: 'same' },
  { x: [2, 4, 4, 4], filter: [1, 1, 3, 4], outShape: [2, 8, 8, 3], strides: 2, pad: 'same' }, // taps miss odd pixels
];

describe('tf.conv2dTranspose forward and gradients match cpu', () => {
  for (const c of TRANSPOSE_CASES) {
    const label = `x [${c.x}] filter [${c.filter}] -> [${c.outShape}] strides ${JSON.stringify(c.strides)} pad ${JSON.stringify(c.pad)}`;
    it(label, async () => {
      const xv = values(size(c.x), 4);
      const fv = values(size(c.filter), 5);
      const gv = values(size(c.outShape), 6);
      const { cpu, wasm } = await onBoth(() =>
        tf.tidy(() => {
          const x = tf.tensor4d(xv, c.x);
          const filter = tf.tensor4d(fv, c.filter);
          const f = (a: tf.Tensor, b: tf.Tensor) =>
            tf.conv2dTranspose(
              a as tf.Tensor4D,
              b as tf.Tensor4D,
              c.outShape,
              c.strides,
              c.pad as Parameters<typeof tf.conv2dTranspose>[4],
            );
          const y = f(x, filter);
          expect(y.shape).toEqual(c.outShape);
          const [dx, dfilter] = tf.grads(f)([x, filter], tf.tensor4d(gv, c.outShape));
          return [y, dx!, dfilter!];
        }),
      );
      expectClose(`conv2dTranspose ${label} forward`, wasm[0]!, cpu[0]!);
      expectClose(`conv2dTranspose ${label} d/dx`, wasm[1]!, cpu[1]!);
      expectClose(`conv2dTranspose ${label} d/dfilter`, wasm[2]!, cpu[2]!);
    });
  }
});

describe('UnsortedSegmentSum matches cpu', () => {
  it('as the gradient of tf.gather (repeated indices, unused rows)', async () => {
    const pv = values(7 * 3 * 2, 7);
    const { cpu, wasm } = await onBoth(() =>
      tf.tidy(() => {
        const params = tf.tensor3d(pv, [7, 3, 2]);
        const indices = tf.tensor1d([4, 0, 4, 6, 4, 1, 0, 2, 2], 'int32');
        const g = tf.tensor(values(9 * 3 * 2, 8), [9, 3, 2]);
        const [dparams] = tf.grads((p: tf.Tensor) => tf.gather(p, indices))([params], g);
        return [dparams!];
      }),
    );
    expectClose('gather gradient', wasm[0]!, cpu[0]!);
  });

  it('directly, with ids out of range, empty segments and several inner axes', async () => {
    const xv = values(6 * 4 * 5, 9);
    const { cpu, wasm } = await onBoth(() =>
      tf.tidy(() => {
        // tf.unsortedSegmentSum takes 1-D ids (the cpu kernel mishandles more).
        const x = tf.tensor3d(xv, [6, 4, 5]);
        const ids = tf.tensor1d([2, -1, 0, 2, 7, 0], 'int32');
        const inRange = tf.tensor1d([1, 1, 0], 'int32');
        return [tf.unsortedSegmentSum(x, ids, 6), tf.unsortedSegmentSum(tf.tensor2d(values(6, 10), [3, 2]), inRange, 4)];
      }),
    );
    expectClose('unsortedSegmentSum with dropped ids', wasm[0]!, cpu[0]!);
    expectClose('unsortedSegmentSum', wasm[1]!, cpu[1]!);
  });
});
