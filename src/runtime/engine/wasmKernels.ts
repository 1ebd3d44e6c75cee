/**
 * Extra kernels for the tfjs wasm backend (4.22).
 *
 * - `Conv2DBackpropFilter` (not registered by tfjs-backend-wasm): one forward
 *   XNNPACK Conv2D over transposed tensors; 1x1 stride-1 unpadded as one matmul.
 * - `Conv2DBackpropInput` (registered, but a scalar loop ~10x slower than the
 *   forward conv): replaced by forward Conv2Ds of dy with the spatially
 *   flipped, in/out-swapped filter; at stride s > 1, one per sub-pixel phase
 *   (s*s convs with the taps that reach that phase), interleaved into dx.
 * - `UnsortedSegmentSum` (not registered; the gradient of gather): ScatterNd,
 *   which accumulates duplicate indices.
 * - `BatchMatMul`, `Slice`, `SplitV`, `Unpack` (registered, but slow outside
 *   narrow cases): replaced by the kernels of wasmMatMulSlice.ts (XNNPACK
 *   for every matmul; slices copied between heap views).
 * - `Identity` (registered, but it copies its input): replaced by one that
 *   shares the input's buffer, as the cpu backend's does. The engine clones
 *   with Identity every tensor it saves for backprop, so with the stock
 *   kernel every saved activation existed twice during training.
 *
 * The kernels are composed from the wasm backend's own kernel functions,
 * called directly with the backend (no engine, no tape), so the only tensors
 * that exist are backend data buffers. Every intermediate is released before
 * the kernel returns (also when it throws); see {@link Scratch}.
 */
import * as tf from '@tensorflow/tfjs-core';
import { backend_util } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { matMulSliceKernels } from './wasmMatMulSlice.ts';
import { BACKEND, replacedStock, Scratch, withScratch } from './wasmScratch.ts';

type Pad = 'valid' | 'same' | number | backend_util.ExplicitPadding;
type Pads4 = [[number, number], [number, number], [number, number], [number, number]];

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function assertShape(what: string, actual: readonly number[], expected: readonly number[]): void {
  if (!sameShape(actual, expected)) {
    throw new Error(`unetc wasm kernels: ${what} has shape [${actual.join(',')}], expected [${expected.join(',')}]`);
  }
}

function isNCHW(dataFormat: unknown): boolean {
  return dataFormat === 'NCHW';
}

/**
 * Forward Conv2D (stride 1) with per-side pads that may be negative: a
 * negative pad crops the input instead (XNNPACK takes only pads >= 0).
 */
function conv2dAnyPads(
  s: Scratch,
  x: TensorInfo,
  filter: TensorInfo,
  pads: { top: number; bottom: number; left: number; right: number },
  dilations: [number, number],
  outShape: number[],
): TensorInfo {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const cropTop = Math.max(0, -pads.top);
  const cropBottom = Math.max(0, -pads.bottom);
  const cropLeft = Math.max(0, -pads.left);
  const cropRight = Math.max(0, -pads.right);
  const keptH = h - cropTop - cropBottom;
  const keptW = w - cropLeft - cropRight;
  if (keptH <= 0 || keptW <= 0) {
    // Only padding would be left: the output is all zeros.
    return s.run('Fill', {}, { shape: outShape, value: 0, dtype: 'float32' });
  }
  const xc = s.crop(x, [0, cropTop, cropLeft, 0], [n, keptH, keptW, c]);
  const pad: Pads4 = [
    [0, 0],
    [Math.max(0, pads.top), Math.max(0, pads.bottom)],
    [Math.max(0, pads.left), Math.max(0, pads.right)],
    [0, 0],
  ];
  const out = s.run('Conv2D', { x: xc, filter }, {
    strides: [1, 1],
    pad,
    dataFormat: 'NHWC',
    dilations,
    dimRoundingMode: undefined,
  } as unknown as NamedAttrMap);
  assertShape('Conv2D inside a unetc kernel', out.shape, outShape);
  return out;
}

// ---------------------------------------------------------------------------
// Conv2DBackpropFilter
// ---------------------------------------------------------------------------

/**
 * dW[kh,kw,ci,co] = sum_{n,oh,ow} x[n, oh*sh + kh - pt, ow*sw + kw - pl, ci] * dy[n,oh,ow,co]
 *
 * This is a stride-1 convolution of x viewed as [Ci, H, W, N] (batch Ci,
 * channels N) with dy viewed as a [Ho, Wo, N, Co] filter dilated by the
 * original stride; its [Ci, KH, KW, Co] output is transposed to
 * [KH, KW, Ci, Co]. Pads: top/left as in the forward conv; bottom/right are
 * whatever makes the output exactly KH x KW (negative = rows of x the forward
 * conv never read, cropped).
 */
