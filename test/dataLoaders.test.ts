import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DataError,
  loadCifar10,
  loadDataset,
  loadImageFolder,
  loadMnist,
  parseIdxImages,
  parseIdxLabels,
  type Dataset,
} from '../src/runtime/data/index.ts';

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'unetc-data-'));
afterAll(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));
let dirCount = 0;
function tmpDir(): string {
  const d = path.join(tmpRoot, `d${dirCount++}`);
  fs.mkdirSync(d);
  return d;
}

/** Runs fn, expecting a DataError whose message matches every pattern. */
function dataError(fn: () => unknown, ...patterns: (RegExp | string)[]): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(DataError);
  for (const p of patterns) {
    if (typeof p === 'string') expect((caught as Error).message).toContain(p);
    else expect((caught as Error).message).toMatch(p);
  }
}

function histogram(labels: Int32Array, classes: number): number[] {
  const h = new Array<number>(classes).fill(0);
  for (const l of labels) h[l]!++;
  return h;
}

function range(d: Dataset): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  const a = d.images;
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

// ---------------------------------------------------------------------------------------------

function idxImages(n: number, rows: number, cols: number, payload = n * rows * cols, magic = 2051): Buffer {
  const b = Buffer.alloc(16 + payload);
  b.writeUInt32BE(magic, 0);
  b.writeUInt32BE(n, 4);
  b.writeUInt32BE(rows, 8);
  b.writeUInt32BE(cols, 12);
  for (let i = 16; i < b.length; i++) b[i] = i % 256;
  return b;
}

function idxLabels(labels: number[], magic = 2049): Buffer {
  const b = Buffer.alloc(8 + labels.length);
  b.writeUInt32BE(magic, 0);
  b.writeUInt32BE(labels.length, 4);
  labels.forEach((l, i) => (b[8 + i] = l));
  return b;
}

