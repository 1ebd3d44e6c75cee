/**
 * im2col for per-sample-weight convs (src/runtime/engine/patches.ts): the fused version equals the
 * pad/slice/concat definition, col2im is its adjoint (<im2col x, y> = <x, col2im y>), and a conv
 * equals the patches times the flattened weight.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/runtime/engine/select.ts';
import { col2im, im2col, patches, patchesFromOps } from '../src/runtime/engine/patches.ts';

beforeAll(async () => {
  await selectBackend({ name: 'wasm', log: () => {} });
});

const cases: [k: number, pad: number][] = [
  [3, 1],
  [5, 2],
  [4, 1],
  [3, 0],
];
const data = (len: number, f: number) => Float32Array.from({ length: len }, (_, i) => Math.sin(i * f + 0.3));

describe.each(cases)('patches with kernel %i, pad %i', (k, pad) => {
  const shape = [2, 6, 5, 3] as [number, number, number, number];
  const x = () => tf.tensor4d(data(2 * 6 * 5 * 3, 0.77), shape);

  it('equal pad + k^2 slices + concat, exactly', () => {
    const fused = patches(x(), k, pad);
    const ops = patchesFromOps(x(), k, pad);
    expect(fused.shape).toEqual([2, 6 + 2 * pad - k + 1, 5 + 2 * pad - k + 1, k * k * 3]);
    expect(fused.shape).toEqual(ops.shape);
    expect(Array.from(fused.dataSync())).toEqual(Array.from(ops.dataSync()));
  });

  it('col2im is the adjoint of im2col: <im2col x, y> = <x, col2im y>', () => {
    const xs = data(2 * 6 * 5 * 3, 0.77);
    const cols = im2col(xs, shape, k, pad);
    const y = data(cols.length, 1.31);
    const back = col2im(y, shape, k, pad);
    let lhs = 0;
    let rhs = 0;
    for (let i = 0; i < cols.length; i++) lhs += cols[i] * y[i];
    for (let i = 0; i < xs.length; i++) rhs += xs[i] * back[i];
    expect(Math.abs(lhs - rhs)).toBeLessThan(1e-4 * Math.max(1, Math.abs(lhs)));
  });

  it('have the gradient of the op-level definition', () => {
    const dy = tf.tensor(data(patchesFromOps(x(), k, pad).size, 1.9), patchesFromOps(x(), k, pad).shape);
    const g1 = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(patches(xi as tf.Tensor4D, k, pad), dy)))(x());
    const g2 = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(patchesFromOps(xi as tf.Tensor4D, k, pad), dy)))(x());
    expect(tf.max(tf.abs(tf.sub(g1, g2))).dataSync()[0]).toBeLessThan(1e-5);
  });

  it('times the flattened weight give the conv', () => {
    const w = tf.tensor4d(data(k * k * 3 * 4, 0.53), [k, k, 3, 4]);
    const conv = tf.conv2d(x(), w, 1, [
      [0, 0],
      [pad, pad],
      [pad, pad],
      [0, 0],
    ]);
    const p = patches(x(), k, pad);
    const [n, ho, wo, kc] = p.shape;
    const viaCols = tf.reshape(tf.matMul(tf.reshape(p, [n * ho * wo, kc]), tf.reshape(w, [kc, 4])), [n, ho, wo, 4]);
    expect(tf.max(tf.abs(tf.sub(conv, viaCols))).dataSync()[0]).toBeLessThan(1e-5);
  });
});
