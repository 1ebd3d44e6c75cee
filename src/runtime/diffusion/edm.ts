/**
 * Continuous-noise diffusion as in EDM (Karras et al. 2022): preconditioning `edm` or `vp`
 * (VPPrecond, beta_d = 19.9, beta_min = 0.1, M = 1000), the matching loss (EDMLoss with lognormal
 * sigma and weight (sigma^2 + sigma_data^2) / (sigma sigma_data)^2; VPLoss with t ~ U(eps_t, 1) and
 * weight 1 / sigma^2), and the deterministic Heun sampler (Algorithm 1, rho-spaced sigmas).
 */
import * as tf from '@tensorflow/tfjs-core';

/** The raw network F(c_in x; c_noise). */
export type EdmNetFn = (x: tf.Tensor4D, cNoise: tf.Tensor1D) => tf.Tensor4D;

export interface EdmOptions {
  precond: 'edm' | 'vp';
  sigmaData: number;
  pMean: number;
  pStd: number;
  sigmaMin: number;
  sigmaMax: number;
  rho: number;
}

const VP = { betaD: 19.9, betaMin: 0.1, M: 1000, epsilonT: 1e-5 };
const vpSigma = (t: number) => Math.sqrt(Math.exp(0.5 * VP.betaD * t * t + VP.betaMin * t) - 1);
const vpSigmaInv = (s: number) => (Math.sqrt(VP.betaMin ** 2 + 2 * VP.betaD * Math.log(1 + s * s)) - VP.betaMin) / VP.betaD;

export class Edm {
  constructor(readonly o: EdmOptions) {}

  /** c_skip, c_out, c_in, c_noise for per-sample sigmas. */
  coefficients(sigma: Float64Array) {
    const sd = this.o.sigmaData;
    const f = (g: (s: number) => number) => Float32Array.from(sigma, g);
    if (this.o.precond === 'vp') {
      return {
        cSkip: f(() => 1),
        cOut: f((s) => -s),
        cIn: f((s) => 1 / Math.sqrt(s * s + 1)),
        cNoise: f((s) => (VP.M - 1) * vpSigmaInv(s)),
      };
    }
    return {
      cSkip: f((s) => (sd * sd) / (s * s + sd * sd)),
      cOut: f((s) => (s * sd) / Math.sqrt(s * s + sd * sd)),
      cIn: f((s) => 1 / Math.sqrt(sd * sd + s * s)),
      cNoise: f((s) => Math.log(s) / 4),
    };
  }

  /** The denoiser D(x; sigma) = c_skip x + c_out F(c_in x; c_noise). */
  denoise(net: EdmNetFn, x: tf.Tensor4D, sigma: Float64Array): tf.Tensor4D {
    const n = x.shape[0];
    const c = this.coefficients(sigma);
    const col = (a: Float32Array) => tf.tensor4d(a, [n, 1, 1, 1]);
    const f = net(tf.mul(col(c.cIn), x), tf.tensor1d(c.cNoise));
    return tf.add(tf.mul(col(c.cSkip), x), tf.mul(col(c.cOut), f));
  }

  /** Per-sample noise levels for a training batch and their loss weights, from uniforms/normals. */
  trainingSigmas(u: Float64Array): { sigma: Float64Array; weight: Float64Array } {
    const sd = this.o.sigmaData;
    if (this.o.precond === 'vp') {
      const sigma = Float64Array.from(u, (r) => vpSigma(1 + r * (VP.epsilonT - 1)));
      return { sigma, weight: Float64Array.from(sigma, (s) => 1 / (s * s)) };
    }
    // u holds standard normals here.
    const sigma = Float64Array.from(u, (r) => Math.exp(r * this.o.pStd + this.o.pMean));
    return { sigma, weight: Float64Array.from(sigma, (s) => (s * s + sd * sd) / (s * sd) ** 2) };
  }

  /** Whether trainingSigmas wants uniforms (vp) or normals (edm). */
  get wantsUniform(): boolean {
    return this.o.precond === 'vp';
  }

  /**
   * Weighted denoising loss lambda(sigma) |D(y + n) - y|^2, averaged over pixels and batch
   * (`mean`), or summed over pixels and averaged over the batch (`sum_pixels`: EDM's
   * training_loop.py, loss.sum() / batch).
   */
  loss(net: EdmNetFn, y: tf.Tensor4D, u: Float64Array, noise: tf.Tensor4D, reduction: 'mean' | 'sum_pixels' = 'mean'): tf.Scalar {
    const n = y.shape[0];
    const { sigma, weight } = this.trainingSigmas(u);
    const sig = tf.tensor4d(Float32Array.from(sigma), [n, 1, 1, 1]);
    const d = this.denoise(net, tf.add(y, tf.mul(noise, sig)), sigma);
    const w = tf.tensor4d(Float32Array.from(weight), [n, 1, 1, 1]);
    const l = tf.mul(w, tf.square(tf.sub(d, y)));
    return (reduction === 'sum_pixels' ? tf.mean(tf.sum(l, [1, 2, 3])) : tf.mean(l)) as tf.Scalar;
  }

  /** sigma_0 > ... > sigma_{N-1} (rho-spaced), then 0. */
  sigmaSteps(steps: number): number[] {
    const { sigmaMin, sigmaMax, rho } = this.o;
    const out: number[] = [];
    for (let i = 0; i < steps; i++) {
      const a = sigmaMax ** (1 / rho);
      const b = sigmaMin ** (1 / rho);
      out.push((a + (i / Math.max(1, steps - 1)) * (b - a)) ** rho);
    }
    out.push(0);
    return out;
  }

  /** Deterministic Heun sampling (2 model evaluations per step but the last). */
  sampleHeun(net: EdmNetFn, shape: [number, number, number, number], steps: number, seed: number): tf.Tensor4D {
    const t = this.sigmaSteps(steps);
    const n = shape[0];
    const at = (s: number) => new Float64Array(n).fill(s);
    let x = tf.tidy(() => tf.mul(tf.randomNormal(shape, 0, 1, 'float32', seed), t[0])) as tf.Tensor4D;
    for (let i = 0; i < steps; i++) {
      const next = tf.tidy(() => {
        const d = tf.div(tf.sub(x, this.denoise(net, x, at(t[i]))), t[i]);
        let xn = tf.add(x, tf.mul(d, t[i + 1] - t[i])) as tf.Tensor4D;
        if (t[i + 1] > 0) {
          const d2 = tf.div(tf.sub(xn, this.denoise(net, xn, at(t[i + 1]))), t[i + 1]);
          xn = tf.add(x, tf.mul(tf.add(tf.mul(d, 0.5), tf.mul(d2, 0.5)), t[i + 1] - t[i])) as tf.Tensor4D;
        }
        return xn;
      });
      x.dispose();
      x = next;
    }
    return x;
  }
}