describe('MNIST', () => {
  it('loads the 60,000 training images fast, padded to 32x32 in [-1, 1]', () => {
    const t0 = performance.now();
    const d = loadMnist({ split: 'train' });
    const ms = performance.now() - t0;
    expect(ms).toBeLessThan(5000);
    expect(d).toMatchObject({ n: 60000, height: 32, width: 32, channels: 1, classes: 10 });
    expect(d.source).toMatch(/train-images-idx3-ubyte$/);
    expect(d.images.length).toBe(60000 * 32 * 32);
    expect(d.labels.length).toBe(60000);
    expect(d.labels[0]).toBe(5); // the well-known first MNIST digit
    const h = histogram(d.labels, 10);
    expect(h).toEqual([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    expect(h.reduce((a, b) => a + b)).toBe(60000);
    expect(range(d)).toEqual([-1, 1]);

    // The 2-pixel border of every image is background.
    const border: number[] = [];
    for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) if (y < 2 || y >= 30 || x < 2 || x >= 30) border.push(y * 32 + x);
    let notBackground = 0;
    for (let i = 0; i < d.n; i++) for (const p of border) if (d.images[i * 1024 + p] !== -1) notBackground++;
    expect(notBackground).toBe(0);
  });

  it('loads the 10,000 test images; pad 0 keeps 28x28; limit keeps the first examples', () => {
    const test = loadMnist({ split: 'test', pad: 0 });
    expect(test).toMatchObject({ n: 10000, height: 28, width: 28 });
    expect(test.labels[0]).toBe(7);
    expect(histogram(test.labels, 10)).toEqual([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);

    const small = loadMnist({ split: 'train', limit: 3 });
    expect(small.n).toBe(3);
    expect([...small.labels]).toEqual([5, 0, 4]);
    // Padding shifts pixels by 2 in both directions.
    const unpadded = loadMnist({ split: 'train', limit: 1, pad: 0 });
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 28; x++) expect(small.images[(y + 2) * 32 + x + 2]).toBe(unpadded.images[y * 28 + x]);
    }
    dataError(() => loadMnist({ limit: 0 }), /limit must be a positive integer/);
  });

  it("follows the model's size: 28 gives MNIST as it is, 32 pads it, others are refused naming the sizes and --data folder:", () => {
    expect(loadMnist({ split: 'test', limit: 2, size: 28 })).toMatchObject({ height: 28, width: 28 });
    expect(loadMnist({ split: 'test', limit: 2, size: 32 })).toMatchObject({ height: 32, width: 32 });
    expect(loadDataset('mnist', { split: 'test', limit: 2, size: 28 })).toMatchObject({ height: 28, width: 28 });
    dataError(
      () => loadMnist({ limit: 2, size: 64 }),
      /mnist offers 28x28 .* and 32x32 \(padded\), but the model takes 64x64; .*--data folder:PATH/,
    );
  });

  it('parses IDX headers', () => {
    const imgs = parseIdxImages(idxImages(2, 3, 4), 'a.idx');
    expect(imgs).toMatchObject({ n: 2, rows: 3, cols: 4 });
    expect(imgs.pixels.length).toBe(24);
    expect(imgs.pixels[0]).toBe(16);
    expect([...parseIdxLabels(idxLabels([1, 2, 3]), 'b.idx')]).toEqual([1, 2, 3]);
  });

  it('rejects truncated, bad-magic and count-mismatched IDX files, naming the file', () => {
    dataError(
      () => parseIdxImages(idxImages(3, 28, 28, 2 * 784), 'x/imgs'),
      'x/imgs: truncated',
      /3 images of 28x28 \(2368 bytes\) but the file has 1584/,
    );
    dataError(() => parseIdxImages(idxImages(1, 28, 28, 785), 'x/imgs'), /x\/imgs: 1 unexpected trailing byte/);
    dataError(() => parseIdxImages(Buffer.alloc(10), 'x/imgs'), /x\/imgs: truncated: 10 bytes, shorter than the 16-byte IDX images header/);
    dataError(() => parseIdxImages(idxImages(1, 28, 28, 784, 2049), 'x/imgs'), /x\/imgs: bad magic number 2049, expected 2051/);
    dataError(() => parseIdxLabels(idxLabels([1, 2], 2051), 'x/labels'), /x\/labels: bad magic number 2051, expected 2049/);
    dataError(() => parseIdxLabels(idxLabels([1, 2]).subarray(0, 9), 'x/labels'), /x\/labels: truncated: header promises 2 labels/);
    const gz = idxLabels([1]);
    gz.writeUInt32BE(0x1f8b0800, 0);
    dataError(() => parseIdxLabels(gz, 'x/labels.gz'), /gzip-compressed/);

    // Through loadMnist, with the files in a folder.
    const dir = tmpDir();
    const img = path.join(dir, 'train-images-idx3-ubyte');
    const lab = path.join(dir, 'train-labels-idx1-ubyte');
    dataError(() => loadMnist({ dir }), `${img}: missing`);
    fs.writeFileSync(img, idxImages(3, 28, 28));
    fs.writeFileSync(lab, idxLabels([1, 2]));
    dataError(() => loadMnist({ dir }), `${lab}: count mismatch: 2 labels but ${img} has 3 images`);
    fs.writeFileSync(lab, idxLabels([1, 2, 3]));
    expect(loadMnist({ dir }).n).toBe(3);
    fs.writeFileSync(img, idxImages(3, 28, 28).subarray(0, 100));
    dataError(() => loadMnist({ dir }), `${img}: truncated`);
    fs.writeFileSync(img, idxImages(3, 32, 32));
    dataError(() => loadMnist({ dir }), `${img}: images are 32x32, MNIST is 28x28`);
    fs.writeFileSync(img, idxImages(3, 28, 28));
    fs.writeFileSync(lab, idxLabels([1, 12, 3]));
    dataError(() => loadMnist({ dir }), `${lab}: label 1 is 12`);
  });
});

// ---------------------------------------------------------------------------------------------

/** CIFAR records with all pixels 0 except the listed (record, channel, y, x, value) ones. */
function cifarBatch(labels: number[], pixels: [number, number, number, number, number][] = []): Buffer {
  const b = Buffer.alloc(labels.length * 3073);
  labels.forEach((l, r) => (b[r * 3073] = l));
  for (const [r, c, y, x, v] of pixels) b[r * 3073 + 1 + c * 1024 + y * 32 + x] = v;
  return b;
}