const conv2DBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) =>
  withScratch(backend, (s) => {
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as {
      strides: number | [number, number];
      pad: Pad;
      dataFormat: 'NHWC' | 'NCHW';
      dimRoundingMode?: 'floor' | 'round' | 'ceil';
      filterShape: [number, number, number, number];
    };
    const xh = isNCHW(dataFormat) ? s.transpose(x, [0, 2, 3, 1]) : x;
    const dyh = isNCHW(dataFormat) ? s.transpose(dy, [0, 2, 3, 1]) : dy;
    const info = backend_util.computeConv2DInfo(
      xh.shape as [number, number, number, number],
      filterShape,
      strides,
      1,
      pad,
      dimRoundingMode,
      false,
      'channelsLast',
    );
    const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outChannels: co } = info;
    const { outHeight: ho, outWidth: wo, filterHeight: kh, filterWidth: kw } = info;
    const { strideHeight: sh, strideWidth: sw } = info;
    assertShape('Conv2DBackpropFilter dy', dyh.shape, [n, ho, wo, co]);
    const { top, left, bottom, right } = info.padInfo;

    if (kh === 1 && kw === 1 && sh === 1 && sw === 1 && top === 0 && left === 0 && bottom === 0 && right === 0) {
      // One matmul: [Ci, M] x [M, Co], M = N*H*W. The transpose is explicit
      // because wasm's BatchMatMul uses XNNPACK only without transpose flags.
      const m = n * h * w;
      const xt = s.transpose(s.reshape(xh, [m, ci]), [1, 0]);
      const prod = s.run(
        'BatchMatMul',
        { a: s.reshape(xt, [1, ci, m]), b: s.reshape(dyh, [1, m, co]) },
        { transposeA: false, transposeB: false },
      );
      return s.reshape(prod, [1, 1, ci, co]);
    }

    const xt = s.transpose(xh, [3, 1, 2, 0]); // [Ci, H, W, N]
    const dyt = s.transpose(dyh, [1, 2, 0, 3]); // [Ho, Wo, N, Co]
    const out = conv2dAnyPads(
      s,
      xt,
      dyt,
      {
        top,
        left,
        bottom: kh + (ho - 1) * sh - h - top,
        right: kw + (wo - 1) * sw - w - left,
      },
      [sh, sw],
      [ci, kh, kw, co],
    );
    return s.transpose(out, [1, 2, 0, 3]);
  });

// ---------------------------------------------------------------------------
// Conv2DBackpropInput
// ---------------------------------------------------------------------------

/** One stride phase along one spatial axis of the input gradient. */
interface Phase {
  /** First filter tap that reaches input positions r, r+s, r+2s, ... */
  k0: number;
  /** Number of taps (k0, k0+s, ...) below the filter size; 0: nothing reaches them. */
  taps: number;
  /** Forward-conv pads on dy, before/after (negative = crop). */
  before: number;
  after: number;
}

/**
 * Input positions i = s*a + r (a = 0..outLen-1) receive dy[a + q - t] * W[k0 + s*t]
 * for the taps k0 + s*t < k with k0 = (r + p) mod s and q = (r + p - k0) / s.
 * As a stride-1 forward conv over dy with those taps reversed: pad before
 * taps-1-q, and a pad after that makes exactly outLen outputs.
 */
function phase(r: number, s: number, k: number, p: number, dyLen: number, outLen: number): Phase {
  const k0 = (((r + p) % s) + s) % s;
  const taps = k0 < k ? Math.ceil((k - k0) / s) : 0;
  const q = (r + p - k0) / s;
  return { k0, taps, before: taps - 1 - q, after: outLen - dyLen + q };
}

/**
 * dx[n,i,j,ci] = sum_{kh,kw,co} dy[n, (i + pt - kh)/sh, (j + pl - kw)/sw, co] * W[kh,kw,ci,co]
 * over the terms where the divisions are exact.
 *
 * Stride 1: one forward conv of dy with W flipped in both spatial axes and
 * its channel axes swapped ([KH, KW, Co, Ci]), top pad KH-1-pt.
 *
 * Stride s > 1: the sh*sw sub-pixel phases of dx (rows i = sh*a + rh,
 * columns j = sw*b + rw) are each a stride-1 forward conv of dy with the
 * taps of W that reach them (see {@link phase}), interleaved into dx. This
 * does the same multiply-adds as the forward conv; convolving a zero-dilated
 * dy instead would do sh*sw times as many (measured ~4x slower at stride 2).
 */
