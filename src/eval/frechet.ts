/**
 * The Frechet distance between two Gaussians fitted to feature sets (as in FID, Heusel et al. 2017):
 *
 *   d^2 = |mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2)
 *
 * All in float64. The matrix square roots are of symmetric positive semi-definite matrices and are
 * taken through ml-matrix's symmetric eigendecomposition, with tiny negative eigenvalues (rounding
 * of a singular covariance, e.g. a feature that is always 0 after its relu) clipped to 0.
 * tr((S1^1/2 S2 S1^1/2)^1/2) equals tr((S1 S2)^1/2), what scipy.linalg.sqrtm gives pytorch-fid, but
 * the symmetric form needs no complex arithmetic and has no spurious imaginary parts.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

export interface GaussianStats {
  /** Number of samples the statistics were fitted to. */
  n: number;
  dim: number;
  mu: Float64Array;
  /** [dim, dim] row-major covariance (unbiased: divided by n - 1, as numpy.cov). */
  sigma: Float64Array;
}

/** Mean and covariance of n row vectors of width dim, [n, dim] row-major (two-pass, float64). */
export function gaussianStats(features: ArrayLike<number>, n: number, dim: number): GaussianStats {
  if (n < 2) throw new Error(`gaussianStats needs at least 2 samples, got ${n}`);
  if (features.length !== n * dim) throw new Error(`gaussianStats: ${features.length} values is not ${n} x ${dim}`);
  const mu = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mu[j] += features[i * dim + j]!;
  for (let j = 0; j < dim; j++) mu[j] /= n;
  const sigma = new Float64Array(dim * dim);
  const c = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) c[j] = features[i * dim + j]! - mu[j]!;
    for (let a = 0; a < dim; a++) {
      const ca = c[a]!;
      if (ca === 0) continue;
      const row = a * dim;
      for (let b = a; b < dim; b++) sigma[row + b] += ca * c[b]!;
    }
  }
  for (let a = 0; a < dim; a++) {
    for (let b = a; b < dim; b++) {
      const v = sigma[a * dim + b]! / (n - 1);
      sigma[a * dim + b] = v;
      sigma[b * dim + a] = v;
    }
  }
  return { n, dim, mu, sigma };
}

const toMatrix = (a: Float64Array | number[][] | Matrix, dim?: number): Matrix => {
  if (a instanceof Matrix) return a;
  if (Array.isArray(a)) return new Matrix(a);
  const d = dim ?? Math.round(Math.sqrt(a.length));
  if (d * d !== a.length) throw new Error(`a ${a.length}-element array is not a square matrix`);
  return Matrix.from1DArray(d, d, Array.from(a));
};

/** (A + A^T) / 2: removes the rounding asymmetry of products that are symmetric in exact arithmetic. */
function symmetrize(a: Matrix): Matrix {
  return a.clone().add(a.transpose()).mul(0.5);
}

/** Eigenvalues of a symmetric matrix, with eigenvectors (columns). */
function symmetricEig(a: Matrix): { values: number[]; vectors: Matrix } {
  const e = new EigenvalueDecomposition(symmetrize(a), { assumeSymmetric: true });
  return { values: e.realEigenvalues, vectors: e.eigenvectorMatrix };
}

/**
 * The principal square root of a symmetric positive semi-definite matrix: V diag(sqrt(max(l, 0))) V^T.
 * `clipped` reports the most negative eigenvalue that was set to 0 (0 when none was).
 */
export function sqrtmPsd(a: Float64Array | number[][] | Matrix): { sqrt: Matrix; clipped: number } {
  const { values, vectors } = symmetricEig(toMatrix(a));
  let clipped = 0;
  const s = values.map((l) => {
    if (l < 0) clipped = Math.min(clipped, l);
    return Math.sqrt(Math.max(l, 0));
  });
  const scaled = vectors.clone();
  for (let j = 0; j < s.length; j++) for (let i = 0; i < scaled.rows; i++) scaled.set(i, j, scaled.get(i, j) * s[j]!);
  return { sqrt: symmetrize(scaled.mmul(vectors.transpose())), clipped };
}

export interface FrechetResult {
  /** The Frechet distance (squared, as FID reports it). */
  distance: number;
  /** |mu1 - mu2|^2 */
  meanTerm: number;
  /** tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2) */
  covTerm: number;
}

export function frechetDistance(a: GaussianStats, b: GaussianStats): FrechetResult {
  if (a.dim !== b.dim) throw new Error(`frechetDistance: feature widths differ (${a.dim} vs ${b.dim})`);
  const d = a.dim;
  let meanTerm = 0;
  for (let j = 0; j < d; j++) meanTerm += (a.mu[j]! - b.mu[j]!) ** 2;
  const s1 = toMatrix(a.sigma, d);
  const s2 = toMatrix(b.sigma, d);
  const r1 = sqrtmPsd(s1).sqrt;
  const inner = r1.mmul(s2).mmul(r1);
  const { values } = symmetricEig(inner);
  let trSqrt = 0;
  for (const l of values) trSqrt += Math.sqrt(Math.max(l, 0));
  let tr1 = 0;
  let tr2 = 0;
  for (let j = 0; j < d; j++) {
    tr1 += s1.get(j, j);
    tr2 += s2.get(j, j);
  }
  const covTerm = tr1 + tr2 - 2 * trSqrt;
  return { distance: meanTerm + covTerm, meanTerm, covTerm };
}
