/**
 * Classifier features of image sets, in batches: the penultimate activations (for the Frechet
 * distance) and the predicted classes (for the class histogram).
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Classifier, FEATURE_DIM, IMAGE_SIZE, NUM_CLASSES } from './classifier.ts';

export interface FeatureSet {
  n: number;
  dim: number;
  /** [n, dim], row-major. */
  features: Float32Array;
  /** The arg-max class of each image. */
  predictions: Int32Array;
}

export class EvalInputError extends Error {}

/**
 * Images as the classifier takes them: [n, 32, 32, 1] in [-1, 1]. 32x32 single-channel images pass
 * through; 28x28 ones (MNIST unpadded) are padded by 2 with the background value -1. Values are
 * clipped to [-1, 1], as a sample grid would be.
 */
export function toClassifierInput(images: Float32Array, n: number, height: number, width: number, channels: number): Float32Array {
  if (channels !== 1) throw new EvalInputError(`the MNIST classifier takes 1-channel images; these have ${channels} channels`);
  if (height !== width || (height !== IMAGE_SIZE && height !== 28)) {
    throw new EvalInputError(`the MNIST classifier takes 32x32 or 28x28 images; these are ${height}x${width}`);
  }
  if (images.length !== n * height * width)
    throw new EvalInputError(`expected ${n * height * width} values for ${n} ${height}x${width} images, got ${images.length}`);
  const clip = (v: number) => (v < -1 ? -1 : v > 1 ? 1 : v);
  if (height === IMAGE_SIZE) return images.map(clip);
  const pad = (IMAGE_SIZE - height) / 2;
  const S = IMAGE_SIZE;
  const out = new Float32Array(n * S * S).fill(-1);
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) out[i * S * S + (y + pad) * S + x + pad] = clip(images[i * height * width + y * width + x]!);
    }
  }
  return out;
}

/** Features and predictions of [n, 32, 32, 1] images (see {@link toClassifierInput}). */
export function extractFeatures(clf: Classifier, images: Float32Array, n: number, batch = 500): FeatureSet {
  const px = IMAGE_SIZE * IMAGE_SIZE;
  if (images.length !== n * px) throw new EvalInputError(`expected ${n * px} values for ${n} 32x32 images, got ${images.length}`);
  const features = new Float32Array(n * FEATURE_DIM);
  const predictions = new Int32Array(n);
  for (let start = 0; start < n; start += batch) {
    const b = Math.min(batch, n - start);
    const x = tf.tensor4d(images.subarray(start * px, (start + b) * px), [b, IMAGE_SIZE, IMAGE_SIZE, 1]);
    const { features: f, logits } = clf.forward(x);
    const pred = tf.argMax(logits, 1);
    features.set(f.dataSync() as Float32Array, start * FEATURE_DIM);
    predictions.set(pred.dataSync() as Int32Array, start);
    tf.dispose([x, f, logits, pred]);
  }
  return { n, dim: FEATURE_DIM, features, predictions };
}

/** Counts of each predicted class. */
export function classHistogram(predictions: Int32Array, classes = NUM_CLASSES): number[] {
  const h = new Array<number>(classes).fill(0);
  for (const p of predictions) h[p]++;
  return h;
}
