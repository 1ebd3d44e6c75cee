/**
 * The native oneDNN kernels (src/runtime/engine/native.ts, native/unetc_native.cc) on the wasm
 * backend against the tfjs cpu backend: values and gradients, on odd shapes (1x1, 4x4 stride 2,
 * transposed convs, groups, dilation, explicit and asymmetric pads, batch 1, NCHW, transposed and
 * broadcast matmuls), and that each kernel really ran natively (no silent fallback).
 *
 * Without the addon (oneDNN not installed, or UNETC_NATIVE=0) the tests are skipped, unless
 * UNETC_REQUIRE_NATIVE=1 (as .ci/run sets it), which makes a missing addon a failure.
 * test/nativeFallback.test.ts checks the path without it.
 *
 * Tolerance: max |native - cpu| / max |cpu| < 1e-4 per result, as in wasmKernels.test.ts (float32
 * sums in different orders differ by ~1e-7 here; an indexing bug gives errors of order 1).
 */
import * as tf from '@tensorflow/tfjs-core';
import '../src/runtime/engine/gradients.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/runtime/engine/select.ts';
import {
  isNativeKernel,
  loadNative,
  NATIVE_KERNEL_NAMES,
  nativeAddon,
  nativeKernelStats,
  resetNativeKernelStats,
  setNativeLog,
} from '../src/runtime/engine/native.ts';
import { perSampleConv2d, perSampleConv2dReference } from '../src/runtime/engine/perSampleConv.ts';

const status = loadNative(2);
const required = process.env.UNETC_REQUIRE_NATIVE === '1';
const TOLERANCE = 1e-4;

it('the native addon is present when required (UNETC_REQUIRE_NATIVE=1)', () => {
  if (required) expect(status.ok ? 'ok' : status.why).toBe('ok');
});

type Shape4 = [number, number, number, number];
type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

