/**
 * Discrete diffusion schedules (IDDPM's GaussianDiffusion), computed in float64 on the host.
 * A schedule over a subsequence of timesteps (respacing, for faster sampling) is derived from the
 * full schedule's alpha-bars, as IDDPM's SpacedDiffusion does.
 */

export function betasFor(kind: 'linear' | 'cosine', T: number): Float64Array {
  const b = new Float64Array(T);
  if (kind === 'linear') {
    // Scaled so that any T behaves like DDPM's 1000-step schedule.
    const scale = 1000 / T;
    const lo = scale * 1e-4;
    const hi = scale * 0.02;
    for (let i = 0; i < T; i++) b[i] = T === 1 ? lo : lo + ((hi - lo) * i) / (T - 1);
    return b;
  }
  const abar = (t: number) => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
  for (let i = 0; i < T; i++) b[i] = Math.min(1 - abar((i + 1) / T) / abar(i / T), 0.999);
  return b;
}

export class Schedule {
  readonly T: number;
  readonly alphasCumprod: Float64Array;
  readonly alphasCumprodPrev: Float64Array;
  readonly posteriorVariance: Float64Array;
  readonly posteriorLogVarianceClipped: Float64Array;
  readonly posteriorMeanCoef1: Float64Array;
  readonly posteriorMeanCoef2: Float64Array;

  /** `timesteps`: the original timestep each step of this schedule runs the model at. */
  constructor(
    readonly betas: Float64Array,
    readonly timesteps: Int32Array,
  ) {
    const T = betas.length;
    this.T = T;
    this.alphasCumprod = new Float64Array(T);
    this.alphasCumprodPrev = new Float64Array(T);
    let acc = 1;
    for (let i = 0; i < T; i++) {
      this.alphasCumprodPrev[i] = acc;
      acc *= 1 - betas[i];
      this.alphasCumprod[i] = acc;
    }
    this.posteriorVariance = new Float64Array(T);
    this.posteriorMeanCoef1 = new Float64Array(T);
    this.posteriorMeanCoef2 = new Float64Array(T);
    for (let i = 0; i < T; i++) {
      const ab = this.alphasCumprod[i];
      const abp = this.alphasCumprodPrev[i];
      this.posteriorVariance[i] = (betas[i] * (1 - abp)) / (1 - ab);
      this.posteriorMeanCoef1[i] = (betas[i] * Math.sqrt(abp)) / (1 - ab);
      this.posteriorMeanCoef2[i] = ((1 - abp) * Math.sqrt(1 - betas[i])) / (1 - ab);
    }
    // log of the posterior variance, with the t = 0 entry (which is 0) replaced by t = 1's.
    this.posteriorLogVarianceClipped = new Float64Array(T);
    for (let i = 0; i < T; i++)
      this.posteriorLogVarianceClipped[i] = Math.log(T > 1 && i === 0 ? this.posteriorVariance[1] : this.posteriorVariance[i]);
  }

  static full(kind: 'linear' | 'cosine', T: number): Schedule {
    return new Schedule(
      betasFor(kind, T),
      Int32Array.from({ length: T }, (_, i) => i),
    );
  }

  /** The schedule over `count` evenly spaced timesteps of this (full) schedule. */
  respaced(count: number): Schedule {
    const T = this.T;
    const n = Math.max(1, Math.min(count, T));
    const use: number[] = [];
    for (let i = 0; i < n; i++) use.push(Math.round((i * (T - 1)) / Math.max(1, n - 1)));
    const uniq = [...new Set(use)].sort((a, b) => a - b);
    const betas = new Float64Array(uniq.length);
    let last = 1;
    uniq.forEach((t, i) => {
      betas[i] = 1 - this.alphasCumprod[t] / last;
      last = this.alphasCumprod[t];
    });
    return new Schedule(betas, Int32Array.from(uniq.map((t) => this.timesteps[t])));
  }
}
