/**
 * The diffusion process of a model module's config, as one interface for training and sampling:
 * a loss for a batch (with all randomness from per-step seeds) and a sampler.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Ddpm } from '../diffusion/ddpm.ts';
import { Edm } from '../diffusion/edm.ts';
import { normals, Stream, stepSeed, uniforms } from './rng.ts';

export type NetFn = (x: tf.Tensor4D, noiseInput: tf.Tensor1D) => tf.Tensor4D;

export interface Process {
  kind: 'ddpm' | 'edm';
  /** The training objective of a batch (its reduction as the training settings say). */
  loss(net: NetFn, x0: tf.Tensor4D, seed: number, step: number): tf.Scalar;
  /** The objective divided by this is the per-pixel mean loss (what the log reports). */
  lossPerPixel(x0Shape: readonly number[]): number;
  sample(net: NetFn, shape: [number, number, number, number], o: { steps?: number; sampler?: string; seed: number }): tf.Tensor4D;
  defaultSampleSteps: number;
}

type Diffusion = Record<string, unknown>;
const num = (d: Diffusion, k: string, dflt: number) => (typeof d[k] === 'number' ? (d[k] as number) : dflt);
const str = (d: Diffusion, k: string, dflt: string) => (typeof d[k] === 'string' ? (d[k] as string) : dflt);

/** The diffusion process `d` with the loss reduction of the training settings `tr`. */
export function makeProcess(d: Diffusion, tr: Diffusion = {}): Process {
  const reduction = tr.loss_reduction === 'sum_pixels' ? 'sum_pixels' : 'mean';
  const lossPerPixel = (s: readonly number[]) => (reduction === 'sum_pixels' ? s[1] * s[2] * s[3] : 1);
  if (d.process === 'edm') {
    const edm = new Edm({
      precond: str(d, 'precond', 'edm') as 'edm' | 'vp',
      sigmaData: num(d, 'sigma_data', 0.5),
      pMean: num(d, 'P_mean', -1.2),
      pStd: num(d, 'P_std', 1.2),
      sigmaMin: num(d, 'sigma_min', 0.002),
      sigmaMax: num(d, 'sigma_max', 80),
      rho: num(d, 'rho', 7),
    });
    const steps = num(d, 'steps', 18);
    return {
      kind: 'edm',
      defaultSampleSteps: steps,
      lossPerPixel,
      loss(net, x0, seed, step) {
        const n = x0.shape[0];
        const s = stepSeed(seed, step, Stream.timestep);
        const u = edm.wantsUniform ? uniforms(n, s) : normals(n, s);
        const noise = tf.randomNormal(x0.shape, 0, 1, 'float32', stepSeed(seed, step, Stream.noise)) as tf.Tensor4D;
        return edm.loss(net, x0, u, noise, reduction);
      },
      sample: (net, shape, o) => edm.sampleHeun(net, shape, o.steps ?? steps, o.seed),
    };
  }
  const T = num(d, 'T', 1000);
  const ddpm = new Ddpm({
    T,
    schedule: str(d, 'schedule', 'linear') as 'linear' | 'cosine',
    learnSigma: d.learn_sigma === true,
    loss: str(d, 'loss', 'simple') as 'simple' | 'hybrid',
    vlbWeight: num(d, 'vlb_weight', 0.001),
  });
  return {
    kind: 'ddpm',
    defaultSampleSteps: 50,
    lossPerPixel,
    loss(net, x0, seed, step) {
      const n = x0.shape[0];
      const u = uniforms(n, stepSeed(seed, step, Stream.timestep));
      const t = Int32Array.from(u, (r) => Math.min(T - 1, Math.floor(r * T)));
      const noise = tf.randomNormal(x0.shape, 0, 1, 'float32', stepSeed(seed, step, Stream.noise)) as tf.Tensor4D;
      return ddpm.loss(net, x0, t, noise, reduction);
    },
    sample(net, shape, o) {
      const sampler = o.sampler ?? 'ddim';
      if (sampler === 'ancestral') return ddpm.sampleAncestral(net, shape, o.steps, o.seed);
      return ddpm.sampleDdim(net, shape, o.steps ?? 50, o.seed);
    },
  };
}
