/**
 * Discrete-time diffusion (DDPM / IDDPM): the training loss (epsilon prediction; with a learned
 * variance, the hybrid loss L_simple + lambda * L_vlb of Nichol & Dhariwal), ancestral sampling
 * and DDIM. Images are NHWC in [-1, 1]. Constants are computed on the host in float64.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Schedule } from './schedule.ts';

/** The network: x_t and original timestep indices -> [eps (C channels), v (C more if learned sigma)]. */
export type DdpmModelFn = (x: tf.Tensor4D, t: tf.Tensor1D) => tf.Tensor4D;

export interface DdpmOptions {
  T: number;
  schedule: 'linear' | 'cosine';
  learnSigma: boolean;
  loss: 'simple' | 'hybrid';
  /** lambda of L_hybrid (IDDPM: 0.001). */
  vlbWeight: number;
}

const pick = (arr: Float64Array, t: Int32Array | number[], n: number): tf.Tensor4D =>
  tf.tensor4d(
    Float32Array.from(t, (i) => arr[i]),
    [n, 1, 1, 1],
  );

/** Identity forward, zero gradient (tfjs has no stop_gradient). */
const stopGradient = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor;
  return { value: tf.add(x, 0), gradFunc: (dy: tf.Tensor) => [tf.zerosLike(dy)] };
}) as (x: tf.Tensor) => tf.Tensor;

function normalKl(m1: tf.Tensor, lv1: tf.Tensor, m2: tf.Tensor, lv2: tf.Tensor): tf.Tensor {
  return tf.mul(
    0.5,
    tf.add(tf.add(-1, tf.sub(lv2, lv1)), tf.add(tf.exp(tf.sub(lv1, lv2)), tf.mul(tf.square(tf.sub(m1, m2)), tf.exp(tf.neg(lv2))))),
  );
}

/** IDDPM's tanh approximation of the standard normal CDF. */
function approxCdf(x: tf.Tensor): tf.Tensor {
  return tf.mul(0.5, tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3)))))));
}

/** log-likelihood of x (8-bit data scaled to [-1, 1]) under a Gaussian discretised into 256 bins. */
function discretizedGaussianLogLikelihood(x: tf.Tensor, mean: tf.Tensor, logScale: tf.Tensor): tf.Tensor {
  const centered = tf.sub(x, mean);
  const invStd = tf.exp(tf.neg(logScale));
  const cdfPlus = approxCdf(tf.mul(invStd, tf.add(centered, 1 / 255)));
  const cdfMin = approxCdf(tf.mul(invStd, tf.sub(centered, 1 / 255)));
  const logCdfPlus = tf.log(tf.maximum(cdfPlus, 1e-12));
  const logOneMinusCdfMin = tf.log(tf.maximum(tf.sub(1, cdfMin), 1e-12));
  const logDelta = tf.log(tf.maximum(tf.sub(cdfPlus, cdfMin), 1e-12));
  return tf.where(tf.less(x, -0.999), logCdfPlus, tf.where(tf.greater(x, 0.999), logOneMinusCdfMin, logDelta));
}

export class Ddpm {
  readonly schedule: Schedule;

  constructor(readonly o: DdpmOptions) {
    this.schedule = Schedule.full(o.schedule, o.T);
  }

  /** x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise. */
  qSample(x0: tf.Tensor4D, t: Int32Array, noise: tf.Tensor4D): tf.Tensor4D {
    const n = x0.shape[0];
    const ab = this.schedule.alphasCumprod;
    return tf.add(
      tf.mul(pick(Float64Array.from(ab, Math.sqrt), t, n), x0),
      tf.mul(
        pick(
          Float64Array.from(ab, (a) => Math.sqrt(1 - a)),
          t,
          n,
        ),
        noise,
      ),
    );
  }

  /** Mean and log variance of p(x_{t-1} | x_t) from the model output, and the predicted x0. */
  private pMean(s: Schedule, out: tf.Tensor4D, xt: tf.Tensor4D, idx: Int32Array, clip: boolean, epsOverride?: tf.Tensor4D) {
    const [n, h, w] = xt.shape;
    const c = xt.shape[3];
    const eps = epsOverride ?? (this.o.learnSigma ? tf.slice(out, [0, 0, 0, 0], [n, h, w, c]) : out);
    let logVar: tf.Tensor;
    if (this.o.learnSigma) {
      const v = tf.slice(out, [0, 0, 0, c], [n, h, w, c]);
      const frac = tf.div(tf.add(v, 1), 2);
      const minLog = pick(s.posteriorLogVarianceClipped, idx, n);
      const maxLog = pick(Float64Array.from(s.betas, Math.log), idx, n);
      logVar = tf.add(tf.mul(frac, maxLog), tf.mul(tf.sub(1, frac), minLog));
    } else {
      // IDDPM's "fixed large" variance: betas, with the first entry the posterior variance.
      const large = Float64Array.from(s.betas, (b, i) => Math.log(i === 0 && s.T > 1 ? s.posteriorVariance[1] : b));
      logVar = tf.mul(pick(large, idx, n), tf.onesLike(xt));
    }
    const ab = s.alphasCumprod;
    let x0 = tf.sub(
      tf.mul(
        pick(
          Float64Array.from(ab, (a) => Math.sqrt(1 / a)),
          idx,
          n,
        ),
        xt,
      ),
      tf.mul(
        pick(
          Float64Array.from(ab, (a) => Math.sqrt(1 / a - 1)),
          idx,
          n,
        ),
        eps,
      ),
    );
    if (clip) x0 = tf.clipByValue(x0, -1, 1);
    const mean = tf.add(tf.mul(pick(s.posteriorMeanCoef1, idx, n), x0), tf.mul(pick(s.posteriorMeanCoef2, idx, n), xt));
    return { mean, logVar, x0: x0 as tf.Tensor4D, eps };
  }

