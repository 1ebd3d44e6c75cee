/**
 * Every generated model, built on the wasm backend: its variables hold exactly `unetc stats`'s
 * parameter count, and one forward pass at batch 1 gives the image shape with the head's channels.
 * (The big CIFAR/ImageNet/FFHQ models take a few seconds each on 2 cores.)
 */
import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/runtime/engine/select.ts';
import { statsOf, specFiles } from './helpers.ts';

const ROOT = join(import.meta.dirname, '..');

beforeAll(async () => {
  await selectBackend({ name: 'wasm', log: () => {} });
});

describe('generated models on wasm', () => {
  for (const f of specFiles()) {
    const name = f.replace(/\.unet$/, '');
    it(`${name}: variables = unetc stats, forward shape`, async () => {
      const mod = await import(join(ROOT, 'generated', name, 'index.ts'));
      const stats = statsOf(f);
      const before = tf.memory().numTensors;
      const m = mod.createModel(0);
      try {
        expect(m.params.count()).toBe(stats.totalParams);
        expect(m.params.trainable().reduce((a: number, v: tf.Variable) => a + v.size, 0)).toBe(stats.trainableParams);
        const S: number = mod.config.imageSize;
        const y = tf.tidy(() => {
          const cond: { noise: tf.Tensor1D; classes?: tf.Tensor2D; augment?: tf.Tensor2D } = {
            noise: mod.config.diffusion.process === 'ddpm' ? tf.tensor1d([7], 'int32') : tf.tensor1d([0.3]),
          };
          if (mod.config.classes) cond.classes = tf.oneHot(tf.tensor1d([1], 'int32'), mod.config.classes).asType('float32') as tf.Tensor2D;
          if (mod.config.augment) cond.augment = tf.zeros([1, mod.config.augment]);
          return m.forward(tf.randomNormal([1, S, S, mod.config.channels], 0, 1, 'float32', 1), cond);
        });
        const expectedOut = mod.config.channels * (mod.config.diffusion.learn_sigma ? 2 : 1);
        expect(y.shape).toEqual([1, S, S, expectedOut]);
        expect(Number.isFinite(tf.tidy(() => tf.sum(y).dataSync()[0]))).toBe(true);
        tf.dispose(y);
      } finally {
        m.params.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);
    }, 120_000);
  }
});
