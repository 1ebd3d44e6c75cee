/**
 * Sampling from a checkpoint (EMA weights when present): a grid of n images, optionally for one
 * class or a real-valued class vector, or a sweep (paper section 5.6) with one grid row per value
 * of a: a c_i + (1 - a) c_j, or of b: b c_i, and the same noise in every row.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ParamStore, paramSpecsFromRows } from '../model/params.ts';
import { readCheckpoint, restoreInto } from './checkpoint.ts';
import { batchCond, type ModelModule } from './loop.ts';
import { writeSampleGridData } from './outputs.ts';
import { makeProcess, type NetFn } from './process.ts';

export type Sweep = { kind: 'interp'; i: number; j: number; values: number[] } | { kind: 'scale'; i: number; values: number[] };

export interface SampleOptions {
  checkpoint: string;
  out: string;
  n?: number;
  steps?: number;
  sampler?: 'ddim' | 'ancestral' | 'heun';
  seed?: number;
  /** A class label. */
  classIndex?: number;
  /** Weights per class (any real numbers). */
  classVector?: number[];
  sweep?: Sweep;
  /** Use the raw weights instead of the EMA. */
  raw?: boolean;
  /**
   * The most images sampled in one pass (what fits in memory: the CLI's estimate). Larger grids
   * (rows) are sampled in passes of this size, pass k > 0 with seed + k; smaller ones in one pass.
   */
  maxBatch?: number;
}

/** The samplers a model's diffusion process offers, the default first. */
export function samplersFor(diffusion: Record<string, unknown>): string[] {
  return diffusion.process === 'edm' ? ['heun'] : ['ddim', 'ancestral'];
}

export class SampleError extends Error {}

export function sampleRun(mod: ModelModule, o: SampleOptions): { out: string; shape: number[]; finite: boolean } {
  const cfg = mod.config;
  const specs = paramSpecsFromRows(mod.params);
  const ck = readCheckpoint(o.checkpoint);
  const store = new ParamStore(specs, 0);
  const prefix = !o.raw && ck.tensors.has(`ema.${specs[0]?.name}`) ? 'ema' : 'model';
  const { missing } = restoreInto(ck, prefix, specs, store.vars);
  if (missing.length) throw new SampleError(`${o.checkpoint} does not fit ${cfg.name}: it lacks ${missing.slice(0, 5).join(', ')}`);
  const C = cfg.classes;
  const wantsClasses = o.classIndex !== undefined || o.classVector !== undefined || o.sweep !== undefined;
  if (wantsClasses && C === 0) throw new SampleError(`${cfg.name} takes no class labels`);
  const checkClass = (i: number) => {
    if (!Number.isInteger(i) || i < 0 || i >= C) throw new SampleError(`class ${i} is out of range 0..${C - 1}`);
  };
  if (o.classIndex !== undefined) checkClass(o.classIndex);
  if (o.classVector && o.classVector.length !== C)
    throw new SampleError(`the class vector has ${o.classVector.length} entries; ${cfg.name} has ${C} classes`);
  const oneHot = (i: number) => Array.from({ length: C }, (_, k) => (k === i ? 1 : 0));
  // One class vector per grid row.
  let rows: number[][];
  if (o.sweep) {
    const sw = o.sweep;
    checkClass(sw.i);
    if (sw.kind === 'interp') checkClass(sw.j);
    rows = sw.values.map((v) =>
      sw.kind === 'interp' ? oneHot(sw.i).map((a, k) => v * a + (1 - v) * oneHot(sw.j)[k]) : oneHot(sw.i).map((a) => v * a),
    );
  } else if (o.classVector) rows = [o.classVector];
  else if (o.classIndex !== undefined) rows = [oneHot(o.classIndex)];
  else rows = [];
  const perRow = o.sweep ? (o.n ?? 8) : (o.n ?? 64);
  const process_ = makeProcess(cfg.diffusion);
  const shape: [number, number, number, number] = [perRow, cfg.imageSize, cfg.imageSize, cfg.channels];
  const seed = o.seed ?? 1;
  if (o.sampler !== undefined && !samplersFor(cfg.diffusion).includes(o.sampler)) {
    store.dispose();
    throw new SampleError(`${cfg.name} samples with ${samplersFor(cfg.diffusion).join(' or ')}, not '${o.sampler}'`);
  }
  const pass = Math.max(1, Math.min(perRow, o.maxBatch ?? perRow));
  const per = cfg.imageSize * cfg.imageSize * cfg.channels;
  const data = new Float32Array((rows.length || 1) * perRow * per);
  let at = 0;
  const sampleWith = (classes?: number[]) => {
    for (let start = 0, k = 0; start < perRow; start += pass, k++) {
      const b = Math.min(pass, perRow - start);
      const net: NetFn = (x, noise) => {
        const cond = batchCond(mod, C > 0 && !classes ? Int32Array.from({ length: b }, (_, i) => (start + i) % C) : undefined, noise);
        if (classes) cond.classes = tf.tile(tf.tensor2d([classes]), [b, 1]) as tf.Tensor2D;
        return mod.forward(store, x, cond, false);
      };
      const part = tf.tidy(() =>
        process_.sample(net, [b, shape[1], shape[2], shape[3]], { steps: o.steps, sampler: o.sampler, seed: seed + k }),
      );
      data.set(part.dataSync() as Float32Array, at);
      at += b * per;
      part.dispose();
    }
  };
  if (rows.length) rows.forEach((r) => sampleWith(r));
  else sampleWith();
  store.dispose();
  const finite = data.every((v) => Number.isFinite(v));
  const all: [number, number, number, number] = [data.length / per, shape[1], shape[2], shape[3]];
  writeSampleGridData(o.out, data, all, { cols: perRow > 16 && !o.sweep ? Math.ceil(Math.sqrt(perRow)) : perRow });
  return { out: o.out, shape: all, finite };
}
