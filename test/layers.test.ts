/**
 * Layer primitives against their definitions, written out with plain loops.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/runtime/engine/select.ts';
import { upsampleNearest } from '../src/runtime/model/layers.ts';

beforeAll(async () => {
  await selectBackend({ name: 'wasm', log: () => {} });
});

describe('upsampleNearest', () => {
  const [n, h, w, c] = [2, 3, 4, 5];
  const x = () =>
    tf.tensor4d(
      Float32Array.from({ length: n * h * w * c }, (_, i) => Math.sin(i * 1.7)),
      [n, h, w, c],
    );

  it('y[b, i, j, k] = x[b, floor(i / 2), floor(j / 2), k]', () => {
    const xs = x().arraySync();
    const y = upsampleNearest(x()).arraySync();
    expect([y.length, y[0].length, y[0][0].length, y[0][0][0].length]).toEqual([n, 2 * h, 2 * w, c]);
    for (let b = 0; b < n; b++)
      for (let i = 0; i < 2 * h; i++)
        for (let j = 0; j < 2 * w; j++)
          for (let k = 0; k < c; k++) expect(y[b][i][j][k]).toBe(xs[b][Math.floor(i / 2)][Math.floor(j / 2)][k]);
  });

  it('its gradient sums dy over each 2x2 block', () => {
    const dy = tf.tensor4d(
      Float32Array.from({ length: n * 4 * h * w * c }, (_, i) => Math.cos(i * 0.3)),
      [n, 2 * h, 2 * w, c],
    );
    const g = tf
      .grad((xi: tf.Tensor) => tf.sum(tf.mul(upsampleNearest(xi as tf.Tensor4D), dy)))(x())
      .arraySync() as number[][][][];
    const d = dy.arraySync();
    for (let b = 0; b < n; b++)
      for (let i = 0; i < h; i++)
        for (let j = 0; j < w; j++)
          for (let k = 0; k < c; k++) {
            const want = d[b][2 * i][2 * j][k] + d[b][2 * i + 1][2 * j][k] + d[b][2 * i][2 * j + 1][k] + d[b][2 * i + 1][2 * j + 1][k];
            expect(g[b][i][j][k]).toBeCloseTo(want, 5);
          }
  });
});