describe('CIFAR-10', () => {
  it('loads a batch file, converting channel-major records to NHWC', () => {
    const file = path.join(tmpDir(), 'data_batch_1.bin');
    fs.writeFileSync(
      file,
      cifarBatch(
        [3, 7, 9],
        [
          [1, 2, 5, 7, 255],
          [2, 0, 31, 0, 51],
        ],
      ),
    );
    const d = loadCifar10(file);
    expect(d).toMatchObject({ n: 3, height: 32, width: 32, channels: 3, classes: 10, source: file });
    expect([...d.labels]).toEqual([3, 7, 9]);
    const at = (i: number, y: number, x: number, c: number) => d.images[((i * 32 + y) * 32 + x) * 3 + c];
    expect(at(1, 5, 7, 2)).toBe(1); // record 1, blue plane, row 5, col 7
    expect(at(1, 5, 7, 0)).toBe(-1);
    expect(at(1, 7, 5, 2)).toBe(-1);
    expect(at(2, 31, 0, 0)).toBeCloseTo(51 / 127.5 - 1, 6);
    const bright = d.images.reduce((k, v) => k + (v > -1 ? 1 : 0), 0);
    expect(bright).toBe(2);
  });

  it('rejects files of the wrong size and out-of-range labels', () => {
    const dir = tmpDir();
    const odd = path.join(dir, 'odd.bin');
    fs.writeFileSync(odd, Buffer.alloc(3074));
    dataError(() => loadCifar10(odd), `${odd}: size 3074 bytes is not a positive multiple of the 3073-byte`);
    const empty = path.join(dir, 'empty.bin');
    fs.writeFileSync(empty, Buffer.alloc(0));
    dataError(() => loadCifar10(empty), `${empty}: size 0 bytes`);
    const bad = path.join(dir, 'bad.bin');
    fs.writeFileSync(bad, cifarBatch([1, 10]));
    dataError(() => loadCifar10(bad), `${bad}: record 1 has label 10`);
    dataError(() => loadCifar10(path.join(dir, 'nope')), /nope: missing/);
  });

  it('loads all five training batches from a folder, and test_batch.bin for the test split', () => {
    const dir = tmpDir();
    for (let i = 1; i <= 4; i++) fs.writeFileSync(path.join(dir, `data_batch_${i}.bin`), cifarBatch([i]));
    dataError(() => loadCifar10(dir), `${dir}: missing CIFAR-10 batch file(s) data_batch_5.bin`);
    fs.writeFileSync(path.join(dir, 'data_batch_5.bin'), cifarBatch([5, 6]));
    fs.writeFileSync(path.join(dir, 'test_batch.bin'), cifarBatch([0, 0, 0]));
    const d = loadCifar10(dir);
    expect([...d.labels]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(loadCifar10(dir, { limit: 2 }).n).toBe(2);
    expect(loadCifar10(dir, { split: 'test' }).n).toBe(3);
    // Pointing at the tarball's parent folder gets a hint.
    const parent = tmpDir();
    fs.mkdirSync(path.join(parent, 'cifar-10-batches-bin'));
    dataError(() => loadCifar10(parent), 'did you mean');
  });
});

// ---------------------------------------------------------------------------------------------

/** Writes a PNG whose pixel (x, y) is rgba(x, y). */
function writePng(file: string, w: number, h: number, rgba: (x: number, y: number) => [number, number, number, number]): void {
  const png = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) png.data.set(rgba(x, y), (y * w + x) * 4);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, PNG.sync.write(png));
}
const gray = (v: number) => (): [number, number, number, number] => [v, v, v, 255];