const conv2DBackpropInput: KernelFunc = ({ inputs, backend, attrs }) =>
  withScratch(backend, (s) => {
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as {
      strides: number | [number, number];
      pad: Pad;
      dataFormat: 'NHWC' | 'NCHW';
      dimRoundingMode?: 'floor' | 'round' | 'ceil';
      inputShape: [number, number, number, number];
    };
    const nchw = isNCHW(dataFormat);
    const inShape: [number, number, number, number] = nchw ? [inputShape[0], inputShape[2], inputShape[3], inputShape[1]] : inputShape;
    const dyh = nchw ? s.transpose(dy, [0, 2, 3, 1]) : dy;
    const info = backend_util.computeConv2DInfo(
      inShape,
      filter.shape as [number, number, number, number],
      strides,
      1,
      pad,
      dimRoundingMode,
      false,
      'channelsLast',
    );
    const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outChannels: co } = info;
    const { outHeight: ho, outWidth: wo, filterHeight: kh, filterWidth: kw } = info;
    const { strideHeight: sh, strideWidth: sw } = info;
    assertShape('Conv2DBackpropInput dy', dyh.shape, [n, ho, wo, co]);
    if (filter.dtype !== 'float32' || dyh.dtype !== 'float32') {
      throw new Error('unetc wasm kernels: Conv2DBackpropInput needs float32 dy and filter');
    }
    const { top, left } = info.padInfo;
    // Every phase computes ceil(H/s) rows; the last ones may fall outside dx.
    const ha = Math.ceil(h / sh);
    const wa = Math.ceil(w / sw);

    const phaseConv = (ph: Phase, pw: Phase): TensorInfo => {
      const g = phaseFilter(s, filter, ph, pw, sh, sw);
      return conv2dAnyPads(s, dyh, g, { top: ph.before, bottom: ph.after, left: pw.before, right: pw.after }, [1, 1], [n, ha, wa, ci]);
    };

    let out: TensorInfo;
    if (sh === 1 && sw === 1) {
      out = phaseConv(phase(0, 1, kh, top, ho, h), phase(0, 1, kw, left, wo, w));
    } else {
      out = s.output([n, h, w, ci], 'float32');
      for (let rh = 0; rh < sh; rh++) {
        const ph = phase(rh, sh, kh, top, ho, ha);
        for (let rw = 0; rw < sw; rw++) {
          const pw = phase(rw, sw, kw, left, wo, wa);
          const part = ph.taps > 0 && pw.taps > 0 ? phaseConv(ph, pw) : undefined;
          interleave(s.backend, part, out, rh, rw, sh, sw, ha, wa);
          if (part !== undefined) s.release(part);
        }
      }
    }
    assertShape('Conv2DBackpropInput result', out.shape, [n, h, w, ci]);
    return nchw ? s.transpose(out, [0, 3, 1, 2]) : out;
  });

/**
 * The filter of one phase: G[u, v, co, ci] = W[ph.k0 + sh*(Th-1-u), pw.k0 + sw*(Tw-1-v), ci, co]
 * (the phase's taps, reversed, channel axes swapped), built on the heap.
 */
function phaseFilter(s: Scratch, filter: TensorInfo, ph: Phase, pw: Phase, sh: number, sw: number): TensorInfo {
  const [, kw, ci, co] = filter.shape as [number, number, number, number];
  const th = ph.taps;
  const tw = pw.taps;
  const g = s.output([th, tw, co, ci], 'float32');
  const src = s.backend.typedArrayFromHeap(filter);
  const dst = s.backend.typedArrayFromHeap(g);
  let o = 0;
  for (let u = 0; u < th; u++) {
    const fh = ph.k0 + sh * (th - 1 - u);
    for (let v = 0; v < tw; v++) {
      const base = (fh * kw + pw.k0 + sw * (tw - 1 - v)) * ci * co;
      for (let c = 0; c < co; c++) {
        for (let i = 0, at = base + c; i < ci; i++, at += co) dst[o++] = src[at]!;
      }
    }
  }
  return g;
}

/**
 * Writes phase (rh, rw) [N, Ha, Wa, C] into dx [N, H, W, C] at rows sh*a + rh
 * and columns sw*b + rw inside dx; `part` undefined writes zeros.
 */