function values(size: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  let s = seed >>> 0;
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const rnd = (shape: number[], seed: number) => tf.tensor(values(size(shape), seed), shape);

function relErr(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
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

/** `compute` on the cpu backend and on wasm (native kernels); no tensors leaked on either. */
async function compare(label: string, compute: () => tf.Tensor[]): Promise<void> {
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    const before = tf.memory().numTensors;
    const buffers = tf.backend().numDataIds();
    const outs = tf.tidy(compute);
    const data = await Promise.all(outs.map(async (t) => Float32Array.from(await t.data())));
    tf.dispose(outs);
    expect(tf.memory().numTensors, `${backend}: tensors leaked`).toBe(before);
    expect(tf.backend().numDataIds(), `${backend}: buffers leaked`).toBe(buffers);
    return data;
  };
  const cpu = await run('cpu');
  const wasm = await run('wasm');
  expect(wasm.length).toBe(cpu.length);
  cpu.forEach((ref, i) => expect(relErr(wasm[i]!, ref), `${label} output ${i}`).toBeLessThan(TOLERANCE));
}

/** Every listed kernel ran natively at least once since the last reset, and none fell back. */
function expectNative(...kernels: string[]): void {
  const st = nativeKernelStats();
  for (const k of kernels) {
    expect(st[k]?.native ?? 0, `${k} ran natively`).toBeGreaterThan(0);
    expect(st[k]?.fallback ?? 0, `${k} fell back: ${st[k]?.firstFallback}`).toBe(0);
  }
}

interface ConvCase {
  name: string;
  x: Shape4;
  f: Shape4;
  strides: number | [number, number];
  pad: Pad;
  dilations?: number;
}

const CONVS: ConvCase[] = [
  { name: '3x3 same', x: [2, 9, 9, 5], f: [3, 3, 5, 7], strides: 1, pad: 'same' },
  { name: '1x1', x: [3, 6, 5, 8], f: [1, 1, 8, 4], strides: 1, pad: 'valid' },
  { name: '1x1 stride 2', x: [2, 7, 7, 3], f: [1, 1, 3, 5], strides: 2, pad: 'same' },
  { name: '4x4 stride 2 same', x: [2, 8, 8, 3], f: [4, 4, 3, 6], strides: 2, pad: 'same' },
  { name: '3x3 stride 2 valid, odd size', x: [2, 9, 7, 4], f: [3, 3, 4, 5], strides: 2, pad: 'valid' },
  { name: '3x3 stride 2 same, odd size', x: [1, 7, 7, 4], f: [3, 3, 4, 6], strides: 2, pad: 'same' },
  { name: 'non-square filter, strides 1x2', x: [2, 8, 9, 3], f: [3, 2, 3, 4], strides: [1, 2], pad: 'same' },
  {
    name: 'explicit asymmetric pads',
    x: [2, 6, 6, 3],
    f: [3, 3, 3, 4],
    strides: 1,
    pad: [
      [0, 0],
      [2, 0],
      [1, 2],
      [0, 0],
    ],
  },
  { name: 'batch 1, 5x5', x: [1, 11, 11, 6], f: [5, 5, 6, 3], strides: 1, pad: 'same' },
  { name: 'unread rows (stride 3 valid)', x: [2, 10, 10, 2], f: [2, 2, 2, 3], strides: 3, pad: 'valid' },
];

describe.skipIf(!status.ok)('native oneDNN kernels on the wasm heap', () => {
  const fallbacks: string[] = [];
  beforeAll(async () => {
    setNativeLog((m) => fallbacks.push(m));
    const chosen = await selectBackend({ name: 'wasm', threads: 2 });
    expect(chosen.native?.onednn).toMatch(/^\d+\.\d+\.\d+$/);
    for (const k of NATIVE_KERNEL_NAMES) expect(isNativeKernel(k), k).toBe(true);
  });
  afterAll(() => {
    expect(fallbacks).toEqual([]);
  });

  for (const c of CONVS) {
    it(`Conv2D and its gradients: ${c.name}`, async () => {
      resetNativeKernelStats();
      await compare(c.name, () => {
        const x = rnd(c.x, 1) as tf.Tensor4D;
        const f = rnd(c.f, 2) as tf.Tensor4D;
        const y = tf.conv2d(x, f, c.strides, c.pad as 'same', 'NHWC', c.dilations ?? 1);
        const dy = rnd(y.shape, 3);
        const [dx, df] = tf.grads((a: tf.Tensor, w: tf.Tensor) =>
          tf.conv2d(a as tf.Tensor4D, w as tf.Tensor4D, c.strides, c.pad as 'same'),
        )([x, f], dy);
        return [y, dx!, df!];
      });
      expectNative('Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter');
    });
  }

  it('Conv2D with dilation 2 (forward; tfjs has no dilated conv gradients)', async () => {
    resetNativeKernelStats();
    await compare('dilated', () => [
      tf.conv2d(rnd([2, 9, 9, 3], 4) as tf.Tensor4D, rnd([3, 3, 3, 4], 5) as tf.Tensor4D, 1, 'same', 'NHWC', 2),
    ]);
    expectNative('Conv2D');
  });

  it('Conv2D in NCHW', async () => {
    resetNativeKernelStats();
    // The cpu backend has no NCHW conv: compare with the NHWC conv of the transposed input.
    await tf.setBackend('wasm');
    const x = rnd([2, 3, 6, 6], 6) as tf.Tensor4D;
    const f = rnd([3, 3, 3, 4], 7) as tf.Tensor4D;
    const nchw = tf.conv2d(x, f, 1, 'same', 'NCHW');
    const want = tf.transpose(tf.conv2d(tf.transpose(x, [0, 2, 3, 1]) as tf.Tensor4D, f, 1, 'same'), [0, 3, 1, 2]);
    expect(relErr(await nchw.data(), await want.data())).toBeLessThan(TOLERANCE);
    tf.dispose([x, f, nchw, want]);
    expectNative('Conv2D');
  });

  it('transposed conv (Conv2DBackpropInput forward) and its gradients, stride 2', async () => {
    resetNativeKernelStats();
    await compare('conv2dTranspose', () => {
      const x = rnd([2, 4, 4, 6], 8) as tf.Tensor4D;
      const w = rnd([3, 3, 5, 6], 9) as tf.Tensor4D; // [k, k, out, in]
      const f = (a: tf.Tensor, ww: tf.Tensor) => tf.conv2dTranspose(a as tf.Tensor4D, ww as tf.Tensor4D, [2, 8, 8, 5], 2, 'same');
      const y = f(x, w);
      const [dx, dw] = tf.grads(f)([x, w], rnd(y.shape, 10));
      return [y, dx!, dw!];
    });
    expectNative('Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter');
  });

  it('groups: depthwise conv (channel multiplier 2, stride 2)', async () => {
    resetNativeKernelStats();
    await compare('depthwise', () => [
      tf.depthwiseConv2d(rnd([2, 8, 8, 4], 11) as tf.Tensor4D, rnd([3, 3, 4, 2], 12) as tf.Tensor4D, 2, 'same'),
    ]);
    expectNative('DepthwiseConv2dNative');
  });

  it('fused conv: bias + relu as oneDNN post-ops', async () => {
    resetNativeKernelStats();
    for (const activation of ['relu', 'linear', 'elu', 'sigmoid'] as const) {
      await compare(`fused ${activation}`, () => [
        tf.fused.conv2d({
          x: rnd([2, 6, 6, 3], 13) as tf.Tensor4D,
          filter: rnd([3, 3, 3, 5], 14) as tf.Tensor4D,
          strides: 1,
          pad: 'same',
          bias: rnd([5], 15),
          activation,
        }),
      ]);
    }
    expectNative('FusedConv2D');
  });

  const MATMULS: { name: string; a: number[]; b: number[]; ta: boolean; tb: boolean }[] = [
    { name: '2-D', a: [5, 7], b: [7, 3], ta: false, tb: false },
    { name: 'a transposed', a: [2, 7, 5], b: [2, 7, 3], ta: true, tb: false },
    { name: 'b transposed (q k^T)', a: [4, 6, 8], b: [4, 9, 8], ta: false, tb: true },
    { name: 'both transposed', a: [3, 7, 5], b: [3, 4, 7], ta: true, tb: true },
    { name: 'b broadcast over the batch', a: [3, 5, 7], b: [1, 7, 4], ta: false, tb: false },
    { name: 'b rank 2, broadcast', a: [2, 3, 5, 7], b: [7, 4], ta: false, tb: false },
    { name: 'a broadcast, b transposed', a: [1, 5, 7], b: [3, 4, 7], ta: false, tb: true },
    { name: 'rank 4, per-axis broadcast', a: [2, 1, 5, 7], b: [1, 3, 7, 4], ta: false, tb: false },
    { name: 'batch 1, vector-like', a: [1, 1, 9], b: [1, 9, 1], ta: false, tb: false },
  ];
  for (const c of MATMULS) {
    it(`BatchMatMul and its gradients: ${c.name}`, async () => {
      resetNativeKernelStats();
      // tfjs 4.22's BatchMatMul gradient does not reduce a broadcast batch axis (on any backend):
      // broadcasts are checked on values only. The cpu backend broadcasts only whole batches, so
      // per-axis broadcasts are checked against explicitly broadcast operands.
      const broadcast = !c.a.slice(0, -2).every((d, i, all) => d === c.b.slice(0, -2)[i] && all.length === c.b.length - 2);
      const perAxis = c.name.includes('per-axis');
      if (perAxis) {
        await tf.setBackend('wasm');
        const [y, ref] = tf.tidy(() => {
          const a = rnd(c.a, 16);
          const b = rnd(c.b, 17);
          return [tf.matMul(a, b), tf.matMul(tf.broadcastTo(a, [2, 3, 5, 7]), tf.broadcastTo(b, [2, 3, 7, 4]))];
        });
        expect(relErr(await y!.data(), await ref!.data())).toBeLessThan(TOLERANCE);
        tf.dispose([y!, ref!]);
      } else {
        await compare(c.name, () => {
          const a = rnd(c.a, 16);
          const b = rnd(c.b, 17);
          const y = tf.matMul(a, b, c.ta, c.tb);
          if (broadcast) return [y];
          const [da, db] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.matMul(p, q, c.ta, c.tb))([a, b], rnd(y.shape, 18));
          return [y, da!, db!];
        });
      }
      expectNative('BatchMatMul');
    });
  }

  it('attention-sized matmuls and a conv larger than the heap had (the views are taken after the output is allocated)', async () => {
    await tf.setBackend('wasm');
    resetNativeKernelStats();
    const heap = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;
    const before = heap();
    // Big enough to make the heap grow inside the kernel's makeOutput.
    const n = Math.ceil(before / (4 * 64 * 64 * 64)) + 2;
    const x = tf.ones([n, 64, 64, 1]) as tf.Tensor4D;
    const f = tf.ones([1, 1, 1, 64]) as tf.Tensor4D;
    const y = tf.conv2d(x, f, 1, 'valid');
    expect(heap()).toBeGreaterThan(before);
    const d = await y.data();
    expect(d[0]).toBe(1);
    expect(d[d.length - 1]).toBe(1);
    tf.dispose([x, f, y]);
    expectNative('Conv2D');
  });

  it('caches primitives by shape', async () => {
    await tf.setBackend('wasm');
    const addon = nativeAddon()!;
    const x = rnd([2, 5, 5, 3], 19) as tf.Tensor4D;
    const f = rnd([3, 3, 3, 2], 20) as tf.Tensor4D;
    tf.conv2d(x, f, 1, 'same').dispose();
    const cached = addon.cacheSize();
    tf.conv2d(x, f, 1, 'same').dispose();
    expect(addon.cacheSize()).toBe(cached);
    tf.conv2d(x, f, 2, 'same').dispose();
    expect(addon.cacheSize()).toBe(cached + 1);
    tf.dispose([x, f]);
  });

  it('rejects bad arguments with a JS exception (not a crash)', () => {
    const addon = nativeAddon()!;
    const geo = [1, 3, 3, 1, 3, 3, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0];
    expect(() => addon.conv2d(new Float32Array(9), new Float32Array(9), null, new Float32Array(2), geo)).toThrow(/view has 2 elements/);
    expect(() => addon.conv2d(new Float32Array(9), new Float32Array(9), null, new Float32Array(9), geo.slice(1))).toThrow(
      /expected 19 integers/,
    );
    const bad = [...geo];
    bad[4] = 5; // output size inconsistent with the pads
    expect(() => addon.conv2d(new Float32Array(9), new Float32Array(9), null, new Float32Array(50), bad)).toThrow(/inconsistent/);
    expect(() => addon.matmul(new Float32Array(4), new Float32Array(4), new Float32Array(4), [2, 0, 0, 2, 3, 2])).toThrow(
      /view has 4 elements/,
    );
  });

  it('per-sample-weight conv (LoRA): values and gradients against the patches + batched matmul formulation', async () => {
    resetNativeKernelStats();
    for (const [k, pad, cin, cout] of [
      [3, 1, 5, 4],
      [1, 0, 6, 3],
    ] as const) {
      await tf.setBackend('wasm');
      const x = rnd([3, 6, 7, cin], 21) as tf.Tensor4D;
      const w = rnd([3, k, k, cin, cout], 22) as tf.Tensor5D;
      const dy = rnd([3, 6, 7, cout], 23);
      const both = (f: typeof perSampleConv2d) => {
        const y = f(x, w, pad);
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => f(a as tf.Tensor4D, b as tf.Tensor5D, pad))([x, w], dy);
        return [y, dx!, dw!];
      };
      const got = both(perSampleConv2d);
      const want = both(perSampleConv2dReference);
      for (let i = 0; i < 3; i++) expect(relErr(await got[i]!.data(), await want[i]!.data()), `k=${k} output ${i}`).toBeLessThan(TOLERANCE);
      tf.dispose([x, w, dy, ...got, ...want]);
    }
    expectNative('UnetcConvPerSample');
  });
});

