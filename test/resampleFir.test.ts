/**
 * FIR resampling (`unet.resample_filter`, EDM's `resample_filter`) against EDM's definitions in
 * training/networks.py, Conv2d without a weight: the filter f normalised to sum 1, outer product
 * f f^T, padding p = (k - 1) / 2 (floor), and
 *   down: conv2d(x, f f^T, stride 2, padding p, groups C)
 *         y[i, j] = sum_{a, b} x[2i + a - p, 2j + b - p] f[a] f[b]
 *   up:   conv_transpose2d(x, 4 f f^T, stride 2, padding p, groups C)
 *         y[i, j] = sum_{u, v} x[u, v] 4 f[i + p - 2u] f[j + p - 2v]
 * written out as loops here, per channel, with zeros outside the image. The gradient with respect to
 * x is checked against the adjoint of the same sums, on the wasm backend (which has no depthwise
 * conv gradient of its own).
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/runtime/engine/select.ts';
import { resample } from '../src/runtime/model/layers.ts';

beforeAll(async () => {
  await selectBackend({ name: 'wasm', log: () => {} });
});

type Img = number[][][][]; // [n][h][w][c]

const normalised = (f: number[]) => f.map((v) => v / f.reduce((a, b) => a + b, 0));
const zeros = (n: number, h: number, w: number, c: number): Img =>
  Array.from({ length: n }, () => Array.from({ length: h }, () => Array.from({ length: w }, () => new Array(c).fill(0))));

/** The (i, j) <- (u, v) weight of each mode, zero where the filter index falls outside. */
function tap(mode: 'down' | 'up', f: number[], i: number, j: number, u: number, v: number): number {
  const p = Math.floor((f.length - 1) / 2);
  const at = (a: number) => (a >= 0 && a < f.length ? f[a] : 0);
  return mode === 'down' ? at(u - 2 * i + p) * at(v - 2 * j + p) : 4 * at(i + p - 2 * u) * at(j + p - 2 * v);
}

/** y = A x by the definition above; `adjoint` gives A^T y (the gradient of sum(y * cot) for cot). */
function apply(mode: 'down' | 'up', filter: number[], x: Img, outH: number, outW: number, adjoint = false): Img {
  const f = normalised(filter);
  const [n, h, w, c] = [x.length, x[0].length, x[0][0].length, x[0][0][0].length];
  if (!adjoint) {
    const y = zeros(n, outH, outW, c);
    for (let b = 0; b < n; b++)
      for (let i = 0; i < outH; i++)
        for (let j = 0; j < outW; j++)
          for (let u = 0; u < h; u++)
            for (let v = 0; v < w; v++) for (let ch = 0; ch < c; ch++) y[b][i][j][ch] += tap(mode, f, i, j, u, v) * x[b][u][v][ch];
    return y;
  }
  // Here x is the cotangent over the output grid and (outH, outW) the input grid.
  const dx = zeros(n, outH, outW, c);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < h; i++)
      for (let j = 0; j < w; j++)
        for (let u = 0; u < outH; u++)
          for (let v = 0; v < outW; v++) for (let ch = 0; ch < c; ch++) dx[b][u][v][ch] += tap(mode, f, i, j, u, v) * x[b][i][j][ch];
  return dx;
}

const random = (shape: [number, number, number, number], seed: number) => tf.randomUniform(shape, -1, 1, 'float32', seed) as tf.Tensor4D;
const maxAbsDiff = (a: Img, b: Img) => Math.max(...a.flat(3).map((v, i) => Math.abs(v - b.flat(3)[i])));

describe('FIR resampling = EDM Conv2d without weight', () => {
  it('up with [1, 3, 3, 1]: an impulse at the corner spreads as 4 f[i + 1] f[j + 1] (hand-computed)', () => {
    const x = tf.buffer([1, 3, 3, 1]);
    x.set(1, 0, 0, 0, 0);
    const y = resample(x.toTensor() as tf.Tensor4D, 'up', [1, 3, 3, 1]);
    expect(y.shape).toEqual([1, 6, 6, 1]);
    // f = [1, 3, 3, 1] / 8, p = 1: y[0][0] = 4 (3/8)(3/8) = 0.5625, y[0][1] = 0.5625,
    // y[0][2] = 4 (3/8)(1/8) = 0.1875, y[2][2] = 4 (1/8)(1/8) = 0.0625, y[0][3] = 0 (f[4] is outside).
    const a = y.arraySync()[0].map((row) => row.map((px) => px[0]));
    expect(a[0][0]).toBeCloseTo(0.5625, 6);
    expect(a[0][1]).toBeCloseTo(0.5625, 6);
    expect(a[1][0]).toBeCloseTo(0.5625, 6);
    expect(a[0][2]).toBeCloseTo(0.1875, 6);
    expect(a[2][2]).toBeCloseTo(0.0625, 6);
    expect(a[0][3]).toBe(0);
    expect(a[3][0]).toBe(0);
  });

  for (const filter of [
    [1, 3, 3, 1],
    [1, 2, 2, 1],
    [1, 5, 10, 10, 5, 1],
  ]) {
    for (const mode of ['down', 'up'] as const) {
      it(`${mode} with ${JSON.stringify(filter)}: output and input gradient equal the definition (< 1e-5)`, () => {
        const [n, h, w, c] = [2, 6, 6, 3];
        const x = random([n, h, w, c], 5);
        const [oh, ow] = mode === 'down' ? [h / 2, w / 2] : [2 * h, 2 * w];
        const y = resample(x, mode, filter);
        expect(y.shape).toEqual([n, oh, ow, c]);
        const want = apply(mode, filter, x.arraySync(), oh, ow);
        expect(maxAbsDiff(y.arraySync(), want)).toBeLessThan(1e-5);

        const cot = random([n, oh, ow, c], 9);
        const dx = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(resample(xi as tf.Tensor4D, mode, filter), cot)))(x) as tf.Tensor4D;
        expect(maxAbsDiff(dx.arraySync(), apply(mode, filter, cot.arraySync(), h, w, true))).toBeLessThan(1e-5);
      });
    }
  }

  it('keeps the box filter as 2x2 average pooling and nearest-neighbour x2', () => {
    const x = random([1, 4, 4, 2], 3);
    expect(maxAbsDiff(resample(x, 'down', [1, 1]).arraySync(), apply('down', [1, 1], x.arraySync(), 2, 2))).toBeLessThan(1e-6);
    expect(maxAbsDiff(resample(x, 'up', [1, 1]).arraySync(), apply('up', [1, 1], x.arraySync(), 8, 8))).toBeLessThan(1e-6);
  });
});