function interleave(
  backend: BackendWasm,
  part: TensorInfo | undefined,
  dx: TensorInfo,
  rh: number,
  rw: number,
  sh: number,
  sw: number,
  ha: number,
  wa: number,
): void {
  const [n, h, w, c] = dx.shape as [number, number, number, number];
  const dst = backend.typedArrayFromHeap(dx);
  const src = part === undefined ? undefined : backend.typedArrayFromHeap(part);
  for (let b = 0; b < n; b++) {
    for (let a = 0; a < ha; a++) {
      const i = a * sh + rh;
      if (i >= h) break;
      let from = (b * ha + a) * wa * c;
      for (let col = 0; col < wa; col++, from += c) {
        const j = col * sw + rw;
        if (j >= w) break;
        const to = ((b * h + i) * w + j) * c;
        if (src === undefined) {
          dst.fill(0, to, to + c);
        } else if (c >= 16) {
          dst.set(src.subarray(from, from + c), to);
        } else {
          for (let k = 0; k < c; k++) dst[to + k] = src[from + k]!;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------
// UnsortedSegmentSum
// ---------------------------------------------------------------------------

/**
 * out[s, ...] = sum over i with segmentIds[i] == s of x[i, ...]; ids outside
 * [0, numSegments) are dropped (as on the cpu backend). One ScatterNd, which
 * adds up duplicate indices.
 */
const unsortedSegmentSum: KernelFunc = ({ inputs, backend, attrs }) =>
  withScratch(backend, (s) => {
    const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
    const { numSegments } = attrs as unknown as { numSegments: number };
    const idsRank = segmentIds.shape.length;
    assertShape('UnsortedSegmentSum segmentIds', segmentIds.shape, x.shape.slice(0, idsRank));
    const inner = x.shape.slice(idsRank);
    const outShape = [numSegments, ...inner];
    const m = segmentIds.shape.reduce((a, b) => a * b, 1);
    const d = inner.reduce((a, b) => a * b, 1);
    if (segmentIds.dtype !== 'int32') {
      throw new Error(`unetc wasm kernels: UnsortedSegmentSum needs int32 segmentIds, got ${segmentIds.dtype}`);
    }

    const ids = s.backend.typedArrayFromHeap(segmentIds) as Int32Array;
    const valid: number[] = [];
    for (let i = 0; i < m; i++) {
      const id = ids[i]!;
      if (id >= 0 && id < numSegments) valid.push(i);
    }
    if (valid.length === 0 || d === 0 || numSegments === 0) {
      return s.run('Fill', {}, { shape: outShape, value: 0, dtype: x.dtype });
    }

    let updates = s.reshape(x, [m, d]);
    let indices = s.reshape(segmentIds, [m, 1]);
    if (valid.length < m) {
      const keep = s.output([valid.length], 'int32');
      (s.backend.typedArrayFromHeap(keep) as Int32Array).set(valid);
      updates = s.run('GatherV2', { x: updates, indices: keep }, { axis: 0, batchDims: 0 });
      const kept = s.output([valid.length, 1], 'int32');
      const keptIds = s.backend.typedArrayFromHeap(kept) as Int32Array;
      // Re-read: the allocations above may have moved the heap.
      const allIds = s.backend.typedArrayFromHeap(segmentIds) as Int32Array;
      valid.forEach((i, k) => (keptIds[k] = allIds[i]!));
      indices = kept;
    }
    const out = s.run('ScatterNd', { indices, updates }, { shape: [numSegments, d] });
    return s.reshape(out, outShape);
  });

// ---------------------------------------------------------------------------
// Identity
// ---------------------------------------------------------------------------

/**
 * The output is the input's buffer with one more reference (backend.incRef),
 * as the cpu backend's Identity and the wasm backend's own Reshape do. Safe
 * because no wasm kernel writes into its inputs and Variable.assign points
 * the variable at another buffer rather than writing into its own.
 */
const identityShared: KernelFunc = ({ inputs, backend }) => {
  const { x } = inputs as { x: TensorInfo };
  (backend as BackendWasm).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};

// ---------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------

interface ExtraKernel {
  config: KernelConfig;
  /** Replace a kernel the wasm backend already has (else keep the stock one). */
  replace: boolean;
}

/** Convolution gradients and segment sums (the first kernels this module provided). */
const CONV_SEGMENT_KERNELS: readonly ExtraKernel[] = [
  {
    config: { kernelName: tf.Conv2DBackpropFilter, backendName: BACKEND, kernelFunc: conv2DBackpropFilter },
    replace: false,
  },
  {
    config: { kernelName: tf.Conv2DBackpropInput, backendName: BACKEND, kernelFunc: conv2DBackpropInput },
    replace: true,
  },
  {
    config: { kernelName: tf.UnsortedSegmentSum, backendName: BACKEND, kernelFunc: unsortedSegmentSum },
    replace: false,
  },
];

/** Faster replacements for stock matmul and slicing kernels (wasmMatMulSlice.ts). */
const MATMUL_SLICE_KERNELS: readonly ExtraKernel[] = [
  {
    config: { kernelName: tf.BatchMatMul, backendName: BACKEND, kernelFunc: matMulSliceKernels.batchMatMul },
    replace: true,
  },
  { config: { kernelName: tf.Slice, backendName: BACKEND, kernelFunc: matMulSliceKernels.slice }, replace: true },
  { config: { kernelName: tf.SplitV, backendName: BACKEND, kernelFunc: matMulSliceKernels.splitV }, replace: true },
  { config: { kernelName: tf.Unpack, backendName: BACKEND, kernelFunc: matMulSliceKernels.unpack }, replace: true },
];

/** Kernels replaced to save memory. */
const MEMORY_KERNELS: readonly ExtraKernel[] = [
  { config: { kernelName: tf.Identity, backendName: BACKEND, kernelFunc: identityShared }, replace: true },
];

const EXTRA_KERNELS: readonly ExtraKernel[] = [...CONV_SEGMENT_KERNELS, ...MATMUL_SLICE_KERNELS, ...MEMORY_KERNELS];

function isOurs(config: KernelConfig | undefined): boolean {
  return config !== undefined && EXTRA_KERNELS.some((k) => k.config.kernelFunc === config.kernelFunc);
}

/**
 * Registers the extra wasm kernels. Idempotent. A kernel the wasm backend
 * already has is kept, except those marked `replace` (`Conv2DBackpropInput`,
 * `BatchMatMul`, `Slice`, `SplitV`, `Unpack`, `Identity`), which are
 * unregistered and replaced. Works before or after the wasm backend is
 * initialised (the kernels need no setup).
 */
export function registerWasmKernels(): void {
  for (const { config, replace } of EXTRA_KERNELS) {
    const existing = tf.getKernel(config.kernelName, BACKEND);
    if (existing !== undefined) {
      if (isOurs(existing) || !replace) continue;
      replacedStock.set(config.kernelName, existing);
      tf.unregisterKernel(config.kernelName, BACKEND);
    }
    tf.registerKernel(config);
  }
}

/** Removes our kernels and restores the stock ones they replaced (for benchmarks and tests). */
export function unregisterWasmKernels(): void {
  for (const { config } of EXTRA_KERNELS) {
    if (!isOurs(tf.getKernel(config.kernelName, BACKEND))) continue;
    tf.unregisterKernel(config.kernelName, BACKEND);
    const stock = replacedStock.get(config.kernelName);
    if (stock !== undefined) {
      tf.registerKernel(stock);
      // The engine runs setup functions only when the backend initialises; if
      // that happened while ours was registered, the stock kernel never ran it.
      const wasm = tf.engine().registry[BACKEND];
      if (wasm !== undefined) stock.setupFunc?.(wasm);
    }
    replacedStock.delete(config.kernelName);
  }
}

/** Whether the wasm kernel registered under `kernelName` is one of ours. */
export function isExtraWasmKernel(kernelName: string): boolean {
  return isOurs(tf.getKernel(kernelName, BACKEND));
}

/**
 * Names of the convolution-gradient and segment-sum kernels
 * {@link registerWasmKernels} provides. (It also provides
 * {@link WASM_MATMUL_SLICE_KERNEL_NAMES} and {@link WASM_MEMORY_KERNEL_NAMES};
 * {@link WASM_ALL_KERNEL_NAMES} lists them all.)
 */
export const WASM_EXTRA_KERNEL_NAMES: readonly string[] = CONV_SEGMENT_KERNELS.map((k) => k.config.kernelName);

/** Names of the matmul and slicing kernels {@link registerWasmKernels} replaces. */
export const WASM_MATMUL_SLICE_KERNEL_NAMES: readonly string[] = MATMUL_SLICE_KERNELS.map((k) => k.config.kernelName);

/** Names of the kernels {@link registerWasmKernels} replaces to save memory (`Identity`). */
export const WASM_MEMORY_KERNEL_NAMES: readonly string[] = MEMORY_KERNELS.map((k) => k.config.kernelName);

/** Names of all kernels {@link registerWasmKernels} provides. */
export const WASM_ALL_KERNEL_NAMES: readonly string[] = EXTRA_KERNELS.map((k) => k.config.kernelName);