  /**
   * Training loss for one batch: t uniform, epsilon-MSE, plus (hybrid) lambda * T * L_t with the
   * mean's gradient stopped in the variational term, as IDDPM trains the learned variance.
   */
  loss(model: DdpmModelFn, x0: tf.Tensor4D, t: Int32Array, noise: tf.Tensor4D, reduction: 'mean' | 'sum_pixels' = 'mean'): tf.Scalar {
    // Per sample: the mean over pixels (improved-diffusion's mean_flat), or their sum.
    const perSample = (x: tf.Tensor) => (reduction === 'sum_pixels' ? tf.sum(x, [1, 2, 3]) : tf.mean(x, [1, 2, 3]));
    const n = x0.shape[0];
    const xt = this.qSample(x0, t, noise);
    const out = model(xt, tf.tensor1d(t, 'int32'));
    const c = x0.shape[3];
    const [, h, w] = x0.shape;
    const eps = this.o.learnSigma ? tf.slice(out, [0, 0, 0, 0], [n, h, w, c]) : out;
    const mse = tf.mean(perSample(tf.square(tf.sub(noise, eps))));
    if (!(this.o.learnSigma && this.o.loss === 'hybrid')) return mse as tf.Scalar;
    const s = this.schedule;
    const { mean, logVar } = this.pMean(s, out, xt, t, false, stopGradient(eps) as tf.Tensor4D);
    const trueMean = tf.add(tf.mul(pick(s.posteriorMeanCoef1, t, n), x0), tf.mul(pick(s.posteriorMeanCoef2, t, n), xt));
    const trueLogVar = pick(s.posteriorLogVarianceClipped, t, n);
    const kl = tf.div(perSample(normalKl(trueMean, trueLogVar, mean, logVar)), Math.LN2);
    const nll = tf.div(perSample(tf.neg(discretizedGaussianLogLikelihood(x0, mean, tf.mul(0.5, logVar)))), Math.LN2);
    const vb = tf.where(tf.equal(tf.tensor1d(t, 'int32'), 0), nll, kl);
    return tf.add(mse, tf.mul(this.o.vlbWeight * this.o.T, tf.mean(vb))) as tf.Scalar;
  }

  /** Ancestral sampling over `steps` evenly spaced timesteps (all T by default). */
  sampleAncestral(model: DdpmModelFn, shape: [number, number, number, number], steps: number | undefined, seed: number): tf.Tensor4D {
    const s = steps && steps < this.o.T ? this.schedule.respaced(steps) : this.schedule;
    let x = tf.randomNormal(shape, 0, 1, 'float32', seed) as tf.Tensor4D;
    const n = shape[0];
    for (let i = s.T - 1; i >= 0; i--) {
      const next = tf.tidy(() => {
        const idx = new Int32Array(n).fill(i);
        const out = model(x, tf.tensor1d(new Int32Array(n).fill(s.timesteps[i]), 'int32'));
        const { mean, logVar } = this.pMean(s, out, x, idx, true);
        if (i === 0) return mean as tf.Tensor4D;
        const z = tf.randomNormal(shape, 0, 1, 'float32', seed + 1 + i);
        return tf.add(mean, tf.mul(tf.exp(tf.mul(0.5, logVar)), z)) as tf.Tensor4D;
      });
      x.dispose();
      x = next;
    }
    return x;
  }

  /** Deterministic DDIM (eta = 0) over `steps` evenly spaced timesteps. */
  sampleDdim(model: DdpmModelFn, shape: [number, number, number, number], steps: number, seed: number): tf.Tensor4D {
    const s = this.schedule.respaced(steps);
    let x = tf.randomNormal(shape, 0, 1, 'float32', seed) as tf.Tensor4D;
    const n = shape[0];
    for (let i = s.T - 1; i >= 0; i--) {
      const next = tf.tidy(() => {
        const idx = new Int32Array(n).fill(i);
        const out = model(x, tf.tensor1d(new Int32Array(n).fill(s.timesteps[i]), 'int32'));
        const { x0 } = this.pMean(s, out, x, idx, true);
        const ab = s.alphasCumprod[i];
        const eps = tf.div(tf.sub(tf.mul(Math.sqrt(1 / ab), x), x0), Math.sqrt(1 / ab - 1));
        const abPrev = s.alphasCumprodPrev[i];
        return tf.add(tf.mul(Math.sqrt(abPrev), x0), tf.mul(Math.sqrt(1 - abPrev), eps)) as tf.Tensor4D;
      });
      x.dispose();
      x = next;
    }
    return x;
  }
}
