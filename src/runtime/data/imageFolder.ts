/**
 * A folder of PNG images, the "bring your own data" loader. Layout conventions follow
 * torchvision's ImageFolder: root/<class>/**.png gives one class per subfolder (sorted by name, so
 * label numbering is stable across machines); a flat root/*.png is a single class 0.
 *
 * Only PNG is read (pngjs is the one image codec we depend on); other files are ignored, as are
 * hidden entries (".DS_Store", ".ipynb_checkpoints").
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { applyLimit, BYTE_TO_UNIT, DataError, type Dataset, type LoadOptions, readDataFile } from './common.ts';

export function loadImageFolder(root: string, opts: LoadOptions = {}): Dataset {
  const { files, classNames } = listImages(root);
  const n = applyLimit(files.length, opts.limit, root);

  // Decode everything first: whether the dataset is gray or colour is only known after the last image.
  let width = 0;
  let height = 0;
  let color = false;
  const decoded: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const file = files[i]!.file;
    const png = decodePng(file);
    if (i === 0) {
      width = png.width;
      height = png.height;
    } else if (png.width !== width || png.height !== height) {
      throw new DataError(
        `${file}: image is ${png.width}x${png.height} but ${files[0]!.file} is ${width}x${height}; all images must share one size`,
      );
    }
    const rgba = png.data;
    // Composite over black (premultiply by alpha): transparent areas become background, -1,
    // matching the dark background convention of MNIST-style data.
    for (let p = 0; p < rgba.length; p += 4) {
      const a = rgba[p + 3]!;
      if (a !== 255) {
        rgba[p] = Math.round((rgba[p]! * a) / 255);
        rgba[p + 1] = Math.round((rgba[p + 1]! * a) / 255);
        rgba[p + 2] = Math.round((rgba[p + 2]! * a) / 255);
      }
      // Colour is judged by content, not PNG colour type: gray images saved as RGB stay 1-channel.
      if (!color && (rgba[p] !== rgba[p + 1] || rgba[p + 1] !== rgba[p + 2])) color = true;
    }
    decoded.push(rgba);
  }

  const channels = color ? 3 : 1;
  const pixels = width * height;
  const images = new Float32Array(n * pixels * channels);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = files[i]!.label;
    const rgba = decoded[i]!;
    const out = i * pixels * channels;
    for (let p = 0; p < pixels; p++) {
      for (let c = 0; c < channels; c++) images[out + p * channels + c] = BYTE_TO_UNIT[rgba[p * 4 + c]!]!;
    }
  }
  const dataset: Dataset = { images, labels, n, height, width, channels, classes: Math.max(1, classNames.length), source: root };
  if (classNames.length > 0) dataset.classNames = classNames;
  return dataset;
}

interface ImageFile {
  file: string;
  label: number;
}

/** Finds the PNGs and their classes; throws if there are none or the layout is ambiguous. */
function listImages(root: string): { files: ImageFile[]; classNames: string[] } {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(root);
  } catch {
    throw new DataError(`${root}: missing (expected a folder of PNG images)`);
  }
  if (!stat.isDirectory()) throw new DataError(`${root}: not a folder (expected a folder of PNG images)`);

  const top = entries(root);
  const topPngs = top.filter((e) => e.kind === 'file' && isPng(e.path)).map((e) => e.path);
  const classes = top
    .filter((e) => e.kind === 'dir')
    .map((e) => ({ name: path.basename(e.path), pngs: pngsUnder(e.path, new Set([realpath(root)])) }))
    .filter((c) => c.pngs.length > 0);

  if (classes.length > 0) {
    if (topPngs.length > 0) {
      throw new DataError(
        `${root}: has both class subfolders (${classes.map((c) => c.name).join(', ')}) and images at the top level (${topPngs[0]}); move the top-level images into a class folder`,
      );
    }
    const files = classes.flatMap((c, label) => c.pngs.map((file) => ({ file, label })));
    return { files, classNames: classes.map((c) => c.name) };
  }
  if (topPngs.length === 0) throw new DataError(`${root}: no PNG images found`);
  return { files: topPngs.map((file) => ({ file, label: 0 })), classNames: [] };
}

/** All PNGs under dir, depth-first in name order. `seen` holds real paths, so symlink loops end. */
function pngsUnder(dir: string, seen: Set<string>): string[] {
  const real = realpath(dir);
  if (seen.has(real)) return [];
  seen.add(real);
  return entries(dir).flatMap((e) => (e.kind === 'dir' ? pngsUnder(e.path, seen) : isPng(e.path) ? [e.path] : []));
}

interface Entry {
  path: string;
  kind: 'file' | 'dir';
}

/** Non-hidden entries of dir, sorted by code unit order (locale-independent, so labels are stable). */
function entries(dir: string): Entry[] {
  const names = fs.readdirSync(dir).filter((name) => !name.startsWith('.'));
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const out: Entry[] = [];
  for (const name of names) {
    const p = path.join(dir, name);
    let s: fs.Stats;
    try {
      s = fs.statSync(p); // follows symlinks: datasets are often assembled from links
    } catch {
      continue; // dangling link
    }
    if (s.isDirectory()) out.push({ path: p, kind: 'dir' });
    else if (s.isFile()) out.push({ path: p, kind: 'file' });
  }
  return out;
}

function isPng(file: string): boolean {
  return file.toLowerCase().endsWith('.png');
}

function realpath(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

/** Decodes to 8-bit RGBA (pngjs expands gray, palette and 16-bit input to that). */
function decodePng(file: string): { width: number; height: number; data: Buffer } {
  const buf = readDataFile(file);
  try {
    return PNG.sync.read(buf);
  } catch (err) {
    throw new DataError(`${file}: not a valid PNG (${(err as Error).message})`);
  }
}
