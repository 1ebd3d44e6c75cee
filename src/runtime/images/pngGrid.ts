/**
 * Sample sheets: a batch of generated images laid out as one PNG grid, like torchvision's
 * make_grid + save_image.
 */
import { encodePng } from './png.ts';

export interface GridOptions {
  /** Columns in the grid; default ceil(sqrt(n)), a near-square sheet. */
  cols?: number;
  /** Pixels between tiles and around the border; default 2. */
  pad?: number;
  /** Reserved: labelled rows are not implemented. */
  rowLabels?: never;
}

/** Padding gray: mid-level so tile edges show on both dark (MNIST) and light backgrounds. */
export const GRID_PAD_VALUE = 128;

/** Maps [-1, 1] to 0..255, clipping; NaN (a diverged sample) shows as black rather than failing. */
export function toByte(v: number): number {
  if (!(v > -1)) return 0; // also catches NaN
  if (v >= 1) return 255;
  return Math.round((v + 1) * 127.5);
}

/**
 * `images` is n*h*w*c floats, NHWC, in [-1, 1]. c = 1 gives a grayscale PNG, c = 3 an RGB one.
 * Tile i is at row floor(i / cols), column i % cols, with its top-left pixel at
 * (pad + col * (w + pad), pad + row * (h + pad)).
 */
export function encodePngGrid(images: Float32Array, n: number, h: number, w: number, c: number, opts: GridOptions = {}): Buffer {
  for (const [name, v] of [
    ['n', n],
    ['h', h],
    ['w', w],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`encodePngGrid: ${name} must be a positive integer, got ${v}`);
  }
  if (c !== 1 && c !== 3) throw new RangeError(`encodePngGrid: channels must be 1 or 3, got ${c}`);
  if (images.length !== n * h * w * c) throw new RangeError(`encodePngGrid: ${images.length} values for ${n}x${h}x${w}x${c}`);
  const cols = opts.cols ?? Math.ceil(Math.sqrt(n));
  const pad = opts.pad ?? 2;
  if (!Number.isSafeInteger(cols) || cols < 1) throw new RangeError(`encodePngGrid: cols must be a positive integer, got ${cols}`);
  if (!Number.isSafeInteger(pad) || pad < 0) throw new RangeError(`encodePngGrid: pad must be a non-negative integer, got ${pad}`);

  const shownCols = Math.min(cols, n);
  const rows = Math.ceil(n / cols);
  const width = pad + shownCols * (w + pad);
  const height = pad + rows * (h + pad);
  const out = new Uint8Array(width * height * c).fill(GRID_PAD_VALUE);
  for (let i = 0; i < n; i++) {
    const x0 = pad + (i % cols) * (w + pad);
    const y0 = pad + Math.floor(i / cols) * (h + pad);
    for (let y = 0; y < h; y++) {
      const src = (i * h + y) * w * c;
      const dst = ((y0 + y) * width + x0) * c;
      for (let k = 0; k < w * c; k++) out[dst + k] = toByte(images[src + k]!);
    }
  }
  return encodePng(out, width, height, c);
}
