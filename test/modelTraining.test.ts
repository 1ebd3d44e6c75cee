/**
 * Models compiled from specs train: forward + backward + Adam for nano diffusion and reduced-width
 * IDDPM- and EDM-style models, on the wasm backend with our gradient kernels.
 * - A freshly initialised with-LoRA model computes exactly its baseline (B = 0, Bias = 0).
 * - After two optimizer steps every trainable variable has received a gradient. One step is not
 *   enough: with B = 0 the gradient of A is zero on the first step (d/dA of B A x = B^T ...).
 *   The base model's own zero-initialised layers (output conv, each block's last conv and
 *   attention projection, as IDDPM and EDM initialise them) are given small random weights first,
 *   as a pre-trained base would have; otherwise each zero layer delays the layers behind it by a
 *   step, and the two-step statement is about LoRA's B, not about the base's init.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/runtime/engine/select.ts';
import type { Cond } from '../src/runtime/model/embedding.ts';
import type { ParamStore } from '../src/runtime/model/params.ts';
import { compileAndImport, fixture, spec, type CompiledModel } from './modelHelpers.ts';

beforeAll(async () => {
  await selectBackend({ name: 'wasm', log: () => {} });
});

function condFor(mod: CompiledModel, n: number): Cond {
  const ddpm = mod.config.diffusion.process === 'ddpm';
  const T = Number(mod.config.diffusion.T ?? 1000);
  const cond: Cond = {
    noise: ddpm
      ? tf.tensor1d(
          Array.from({ length: n }, (_, i) => (i * 997) % T),
          'int32',
        )
      : tf.tensor1d(Array.from({ length: n }, (_, i) => -1 + i * 0.37)),
  };
  if (mod.config.classes)
    cond.classes = tf
      .oneHot(
        tf.tensor1d(
          Array.from({ length: n }, (_, i) => i % mod.config.classes),
          'int32',
        ),
        mod.config.classes,
      )
      .asType('float32') as tf.Tensor2D;
  if (mod.config.augment) cond.augment = tf.randomNormal([n, mod.config.augment], 0, 1, 'float32', 3) as tf.Tensor2D;
  return cond;
}

/** Copies every variable the two stores share by name (the base model's weights). */
function copyShared(from: ParamStore, to: ParamStore): number {
  let copied = 0;
  for (const [name, v] of from.vars) {
    if (to.has(name)) {
      to.get(name).assign(v);
      copied++;
    }
  }
  return copied;
}

const maxAbs = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);

describe('a fresh with-LoRA model equals its baseline on the same base weights', () => {
  for (const [base, lora] of [
    ['iddpm-tiny-t4001.unet', 'iddpm-tiny-with-lora.unet'],
    ['edm-tiny.unet', 'edm-tiny-with-lora.unet'],
  ]) {
    it(`${lora} = ${base}`, async () => {
      const A = await compileAndImport(fixture(base));
      const B = await compileAndImport(fixture(lora));
      const a = A.createModel(1);
      const b = B.createModel(2);
      // Every base variable exists in the LoRA model; the LoRA model has more (its LoRA layers).
      expect(copyShared(a.params, b.params)).toBe(a.params.vars.size);
      expect(b.params.vars.size).toBeGreaterThan(a.params.vars.size);
      const S = A.config.imageSize;
      const x = tf.randomNormal([2, S, S, A.config.channels], 0, 1, 'float32', 9) as tf.Tensor4D;
      const cond = condFor(A, 2);
      // Sanity: the outputs are not trivially zero (zero-init heads would make this test vacuous).
      for (const m of [a, b]) {
        for (const [name, v] of m.params.vars)
          if (name.startsWith('out.conv') || name.endsWith('conv1.weight') || name.endsWith('proj.weight'))
            v.assign(tf.randomNormal(v.shape, 0, 0.05, 'float32', 4));
      }
      copyShared(a.params, b.params);
      const ya = a.forward(x, cond);
      const yb = b.forward(x, cond);
      expect(tf.tidy(() => tf.max(tf.abs(ya)).dataSync()[0])).toBeGreaterThan(1e-3);
      expect(maxAbs(ya, yb)).toBeLessThan(1e-5);
      a.params.dispose();
      b.params.dispose();
    }, 120_000);
  }
});

describe('training steps', () => {
  for (const [name, path] of [
    ['nano-mnist-uc-lora', spec('nano-mnist-uc-lora.unet')],
    ['nano-mnist-time-lora', spec('nano-mnist-time-lora.unet')],
    ['iddpm-tiny-with-lora', fixture('iddpm-tiny-with-lora.unet')],
    ['edm-tiny-with-lora', fixture('edm-tiny-with-lora.unet')],
  ] as const) {
    it(`${name}: two Adam steps stay finite and reach every trainable variable`, async () => {
      const mod = await compileAndImport(path);
      const m = mod.createModel(3);
      for (const [vname, v] of m.params.vars) {
        if (/_lora\./.test(vname)) continue;
        if (/(^out\.conv|\.conv\d+|\.proj)\.weight$/.test(vname)) v.assign(tf.randomNormal(v.shape, 0, 0.05, 'float32', 21));
      }
      const S = mod.config.imageSize;
      const n = 4;
      const x0 = tf.randomNormal([n, S, S, mod.config.channels], 0, 1, 'float32', 11) as tf.Tensor4D;
      const noise = tf.randomNormal(x0.shape, 0, 1, 'float32', 12) as tf.Tensor4D;
      const cond = condFor(mod, n);
      const opt = tf.train.adam(1e-3);
      const vars = m.params.trainable();
      const lastGrad = new Map<string, number>();
      const losses: number[] = [];
      const before = tf.memory().numTensors;
      for (let step = 0; step < 2; step++) {
        const { value, grads } = tf.variableGrads(() => {
          const y = m.forward(tf.add(x0, noise), cond, true);
          const target = y.shape[3] === noise.shape[3] ? noise : tf.concat([noise, noise], 3);
          return tf.mean(tf.square(tf.sub(y, target))) as tf.Scalar;
        }, vars);
        losses.push(value.dataSync()[0]);
        for (const [k, g] of Object.entries(grads))
          lastGrad.set(
            k,
            tf.tidy(() => tf.max(tf.abs(g)).dataSync()[0]),
          );
        opt.applyGradients(grads as Parameters<typeof opt.applyGradients>[0]);
        tf.dispose([value, ...Object.values(grads)]);
      }
      expect(losses.every(Number.isFinite)).toBe(true);
      const missing = vars.filter((v) => !(lastGrad.get(v.name)! > 0)).map((v) => v.name);
      expect(missing).toEqual([]);
      // The training loop itself leaks no tensors (the optimizer's slots aside).
      expect(tf.memory().numTensors - before).toBeLessThanOrEqual(2 * vars.length + 2);
      opt.dispose();
      m.params.dispose();
    }, 300_000);
  }
});
