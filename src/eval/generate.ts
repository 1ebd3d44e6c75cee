/**
 * Samples of a trained run, generated in batches in memory (sampleRun writes a grid file; the
 * Frechet distance needs thousands of images as numbers). Weights are the checkpoint's EMA when it
 * has one, as `unetc sample` uses; class-conditional models get balanced labels (i mod classes).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ParamStore, paramSpecsFromRows } from '../runtime/model/params.ts';
import { readCheckpoint, restoreInto } from '../runtime/train/checkpoint.ts';
import { batchCond, type ModelModule } from '../runtime/train/loop.ts';
import { makeProcess, type NetFn } from '../runtime/train/process.ts';
import { Stream, stepSeed } from '../runtime/train/rng.ts';

export class GenerateError extends Error {}

export interface GenerateOptions {
  checkpoint: string;
  n: number;
  /** Images per sampling batch (default 250). */
  batch?: number;
  /** Sampling steps (default: the process's). */
  steps?: number;
  sampler?: 'ddim' | 'ancestral' | 'heun';
  /** Batch k draws its noise from stepSeed(seed, k, Stream.sample). */
  seed?: number;
  /** Use the raw weights instead of the EMA. */
  raw?: boolean;
  /** Called after each batch with the images generated so far. */
  onBatch?: (done: number, total: number) => void;
}

export interface Generated {
  n: number;
  height: number;
  width: number;
  channels: number;
  /** [n, height, width, channels] NHWC, as the model outputs them (not clipped). */
  images: Float32Array;
  /** The class each image was asked for (class-conditional models only). */
  labels?: Int32Array;
  /** Which weights were used: 'ema' or 'model'. */
  weights: 'ema' | 'model';
  nonFinite: number;
}

export function generateSamples(mod: ModelModule, o: GenerateOptions): Generated {
  const cfg = mod.config;
  const specs = paramSpecsFromRows(mod.params);
  const ck = readCheckpoint(o.checkpoint);
  const store = new ParamStore(specs, 0);
  try {
    const weights = !o.raw && ck.tensors.has(`ema.${specs[0]?.name}`) ? 'ema' : 'model';
    const { missing } = restoreInto(ck, weights, specs, store.vars);
    if (missing.length) throw new GenerateError(`${o.checkpoint} does not fit ${cfg.name}: it lacks ${missing.slice(0, 5).join(', ')}`);
    const process_ = makeProcess(cfg.diffusion);
    const C = cfg.classes;
    const H = cfg.imageSize;
    const ch = cfg.channels;
    const per = H * H * ch;
    const batch = Math.max(1, o.batch ?? 250);
    const images = new Float32Array(o.n * per);
    const labels = C > 0 ? Int32Array.from({ length: o.n }, (_, i) => i % C) : undefined;
    let nonFinite = 0;
    for (let start = 0, k = 0; start < o.n; start += batch, k++) {
      const b = Math.min(batch, o.n - start);
      const bl = labels?.subarray(start, start + b);
      const net: NetFn = (x, noise) => mod.forward(store, x, batchCond(mod, bl, noise), false);
      const out = tf.tidy(() =>
        process_.sample(net, [b, H, H, ch], { steps: o.steps, sampler: o.sampler, seed: stepSeed(o.seed ?? 1, k, Stream.sample) }),
      );
      const data = out.dataSync() as Float32Array;
      out.dispose();
      for (const v of data) if (!Number.isFinite(v)) nonFinite++;
      images.set(data, start * per);
      o.onBatch?.(start + b, o.n);
    }
    return { n: o.n, height: H, width: H, channels: ch, images, labels, weights, nonFinite };
  } finally {
    store.dispose();
  }
}
