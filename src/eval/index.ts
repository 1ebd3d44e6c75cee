/**
 * MNIST sample quality: the Frechet distance between classifier features of generated samples and
 * of the MNIST test set, with the classifier's predicted-class histogram (mode collapse shows there).
 */
import { Classifier, defaultClassifierPath, NUM_CLASSES } from './classifier.ts';
import { classHistogram, extractFeatures, toClassifierInput } from './features.ts';
import { frechetDistance, gaussianStats, type FrechetResult } from './frechet.ts';
import { referenceStats, type ReferenceStats } from './referenceStats.ts';

export {
  Classifier,
  CLASSIFIER_FORMAT,
  CLASSIFIER_PARAMS,
  defaultClassifierPath,
  FEATURE_DIM,
  IMAGE_SIZE,
  NUM_CLASSES,
} from './classifier.ts';
export { classHistogram, EvalInputError, extractFeatures, toClassifierInput, type FeatureSet } from './features.ts';
export { frechetDistance, gaussianStats, sqrtmPsd, type FrechetResult, type GaussianStats } from './frechet.ts';
export {
  defaultStatsPath,
  referenceStats,
  sha256File,
  STATS_FORMAT,
  type ReferenceStats,
  type ReferenceStatsOptions,
} from './referenceStats.ts';
export { generateSamples, GenerateError, type GenerateOptions, type Generated } from './generate.ts';

export interface ImageSet {
  n: number;
  height: number;
  width: number;
  channels: number;
  /** NHWC in [-1, 1] (values outside are clipped). */
  images: Float32Array;
  /** Requested classes, for class-conditional samples. */
  labels?: Int32Array;
}

export interface SampleQuality extends FrechetResult {
  n: number;
  /** Counts of the classifier's predicted classes. */
  histogram: number[];
  /** The same for the reference (test) set, scaled to n images. */
  referenceHistogram: number[];
  /** max/min predicted-class count ratio (1 for perfectly balanced; large or Infinity under mode collapse). */
  classImbalance: number;
  /** Fraction of samples classified as the class they were generated for (labelled sets only). */
  classAgreement?: number;
  reference: ReferenceStats;
}

/**
 * The Frechet distance of an image set to the MNIST test set in the classifier's feature space.
 * Pass `classifier` (loaded from `weights`) to reuse one across calls.
 */
export function sampleQuality(set: ImageSet, o: { weights?: string; classifier?: Classifier; cachePath?: string } = {}): SampleQuality {
  const weights = o.weights ?? defaultClassifierPath();
  const clf = o.classifier ?? Classifier.load(weights);
  try {
    const reference = referenceStats({ weights, classifier: clf, cachePath: o.cachePath });
    const x = toClassifierInput(set.images, set.n, set.height, set.width, set.channels);
    const f = extractFeatures(clf, x, set.n);
    const fd = frechetDistance(gaussianStats(f.features, f.n, f.dim), reference.stats);
    const histogram = classHistogram(f.predictions);
    const refTotal = reference.histogram.reduce((a, b) => a + b, 0);
    let classAgreement: number | undefined;
    if (set.labels) {
      let same = 0;
      for (let i = 0; i < set.n; i++) if (f.predictions[i] === set.labels[i]) same++;
      classAgreement = same / set.n;
    }
    const lo = Math.min(...histogram);
    return {
      ...fd,
      n: set.n,
      histogram,
      referenceHistogram: reference.histogram.map((c) => (c * set.n) / refTotal),
      classImbalance: lo === 0 ? Infinity : Math.max(...histogram) / lo,
      classAgreement,
      reference,
    };
  } finally {
    if (!o.classifier) clf.dispose();
  }
}

/** The histogram as one line: `0: 1012  1: 1130 ...`. */
export const formatHistogram = (h: number[]): string => h.map((c, k) => `${k}: ${c}`).join('  ');

export const CLASS_NAMES = Array.from({ length: NUM_CLASSES }, (_, k) => String(k));
