/**
 * The MNIST Frechet distance (src/eval/): the matrix square root and the distance on Gaussians
 * with known answers, then the committed classifier's features on real and fake image sets.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Matrix } from 'ml-matrix';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/runtime/engine/select.ts';
import { loadMnist } from '../src/runtime/data/mnist.ts';
import { readSafetensorsFile } from '../src/runtime/io/safetensors.ts';
import { mulberry32, normals } from '../src/runtime/train/rng.ts';
import {
  Classifier,
  defaultClassifierPath,
  extractFeatures,
  FEATURE_DIM,
  frechetDistance,
  gaussianStats,
  referenceStats,
  sampleQuality,
  sqrtmPsd,
  toClassifierInput,
  type GaussianStats,
} from '../src/eval/index.ts';

const quiet = () => {};

/** A random d x d orthogonal matrix (QR of a Gaussian matrix through Gram-Schmidt). */
function randomRotation(d: number, seed: number): Matrix {
  const g = normals(d * d, seed);
  const q = Matrix.zeros(d, d);
  for (let j = 0; j < d; j++) {
    const v = Array.from({ length: d }, (_, i) => g[i * d + j]!);
    for (let k = 0; k < j; k++) {
      let dot = 0;
      for (let i = 0; i < d; i++) dot += v[i]! * q.get(i, k);
      for (let i = 0; i < d; i++) v[i]! -= dot * q.get(i, k);
    }
    const norm = Math.hypot(...v);
    for (let i = 0; i < d; i++) q.set(i, j, v[i]! / norm);
  }
  return q;
}

const stats = (mu: number[], sigma: Matrix): GaussianStats => ({
  n: 0,
  dim: mu.length,
  mu: Float64Array.from(mu),
  sigma: Float64Array.from(sigma.to1DArray()),
});

describe('matrix square root', () => {
  it('of diag(4, 9) is diag(2, 3)', () => {
    const { sqrt, clipped } = sqrtmPsd([
      [4, 0],
      [0, 9],
    ]);
    expect(clipped).toBe(0);
    expect(sqrt.to2DArray().flat()).toEqual([2, 0, 0, 3].map((v) => expect.closeTo(v, 12)));
  });

  it('of [[2, 1], [1, 2]] is the known closed form', () => {
    // Eigenvalues 3 (vector (1,1)/sqrt2) and 1 (vector (1,-1)/sqrt2): sqrt = [[a, b], [b, a]] with
    // a = (sqrt3 + 1) / 2, b = (sqrt3 - 1) / 2.
    const { sqrt } = sqrtmPsd([
      [2, 1],
      [1, 2],
    ]);
    const a = (Math.sqrt(3) + 1) / 2;
    const b = (Math.sqrt(3) - 1) / 2;
    expect(sqrt.to2DArray().flat()).toEqual([a, b, b, a].map((v) => expect.closeTo(v, 12)));
  });

  it('of a random 40x40 SPD matrix squares back to it', () => {
    const d = 40;
    const b = Matrix.from1DArray(d, d, Array.from(normals(d * d, 7)));
    const a = b.mmul(b.transpose()).add(Matrix.eye(d).mul(0.1));
    const { sqrt } = sqrtmPsd(a);
    const back = sqrt.mmul(sqrt);
    const err = Math.max(...back.clone().sub(a).abs().to1DArray());
    expect(err).toBeLessThan(1e-10 * Math.max(...a.abs().to1DArray()));
    // Symmetric and positive semi-definite, as the principal root is.
    expect(Math.max(...sqrt.clone().sub(sqrt.transpose()).abs().to1DArray())).toBe(0);
  });

  it('of a singular PSD matrix clips rounding negatives to 0', () => {
    // Rank 1: v v^T has eigenvalues |v|^2 and 0 (computed as +-tiny).
    const v = [1, 2, 3];
    const a = v.map((x) => v.map((y) => x * y));
    const { sqrt, clipped } = sqrtmPsd(a);
    expect(clipped).toBeLessThanOrEqual(0);
    expect(clipped).toBeGreaterThan(-1e-12);
    // sqrt(v v^T) = v v^T / |v|.
    const n = Math.hypot(...v);
    expect(sqrt.to1DArray()).toEqual(a.flat().map((x) => expect.closeTo(x / n, 10)));
  });
});

