/**
 * Shared machinery of the unetc wasm kernels (wasmKernels.ts, wasmMatMulSlice.ts):
 * {@link Scratch}, which runs wasm kernels and releases every intermediate;
 * heap views; and a rank-generic slice copy between views of the wasm heap.
 */
import * as tf from '@tensorflow/tfjs-core';
import { util } from '@tensorflow/tfjs-core';
import type { KernelConfig, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

export const BACKEND = 'wasm';

/** Stock wasm kernels our kernels replaced (filled by `registerWasmKernels`). */
export const replacedStock = new Map<string, KernelConfig>();

/** What we use of the Emscripten module behind the wasm backend (typed loosely by tfjs). */
interface WasmModule {
  HEAPU8: Uint8Array;
  cwrap: (name: string, returnType: null, argTypes: string[]) => (...args: unknown[]) => void;
  tfjs: { disposeData: (id: number) => void };
}

export function wasmModule(backend: BackendWasm): WasmModule {
  return backend.wasm as unknown as WasmModule;
}

/** The id the C++ side knows a buffer by. */
export function wasmId(backend: BackendWasm, t: TensorInfo): number {
  const data = backend.dataIdMap.get(t.dataId);
  if (data === undefined) throw new Error('unetc wasm kernels: a tensor without wasm data');
  return data.id;
}

/**
 * Runs other wasm kernels and remembers every buffer they return, so that all
 * intermediates can be released at once. `keep` takes the result out.
 */
export class Scratch {
  private readonly temps: TensorInfo[] = [];
  private readonly views: TensorInfo[] = [];

  constructor(readonly backend: BackendWasm) {}

  run(kernelName: string, inputs: Record<string, TensorInfo>, attrs: NamedAttrMap = {}): TensorInfo {
    const config = tf.getKernel(kernelName, BACKEND);
    if (config === undefined) {
      throw new Error(`unetc wasm kernels: the wasm backend has no '${kernelName}' kernel`);
    }
    const out = config.kernelFunc({ inputs, backend: this.backend, attrs });
    if (Array.isArray(out)) {
      this.temps.push(...out);
      throw new Error(`unetc wasm kernels: '${kernelName}' returned several outputs`);
    }
    this.temps.push(out);
    return out;
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  /** A new output buffer owned by this scratch space. */
  output(shape: number[], dtype: tf.DataType): TensorInfo {
    const out = this.backend.makeOutput(shape, dtype);
    this.temps.push(out);
    return out;
  }

  /**
   * A tensor of `shape` whose data are `x`'s from element `offset` on: no
   * allocation, no copy. It is registered with the C++ side (so wasm kernels
   * called with its id read and write `x`'s memory) but owns no memory, so it
   * must never reach `backend.disposeData` (which would free the middle of
   * `x`'s block) nor leave the kernel: release it with {@link releaseView}
   * (or {@link dispose}) while `x` is alive.
   */
  view(x: TensorInfo, offset: number, shape: number[]): TensorInfo {
    const n = util.sizeFromShape(shape);
    const total = util.sizeFromShape(x.shape);
    if (offset < 0 || offset + n > total) {
      throw new Error(`unetc wasm kernels: view [${offset}, ${offset + n}) outside a tensor of ${total} elements`);
    }
    const at = this.backend.getMemoryOffset(x.dataId) + offset * util.bytesPerElement(x.dtype);
    const v = this.backend.makeOutput(shape, x.dtype, at);
    this.views.push(v);
    return v;
  }

  releaseView(v: TensorInfo): void {
    const i = this.views.lastIndexOf(v);
    if (i < 0) throw new Error('unetc wasm kernels: releasing a view this scratch space does not own');
    this.views.splice(i, 1);
    this.dropView(v);
  }

  private dropView(v: TensorInfo): void {
    // What backend.disposeData does, minus freeing the memory. The C++ side
    // also runs the id's disposal callbacks (e.g. deletes XNNPACK operators
    // cached on it).
    wasmModule(this.backend).tfjs.disposeData(wasmId(this.backend, v));
    this.backend.dataIdMap.delete(v.dataId);
  }

  /**
   * Copies `x[begin : begin + size]` into a new buffer by copying runs
   * between views of the wasm heap. (The stock Slice kernel first copies the
   * whole input out of the heap.)
   */
  crop(x: TensorInfo, begin: number[], size: number[]): TensorInfo {
    if (begin.every((b) => b === 0) && size.every((s, i) => s === x.shape[i])) return x;
    if (size.some((s) => s <= 0)) {
      throw new Error(`unetc wasm kernels: empty crop of a [${x.shape.join(',')}] tensor`);
    }
    const out = this.output(size, x.dtype);
    copySliceOnHeap(this.backend, x, begin, size, out);
    return out;
  }

  /** Releases `t` (recorded by this scratch space) now rather than at the end. */
  release(t: TensorInfo): void {
    const i = this.temps.lastIndexOf(t);
    if (i < 0) throw new Error('unetc wasm kernels: releasing a buffer this scratch space does not own');
    this.temps.splice(i, 1);
    this.backend.disposeData(t.dataId);
  }

  /** Removes `t` from the buffers released by {@link dispose}. */
  keep(t: TensorInfo): TensorInfo {
    if (this.views.includes(t)) throw new Error('unetc wasm kernels: a heap view cannot be a kernel result');
    const i = this.temps.lastIndexOf(t);
    if (i >= 0) this.temps.splice(i, 1);
    return t;
  }

  dispose(): void {
    // Views first: they point into temps.
    for (const v of this.views) this.dropView(v);
    this.views.length = 0;
    // Reshape-like kernels share a data buffer and take a reference each, so
    // every recorded output releases exactly one reference.
    for (const t of this.temps) this.backend.disposeData(t.dataId);
    this.temps.length = 0;
  }
}

export function withScratch(backend: unknown, body: (s: Scratch) => TensorInfo): TensorInfo {
  const s = new Scratch(backend as BackendWasm);
  try {
    return s.keep(body(s));
  } finally {
    s.dispose();
  }
}

// ---------------------------------------------------------------------------
// Slice copy
// ---------------------------------------------------------------------------

type IntArray = Int32Array | Uint8Array;

/**
 * An integer view of `t`'s memory (Int32 for 4-byte dtypes, Uint8 for bool):
 * copying through it moves bit patterns, so NaN payloads survive. Take it
 * after the last allocation: growing the heap detaches earlier views.
 */
function rawHeapView(backend: BackendWasm, t: TensorInfo): IntArray {
  const buffer = wasmModule(backend).HEAPU8.buffer;
  const offset = backend.getMemoryOffset(t.dataId);
  const n = util.sizeFromShape(t.shape);
  switch (t.dtype) {
    case 'float32':
    case 'int32':
      return new Int32Array(buffer, offset, n);
    case 'bool':
      return new Uint8Array(buffer, offset, n);
    default:
      throw new Error(`unetc wasm kernels: cannot copy ${t.dtype} data on the heap`);
  }
}

/** Below this many elements a plain loop beats `set(subarray(...))`. */
const SHORT_RUN = 16;

/**
 * Copies the block `begin[i] <= index[i] < begin[i] + size[i]` of a
 * row-major tensor of `shape` (in `src`) to `dst`, in row-major order. The
 * trailing axes taken whole are merged with the last partial one into
 * contiguous runs; the axes before it are walked with an odometer.
 */
export function copySlice(src: IntArray, shape: readonly number[], begin: readonly number[], size: readonly number[], dst: IntArray): void {
  const rank = shape.length;
  if (rank === 0) {
    dst[0] = src[0]!;
    return;
  }
  let d = rank - 1;
  let inner = 1;
  while (d > 0 && size[d] === shape[d]) inner *= shape[d--]!;
  const run = size[d]! * inner;
  const strides = new Array<number>(rank);
  for (let i = rank - 1, st = 1; i >= 0; st *= shape[i--]!) strides[i] = st;
  let from = 0;
  for (let i = 0; i <= d; i++) from += begin[i]! * strides[i]!;
  const total = run * size.slice(0, d).reduce((a, b) => a * b, 1);
  if (total === 0) return;

  const idx = new Array<number>(d).fill(0);
  for (let to = 0; to < total; to += run) {
    if (run >= SHORT_RUN) {
      dst.set(src.subarray(from, from + run), to);
    } else {
      for (let j = 0; j < run; j++) dst[to + j] = src[from + j]!;
    }
    for (let ax = d - 1; ax >= 0; ax--) {
      from += strides[ax]!;
      if (++idx[ax]! < size[ax]!) break;
      from -= size[ax]! * strides[ax]!;
      idx[ax] = 0;
    }
  }
}

/** {@link copySlice} from `x`'s heap memory into `out`'s (shape `size`). */
export function copySliceOnHeap(
  backend: BackendWasm,
  x: TensorInfo,
  begin: readonly number[],
  size: readonly number[],
  out: TensorInfo,
): void {
  if (size.some((d) => d === 0)) return;
  copySlice(rawHeapView(backend, x), x.shape, begin, size, rawHeapView(backend, out));
}
