import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  decodeSafetensors,
  encodeSafetensors,
  readSafetensorsFile,
  SafetensorsError,
  writeSafetensorsAtomic,
  type SafeTensor,
} from '../src/runtime/io/safetensors.ts';

function sample(): Map<string, SafeTensor> {
  return new Map<string, SafeTensor>([
    ['w', { dtype: 'F32', shape: [2, 3], data: new Float32Array([1.5, -2, 0, -0, NaN, Infinity]) }],
    ['step', { dtype: 'I32', shape: [], data: new Int32Array([-7]) }],
    ['mask', { dtype: 'U8', shape: [5], data: new Uint8Array([0, 1, 2, 254, 255]) }],
    ['empty', { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) }],
  ]);
}

/** A file assembled from the format description: u64 LE header length, JSON header, data. */
function build(header: unknown, data: Buffer | number[] = [], headerLength?: bigint): Buffer {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(headerLength ?? BigInt(json.length));
  return Buffer.concat([len, json, Buffer.from(data)]);
}

function rejects(buf: Buffer, pattern: RegExp): void {
  let caught: unknown;
  try {
    decodeSafetensors(buf, 'ckpt/model.safetensors');
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(SafetensorsError);
  const message = (caught as Error).message;
  expect(message).toContain('ckpt/model.safetensors: ');
  expect(message).toMatch(pattern);
}

const f32 = (name: string, start: number, end: number, shape = [(end - start) / 4]) => ({
  [name]: { dtype: 'F32', shape, data_offsets: [start, end] },
});

describe('safetensors round trip', () => {
  it('decodes what it encodes, bit for bit, with metadata', () => {
    const meta = { format: 'pt', step: '1200', spec: 'ddpm.unet' };
    for (const m of [meta, undefined]) {
      const { tensors, metadata } = decodeSafetensors(encodeSafetensors(sample(), m));
      expect(metadata).toEqual(m ?? {});
      expect([...tensors.keys()].sort()).toEqual(['empty', 'mask', 'step', 'w']);
      for (const [name, t] of sample()) {
        const got = tensors.get(name)!;
        expect(got.dtype).toBe(t.dtype);
        expect(got.storedDtype).toBe(t.dtype);
        expect(got.shape).toEqual(t.shape);
        expect(got.data.constructor).toBe(t.data.constructor);
        // Compare bytes, so NaN and -0 count as preserved.
        expect(Buffer.from(got.data.buffer, got.data.byteOffset, got.data.byteLength)).toEqual(
          Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength),
        );
      }
    }
  });

  it('keeps a "__proto__" metadata key as data', () => {
    const m = JSON.parse('{"__proto__":"x","a":"b"}') as Record<string, string>;
    const { metadata } = decodeSafetensors(encodeSafetensors(new Map(), m));
    expect(Object.keys(metadata)).toEqual(['__proto__', 'a']);
    expect(Object.getOwnPropertyDescriptor(metadata, '__proto__')?.value).toBe('x');
    expect(Object.getPrototypeOf(metadata)).toBe(Object.prototype);
  });

  it('is deterministic: insertion order does not change the bytes', () => {
    const reversed = new Map([...sample()].reverse());
    expect(encodeSafetensors(reversed, { a: '1' })).toEqual(encodeSafetensors(sample(), { a: '1' }));
  });

  it('encodes typed-array views (subarrays) correctly', () => {
    const big = new Float32Array([9, 9, 1, 2, 3, 9]);
    const buf = encodeSafetensors(new Map([['x', { dtype: 'F32' as const, shape: [3], data: big.subarray(2, 5) }]]));
    expect([...decodeSafetensors(buf).tensors.get('x')!.data]).toEqual([1, 2, 3]);
  });

  it('rejects inconsistent input when encoding', () => {
    const bad = (t: SafeTensor) => () => encodeSafetensors(new Map([['x', t]]));
    expect(bad({ dtype: 'F32', shape: [3], data: new Float32Array(2) })).toThrow(/shape \[3\] has 3 elements but the data has 2/);
    expect(bad({ dtype: 'I32', shape: [2], data: new Float32Array(2) })).toThrow(/needs a Int32Array/);
    expect(bad({ dtype: 'F32', shape: [-1], data: new Float32Array(0) })).toThrow(/non-negative integers/);
    expect(() => encodeSafetensors(new Map(), { a: 1 as unknown as string })).toThrow(/must be strings/);
  });
});