describe('Frechet distance of Gaussians', () => {
  it('is (m1 - m2)^2 + (s1 - s2)^2 in one dimension', () => {
    const r = frechetDistance(stats([1], new Matrix([[4]])), stats([4], new Matrix([[9]])));
    expect(r.meanTerm).toBeCloseTo(9, 12);
    expect(r.covTerm).toBeCloseTo(1, 12); // (2 - 3)^2
    expect(r.distance).toBeCloseTo(10, 12);
  });

  it('is sum (sqrt a_i - sqrt b_i)^2 for commuting covariances, whatever the common rotation', () => {
    const d = 12;
    const a = Array.from({ length: d }, (_, i) => 0.5 + i);
    const b = Array.from({ length: d }, (_, i) => (i % 3) + 0.25);
    const expected = a.reduce((s, ai, i) => s + (Math.sqrt(ai) - Math.sqrt(b[i]!)) ** 2, 0);
    const q = randomRotation(d, 3);
    const rot = (diag: number[]) => q.mmul(Matrix.diag(diag)).mmul(q.transpose());
    const zero = new Array<number>(d).fill(0);
    const r = frechetDistance(stats(zero, rot(a)), stats(zero, rot(b)));
    expect(r.meanTerm).toBe(0);
    expect(r.distance).toBeCloseTo(expected, 9);
  });

  it('is symmetric, and 0 between a Gaussian and itself', () => {
    const d = 30;
    const rand = mulberry32(5);
    const x = Float64Array.from({ length: 500 * d }, () => rand());
    const y = Float64Array.from({ length: 400 * d }, () => rand() ** 2);
    const sx = gaussianStats(x, 500, d);
    const sy = gaussianStats(y, 400, d);
    expect(frechetDistance(sx, sy).distance).toBeCloseTo(frechetDistance(sy, sx).distance, 10);
    expect(Math.abs(frechetDistance(sx, sx).distance)).toBeLessThan(1e-12);
  });

  it('gaussianStats gives numpy.cov-style unbiased covariances', () => {
    // Rows (1, 2), (3, 6), (5, 7): means 3, 5; cov = [[4, 5], [5, 7]] with n - 1 = 2.
    const s = gaussianStats([1, 2, 3, 6, 5, 7], 3, 2);
    expect([...s.mu]).toEqual([3, 5]);
    expect([...s.sigma]).toEqual([4, 5, 5, 7]);
  });
});