describe('image folder', () => {
  it('loads class subfolders (sorted by name) of gray PNGs as one channel', () => {
    const dir = tmpDir();
    writePng(path.join(dir, 'zebra', 'a.png'), 4, 3, gray(255));
    writePng(path.join(dir, 'ant', 'b.png'), 4, 3, gray(0));
    writePng(path.join(dir, 'ant', 'nested', 'c.png'), 4, 3, (x, y) => [x * 10 + y, x * 10 + y, x * 10 + y, 255]);
    fs.writeFileSync(path.join(dir, 'ant', 'notes.txt'), 'ignored');
    fs.mkdirSync(path.join(dir, 'empty'));
    const d = loadImageFolder(dir);
    expect(d).toMatchObject({ n: 3, height: 3, width: 4, channels: 1, classes: 2, classNames: ['ant', 'zebra'] });
    expect([...d.labels]).toEqual([0, 0, 1]);
    expect([...d.images.subarray(0, 12)].every((v) => v === -1)).toBe(true);
    expect(d.images[12 + 2 * 4 + 3]).toBeCloseTo(32 / 127.5 - 1, 6); // c.png at x=3, y=2
    expect([...d.images.subarray(24)].every((v) => v === 1)).toBe(true);
  });

  it('keeps three channels when any image has colour; composites alpha over black', () => {
    const dir = tmpDir();
    writePng(path.join(dir, 'a.png'), 2, 2, gray(255));
    writePng(path.join(dir, 'b.png'), 2, 2, (x) => (x === 0 ? [255, 0, 0, 255] : [255, 255, 255, 0]));
    const d = loadImageFolder(dir);
    expect(d).toMatchObject({ n: 2, channels: 3, classes: 1 });
    expect(d.classNames).toBeUndefined();
    expect([...d.labels]).toEqual([0, 0]);
    expect([...d.images.subarray(12, 15)]).toEqual([1, -1, -1]); // b.png (0, 0): red
    expect([...d.images.subarray(15, 18)]).toEqual([-1, -1, -1]); // b.png (1, 0): transparent
  });

  it('rejects mismatched sizes naming the first mismatching file, empty folders and mixed layouts', () => {
    const dir = tmpDir();
    writePng(path.join(dir, 'a', '1.png'), 4, 4, gray(9));
    writePng(path.join(dir, 'a', '2.png'), 4, 4, gray(9));
    writePng(path.join(dir, 'b', '3.png'), 5, 4, gray(9));
    writePng(path.join(dir, 'b', '4.png'), 6, 4, gray(9));
    dataError(() => loadImageFolder(dir), `${path.join(dir, 'b', '3.png')}: image is 5x4 but ${path.join(dir, 'a', '1.png')} is 4x4`);

    const empty = tmpDir();
    fs.writeFileSync(path.join(empty, 'x.jpg'), '');
    dataError(() => loadImageFolder(empty), `${empty}: no PNG images found`);

    const mixed = tmpDir();
    writePng(path.join(mixed, 'top.png'), 2, 2, gray(0));
    writePng(path.join(mixed, 'cls', 'x.png'), 2, 2, gray(0));
    dataError(() => loadImageFolder(mixed), 'has both class subfolders (cls) and images at the top level');

    const corrupt = tmpDir();
    fs.writeFileSync(path.join(corrupt, 'x.png'), 'not a png');
    dataError(() => loadImageFolder(corrupt), `${path.join(corrupt, 'x.png')}: not a valid PNG`);
  });
});

describe('loadDataset', () => {
  it('dispatches on the scheme', () => {
    expect(loadDataset('mnist', { limit: 5 })).toMatchObject({ n: 5, height: 32, channels: 1 });
    const cifar = path.join(tmpDir(), 'b.bin');
    fs.writeFileSync(cifar, cifarBatch([4]));
    expect(loadDataset(`cifar10:${cifar}`).labels[0]).toBe(4);
    const folder = tmpDir();
    writePng(path.join(folder, 'x.png'), 3, 3, gray(1));
    expect(loadDataset(`folder:${folder}`)).toMatchObject({ n: 1, width: 3 });
  });

  it('rejects unknown schemes listing the accepted forms', () => {
    dataError(() => loadDataset('imagenet:/data'), 'unknown dataset "imagenet:/data"; expected one of: mnist, cifar10:PATH, folder:PATH');
    dataError(() => loadDataset('cifar10'), 'cifar10 needs a path');
    dataError(() => loadDataset('mnist:/x'), 'mnist takes no path');
  });
});
