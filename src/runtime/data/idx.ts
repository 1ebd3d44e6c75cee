/**
 * The IDX format of the MNIST files (http://yann.lecun.com/exdb/mnist/): big-endian u32 magic,
 * then u32 dimension sizes, then unsigned bytes. Parsing is strict (exact file length) because a
 * half-downloaded MNIST file otherwise loads as a dataset of zeros.
 */
import { DataError } from './common.ts';

export const IDX_IMAGES_MAGIC = 2051; // 0x00000803: unsigned byte, 3 dimensions
export const IDX_LABELS_MAGIC = 2049; // 0x00000801: unsigned byte, 1 dimension

export interface IdxImages {
  n: number;
  rows: number;
  cols: number;
  /** n*rows*cols bytes, row-major; a view into the input buffer (no copy). */
  pixels: Uint8Array;
}

export function parseIdxImages(buf: Uint8Array, source: string): IdxImages {
  const view = header(buf, 16, IDX_IMAGES_MAGIC, 'images', source);
  const n = view.getUint32(4);
  const rows = view.getUint32(8);
  const cols = view.getUint32(12);
  checkLength(buf, 16, n * rows * cols, `${n} images of ${rows}x${cols}`, source);
  return { n, rows, cols, pixels: buf.subarray(16) };
}

export function parseIdxLabels(buf: Uint8Array, source: string): Uint8Array {
  const view = header(buf, 8, IDX_LABELS_MAGIC, 'labels', source);
  const n = view.getUint32(4);
  checkLength(buf, 8, n, `${n} labels`, source);
  return buf.subarray(8);
}

function header(buf: Uint8Array, size: number, magic: number, kind: string, source: string): DataView {
  if (buf.length < size) throw new DataError(`${source}: truncated: ${buf.length} bytes, shorter than the ${size}-byte IDX ${kind} header`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const got = view.getUint32(0);
  if (got !== magic) {
    const hint = got === 0x1f8b0800 || got >>> 16 === 0x1f8b ? ' (the file is gzip-compressed; gunzip it first)' : '';
    throw new DataError(`${source}: bad magic number ${got}, expected ${magic} for IDX ${kind}${hint}`);
  }
  return view;
}

function checkLength(buf: Uint8Array, headerSize: number, payload: number, what: string, source: string): void {
  const expected = headerSize + payload;
  if (buf.length < expected)
    throw new DataError(`${source}: truncated: header promises ${what} (${expected} bytes) but the file has ${buf.length}`);
  if (buf.length > expected) throw new DataError(`${source}: ${buf.length - expected} unexpected trailing byte(s) after ${what}`);
}