describe('MNIST Frechet distance with the committed classifier', () => {
  let clf: Classifier;
  let tmp: string;
  let ref: GaussianStats;
  const featuresOf = (images: Float32Array, n: number) => {
    const f = extractFeatures(clf, images, n);
    return { ...f, stats: gaussianStats(f.features, f.n, f.dim) };
  };

  beforeAll(async () => {
    await selectBackend({ name: 'wasm', log: quiet });
    clf = Classifier.load();
    tmp = mkdtempSync(join(tmpdir(), 'unetc-frechet-'));
    ref = referenceStats({ classifier: clf, cachePath: join(tmp, 'stats.json') }).stats;
  });
  afterAll(() => {
    clf?.dispose();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('the weights file is small and records a test accuracy of at least 99%', () => {
    const path = defaultClassifierPath();
    expect(readFileSync(path).length).toBeLessThan(600_000);
    const acc = Number(readSafetensorsFile(path).metadata.testAccuracy);
    expect(acc).toBeGreaterThanOrEqual(0.99);
    expect(readFileSync(join(path, '..', 'README.md'), 'utf8')).toContain(`${(100 * acc).toFixed(2)}%`);
  });

  it('classifies the test set as the weights file says', () => {
    const test = loadMnist({ split: 'test', limit: 2000 });
    const { predictions } = extractFeatures(clf, test.images, test.n);
    const right = predictions.filter((p, i) => p === test.labels[i]).length;
    // The first 2000 test images are among the easier ones; 99% overall allows ~1.5% here.
    expect(right / test.n).toBeGreaterThan(0.985);
  });

  it('caches the reference statistics under a checksum key and recomputes when it differs', () => {
    const cachePath = join(tmp, 'stats.json');
    const again = referenceStats({ classifier: clf, cachePath });
    expect(again.source).toBe('cache');
    expect([...again.stats.mu]).toEqual([...ref.mu]);
    expect([...again.stats.sigma]).toEqual([...ref.sigma]);
    expect(again.stats.n).toBe(10000);
    expect(again.histogram.reduce((a, b) => a + b, 0)).toBe(10000);
    // Another weights checksum in the key: recomputed, then cached again.
    const c = JSON.parse(readFileSync(cachePath, 'utf8'));
    writeFileSync(cachePath, JSON.stringify({ ...c, key: { ...c.key, weights: '0'.repeat(64) } }));
    const stale = referenceStats({ classifier: clf, cachePath });
    expect(stale.source).toBe('computed');
    expect(stale.note).toContain('weights');
    expect(referenceStats({ classifier: clf, cachePath }).source).toBe('cache');
    // A hand-edited payload fails its own checksum.
    const c2 = JSON.parse(readFileSync(cachePath, 'utf8'));
    c2.mu[0] += 1;
    writeFileSync(cachePath, JSON.stringify(c2));
    const edited = referenceStats({ classifier: clf, cachePath });
    expect(edited.source).toBe('computed');
    expect(edited.note).toContain('checksum');
    expect([...edited.stats.mu]).toEqual([...ref.mu]);
  });

  it('is ~0 from the test set to itself', () => {
    const test = loadMnist({ split: 'test' });
    const { stats: s } = featuresOf(test.images, test.n);
    // The same features, fitted the same way: only float64 rounding (and the eigensolver's) remains.
    expect(Math.abs(frechetDistance(s, ref).distance)).toBeLessThan(1e-6);
  });

  let trainFd = NaN;
  it('is small from the training set to the test set', () => {
    const train = loadMnist({ split: 'train', limit: 5000 });
    trainFd = frechetDistance(featuresOf(train.images, train.n).stats, ref).distance;
    // Measured 1.53 here (5,000 training images vs the 10,000 test images; tr(S_test) ~ 461 and
    // |mu_test|^2 ~ 726 in these units). Real digits of the same distribution differ mostly by the
    // finite-sample bias of the estimates, which falls as 1/n: 3.7 at n = 2,000, 1.53 at 5,000,
    // 1.15 at 10,000, 0.67 with all 60,000 (the rest: the classifier has seen these images). The
    // images are fixed, so the value is too; the bound leaves 2x for a retrained classifier.
    expect(trainFd).toBeGreaterThan(0);
    expect(trainFd).toBeLessThan(3);
  });

  it('is far larger for Gaussian noise images and for one repeated class', () => {
    const n = 2000;
    const g = normals(n * 32 * 32, 11);
    const noise = toClassifierInput(Float32Array.from(g), n, 32, 32, 1);
    const noiseFd = frechetDistance(featuresOf(noise, n).stats, ref).distance;
    expect(noiseFd).toBeGreaterThan(100 * trainFd);
    // Mode collapse: only 1s. The histogram shows it, and so does the distance.
    const test = loadMnist({ split: 'test' });
    const ones = test.labels.reduce<number[]>((a, l, i) => (l === 1 ? [...a, i] : a), []);
    const px = 32 * 32;
    const imgs = new Float32Array(ones.length * px);
    ones.forEach((j, i) => imgs.set(test.images.subarray(j * px, (j + 1) * px), i * px));
    const q = sampleQuality(
      { n: ones.length, height: 32, width: 32, channels: 1, images: imgs, labels: new Int32Array(ones.length).fill(1) },
      { classifier: clf, cachePath: join(tmp, 'stats.json') },
    );
    expect(q.histogram[1]).toBeGreaterThan(0.99 * ones.length);
    expect(q.classAgreement).toBeGreaterThan(0.99);
    expect(q.classImbalance).toBeGreaterThan(100);
    expect(q.distance).toBeGreaterThan(10 * trainFd);
    console.log(
      `MNIST Frechet distances: train-vs-test ${trainFd.toFixed(4)}, noise ${noiseFd.toFixed(1)}, only 1s ${q.distance.toFixed(2)}`,
    );
  });

  it('pads 28x28 images to the 32x32 the classifier takes, as loadMnist does', () => {
    const a = loadMnist({ split: 'test', limit: 20, pad: 0 });
    const b = loadMnist({ split: 'test', limit: 20 });
    expect(toClassifierInput(a.images, 20, 28, 28, 1)).toEqual(b.images);
    expect(() => toClassifierInput(new Float32Array(3 * 32 * 32 * 2), 2, 32, 32, 3)).toThrow(/1-channel/);
  });

  it('has features of the declared width', () => {
    expect(FEATURE_DIM).toBe(84);
    expect(ref.dim).toBe(FEATURE_DIM);
  });
});

describe('unetc eval', () => {
  const ROOT = join(import.meta.dirname, '..');
  const node = (...args: string[]) => spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8' });

  it('samples a run, and reports the distance and the class histogram; bad input is one clear line', () => {
    const out = mkdtempSync(join(tmpdir(), 'unetc-eval-'));
    try {
      const t = node(
        'bin/unetc.mjs',
        'train',
        'specs/nano-mnist.unet',
        '--limit',
        '16',
        '--batch',
        '4',
        '--steps',
        '1',
        '--sample-count',
        '1',
        '--sample-steps',
        '1',
        '--out',
        join(out, 'run'),
      );
      expect(t.status, t.stderr).toBe(0);
      // A copy of the weights, so the reference-statistics cache goes beside it, not into assets/.
      const weights = join(out, 'clf.safetensors');
      copyFileSync(defaultClassifierPath(), weights);
      const r = node(
        'bin/unetc.mjs',
        'eval',
        join(out, 'run'),
        '--n',
        '24',
        '--steps',
        '2',
        '--batch',
        '12',
        '--backend',
        'wasm',
        '--classifier',
        weights,
        '--json',
      );
      expect(r.status, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(Number.isFinite(j.fd) && j.fd > 0).toBe(true);
      expect(j.fd).toBeCloseTo(j.meanTerm + j.covTerm, 6);
      expect(j.n).toBe(24);
      expect(j.weights).toBe('ema');
      expect(j.histogram.reduce((a: number, b: number) => a + b, 0)).toBe(24);
      expect(j.reference).toEqual({ n: 10000, cache: join(out, 'mnist-test-stats.json'), source: 'computed' });
      expect(j.sampler).toBe('ddim');
      expect(j.steps).toBe(2);
      const bad = node('bin/unetc.mjs', 'eval', join(out, 'run'), '--n', 'x');
      expect(bad.status).toBe(2);
      expect(bad.stderr.trim()).toBe("unetc eval: --n takes a whole number >= 2, got 'x'");
      const noRun = node('bin/unetc.mjs', 'eval', out);
      expect(noRun.status).toBe(2);
      expect(noRun.stderr).toMatch(/has no checkpoints/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
