/** The custom-gradient SiLU and GroupNorm equal their op-level definitions, values and gradients. */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/runtime/backend/select.ts';
import { groupNormFused, siluFused } from '../src/runtime/memoryEfficient.ts';

beforeAll(async () => {
  await selectBackend({ name: 'wasm', log: () => {} });
});

const maxAbs = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);

/** GroupNorm written from its definition with plain ops (autodiff gives the reference gradient). */
function groupNormRef(x: tf.Tensor4D, g: tf.Tensor, b: tf.Tensor, groups: number, eps: number): tf.Tensor {
  const [n, h, w, c] = x.shape;
  const xg = tf.reshape(x, [n, h, w, groups, c / groups]);
  const { mean, variance } = tf.moments(xg, [1, 2, 4], true);
  return tf.add(tf.mul(tf.reshape(tf.div(tf.sub(xg, mean), tf.sqrt(tf.add(variance, eps))), [n, h, w, c]), g), b);
}

describe('memory-efficient layers', () => {
  it('SiLU: value and gradient equal x * sigmoid(x) differentiated by tfjs (< 1e-6)', () => {
    const x = tf.randomNormal([3, 5, 5, 4], 0, 3, 'float32', 1);
    const dy = tf.randomNormal(x.shape, 0, 1, 'float32', 2);
    const ref = (t: tf.Tensor) => tf.mul(t, tf.sigmoid(t));
    expect(maxAbs(siluFused(x), ref(x))).toBeLessThan(1e-6);
    const g1 = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(siluFused(t), dy)))(x);
    const g2 = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(ref(t), dy)))(x);
    expect(maxAbs(g1, g2)).toBeLessThan(1e-5);
  });

  it('GroupNorm: value and gradients w.r.t. x, gamma, beta equal the op-level version (< 1e-4)', () => {
    const x = tf.randomNormal([2, 4, 4, 8], 1, 2, 'float32', 3) as tf.Tensor4D;
    const g = tf.randomNormal([8], 1, 0.5, 'float32', 4);
    const b = tf.randomNormal([8], 0, 0.5, 'float32', 5);
    const dy = tf.randomNormal(x.shape, 0, 1, 'float32', 6);
    expect(maxAbs(groupNormFused(x, g, b, 4, 1e-5), groupNormRef(x, g, b, 4, 1e-5))).toBeLessThan(1e-5);
    const f = (fn: typeof groupNormRef) => tf.grads((xi: tf.Tensor, gi: tf.Tensor, bi: tf.Tensor) => tf.sum(tf.mul(fn(xi as tf.Tensor4D, gi, bi, 4, 1e-5), dy)));
    const [dx1, dg1, db1] = f(groupNormFused)([x, g, b]);
    const [dx2, dg2, db2] = f(groupNormRef)([x, g, b]);
    expect(maxAbs(dx1, dx2)).toBeLessThan(1e-4);
    expect(maxAbs(dg1, dg2)).toBeLessThan(1e-4);
    expect(maxAbs(db1, db2)).toBeLessThan(1e-4);
  });
});