describe.skipIf(!status.ok)('native im2col patches', () => {
  it('match the JS im2col and its adjoint (values and gradients), odd sizes and pads', async () => {
    const { im2col, col2im, patches } = await import('../src/runtime/engine/patches.ts');
    await tf.setBackend('wasm');
    resetNativeKernelStats();
    for (const [shape, k, pad] of [
      [[2, 5, 6, 3], 3, 1],
      [[1, 4, 4, 2], 3, 0],
      [[3, 7, 5, 4], 5, 2],
    ] as [Shape4, number, number][]) {
      const xs = values(size(shape), 31);
      const x = tf.tensor4d(xs, shape);
      const y = patches(x, k, pad);
      expect(relErr(await y.data(), im2col(xs, shape, k, pad))).toBe(0);
      const dy = values(size(y.shape), 32);
      const [dx] = tf.grads((a: tf.Tensor) => patches(a as tf.Tensor4D, k, pad))([x], tf.tensor(dy, y.shape));
      expect(relErr(await dx!.data(), col2im(dy, shape, k, pad))).toBeLessThan(1e-6);
      tf.dispose([x, y, dx!]);
    }
    expectNative('UnetcIm2Col', 'UnetcCol2Im');
  });
});

describe.skipIf(!status.ok)('native GroupNorm', () => {
  it('matches the op-level GroupNorm on the cpu backend (values and gradients of x, gamma, beta)', async () => {
    const { groupNormFused, groupNormOps } = await import('../src/runtime/engine/memoryEfficient.ts');
    resetNativeKernelStats();
    for (const [shape, groups] of [
      [[2, 5, 6, 8], 4],
      [[1, 3, 3, 6], 1],
      [[3, 4, 4, 12], 12],
    ] as [Shape4, number][]) {
      const run = (f: typeof groupNormOps) => () => {
        const x = rnd(shape, 41) as tf.Tensor4D;
        const g = tf.add(rnd([shape[3]], 42), 1);
        const b = rnd([shape[3]], 43);
        const fn = (a: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => f(a as tf.Tensor4D, gg, bb, groups, 1e-5);
        const y = fn(x, g, b);
        const grads = tf.grads(fn)([x, g, b], rnd(shape, 44));
        return [y, ...grads];
      };
      await tf.setBackend('cpu');
      const want = tf.tidy(run(groupNormOps)).map((t) => t.dataSync());
      await tf.setBackend('wasm');
      const outs = tf.tidy(run(groupNormFused));
      const got = outs.map((t) => t.dataSync());
      tf.dispose(outs);
      got.forEach((v, i) => expect(relErr(v, want[i]!), `${shape} groups ${groups} output ${i}`).toBeLessThan(TOLERANCE));
    }
    expectNative('UnetcGroupNorm', 'UnetcGroupNormGrad');
  });
});

describe.skipIf(!status.ok)('native Sum', () => {
  it('over leading axes (bias gradients), trailing axes and all axes, with keepDims; other axes run the wasm kernel', async () => {
    resetNativeKernelStats();
    await compare('sums', () => {
      const x = rnd([4, 5, 6, 7], 51);
      return [
        tf.sum(x, [0, 1, 2]),
        tf.sum(x, [0, 1], true),
        tf.sum(x, 0),
        tf.sum(x, [2, 3]),
        tf.sum(x, -1, true),
        tf.sum(x),
        tf.sum(x, [1, 2]), // middle axes: the wasm kernel
        tf.sum(rnd([70000, 3], 52), 0), // many row blocks
      ];
    });
    const st = nativeKernelStats().Sum!;
    expect(st.native).toBeGreaterThanOrEqual(7);
    expect(st.fallback).toBeGreaterThanOrEqual(1);
  });
});
