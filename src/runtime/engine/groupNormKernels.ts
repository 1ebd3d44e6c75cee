/**
 * GroupNorm forward and backward over NHWC data as plain loops, for the CPU backends (memoryEfficient.ts).
 * On wasm the op-level formulation makes ~8 passes forward and ~12 backward over the activation,
 * several of them broadcasting kernels over a 5-D [N, H, W, G, C/G] view (the slowest kind there);
 * these make 3 and 2. Statistics are accumulated in float64 per sample and group, the variance in
 * a second pass over (x - mean) as tf.moments does.
 */

export interface GroupNormGeometry {
  n: number;
  /** H * W */
  pixels: number;
  c: number;
  groups: number;
}

/** y = (x - mean) * rstd * gamma + beta; returns y and the per-(sample, group) mean and rstd. */
export function groupNormForward(
  x: Float32Array,
  gamma: Float32Array,
  beta: Float32Array,
  g: GroupNormGeometry,
  eps: number,
): { y: Float32Array; mean: Float32Array; rstd: Float32Array } {
  const { n, pixels, c, groups } = g;
  const cg = c / groups;
  const count = pixels * cg;
  const mean = new Float32Array(n * groups);
  const rstd = new Float32Array(n * groups);
  const y = new Float32Array(x.length);
  const groupOf = Int32Array.from({ length: c }, (_, ch) => Math.floor(ch / cg));
  const acc = new Float64Array(groups);
  for (let b = 0; b < n; b++) {
    const base = b * pixels * c;
    const end = base + pixels * c;
    acc.fill(0);
    for (let i = base; i < end; i += c) for (let ch = 0; ch < c; ch++) acc[groupOf[ch]] += x[i + ch];
    const mu = Float64Array.from(acc, (s) => s / count);
    acc.fill(0);
    for (let i = base; i < end; i += c) {
      for (let ch = 0; ch < c; ch++) {
        const d = x[i + ch] - mu[groupOf[ch]];
        acc[groupOf[ch]] += d * d;
      }
    }
    const scale = new Float64Array(c);
    const shift = new Float64Array(c);
    for (let k = 0; k < groups; k++) {
      mean[b * groups + k] = mu[k];
      rstd[b * groups + k] = 1 / Math.sqrt(acc[k] / count + eps);
    }
    // y = x * (rstd gamma) + (beta - mean rstd gamma), per channel of this sample.
    for (let ch = 0; ch < c; ch++) {
      const k = groupOf[ch];
      scale[ch] = rstd[b * groups + k] * gamma[ch];
      shift[ch] = beta[ch] - mu[k] * scale[ch];
    }
    for (let i = base; i < end; i += c) for (let ch = 0; ch < c; ch++) y[i + ch] = x[i + ch] * scale[ch] + shift[ch];
  }
  return { y, mean, rstd };
}

/**
 * With xhat = (x - mean) rstd and gd = dy gamma: dbeta = sum dy, dgamma = sum dy xhat, and
 * dx = rstd (gd - mean_group(gd) - xhat mean_group(gd xhat)).
 */
export function groupNormBackward(
  dy: Float32Array,
  x: Float32Array,
  mean: Float32Array,
  rstd: Float32Array,
  gamma: Float32Array,
  g: GroupNormGeometry,
): { dx: Float32Array; dgamma: Float32Array; dbeta: Float32Array } {
  const { n, pixels, c, groups } = g;
  const cg = c / groups;
  const count = pixels * cg;
  const groupOf = Int32Array.from({ length: c }, (_, ch) => Math.floor(ch / cg));
  const dgamma = new Float64Array(c);
  const dbeta = new Float64Array(c);
  const dx = new Float32Array(x.length);
  const m1 = new Float64Array(groups);
  const m2 = new Float64Array(groups);
  const mu = new Float64Array(c);
  const rs = new Float64Array(c);
  for (let b = 0; b < n; b++) {
    const base = b * pixels * c;
    const end = base + pixels * c;
    for (let ch = 0; ch < c; ch++) {
      mu[ch] = mean[b * groups + groupOf[ch]];
      rs[ch] = rstd[b * groups + groupOf[ch]];
    }
    m1.fill(0);
    m2.fill(0);
    for (let i = base; i < end; i += c) {
      for (let ch = 0; ch < c; ch++) {
        const d = dy[i + ch];
        const xh = (x[i + ch] - mu[ch]) * rs[ch];
        const gd = d * gamma[ch];
        dbeta[ch] += d;
        dgamma[ch] += d * xh;
        m1[groupOf[ch]] += gd;
        m2[groupOf[ch]] += gd * xh;
      }
    }
    for (let k = 0; k < groups; k++) {
      m1[k] /= count;
      m2[k] /= count;
    }
    for (let i = base; i < end; i += c) {
      for (let ch = 0; ch < c; ch++) {
        const k = groupOf[ch];
        const xh = (x[i + ch] - mu[ch]) * rs[ch];
        dx[i + ch] = rs[ch] * (dy[i + ch] * gamma[ch] - m1[k] - xh * m2[k]);
      }
    }
  }
  return { dx, dgamma: Float32Array.from(dgamma), dbeta: Float32Array.from(dbeta) };
}