describe('safetensors layout', () => {
  it('matches the format by hand: length prefix, padded JSON header, contiguous sorted offsets', () => {
    const buf = encodeSafetensors(sample(), { format: 'pt' });
    const n = Number(buf.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const text = buf.subarray(8, 8 + n).toString('utf8');
    expect(text).toMatch(/^\{.*\} *$/);
    const header = JSON.parse(text);
    expect(Object.keys(header)).toEqual(['__metadata__', 'empty', 'mask', 'step', 'w']);
    expect(header.__metadata__).toEqual({ format: 'pt' });
    expect(header.empty).toEqual({ dtype: 'F32', shape: [0, 4], data_offsets: [0, 0] });
    expect(header.mask).toEqual({ dtype: 'U8', shape: [5], data_offsets: [0, 5] });
    expect(header.step).toEqual({ dtype: 'I32', shape: [], data_offsets: [5, 9] });
    expect(header.w).toEqual({ dtype: 'F32', shape: [2, 3], data_offsets: [9, 33] });
    expect(buf.length).toBe(8 + n + 33);
    const data = buf.subarray(8 + n);
    expect([...data.subarray(0, 5)]).toEqual([0, 1, 2, 254, 255]);
    expect(data.readInt32LE(5)).toBe(-7);
    expect(data.readFloatLE(9)).toBe(1.5);
    expect(data.readFloatLE(13)).toBe(-2);
  });

  it('decodes a file laid out as Python safetensors writes it (unaligned data, other dtypes)', () => {
    // Header of odd length, so the data buffer starts at an unaligned offset; the reader must copy.
    const header =
      '{"__metadata__":{"format":"pt"},"bias":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
      '"weight":{"dtype":"F16","shape":[2,2],"data_offsets":[8,16]},"idx":{"dtype":"I64","shape":[2],"data_offsets":[16,32]},' +
      '"bf":{"dtype":"BF16","shape":[1],"data_offsets":[32,34]},"flag":{"dtype":"BOOL","shape":[2],"data_offsets":[34,36]}}';
    const data = Buffer.alloc(36);
    data.writeFloatLE(0.25, 0);
    data.writeFloatLE(-3, 4);
    [0x3c00, 0xc000, 0x3800, 0x7c00].forEach((h, i) => data.writeUInt16LE(h, 8 + 2 * i)); // 1, -2, 0.5, inf
    data.writeBigInt64LE(-5n, 16);
    data.writeBigInt64LE(123456n, 24);
    data.writeUInt16LE(0x4049, 32); // bf16 of 3.140625
    data[34] = 1;
    const buf = build(header + ' ', data);
    expect((8 + Buffer.byteLength(header) + 1) % 4).not.toBe(0);
    const { tensors, metadata } = decodeSafetensors(buf);
    expect(metadata).toEqual({ format: 'pt' });
    expect([...tensors.get('bias')!.data]).toEqual([0.25, -3]);
    expect(tensors.get('weight')).toMatchObject({ dtype: 'F32', storedDtype: 'F16', shape: [2, 2] });
    expect([...tensors.get('weight')!.data]).toEqual([1, -2, 0.5, Infinity]);
    expect(tensors.get('idx')).toMatchObject({ dtype: 'I32', storedDtype: 'I64' });
    expect([...tensors.get('idx')!.data]).toEqual([-5, 123456]);
    expect([...tensors.get('bf')!.data]).toEqual([3.140625]);
    expect([...tensors.get('flag')!.data]).toEqual([1, 0]);
    expect(tensors.get('bias')!.data.byteOffset).toBe(0);
  });
});

describe('safetensors rejects malformed files with the file named', () => {
  it('files too short for a header length', () => {
    rejects(Buffer.alloc(0), /0 bytes, shorter than the 8-byte header length/);
    rejects(Buffer.alloc(7), /7 bytes/);
  });

  it('header lengths over 100 MB or past the end of the file', () => {
    rejects(build('{}', [], 200_000_000n), /header length 200000000 exceeds the 100000000-byte limit/);
    rejects(build('{}', [], 2n ** 63n), /exceeds/);
    rejects(build('{}', [], 50n), /header length 50 runs past the end of the file \(10 bytes\)/);
  });

  it('headers that are not UTF-8, not JSON or not an object', () => {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(3n);
    rejects(Buffer.concat([len, Buffer.from([0x7b, 0xff, 0x7d])]), /not valid UTF-8/);
    rejects(build('{"a":'), /not valid JSON/);
    rejects(build('[1,2]'), /must be a JSON object, got an array/);
    rejects(build('null'), /must be a JSON object, got null/);
    rejects(build('7'), /must be a JSON object, got number 7/);
  });

  it('bad tensor entries', () => {
    rejects(build({ x: [1] }), /tensor "x": entry must be an object/);
    rejects(build({ x: { dtype: 'F32', shape: [1] } }, [0, 0, 0, 0]), /tensor "x": missing "data_offsets"/);
    rejects(build({ x: { dtype: 'F32', shape: [1], data_offsets: [0, 4], extra: 1 } }, [0, 0, 0, 0]), /unexpected key\(s\) "extra"/);
  });

  it('unknown dtypes', () => {
    rejects(build({ x: { dtype: 'F31', shape: [1], data_offsets: [0, 4] } }, [0, 0, 0, 0]), /tensor "x": unknown dtype "F31"/);
    rejects(build({ x: { dtype: 7, shape: [1], data_offsets: [0, 4] } }, [0, 0, 0, 0]), /unknown dtype 7/);
    rejects(build({ x: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, [0]), /not supported by this reader/);
  });

  it('shapes that are not lists of non-negative integers', () => {
    for (const shape of [[-1], [1.5], ['2'], 4, null, [2 ** 60]]) {
      rejects(build({ x: { dtype: 'U8', shape, data_offsets: [0, 0] } }), /tensor "x": shape must be a list of non-negative integers/);
    }
    rejects(build({ x: { dtype: 'F32', shape: [2 ** 26, 2 ** 26], data_offsets: [0, 0] } }), /shape \[67108864, 67108864\] is too large/);
  });

  it('bad offsets', () => {
    const four = [0, 0, 0, 0];
    rejects(
      build({ x: { dtype: 'U8', shape: [4], data_offsets: [0, 4.5] } }, four),
      /data_offsets must be \[start, end\] of non-negative integers/,
    );
    rejects(build({ x: { dtype: 'U8', shape: [4], data_offsets: [0] } }, four), /data_offsets must be/);
    rejects(build({ x: { dtype: 'U8', shape: [4], data_offsets: [-1, 3] } }, four), /data_offsets must be/);
    rejects(build({ x: { dtype: 'U8', shape: [0], data_offsets: [4, 0] } }, four), /\[4, 0\] end before they start/);
    rejects(build(f32('x', 0, 8), four), /\[0, 8\] run past the data buffer \(4 bytes\)/);
    rejects(build({ ...f32('a', 0, 8), ...f32('b', 4, 12) }, Array(12).fill(0)), /tensor "b" \[4, 12\] overlaps tensor "a" \[0, 8\]/);
    rejects(build({ ...f32('a', 0, 4), ...f32('b', 8, 12) }, Array(12).fill(0)), /gap in the data buffer: bytes \[4, 8\)/);
    rejects(build(f32('a', 4, 8), Array(8).fill(0)), /gap in the data buffer: bytes \[0, 4\)/);
    rejects(build(f32('a', 0, 4), Array(6).fill(0)), /2 trailing byte\(s\) after the last tensor/);
    rejects(build({}, [1]), /1 trailing byte/);
  });

  it('byte lengths that disagree with shape x dtype size', () => {
    rejects(build(f32('x', 0, 8, [3]), Array(8).fill(0)), /tensor "x": data_offsets \[0, 8\] hold 8 bytes but F32 \[3\] needs 12/);
  });

  it('bad __metadata__', () => {
    rejects(build({ __metadata__: ['a'] }), /"__metadata__" must be an object of strings, got an array/);
    rejects(build({ __metadata__: null }), /"__metadata__" must be an object of strings, got null/);
    rejects(build({ __metadata__: { step: 3 } }), /"__metadata__" value for "step" must be a string, got number 3/);
  });

  it('I64 values that do not fit in int32', () => {
    const data = Buffer.alloc(8);
    data.writeBigInt64LE(2n ** 40n);
    rejects(build({ x: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, data), /I64 element 0 = 1099511627776 does not fit in int32/);
  });
});

describe('safetensors files', () => {
  it('writes atomically (no temp file left) and reads back', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safetensors-'));
    try {
      const file = path.join(dir, 'model.safetensors');
      writeSafetensorsAtomic(file, sample(), { step: '1' });
      writeSafetensorsAtomic(file, sample(), { step: '2' }); // replaces
      expect(fs.readdirSync(dir)).toEqual(['model.safetensors']);
      const { tensors, metadata } = readSafetensorsFile(file);
      expect(metadata).toEqual({ step: '2' });
      expect([...tensors.get('step')!.data]).toEqual([-7]);

      fs.writeFileSync(file, fs.readFileSync(file).subarray(0, 60)); // truncate
      expect(() => readSafetensorsFile(file)).toThrow(new RegExp(`^${file.replace(/[.\\]/g, '\\$&')}: `));
      expect(() => readSafetensorsFile(path.join(dir, 'missing.safetensors'))).toThrow(/missing\.safetensors: file not found/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
