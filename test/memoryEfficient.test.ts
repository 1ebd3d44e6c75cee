/** The custom-gradient SiLU and GroupNorm equal their op-level definitions, values and gradients. */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/runtime/engine/select.ts';
import { groupNormFused, groupNormOps, siluFused } from '../src/runtime/engine/memoryEfficient.ts';

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

  // groupNormFused runs loops over the data on wasm and cpu (groupNormKernels.ts), groupNormOps
  // tfjs ops (the path of the other backends): both against the definition.
  const impls = { groupNormFused, groupNormOps };
  const shapes: [shape: [number, number, number, number], groups: number][] = [
    [[2, 4, 4, 8], 4],
    [[3, 5, 3, 12], 1],
    [[2, 6, 6, 32], 8],
  ];
  for (const [name, impl] of Object.entries(impls)) {
    for (const [shape, groups] of shapes) {
      it(`GroupNorm (${name}), [${shape}], ${groups} groups: value and gradients w.r.t. x, gamma, beta equal the op-level definition (< 1e-4)`, () => {
        const c = shape[3];
        const x = tf.randomNormal(shape, 1, 2, 'float32', 3) as tf.Tensor4D;
        const g = tf.randomNormal([c], 1, 0.5, 'float32', 4);
        const b = tf.randomNormal([c], 0, 0.5, 'float32', 5);
        const dy = tf.randomNormal(x.shape, 0, 1, 'float32', 6);
        expect(maxAbs(impl(x, g, b, groups, 1e-5), groupNormRef(x, g, b, groups, 1e-5))).toBeLessThan(1e-5);
        const f = (fn: typeof groupNormRef) =>
          tf.grads((xi: tf.Tensor, gi: tf.Tensor, bi: tf.Tensor) => tf.sum(tf.mul(fn(xi as tf.Tensor4D, gi, bi, groups, 1e-5), dy)));
        const [dx1, dg1, db1] = f(impl)([x, g, b]);
        const [dx2, dg2, db2] = f(groupNormRef)([x, g, b]);
        expect(maxAbs(dx1, dx2)).toBeLessThan(1e-4);
        expect(maxAbs(dg1, dg2)).toBeLessThan(1e-4);
        expect(maxAbs(db1, db2)).toBeLessThan(1e-4);
      });
    }
  }
});
