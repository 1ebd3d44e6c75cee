/**
 * The reference statistics of the MNIST Frechet distance: mean and covariance of the classifier's
 * features over the 10,000 MNIST test images. Computed once and cached in a JSON file beside the
 * classifier weights (assets/classifier/mnist-test-stats.json), keyed by the sha256 of the weights
 * file and of the test-set image file; a key mismatch (new weights, other data) or a payload whose
 * own sha256 does not match recomputes and rewrites the cache.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadMnist } from '../runtime/data/mnist.ts';
import { writeFileAtomic } from '../runtime/io/atomicWrite.ts';
import { Classifier, CLASSIFIER_FORMAT, defaultClassifierPath } from './classifier.ts';
import { extractFeatures, classHistogram } from './features.ts';
import { gaussianStats, type GaussianStats } from './frechet.ts';

export const STATS_FORMAT = 'unetc-mnist-test-stats-1';

export interface StatsKey {
  format: string;
  classifierFormat: string;
  /** sha256 of the classifier weights file. */
  weights: string;
  /** sha256 of the MNIST test image file (t10k-images-idx3-ubyte). */
  testImages: string;
  n: number;
}

interface CacheFile {
  key: StatsKey;
  /** sha256 of JSON.stringify({ n, dim, mu, sigma, histogram }). */
  payloadSha256: string;
  n: number;
  dim: number;
  mu: number[];
  sigma: number[];
  histogram: number[];
}

export interface ReferenceStats {
  stats: GaussianStats;
  /** Predicted-class counts of the test set (the classifier's view of real MNIST). */
  histogram: number[];
  cachePath: string;
  /** How the statistics were had: read from the cache, or computed (and whether the cache was written). */
  source: 'cache' | 'computed';
  /** Why the cache was not used or not written, when it was not. */
  note?: string;
}

export const sha256File = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

const payloadOf = (c: { n: number; dim: number; mu: number[]; sigma: number[]; histogram: number[] }) =>
  createHash('sha256')
    .update(JSON.stringify({ n: c.n, dim: c.dim, mu: c.mu, sigma: c.sigma, histogram: c.histogram }))
    .digest('hex');

export const defaultStatsPath = (weights: string) => join(dirname(weights), 'mnist-test-stats.json');

export interface ReferenceStatsOptions {
  /** The classifier weights (default: the committed ones). */
  weights?: string;
  /** A loaded classifier of those weights, to avoid loading it again. */
  classifier?: Classifier;
  /** The cache file (default: mnist-test-stats.json beside the weights). */
  cachePath?: string;
  /** Ignore an existing cache (it is still rewritten). */
  refresh?: boolean;
}

function readCache(path: string, key: StatsKey): { hit?: CacheFile; why?: string } {
  if (!existsSync(path)) return { why: 'no cache yet' };
  let c: CacheFile;
  try {
    c = JSON.parse(readFileSync(path, 'utf8')) as CacheFile;
  } catch (e) {
    return { why: `unreadable cache (${(e as Error).message})` };
  }
  const k = c.key ?? ({} as StatsKey);
  const diff = (Object.keys(key) as (keyof StatsKey)[]).filter((f) => k[f] !== key[f]);
  if (diff.length) return { why: `cache key differs in ${diff.join(', ')}` };
  if (
    !Array.isArray(c.mu) ||
    !Array.isArray(c.sigma) ||
    c.mu.length !== c.dim ||
    c.sigma.length !== c.dim * c.dim ||
    payloadOf(c) !== c.payloadSha256
  ) {
    return { why: 'cache payload does not match its checksum' };
  }
  return { hit: c };
}

/** The test-set statistics, from the cache when its key matches, else computed (and cached). */
export function referenceStats(o: ReferenceStatsOptions = {}): ReferenceStats {
  const weights = o.weights ?? defaultClassifierPath();
  const cachePath = o.cachePath ?? defaultStatsPath(weights);
  const test = loadMnist({ split: 'test' });
  const key: StatsKey = {
    format: STATS_FORMAT,
    classifierFormat: CLASSIFIER_FORMAT,
    weights: sha256File(weights),
    testImages: sha256File(test.source),
    n: test.n,
  };
  const { hit, why } = o.refresh ? { hit: undefined, why: 'refresh requested' } : readCache(cachePath, key);
  if (hit) {
    return {
      stats: { n: hit.n, dim: hit.dim, mu: Float64Array.from(hit.mu), sigma: Float64Array.from(hit.sigma) },
      histogram: hit.histogram,
      cachePath,
      source: 'cache',
    };
  }
  const clf = o.classifier ?? Classifier.load(weights);
  const f = extractFeatures(clf, test.images, test.n);
  if (!o.classifier) clf.dispose();
  const stats = gaussianStats(f.features, f.n, f.dim);
  const histogram = classHistogram(f.predictions);
  const body = { n: stats.n, dim: stats.dim, mu: Array.from(stats.mu), sigma: Array.from(stats.sigma), histogram };
  const file: CacheFile = { key, payloadSha256: payloadOf(body), ...body };
  let note = why;
  try {
    writeFileAtomic(cachePath, Buffer.from(JSON.stringify(file) + '\n'));
  } catch (e) {
    note = `${why}; could not write the cache: ${(e as Error).message}`;
  }
  return { stats, histogram, cachePath, source: 'computed', note };
}
