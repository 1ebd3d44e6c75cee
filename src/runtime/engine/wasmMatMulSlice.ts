/**
 * Replacements for the tfjs wasm backend's (4.22) `BatchMatMul`, `Slice`,
 * `SplitV` and `Unpack` kernels (registered by `registerWasmKernels`).
 *
 * - `BatchMatMul`: the stock kernel uses XNNPACK's fully-connected operator
 *   only without transposes and with batch 1; any transpose flag or batch > 1
 *   runs a scalar loop (~2 GFLOP/s). Here transposed operands are transposed
 *   explicitly (wasm's Transpose kernel) and every product goes through the
 *   XNNPACK path: one call when `b` has batch 1 (the items of `a` are stacked
 *   as rows), else one call per batch item on views of the heap (no copies;
 *   the item results are written straight into the output). Batch dimensions
 *   broadcast per axis, as `tf.matMul` allows.
 * - `Slice`: the stock kernel copies the whole input out of the heap before
 *   copying the slice back in; here runs are copied between heap views.
 *   `SplitV` and `Unpack` call the stock slice function directly (not through
 *   the registry), so they are replaced too.
 *
 * `tf.matMul` and its gradients run `BatchMatMul`; `_FusedMatMul` (stock) is
 * reached only through `tf.fused.matMul`, which unetc does not use.
 */
import { backend_util, slice_util, util } from '@tensorflow/tfjs-core';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { copySliceOnHeap, replacedStock, Scratch, wasmId, wasmModule, withScratch } from './wasmScratch.ts';

// ---------------------------------------------------------------------------
// BatchMatMul
// ---------------------------------------------------------------------------

/**
 * The C++ `BatchMatMul` of the wasm module (what the stock kernel calls):
 * ids and rank-3 shapes of a and b, transpose flags, output id. With shapes
 * [1, M, K] x [1, K, N] and no transposes it runs one XNNPACK fully-connected
 * operator, created for (and cached on the id of) b until b's id is disposed.
 */
type CMatMul = (
  aId: number,
  aShape: Uint8Array,
  aRank: number,
  bId: number,
  bShape: Uint8Array,
  bRank: number,
  transposeA: number,
  transposeB: number,
  outId: number,
) => void;

const cMatMuls = new WeakMap<BackendWasm, CMatMul>();

function cMatMul(backend: BackendWasm): CMatMul {
  let f = cMatMuls.get(backend);
  if (f === undefined) {
    f = wasmModule(backend).cwrap('BatchMatMul', null, [
      'number',
      'array',
      'number',
      'number',
      'array',
      'number',
      'number',
      'number',
      'number',
    ]) as CMatMul;
    cMatMuls.set(backend, f);
  }
  return f;
}

const shapeBytes = (shape: number[]): Uint8Array => new Uint8Array(new Int32Array(shape).buffer);

/**
 * The (K, N) each buffer was first used with as `b`. XNNPACK's operator
 * (with b packed into it) is cached on b's id alone, whatever the shape of
 * later calls, so a buffer seen before with another (K, N) (a reshape sharing
 * the data) is passed as a view with a fresh id instead.
 */
const weightShapes = new WeakMap<object, string>();

/** `b3` ([1, k, n]) as an operand that is safe to key XNNPACK's operator cache on. */
function weights(s: Scratch, b3: TensorInfo, k: number, n: number): TensorInfo {
  const key = `${k},${n}`;
  const seen = weightShapes.get(b3.dataId);
  if (seen === undefined) weightShapes.set(b3.dataId, key);
  return seen === undefined || seen === key ? b3 : s.view(b3, 0, [1, k, n]);
}

/** `x` as [batch, rows, cols] row-major, transposing it explicitly if it is stored as [batch, cols, rows]. */
function rowMajor(s: Scratch, x: TensorInfo, batch: number, transposed: boolean, rows: number, cols: number): TensorInfo {
  if (!transposed) return s.reshape(x, [batch, rows, cols]);
  // A [cols, rows] matrix with a unit axis has the same data as its transpose.
  if (rows === 1 || cols === 1) return s.reshape(x, [batch, rows, cols]);
  return s.transpose(s.reshape(x, [batch, cols, rows]), [0, 2, 1]);
}

