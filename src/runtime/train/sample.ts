/**
 * Sampling from a checkpoint (EMA weights when present): a grid of n images, optionally for one
 * class or a real-valued class vector, or a sweep (paper section 5.6) with one grid row per value
 * of a: a c_i + (1 - a) c_j, or of b: b c_i, and the same noise in every row.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ParamStore, paramSpecsFromRows } from '../model/params.ts';
import { readCheckpoint, restoreInto } from './checkpoint.ts';
import { batchCond, type ModelModule } from './loop.ts';
import { writeSampleGrid } from './outputs.ts';
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
  if (o.classVector && o.classVector.length !== C) throw new SampleError(`the class vector has ${o.classVector.length} entries; ${cfg.name} has ${C} classes`);
  const oneHot = (i: number) => Array.from({ length: C }, (_, k) => (k === i ? 1 : 0));
  // One class vector per grid row.
  let rows: number[][];
  if (o.sweep) {
    const sw = o.sweep;
    checkClass(sw.i);
    if (sw.kind === 'interp') checkClass(sw.j);
    rows = sw.values.map((v) => (sw.kind === 'interp' ? oneHot(sw.i).map((a, k) => v * a + (1 - v) * oneHot(sw.j)[k]) : oneHot(sw.i).map((a) => v * a)));
  } else if (o.classVector) rows = [o.classVector];
  else if (o.classIndex !== undefined) rows = [oneHot(o.classIndex)];
  else rows = [];
  const perRow = o.sweep ? (o.n ?? 8) : (o.n ?? 64);
  const process_ = makeProcess(cfg.diffusion);
  const shape: [number, number, number, number] = [perRow, cfg.imageSize, cfg.imageSize, cfg.channels];
  const seed = o.seed ?? 1;
  const sampleWith = (classes?: number[]) => {
    const net: NetFn = (x, noise) => {
      const cond = batchCond(mod, C > 0 && !classes ? Int32Array.from({ length: perRow }, (_, k) => k % C) : undefined, noise);
      if (classes) cond.classes = tf.tile(tf.tensor2d([classes]), [perRow, 1]) as tf.Tensor2D;
      return mod.forward(store, x, cond, false);
    };
    return tf.tidy(() => process_.sample(net, shape, { steps: o.steps, sampler: o.sampler, seed }));
  };
  const parts = rows.length ? rows.map((r) => sampleWith(r)) : [sampleWith()];
  const all = tf.concat(parts, 0) as tf.Tensor4D;
  const finite = tf.tidy(() => tf.all(tf.isFinite(all)).dataSync()[0] === 1);
  writeSampleGrid(o.out, all, { cols: perRow > 16 && !o.sweep ? Math.ceil(Math.sqrt(perRow)) : perRow });
  const result = { out: o.out, shape: all.shape, finite };
  tf.dispose([all, ...parts]);
  store.dispose();
  return result;
}
