/**
 * Shared by the dataset loaders: the result type, the error type and small helpers.
 */
import * as fs from 'node:fs';

/**
 * What every dataset loader returns: one flat NHWC float buffer (so it can become a tf.Tensor4D
 * with a single copy, or be sliced into batches with subarray) and int32 labels.
 */
export interface Dataset {
  /** N*H*W*C floats, NHWC, pixel values mapped to [-1, 1] (the range diffusion models train in). */
  images: Float32Array;
  labels: Int32Array;
  n: number;
  height: number;
  width: number;
  channels: number;
  /** Number of classes (labels are 0..classes-1). */
  classes: number;
  /** Where the data came from (file or folder), for logs and checkpoint metadata. */
  source: string;
  /** Class names where the source has them (image-folder subfolder names). */
  classNames?: string[];
}

export interface LoadOptions {
  /** Which split, where the source has one (MNIST, CIFAR-10); default 'train'. */
  split?: 'train' | 'test';
  /** Keep only the first `limit` examples (a positive integer), for quick runs and tests. */
  limit?: number;
  /** MNIST only: pixels of background (-1) added on each side; default from `size`, else 2 (28x28 -> 32x32). */
  pad?: number;
  /**
   * The image size the model takes. MNIST then gives 28x28 (size 28) or pads to 32x32 (size 32),
   * and refuses other sizes, naming the sizes it offers.
   */
  size?: number;
}

/** A dataset that is missing, truncated or malformed; the message names the file and the problem. */
export class DataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataError';
  }
}

/** Validates `limit` and returns how many of `n` examples to keep. */
export function applyLimit(n: number, limit: number | undefined, source: string): number {
  if (limit === undefined) return n;
  if (!Number.isSafeInteger(limit) || limit < 1) throw new DataError(`${source}: limit must be a positive integer, got ${limit}`);
  return Math.min(n, limit);
}

/** Byte 0..255 to [-1, 1]; a table avoids a divide per pixel over tens of millions of pixels. */
export const BYTE_TO_UNIT: Float32Array = (() => {
  const t = new Float32Array(256);
  for (let i = 0; i < 256; i++) t[i] = i / 127.5 - 1;
  return t;
})();

/** Reads a dataset file, turning a missing file into a DataError that names it. */
export function readDataFile(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DataError(code === 'ENOENT' ? `${file}: missing` : `${file}: cannot read (${(err as Error).message})`);
  }
}
