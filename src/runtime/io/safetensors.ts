/**
 * A small, strict reader/writer for the safetensors format (https://github.com/huggingface/safetensors),
 * so checkpoints written here load in PyTorch/diffusers and vice versa.
 *
 * Layout: an 8-byte little-endian u64 N, then N bytes of UTF-8 JSON
 *   { "__metadata__": { string: string }, "<name>": { "dtype", "shape", "data_offsets": [start, end] } }
 * then the data buffer; offsets are relative to the start of the data buffer.
 *
 * The reader validates everything it can (a truncated or hand-edited checkpoint should fail loudly
 * at load with the file named, not as NaNs twenty steps into training). It copies tensor bytes
 * out into fresh typed arrays: the data buffer starts at 8 + N, which need not be 4-aligned in
 * files from other writers, and a view would also pin the whole file buffer in memory.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { crc32 } from 'node:zlib';
import { writeFileAtomic } from './atomicWrite.ts';

/** The dtypes this module writes, and reports after decoding. */
export type SafetensorsDtype = 'F32' | 'F16' | 'I32' | 'U8';
/** F16 data is the IEEE half-precision bit patterns (floatToHalf). */
export type SafetensorsData = Float32Array | Uint16Array | Int32Array | Uint8Array;

export interface SafeTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: SafetensorsData;
}

export interface DecodedTensor extends SafeTensor {
  /**
   * The dtype as stored in the file. Other float dtypes (F16, BF16, F64) are decoded to F32 and
   * other integer dtypes (I8..I64, U16..U64) to I32 (range-checked); BOOL to U8.
   */
  storedDtype: string;
}

export interface DecodedSafetensors {
  tensors: Map<string, DecodedTensor>;
  metadata: Record<string, string>;
}

export class SafetensorsError extends Error {
  constructor(
    readonly source: string,
    readonly problem: string,
  ) {
    super(`${source}: ${problem}`);
    this.name = 'SafetensorsError';
  }
}

/** Header size limit, as in the reference implementation: guards against reading garbage as a length. */
export const MAX_HEADER_BYTES = 100_000_000;

type Target = 'F32' | 'I32' | 'U8';
interface DtypeInfo {
  size: number;
  /** What the dtype decodes to; undefined for dtypes the format defines but this reader cannot decode. */
  to?: Target;
}

/** Every dtype the safetensors format defines (byte-sized ones), by element size in bytes. */
const DTYPES: Record<string, DtypeInfo> = {
  BOOL: { size: 1, to: 'U8' },
  U8: { size: 1, to: 'U8' },
  I8: { size: 1, to: 'I32' },
  F8_E5M2: { size: 1 },
  F8_E4M3: { size: 1 },
  I16: { size: 2, to: 'I32' },
  U16: { size: 2, to: 'I32' },
  F16: { size: 2, to: 'F32' },
  BF16: { size: 2, to: 'F32' },
  I32: { size: 4, to: 'I32' },
  U32: { size: 4, to: 'I32' },
  F32: { size: 4, to: 'F32' },
  I64: { size: 8, to: 'I32' },
  U64: { size: 8, to: 'I32' },
  F64: { size: 8, to: 'F32' },
};

/** Typed arrays use host byte order; safetensors is little-endian. Byte copies are only valid on LE hosts. */
const LE_HOST = os.endianness() === 'LE';

const ARRAY_FOR: Record<SafetensorsDtype, { name: string; is: (d: unknown) => boolean }> = {
  F32: { name: 'Float32Array', is: (d) => d instanceof Float32Array },
  F16: { name: 'Uint16Array', is: (d) => d instanceof Uint16Array },
  I32: { name: 'Int32Array', is: (d) => d instanceof Int32Array },
  U8: { name: 'Uint8Array', is: (d) => d instanceof Uint8Array },
};

// ---------------------------------------------------------------------------------------------
// Checksums

/**
 * The metadata key of the per-tensor checksums: a JSON object from tensor name to the CRC-32 (8
 * hex digits) of its bytes as stored. Other readers see one more metadata string; this reader
 * verifies every tensor it names on every read.
 */
export const CHECKSUM_KEY = 'crc32';

const crcHex = (bytes: Uint8Array) => crc32(bytes).toString(16).padStart(8, '0');

