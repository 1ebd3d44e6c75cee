/**
 * The wasm Identity kernel of src/runtime/engine/wasmKernels.ts, which shares its input's buffer
 * (one more reference) instead of copying it, as the cpu backend's does: what it shares, that the
 * sharing is invisible (disposal order, variable assignment), that the stock kernel comes back
 * with unregisterWasmKernels, and that a training step computes exactly what it computed with the
 * stock (copying) kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/runtime/engine/select.ts';
import {
  isExtraWasmKernel,
  registerWasmKernels,
  unregisterWasmKernels,
  WASM_MEMORY_KERNEL_NAMES,
} from '../src/runtime/engine/wasmKernels.ts';
import { replacedStock } from '../src/runtime/engine/wasmScratch.ts';
import type { ParamStore } from '../src/runtime/model/params.ts';
import { variableGradsEager } from '../src/runtime/engine/eagerGradients.ts';
import { batchCond, type ModelModule } from '../src/runtime/train/loop.ts';
import { Adam } from '../src/runtime/train/optimizer.ts';
import { makeProcess, type NetFn } from '../src/runtime/train/process.ts';
import { compileAndImport, fixture } from './modelHelpers.ts';

const wasm = () => tf.backend() as BackendWasm;
const offset = (t: tf.Tensor) => wasm().getMemoryOffset(t.dataId);

/** Runs body with the stock wasm Identity (a copy) registered instead of ours. */
function withStockIdentity<T>(body: () => T): T {
  const ours = tf.getKernel(tf.Identity, 'wasm')!;
  const stock = replacedStock.get(tf.Identity)!;
  expect(stock.kernelFunc).not.toBe(ours.kernelFunc);
  tf.unregisterKernel(tf.Identity, 'wasm');
  tf.registerKernel(stock);
  try {
    return body();
  } finally {
    tf.unregisterKernel(tf.Identity, 'wasm');
    tf.registerKernel(ours);
  }
}

beforeAll(async () => {
  tf.env().set('IS_TEST', true);
  const chosen = await selectBackend({ name: 'wasm', log: () => {} });
  expect(chosen.name).toBe('wasm');
});

describe('the shared wasm Identity', () => {
  it('is registered by registerWasmKernels, idempotently; unregisterWasmKernels restores the copying stock kernel', () => {
    registerWasmKernels();
    registerWasmKernels();
    expect([...WASM_MEMORY_KERNEL_NAMES]).toEqual([tf.Identity]);
    expect(isExtraWasmKernel(tf.Identity)).toBe(true);
    unregisterWasmKernels();
    try {
      expect(tf.getKernel(tf.Identity, 'wasm')).toBeDefined();
      expect(isExtraWasmKernel(tf.Identity)).toBe(false);
      const a = tf.tensor1d([1, 2, 3]);
      const b = a.clone();
      expect(offset(b)).not.toBe(offset(a));
      tf.dispose([a, b]);
    } finally {
      registerWasmKernels();
    }
    expect(isExtraWasmKernel(tf.Identity)).toBe(true);
  });

  it('clone shares the data: no new buffer, same heap memory', () => {
    const a = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const before = tf.memory();
    const ids = wasm().numDataIds();
    const b = a.clone();
    expect(b.id).not.toBe(a.id);
    expect(b.shape).toEqual([2, 3]);
    expect(offset(b)).toBe(offset(a));
    expect(tf.memory().numTensors).toBe(before.numTensors + 1);
    // (tf.memory().numBytes counts bytes per tensor, not per buffer: it does go up.)
    expect(tf.memory().numDataBuffers).toBe(before.numDataBuffers);
    expect(wasm().numDataIds()).toBe(ids);
    tf.dispose([a, b]);
  });

  it('disposing the original keeps the clone readable; disposing both frees the buffer', () => {
    const ids = wasm().numDataIds();
    const a = tf.tensor1d([0.5, -1, 7, 3]);
    const b = a.clone();
    const c = tf.clone(b);
    a.dispose();
    expect(Array.from(b.dataSync())).toEqual([0.5, -1, 7, 3]);
    b.dispose();
    expect(Array.from(c.dataSync())).toEqual([0.5, -1, 7, 3]);
    // Kernels still read it correctly.
    const twice = tf.mul(c, 2);
    expect(Array.from(twice.dataSync())).toEqual([1, -2, 14, 6]);
    tf.dispose([c, twice]);
    expect(wasm().numDataIds()).toBe(ids);
  });

  it('a variable assigned after a clone leaves the clone as it was (and the other way round)', () => {
    const v = tf.variable(tf.tensor1d([1, 2, 3]), true, 'identity_test_v');
    const snapshot = v.clone();
    // As Ema does it: a variable made from a clone of another.
    const shadow = tf.variable(v.clone(), false, 'identity_test_shadow');
    v.assign(tf.tensor1d([10, 20, 30]));
    expect(Array.from(snapshot.dataSync())).toEqual([1, 2, 3]);
    expect(Array.from(shadow.dataSync())).toEqual([1, 2, 3]);
    shadow.assign(tf.tensor1d([-1, -2, -3]));
    expect(Array.from(v.dataSync())).toEqual([10, 20, 30]);
    expect(Array.from(snapshot.dataSync())).toEqual([1, 2, 3]);
    tf.dispose([v, snapshot, shadow]);
  });

  it('a training step (loss, gradients, Adam) gives exactly the weights it gave with the stock Identity', async () => {
    tf.env().set('IS_TEST', false); // (its leak check counts tensors a tf.customGrad saves as leaks)
    try {
      const mod = (await compileAndImport(fixture('iddpm-tiny-with-lora.unet'))) as unknown as ModelModule & {
        createModel: (seed?: number) => { params: ParamStore };
      };
      const process_ = makeProcess(mod.config.diffusion);
      const S = mod.config.imageSize;
      const n = 4;
      const x0 = tf.tidy(() => tf.sub(tf.mul(tf.randomUniform([n, S, S, mod.config.channels], 0, 1, 'float32', 5), 2), 1)) as tf.Tensor4D;
      const labels = Int32Array.from({ length: n }, (_, i) => i % mod.config.classes);
      const train = (): { loss: number; weights: Map<string, Float32Array> } => {
        const { params } = mod.createModel(4);
        const adam = new Adam({ lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, warmup: 0 }, params.vars);
        const path = new Map([...params.vars].map(([k, v]) => [v.name, k]));
        let loss = 0;
        for (let step = 0; step < 2; step++) {
          const { value, grads } = variableGradsEager(() => {
            const net: NetFn = (xt, noise) => mod.forward(params, xt, batchCond(mod, labels, noise), true, 100 + step);
            return process_.loss(net, x0, 0, step);
          }, params.trainable());
          loss = value.dataSync()[0]!;
          adam.apply(params.vars, new Map(Object.entries(grads).map(([k, g]) => [path.get(k)!, g!])));
          tf.dispose([value, ...Object.values(grads)]);
        }
        const weights = new Map([...params.vars].map(([k, v]) => [k, v.dataSync() as Float32Array]));
        adam.dispose();
        params.dispose();
        return { loss, weights };
      };
      const shared = train();
      const stock = withStockIdentity(train);
      expect(shared.loss).toBe(stock.loss);
      expect([...shared.weights.keys()]).toEqual([...stock.weights.keys()]);
      for (const [k, w] of stock.weights) expect(Buffer.from(shared.weights.get(k)!.buffer).equals(Buffer.from(w.buffer)), k).toBe(true);
      x0.dispose();
    } finally {
      tf.env().set('IS_TEST', true);
    }
  }, 300_000);
});
