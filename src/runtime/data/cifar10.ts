/**
 * CIFAR-10 in its binary version (cifar-10-binary.tar.gz): each record is 1 label byte followed by
 * 3072 pixel bytes, channel-major (1024 red, 1024 green, 1024 blue, each 32x32 row-major).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { applyLimit, BYTE_TO_UNIT, DataError, type Dataset, type LoadOptions, readDataFile } from './common.ts';

const SIDE = 32;
const PLANE = SIDE * SIDE;
export const CIFAR_RECORD_BYTES = 1 + 3 * PLANE; // 3073

const TRAIN_FILES = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`);
const TEST_FILE = 'test_batch.bin';

/**
 * `location` is the extracted cifar-10-batches-bin folder (all five training batches are required,
 * since a partial download would silently train on a fraction of the data; test_batch.bin is read
 * only for split 'test'), or a single .bin batch file.
 */
export function loadCifar10(location: string, opts: LoadOptions = {}): Dataset {
  const files = batchFiles(location, opts.split ?? 'train');
  const buffers = files.map((f) => {
    const buf = readDataFile(f);
    if (buf.length === 0 || buf.length % CIFAR_RECORD_BYTES !== 0) {
      throw new DataError(
        `${f}: size ${buf.length} bytes is not a positive multiple of the ${CIFAR_RECORD_BYTES}-byte CIFAR-10 record; truncated or not a CIFAR-10 binary batch`,
      );
    }
    return buf;
  });
  const total = buffers.reduce((s, b) => s + b.length / CIFAR_RECORD_BYTES, 0);
  const n = applyLimit(total, opts.limit, location);

  const images = new Float32Array(n * PLANE * 3);
  const labels = new Int32Array(n);
  let i = 0;
  for (let fi = 0; fi < buffers.length && i < n; fi++) {
    const buf = buffers[fi]!;
    for (let r = 0; r * CIFAR_RECORD_BYTES < buf.length && i < n; r++, i++) {
      const base = r * CIFAR_RECORD_BYTES;
      const label = buf[base]!;
      if (label >= 10) throw new DataError(`${files[fi]}: record ${r} has label ${label}, CIFAR-10 labels are 0..9`);
      labels[i] = label;
      // Channel-major (CHW) to NHWC: interleave the three planes.
      const out = i * PLANE * 3;
      for (let c = 0; c < 3; c++) {
        const plane = base + 1 + c * PLANE;
        for (let p = 0; p < PLANE; p++) images[out + p * 3 + c] = BYTE_TO_UNIT[buf[plane + p]!]!;
      }
    }
  }
  return { images, labels, n, height: SIDE, width: SIDE, channels: 3, classes: 10, source: location };
}

function batchFiles(location: string, split: 'train' | 'test'): string[] {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(location);
  } catch {
    throw new DataError(`${location}: missing (expected the cifar-10-batches-bin folder or a .bin batch file)`);
  }
  if (!stat.isDirectory()) return [location];
  const wanted = split === 'test' ? [TEST_FILE] : TRAIN_FILES;
  const missing = wanted.filter((f) => !fs.existsSync(path.join(location, f)));
  if (missing.length > 0) {
    // The tarball extracts to cifar-10-batches-bin/; point there if that is what was given.
    const nested = path.join(location, 'cifar-10-batches-bin');
    const hint = fs.existsSync(nested) ? ` (did you mean ${nested}?)` : '';
    throw new DataError(`${location}: missing CIFAR-10 batch file(s) ${missing.join(', ')}${hint}`);
  }
  return wanted.map((f) => path.join(location, f));
}