export interface EncodeOptions {
  /** Add per-tensor checksums to the metadata (CHECKSUM_KEY). */
  checksums?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Writing

/**
 * Serialises tensors. Tensors are laid out in name order (so the same checkpoint gives the same
 * bytes, whatever order the map was filled in), contiguously from offset 0. The header is padded
 * with spaces to a multiple of 8 bytes so the data buffer is 8-aligned in the file, as the
 * reference writer does.
 */
export function encodeSafetensors(tensors: Map<string, SafeTensor>, metadata?: Record<string, string>, opts: EncodeOptions = {}): Buffer {
  const fail = (problem: string): never => {
    throw new SafetensorsError('encodeSafetensors', problem);
  };
  const names = [...tensors.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') fail(`metadata "${k}" is a ${typeof v}; safetensors metadata values must be strings`);
    }
    // Object.fromEntries defines own properties, so a "__proto__" key is kept as data.
    header.__metadata__ = Object.fromEntries(Object.entries(metadata));
  }
  if (opts.checksums) {
    const sums: Record<string, string> = {};
    for (const name of names) {
      const d = tensors.get(name)!.data;
      if (!d || !ArrayBuffer.isView(d)) continue; // reported below
      const le =
        LE_HOST || d instanceof Uint8Array
          ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength)
          : (() => {
              const b = Buffer.alloc(d.byteLength);
              writeLittleEndian(b, 0, d);
              return b;
            })();
      sums[name] = crcHex(le);
    }
    header.__metadata__ = { ...((header.__metadata__ as Record<string, string>) ?? {}), [CHECKSUM_KEY]: JSON.stringify(sums) };
  }
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    if (name === '__metadata__') fail('"__metadata__" is reserved and cannot name a tensor');
    const arr = ARRAY_FOR[t.dtype];
    if (!arr) fail(`tensor "${name}": dtype ${String(t.dtype)} is not one of F32, F16, I32, U8`);
    if (!arr.is(t.data)) fail(`tensor "${name}": dtype ${t.dtype} needs a ${arr.name}, got ${t.data?.constructor?.name}`);
    checkShape(t.shape, (p) => fail(`tensor "${name}": ${p}`));
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length)
      fail(`tensor "${name}": shape [${t.shape.join(', ')}] has ${count} elements but the data has ${t.data.length}`);
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) json = Buffer.concat([json, Buffer.alloc(padded - json.length, 0x20)]);

  const out = Buffer.alloc(8 + json.length + offset);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  let at = 8 + json.length;
  for (const name of names) {
    const t = tensors.get(name)!;
    writeLittleEndian(out, at, t.data);
    at += t.data.byteLength;
  }
  return out;
}

function writeLittleEndian(out: Buffer, at: number, data: SafetensorsData): void {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (LE_HOST || data instanceof Uint8Array) {
    out.set(bytes, at);
    return;
  }
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < data.length; i++) {
    if (data instanceof Float32Array) view.setFloat32(at + 4 * i, data[i]!, true);
    else if (data instanceof Uint16Array) view.setUint16(at + 2 * i, data[i]!, true);
    else view.setInt32(at + 4 * i, data[i]!, true);
  }
}

const f32Bits = new Float32Array(1);
const u32Bits = new Uint32Array(f32Bits.buffer);

/**
 * The IEEE 754 half-precision bits of `x` (first rounded to float32), rounded to nearest, ties to
 * even; beyond 65504 it is Infinity, below half the smallest subnormal (2^-25) zero.
 */