/**
 * For each flat index into the broadcast batch shape `outBatch`, the flat
 * index into `batch` (right-aligned; axes of size 1 repeat).
 */
function broadcastIndices(outBatch: readonly number[], batch: readonly number[]): Int32Array {
  const rank = outBatch.length;
  const padded = [...new Array<number>(rank - batch.length).fill(1), ...batch];
  const strides = new Array<number>(rank);
  for (let i = rank - 1, st = 1; i >= 0; i--) {
    strides[i] = padded[i] === 1 ? 0 : st;
    st *= padded[i]!;
  }
  const total = util.sizeFromShape(outBatch as number[]);
  const out = new Int32Array(total);
  const idx = new Array<number>(rank).fill(0);
  let at = 0;
  for (let i = 0; i < total; i++) {
    out[i] = at;
    for (let ax = rank - 1; ax >= 0; ax--) {
      at += strides[ax]!;
      if (++idx[ax]! < outBatch[ax]!) break;
      at -= outBatch[ax]! * strides[ax]!;
      idx[ax] = 0;
    }
  }
  return out;
}

const batchMatMul: KernelFunc = ({ inputs, backend, attrs }) =>
  withScratch(backend, (s) => {
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') {
      throw new Error(`unetc wasm kernels: BatchMatMul needs float32 tensors, got ${a.dtype} and ${b.dtype}`);
    }
    const ra = a.shape.length;
    const rb = b.shape.length;
    if (ra < 2 || rb < 2) {
      throw new Error(`unetc wasm kernels: BatchMatMul needs rank >= 2, got [${a.shape}] and [${b.shape}]`);
    }
    const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
    const k = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
    const kb = transposeB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
    const n = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
    if (k !== kb) {
      throw new Error(
        `Error in matMul: inner shapes (${k}) and (${kb}) of Tensors with shapes ${a.shape} and ` +
          `${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
      );
    }
    const aBatch = a.shape.slice(0, -2);
    const bBatch = b.shape.slice(0, -2);
    const outBatch = backend_util.assertAndGetBroadcastShape(aBatch, bBatch);
    const outShape = [...outBatch, m, n];
    const batch = util.sizeFromShape(outBatch);
    const batchA = util.sizeFromShape(aBatch);
    const batchB = util.sizeFromShape(bBatch);

    if (batch * m * n === 0) return s.output(outShape, 'float32');
    if (k === 0) return s.run('Fill', {}, { shape: outShape, value: 0, dtype: 'float32' });

    const a3 = rowMajor(s, a, batchA, transposeA, m, k); // [batchA, m, k]
    const b3 = rowMajor(s, b, batchB, transposeB, k, n); // [batchB, k, n]
    const out = s.output(outShape, 'float32');
    const run = cMatMul(s.backend);

    if (batchB === 1) {
      // One product: a's items stacked as batch*m rows (batchA is batch here).
      // Without a transpose, b3 shares b's id: like the stock kernel, this
      // keeps b packed for XNNPACK until b is disposed (fast reuse of weights).
      run(
        wasmId(s.backend, a3),
        shapeBytes([1, batchA * m, k]),
        3,
        wasmId(s.backend, weights(s, b3, k, n)),
        shapeBytes([1, k, n]),
        3,
        0,
        0,
        wasmId(s.backend, out),
      );
      return out;
    }

    // One product per item, on views: item i of out = item ia of a x item ib of b.
    const ia = batchA === batch ? undefined : broadcastIndices(outBatch, aBatch);
    const ib = batchB === batch ? undefined : broadcastIndices(outBatch, bBatch);
    const aShape = shapeBytes([1, m, k]);
    const bShape = shapeBytes([1, k, n]);
    for (let i = 0; i < batch; i++) {
      const av = s.view(a3, (ia === undefined ? i : ia[i]!) * m * k, [1, m, k]);
      const bv = s.view(b3, (ib === undefined ? i : ib[i]!) * k * n, [1, k, n]);
      const ov = s.view(out, i * m * n, [1, m, n]);
      run(wasmId(s.backend, av), aShape, 3, wasmId(s.backend, bv), bShape, 3, 0, 0, wasmId(s.backend, ov));
      // Releasing b's view also deletes the XNNPACK operator cached on it.
      s.releaseView(ov);
      s.releaseView(bv);
      s.releaseView(av);
    }
    return out;
  });

// ---------------------------------------------------------------------------
// Slice, SplitV, Unpack
// ---------------------------------------------------------------------------

function stockSlice(): KernelFunc {
  const stock = replacedStock.get('Slice');
  if (stock === undefined) throw new Error('unetc wasm kernels: the stock wasm Slice kernel is not known');
  return stock.kernelFunc;
}

/** x[begin : begin + size] into a new buffer; `begin`/`size` as parsed by slice_util. */
function sliceOnHeap(backend: BackendWasm, x: TensorInfo, begin: number[], size: number[]): TensorInfo {
  if (x.dtype === 'string') {
    // String data live in JS, not on the heap: the stock kernel handles them.
    return stockSlice()({ inputs: { x }, backend, attrs: { begin, size } }) as TensorInfo;
  }
  const out = backend.makeOutput(size, x.dtype);
  try {
    copySliceOnHeap(backend, x, begin, size, out);
  } catch (err) {
    backend.disposeData(out.dataId);
    throw err;
  }
  return out;
}

const slice: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x } = inputs as { x: TensorInfo };
  const { begin, size } = attrs as unknown as { begin: number | number[]; size?: number | number[] };
  const [b, sz] = slice_util.parseSliceParams(x as never, begin, size);
  slice_util.assertParamsValid(x as never, b, sz);
  return sliceOnHeap(backend as BackendWasm, x, b, sz);
};

/** Runs `make` for each output; on failure releases the outputs made so far. */
function outputs(backend: BackendWasm, count: number, make: (i: number) => TensorInfo): TensorInfo[] {
  const outs: TensorInfo[] = [];
  try {
    for (let i = 0; i < count; i++) outs.push(make(i));
  } catch (err) {
    for (const o of outs) backend.disposeData(o.dataId);
    throw err;
  }
  return outs;
}

const splitV: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x } = inputs as { x: TensorInfo };
  const { numOrSizeSplits, axis } = attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
  const ax = util.parseAxisParam(axis, x.shape)[0]!;
  const sizes = backend_util.prepareSplitSize(x as never, numOrSizeSplits, ax);
  const begin = new Array<number>(x.shape.length).fill(0);
  return outputs(backend as BackendWasm, sizes.length, (i) => {
    const size = x.shape.slice();
    size[ax] = sizes[i]!;
    begin[ax] = sizes.slice(0, i).reduce((p, q) => p + q, 0);
    return sliceOnHeap(backend as BackendWasm, x, begin.slice(), size);
  });
};

const unpack: KernelFunc = ({ inputs, backend, attrs }) => {
  const { value } = inputs as { value: TensorInfo };
  const rank = value.shape.length;
  let { axis } = attrs as unknown as { axis: number };
  if (axis < 0) axis += rank;
  const outShape = value.shape.filter((_, i) => i !== axis);
  const size = value.shape.slice();
  size[axis] = 1;
  const begin = new Array<number>(rank).fill(0);
  return outputs(backend as BackendWasm, value.shape[axis]!, (i) => {
    begin[axis] = i;
    const t = sliceOnHeap(backend as BackendWasm, value, begin.slice(), size);
    return { dataId: t.dataId, dtype: t.dtype, shape: outShape.slice() };
  });
};

export const matMulSliceKernels = { batchMatMul, slice, splitV, unpack } as const;