export function floatToHalf(x: number): number {
  f32Bits[0] = x;
  const b = u32Bits[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  let shift = 13;
  let base = e << 10;
  if (e <= 0) {
    // Subnormal: the value is h * 2^-24, h = the 24-bit significand shifted right by 14 - e.
    if (e < -10) return sign;
    mant |= 0x800000;
    shift = 14 - e;
    base = 0;
  }
  let h = base | (mant >>> shift);
  const rem = mant & ((1 << shift) - 1);
  const mid = 1 << (shift - 1);
  // A carry out of the significand moves into the exponent, which is the right result (up to Infinity).
  if (rem > mid || (rem === mid && (h & 1) === 1)) h++;
  return sign | h;
}

/** floatToHalf of every element. */
export const toHalf = (data: Float32Array): Uint16Array => Uint16Array.from(data, floatToHalf);

// ---------------------------------------------------------------------------------------------
// Reading

/** Parses and validates a safetensors buffer; `source` (usually the file path) prefixes every error. */
export function decodeSafetensors(buf: Buffer, source = '<buffer>'): DecodedSafetensors {
  const fail = (problem: string): never => {
    throw new SafetensorsError(source, problem);
  };
  if (buf.length < 8) fail(`file is ${buf.length} bytes, shorter than the 8-byte header length; not a safetensors file`);
  const n64 = buf.readBigUInt64LE(0);
  if (n64 > BigInt(MAX_HEADER_BYTES))
    fail(`header length ${n64} exceeds the ${MAX_HEADER_BYTES}-byte limit; not a safetensors file or corrupt`);
  const n = Number(n64);
  if (8 + n > buf.length) fail(`header length ${n} runs past the end of the file (${buf.length} bytes); file truncated?`);

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + n));
  } catch {
    return fail('header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (err) {
    return fail(`header is not valid JSON (${(err as Error).message})`);
  }
  if (!isPlainObject(header)) fail(`header must be a JSON object, got ${describe(header)}`);
  const entries = header as Record<string, unknown>;

  const metadata = readMetadata(entries.__metadata__, fail);
  const dataStart = 8 + n;
  const dataLength = buf.length - dataStart;

  interface Entry {
    name: string;
    dtype: string;
    info: DtypeInfo;
    shape: number[];
    start: number;
    end: number;
  }
  const list: Entry[] = [];
  for (const name of Object.keys(entries)) {
    if (name === '__metadata__') continue;
    const where = `tensor "${name}"`;
    const e = entries[name];
    if (!isPlainObject(e)) fail(`${where}: entry must be an object with dtype, shape, data_offsets; got ${describe(e)}`);
    const o = e as Record<string, unknown>;
    for (const key of ['dtype', 'shape', 'data_offsets']) if (!(key in o)) fail(`${where}: missing "${key}"`);
    const extra = Object.keys(o).filter((k) => k !== 'dtype' && k !== 'shape' && k !== 'data_offsets');
    if (extra.length > 0) fail(`${where}: unexpected key(s) ${extra.map((k) => `"${k}"`).join(', ')}`);

    const dtype = o.dtype;
    if (typeof dtype !== 'string' || !Object.hasOwn(DTYPES, dtype)) {
      fail(`${where}: unknown dtype ${JSON.stringify(dtype)} (known: ${Object.keys(DTYPES).join(', ')})`);
    }
    const info = DTYPES[dtype as string]!;
    if (!info.to) fail(`${where}: dtype ${dtype} is valid safetensors but not supported by this reader`);

    const shape = o.shape;
    checkShape(shape, (p) => fail(`${where}: ${p}`));

    const offs = o.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((x) => Number.isSafeInteger(x) && x >= 0)) {
      fail(`${where}: data_offsets must be [start, end] of non-negative integers, got ${JSON.stringify(offs)}`);
    }
    const [start, end] = offs as [number, number];
    if (end < start) fail(`${where}: data_offsets [${start}, ${end}] end before they start`);
    if (end > dataLength) fail(`${where}: data_offsets [${start}, ${end}] run past the data buffer (${dataLength} bytes); file truncated?`);

    const shapeArr = shape as number[];
    const count = shapeArr.reduce((a, b) => a * b, 1);
    const need = count * info.size;
    if (need !== end - start) {
      fail(`${where}: data_offsets [${start}, ${end}] hold ${end - start} bytes but ${dtype} [${shapeArr.join(', ')}] needs ${need}`);
    }
    list.push({ name, dtype: dtype as string, info, shape: [...shapeArr], start, end });
  }

  // The tensors must tile the data buffer exactly: anything else means a corrupt or hostile file
  // (overlaps alias two tensors; gaps or trailing bytes are data nobody accounts for).
  const byOffset = [...list].sort((a, b) => a.start - b.start || a.end - b.end);
  let cursor = 0;
  let prev: Entry | undefined;
  for (const e of byOffset) {
    if (e.start < cursor) fail(`tensor "${e.name}" [${e.start}, ${e.end}] overlaps tensor "${prev!.name}" [${prev!.start}, ${prev!.end}]`);
    if (e.start > cursor) fail(`gap in the data buffer: bytes [${cursor}, ${e.start}) belong to no tensor (before tensor "${e.name}")`);
    cursor = e.end;
    prev = e;
  }
  if (cursor !== dataLength)
    fail(`${dataLength - cursor} trailing byte(s) after the last tensor (data buffer is ${dataLength} bytes, tensors cover ${cursor})`);

  let sums: Record<string, unknown> | undefined;
  if (metadata[CHECKSUM_KEY] !== undefined) {
    try {
      sums = JSON.parse(metadata[CHECKSUM_KEY]) as Record<string, unknown>;
    } catch {
      sums = undefined;
    }
    if (!isPlainObject(sums)) fail(`metadata "${CHECKSUM_KEY}" is not a JSON object of checksums; header damaged`);
    for (const k of Object.keys(sums!))
      if (!list.some((e) => e.name === k))
        fail(`metadata "${CHECKSUM_KEY}" names tensor "${k}", which the file does not hold; header damaged`);
  }
  const tensors = new Map<string, DecodedTensor>();
  for (const e of list) {
    const bytes = buf.subarray(dataStart + e.start, dataStart + e.end);
    if (sums) {
      const want = sums[e.name];
      if (want === undefined) fail(`tensor "${e.name}" has no checksum in metadata "${CHECKSUM_KEY}"; header damaged`);
      const got = crcHex(bytes);
      if (got !== want) fail(`tensor "${e.name}" fails its checksum (crc32 ${got}, recorded ${String(want)}): the file is damaged`);
    }
    const data = convert(bytes, e.dtype, e.info, (p) => fail(`tensor "${e.name}": ${p}`));
    tensors.set(e.name, { dtype: e.info.to!, shape: e.shape, data, storedDtype: e.dtype });
  }
  return { tensors, metadata };
}

function readMetadata(m: unknown, fail: (p: string) => never): Record<string, string> {
  if (m === undefined) return {};
  if (!isPlainObject(m)) fail(`"__metadata__" must be an object of strings, got ${describe(m)}`);
  const entries = Object.entries(m as Record<string, unknown>);
  for (const [k, v] of entries) {
    if (typeof v !== 'string') fail(`"__metadata__" value for "${k}" must be a string, got ${describe(v)}`);
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

function checkShape(shape: unknown, fail: (p: string) => never): void {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    fail(`shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  const count = (shape as number[]).reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(count * 8)) fail(`shape [${(shape as number[]).join(', ')}] is too large`);
}

/** Copies (and where needed widens) little-endian bytes into a fresh, aligned typed array. */
function convert(bytes: Buffer, dtype: string, info: DtypeInfo, fail: (p: string) => never): SafetensorsData {
  const n = bytes.length / info.size;
  if (dtype === 'U8' || dtype === 'BOOL') return new Uint8Array(bytes);
  if ((dtype === 'F32' || dtype === 'I32') && LE_HOST) {
    const out = dtype === 'F32' ? new Float32Array(n) : new Int32Array(n);
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (info.to === 'F32') {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      if (dtype === 'F32') out[i] = v.getFloat32(4 * i, true);
      else if (dtype === 'F64') out[i] = v.getFloat64(8 * i, true);
      else if (dtype === 'F16') out[i] = halfToFloat(v.getUint16(2 * i, true));
      else out[i] = bf16ToFloat(v.getUint16(2 * i, true));
    }
    return out;
  }
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let x: number | bigint;
    switch (dtype) {
      case 'I8':
        x = v.getInt8(i);
        break;
      case 'I16':
        x = v.getInt16(2 * i, true);
        break;
      case 'U16':
        x = v.getUint16(2 * i, true);
        break;
      case 'I32':
        x = v.getInt32(4 * i, true);
        break;
      case 'U32':
        x = v.getUint32(4 * i, true);
        break;
      case 'I64':
        x = v.getBigInt64(8 * i, true);
        break;
      default:
        x = v.getBigUint64(8 * i, true);
        break;
    }
    if (x < -2147483648 || x > 2147483647) fail(`${dtype} element ${i} = ${x} does not fit in int32`);
    out[i] = Number(x);
  }
  return out;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const bf16View = new DataView(new ArrayBuffer(4));
function bf16ToFloat(b: number): number {
  bf16View.setUint32(0, b << 16);
  return bf16View.getFloat32(0);
}

function isPlainObject(x: unknown): boolean {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  return typeof x === 'object' ? 'an object' : `${typeof x} ${JSON.stringify(x)}`;
}

// ---------------------------------------------------------------------------------------------
// Files

/** Writes a checkpoint so that readers never observe a partial file (see atomicWrite.ts). */
export function writeSafetensorsAtomic(
  path: string,
  tensors: Map<string, SafeTensor>,
  metadata?: Record<string, string>,
  opts: EncodeOptions = {},
): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata, opts));
}

export function readSafetensorsFile(path: string): DecodedSafetensors {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SafetensorsError(path, code === 'ENOENT' ? 'file not found' : `cannot read (${(err as Error).message})`);
  }
  return decodeSafetensors(buf, path);
}
