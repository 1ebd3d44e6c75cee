/**
 * The native oneDNN kernels on the wasm backend (issue 15; the addon is native/unetc_native.cc,
 * built by `npm ci` when oneDNN is installed: native/build.mjs).
 *
 * The addon computes in place on the wasm heap: a kernel takes each input's
 * `backend.dataIdMap.get(dataId).memoryOffset`, allocates its output with `backend.makeOutput`,
 * and only then builds the Float32Array views on `backend.wasm.HEAPU8.buffer` (an allocation may
 * grow the heap, which detaches earlier views). No data are copied in or out.
 *
 * Kernels (registered over the wasm backend's, whose kernel functions are kept as the fallback):
 * - `Conv2D`, `FusedConv2D` (bias and relu / relu6 / elu / leakyrelu / sigmoid as oneDNN
 *   post-ops), `DepthwiseConv2dNative` (a grouped convolution): oneDNN forward convolution,
 *   any stride, padding, dilation.
 * - `Conv2DBackpropInput`, `Conv2DBackpropFilter`: oneDNN backward-data / backward-weights.
 * - `BatchMatMul`: oneDNN matmul, transposes as strides, batch axes broadcast.
 * - `Sum` over leading or trailing axes (bias gradients): one pass in C++.
 * - `UnetcConvPerSample` (see perSampleConv.ts): a convolution with one weight set per sample.
 * - `UnetcGroupNorm`, `UnetcGroupNormGrad` (see memoryEfficient.ts): GroupNorm and its gradient
 *   as loops in C++ on the heap (OpenMP over samples), the arithmetic of groupNormKernels.ts.
 * - `UnetcIm2Col`, `UnetcCol2Im` (see patches.ts): k x k patches of an image and their adjoint,
 *   copied on the heap in C++ (OpenMP over samples and rows).
 * A shape or dtype the addon does not take (or an error inside oneDNN) runs the wasm kernel
 * instead; the first fallback of each kernel is said once.
 *
 * Threads: Debian's oneDNN uses OpenMP. `OMP_NUM_THREADS` and `OMP_WAIT_POLICY=PASSIVE` are set
 * before the addon loads (libgomp reads them when it starts; PASSIVE keeps idle threads from
 * spinning on a core that tfjs's own single thread needs) and the count is also set through the
 * addon; wasm itself stays at 1 thread when the native kernels run.
 *
 * Loading: `UNETC_NATIVE=0` disables it; a missing addon, one that fails to load, or one that
 * fails a tiny self-test counts as absent, with the reason.
 */
import * as tf from '@tensorflow/tfjs-core';
import { backend_util, util } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BACKEND } from './wasmScratch.ts';

/** What the addon exports (native/unetc_native.cc). */
export interface NativeAddon {
  onednnVersion: string;
  builtAgainst: string;
  conv2d(x: Float32Array, w: Float32Array, bias: Float32Array | null, y: Float32Array, geo: number[], act?: number, alpha?: number): string;
  conv2dBackpropInput(dy: Float32Array, w: Float32Array, dx: Float32Array, geo: number[]): string;
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, geo: number[]): string;
  convPerSample(kind: 0 | 1 | 2, a: Float32Array, b: Float32Array, out: Float32Array, geo: number[]): string;
  matmul(a: Float32Array, b: Float32Array, c: Float32Array, geo: number[]): string;
  patches(kind: 0 | 1, x: Float32Array, cols: Float32Array, geo: number[]): void;
  reduceSum(x: Float32Array, out: Float32Array, geo: [outer: number, inner: number, leading: 0 | 1]): void;
  groupNorm(
    x: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    y: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
    geo: number[],
    eps: number,
  ): void;
  groupNormGrad(
    dy: Float32Array,
    x: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
    gamma: Float32Array,
    dx: Float32Array,
    dgamma: Float32Array,
    dbeta: Float32Array,
    geo: number[],
  ): void;
  setThreads(n: number): number;
  threads(): number;
  clearCache(): number;
  cacheSize(): number;
}

export type NativeStatus = { ok: true; addon: NativeAddon; version: string; threads: number; path: string } | { ok: false; why: string };

/** How to get native speed, said when the addon is absent. */
export const NATIVE_HINT = 'for native speed: apt-get install libdnnl-dev, then npm rebuild unetc';

const ADDON_FILE = join('native', 'build', 'Release', 'unetc_native.node');

/** The built addon: found by walking up from this module (src/runtime/engine/ or a dist/ bundle) to the package root. */
export function findAddon(from: string = dirname(fileURLToPath(import.meta.url))): string | undefined {
  if (process.env.UNETC_NATIVE_ADDON) return process.env.UNETC_NATIVE_ADDON;
  let dir = from;
  for (let i = 0; i < 6; i++) {
    const p = join(dir, ADDON_FILE);
    if (existsSync(p)) return p;
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'native', 'build.mjs'))) return undefined;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

let loaded: NativeStatus | undefined;

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return (msg.split('\n').find((l) => l.trim() !== '') ?? msg).trim().slice(0, 300);
}

/** A 2x2 matmul on plain arrays: catches an addon that loads but cannot compute. */
function selfTest(addon: NativeAddon): void {
  const c = new Float32Array(4);
  addon.matmul(new Float32Array([1, 2, 3, 4]), new Float32Array([5, 6, 7, 8]), c, [2, 0, 0, 2, 2, 2]);
  const want = [19, 22, 43, 50];
  if (c.some((v, i) => v !== want[i])) throw new Error(`self-test matmul gave [${Array.from(c).join(',')}], expected [${want.join(',')}]`);
}

/**
 * Loads the addon once (later calls return the same status; a `threads` given then only changes
 * the OpenMP thread count). `threads` defaults to the machine's available parallelism.
 */
export function loadNative(threads?: number, env: NodeJS.ProcessEnv = process.env): NativeStatus {
  if (loaded !== undefined) {
    // Asked for a count: set it; not asked: keep the current one.
    if (loaded.ok && threads !== undefined && loaded.threads !== threads) loaded = { ...loaded, threads: loaded.addon.setThreads(threads) };
    return loaded;
  }
  loaded = load(threads ?? defaultNativeThreads(), env);
  return loaded;
}

/** The native thread count when none is asked for: the cores this process may use. */
export function defaultNativeThreads(): number {
  return Math.max(1, availableParallelism());
}

function load(threads: number, env: NodeJS.ProcessEnv): NativeStatus {
  if (env.UNETC_NATIVE === '0') return { ok: false, why: 'disabled by UNETC_NATIVE=0' };
  const path = findAddon();
  if (path === undefined) return { ok: false, why: `not built (oneDNN was not found when unetc was installed; ${NATIVE_HINT})` };
  // Before libgomp starts (when the addon pulls in oneDNN): it reads these once.
  process.env.OMP_NUM_THREADS = String(threads);
  process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
  let addon: NativeAddon;
  try {
    addon = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (err) {
    return { ok: false, why: `present but failed to load: ${firstLine(err)}` };
  }
  try {
    const actual = addon.setThreads(threads);
    selfTest(addon);
    return { ok: true, addon, version: addon.onednnVersion, threads: actual, path };
  } catch (err) {
    return { ok: false, why: `present but broken: ${firstLine(err)}` };
  }
}

/** The loaded addon, if {@link loadNative} succeeded. */
export function nativeAddon(): NativeAddon | undefined {
  return loaded?.ok ? loaded.addon : undefined;
}

// ---------------------------------------------------------------------------------------------
// Heap access

function heapView(backend: BackendWasm, t: TensorInfo): Float32Array {
  const offset = backend.getMemoryOffset(t.dataId);
  const heap = (backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8;
  return new Float32Array(heap.buffer, offset, util.sizeFromShape(t.shape));
}

// ---------------------------------------------------------------------------------------------
// Fallback bookkeeping

/** Per kernel: calls run natively, calls that fell back to the wasm kernel, the first reason. */
export interface NativeKernelStats {
  native: number;
  fallback: number;
  firstFallback?: string;
}
const stats = new Map<string, NativeKernelStats>();
let warn: (msg: string) => void = (m) => process.stderr.write(`${m}\n`);

/** Where the first fallback of each kernel is said (default: stderr). */
export function setNativeLog(log: (msg: string) => void): void {
  warn = log;
}

export function nativeKernelStats(): Record<string, NativeKernelStats> {
  return Object.fromEntries([...stats].map(([k, v]) => [k, { ...v }]));
}

export function resetNativeKernelStats(): void {
  stats.clear();
}

function stat(name: string): NativeKernelStats {
  let s = stats.get(name);
  if (s === undefined) stats.set(name, (s = { native: 0, fallback: 0 }));
  return s;
}

/** Thrown by a native kernel for inputs it does not take: the wasm kernel runs instead. */
class Unsupported extends Error {}

/** The kernel functions ours replaced (the fallbacks). */
const previous = new Map<string, KernelConfig>();

type KernelResult = TensorInfo | TensorInfo[];

/**
 * Wraps `body`: it returns a result or throws {@link Unsupported} (or an addon error), in which
 * case the wasm kernel runs. An output allocated by `body` is released when it throws.
 */
function nativeKernel(
  name: string,
  body: (args: Parameters<KernelFunc>[0], addon: NativeAddon) => KernelResult,
  /** Inputs this kernel does not take are common and expected (say nothing when they fall back). */
  quiet = false,
): KernelFunc {
  return (args) => {
    const addon = nativeAddon();
    const prev = previous.get(name);
    let why: string;
    if (addon === undefined) {
      why = 'addon not loaded';
    } else {
      try {
        const out = body(args, addon);
        stat(name).native++;
        return out;
      } catch (err) {
        if (prev === undefined) throw err;
        why = firstLine(err);
        if (quiet && err instanceof Unsupported) {
          stat(name).fallback++;
          return prev.kernelFunc(args);
        }
      }
    }
    if (prev === undefined) throw new Error(`unetc native: ${name}: ${why}, and no wasm kernel to fall back to`);
    const s = stat(name);
    s.fallback++;
    if (s.firstFallback === undefined) {
      const shapes = Object.values(args.inputs)
        .map((t) => `[${(t as TensorInfo).shape.join(',')}]`)
        .join(' ');
      s.firstFallback = `${shapes}: ${why}`;
      warn(`unetc native: ${name} ${shapes} runs on the wasm kernel (${why})`);
    }
    return prev.kernelFunc(args);
  };
}

/** Runs `fill` with the output allocated first; releases it if `fill` throws. */
function withOutput(backend: BackendWasm, shape: number[], fill: (out: TensorInfo) => void): TensorInfo {
  const out = backend.makeOutput(shape, 'float32');
  try {
    fill(out);
  } catch (err) {
    backend.disposeData(out.dataId);
    throw err;
  }
  return out;
}

function needFloat32(...ts: TensorInfo[]): void {
  for (const t of ts) if (t.dtype !== 'float32') throw new Unsupported(`dtype ${t.dtype}`);
}

function needNonEmpty(...ts: TensorInfo[]): void {
  for (const t of ts) if (util.sizeFromShape(t.shape) === 0) throw new Unsupported('an empty tensor');
}

// ---------------------------------------------------------------------------------------------
// Convolutions

type Pad = 'valid' | 'same' | number | backend_util.ExplicitPadding;
type ConvAttrs = {
  strides: number | [number, number];
  pad: Pad;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
};

/**
 * The addon's geometry (n, h, w, ci, ho, wo, co, kh, kw, sh, sw, dh, dw, pads t/l/b/r, groups,
 * nchw) from tfjs's own computeConv2DInfo, so that pads and output sizes are tfjs's. The bottom
 * and right pads are recomputed from the output size (oneDNN checks them against it).
 */
export function convGeometry(info: backend_util.Conv2DInfo, groups: number, nchw: boolean): number[] {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outHeight: ho, outWidth: wo, outChannels: co } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const { top, left } = info.padInfo;
  // The least bottom/right pad that gives tfjs's output size; below 0 (the last rows are never
  // read: 'valid' with a stride that does not divide), 0 gives the same size in oneDNN's floor rule.
  const bottom = Math.max(0, (ho - 1) * sh + (kh - 1) * dh + 1 - h - top);
  const right = Math.max(0, (wo - 1) * sw + (kw - 1) * dw + 1 - w - left);
  if (top < 0 || left < 0) throw new Unsupported('negative padding');
  return [n, h, w, ci, ho, wo, co, kh, kw, sh, sw, dh, dw, top, left, bottom, right, groups, nchw ? 1 : 0];
}

function convInfo(xShape: number[], filterShape: number[], a: ConvAttrs, depthwise = false): backend_util.Conv2DInfo {
  const format = a.dataFormat === 'NCHW' ? 'channelsFirst' : 'channelsLast';
  return backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    a.strides,
    a.dilations ?? 1,
    a.pad,
    a.dimRoundingMode,
    depthwise,
    format,
  );
}

const conv2D = nativeKernel(tf.Conv2D, ({ inputs, backend, attrs }, addon) => {
  const { x, filter } = inputs as { x: TensorInfo; filter: TensorInfo };
  const a = attrs as unknown as ConvAttrs;
  needFloat32(x, filter);
  needNonEmpty(x, filter);
  const info = convInfo(x.shape, filter.shape, a);
  const geo = convGeometry(info, 1, a.dataFormat === 'NCHW');
  const be = backend as BackendWasm;
  return withOutput(be, info.outShape, (y) => {
    addon.conv2d(heapView(be, x), heapView(be, filter), null, heapView(be, y), geo);
  });
});

const ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1, relu6: 2, elu: 3, leakyrelu: 4, sigmoid: 5 };

const fusedConv2D = nativeKernel(tf.FusedConv2D, ({ inputs, backend, attrs }, addon) => {
  const { x, filter, bias, preluActivationWeights } = inputs as {
    x: TensorInfo;
    filter: TensorInfo;
    bias?: TensorInfo;
    preluActivationWeights?: TensorInfo;
  };
  const a = attrs as unknown as ConvAttrs & { activation: string; leakyreluAlpha?: number };
  const act = ACTIVATIONS[a.activation];
  if (act === undefined || preluActivationWeights !== undefined) throw new Unsupported(`activation ${a.activation}`);
  needFloat32(x, filter, ...(bias ? [bias] : []));
  needNonEmpty(x, filter);
  const info = convInfo(x.shape, filter.shape, a);
  if (bias !== undefined && util.sizeFromShape(bias.shape) !== info.outChannels)
    throw new Unsupported('a bias that is not one value per channel');
  const geo = convGeometry(info, 1, a.dataFormat === 'NCHW');
  const be = backend as BackendWasm;
  return withOutput(be, info.outShape, (y) => {
    addon.conv2d(
      heapView(be, x),
      heapView(be, filter),
      bias ? heapView(be, bias) : null,
      heapView(be, y),
      geo,
      act,
      a.leakyreluAlpha ?? 0.2,
    );
  });
});

const depthwiseConv2D = nativeKernel(tf.DepthwiseConv2dNative, ({ inputs, backend, attrs }, addon) => {
  const { x, filter } = inputs as { x: TensorInfo; filter: TensorInfo };
  const a = attrs as unknown as ConvAttrs;
  needFloat32(x, filter);
  needNonEmpty(x, filter);
  const info = convInfo(x.shape, filter.shape, a, true);
  // [kh, kw, C, mult] is oneDNN's hwigo with groups C, 1 input and mult outputs per group.
  const geo = convGeometry(info, info.inChannels, a.dataFormat === 'NCHW');
  const be = backend as BackendWasm;
  return withOutput(be, info.outShape, (y) => {
    addon.conv2d(heapView(be, x), heapView(be, filter), null, heapView(be, y), geo);
  });
});

const conv2DBackpropInput = nativeKernel(tf.Conv2DBackpropInput, ({ inputs, backend, attrs }, addon) => {
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const a = attrs as unknown as ConvAttrs & { inputShape: number[] };
  needFloat32(dy, filter);
  needNonEmpty(dy, filter);
  const info = convInfo(a.inputShape, filter.shape, { ...a, dilations: 1 });
  const geo = convGeometry(info, 1, a.dataFormat === 'NCHW');
  if (!util.arraysEqual(dy.shape, info.outShape))
    throw new Error(`Conv2DBackpropInput: dy has shape [${dy.shape}], expected [${info.outShape}]`);
  const be = backend as BackendWasm;
  return withOutput(be, a.inputShape, (dx) => {
    addon.conv2dBackpropInput(heapView(be, dy), heapView(be, filter), heapView(be, dx), geo);
  });
});

const conv2DBackpropFilter = nativeKernel(tf.Conv2DBackpropFilter, ({ inputs, backend, attrs }, addon) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a = attrs as unknown as ConvAttrs & { filterShape: number[] };
  needFloat32(x, dy);
  needNonEmpty(x, dy);
  const info = convInfo(x.shape, a.filterShape, { ...a, dilations: 1 });
  const geo = convGeometry(info, 1, a.dataFormat === 'NCHW');
  if (!util.arraysEqual(dy.shape, info.outShape))
    throw new Error(`Conv2DBackpropFilter: dy has shape [${dy.shape}], expected [${info.outShape}]`);
  const be = backend as BackendWasm;
  return withOutput(be, a.filterShape, (dw) => {
    addon.conv2dBackpropFilter(heapView(be, x), heapView(be, dy), heapView(be, dw), geo);
  });
});

// ---------------------------------------------------------------------------------------------
// BatchMatMul

const batchMatMul = nativeKernel(tf.BatchMatMul, ({ inputs, backend, attrs }, addon) => {
  const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
  needFloat32(a, b);
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || rb < 2) throw new Unsupported('rank < 2');
  const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const k = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const kb = transposeB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
  const n = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  if (k !== kb) {
    throw new Error(
      `Error in matMul: inner shapes (${k}) and (${kb}) of Tensors with shapes ${a.shape} and ${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
    );
  }
  const outBatch = backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const rank = outBatch.length + 2;
  if (rank > 12) throw new Unsupported('more than 10 batch axes');
  const pad = (s: number[]) => [...new Array<number>(outBatch.length - (s.length - 2)).fill(1), ...s.slice(0, -2)];
  const be = backend as BackendWasm;
  const outShape = [...outBatch, m, n];
  if (util.sizeFromShape(outShape) === 0) return be.makeOutput(outShape, 'float32');
  if (k === 0) throw new Unsupported('k = 0');
  const geo = [rank, transposeA ? 1 : 0, transposeB ? 1 : 0, m, k, n, ...pad(a.shape), ...pad(b.shape)];
  return withOutput(be, outShape, (c) => {
    addon.matmul(heapView(be, a), heapView(be, b), heapView(be, c), geo);
  });
});

// ---------------------------------------------------------------------------------------------
// Per-sample-weight convolution (perSampleConv.ts)

/** The kernel perSampleConv.ts runs: attrs kind (0 forward, 1 backward-data, 2 backward-weights), geo, outShape. */
export const PER_SAMPLE_KERNEL = 'UnetcConvPerSample';

const convPerSample = nativeKernel(PER_SAMPLE_KERNEL, ({ inputs, backend, attrs }, addon) => {
  const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
  const { kind, geo, outShape } = attrs as unknown as { kind: 0 | 1 | 2; geo: number[]; outShape: number[] };
  needFloat32(a, b);
  const be = backend as BackendWasm;
  return withOutput(be, outShape, (out) => {
    addon.convPerSample(kind, heapView(be, a), heapView(be, b), heapView(be, out), geo);
  });
});

// ---------------------------------------------------------------------------------------------
// im2col patches (patches.ts)

/** The kernels patches.ts runs: attrs k, pad (stride 1). Im2Col: x -> patches; Col2Im: its adjoint (patches -> x, attr xShape). */
export const IM2COL_KERNEL = 'UnetcIm2Col';
export const COL2IM_KERNEL = 'UnetcCol2Im';

function patchGeometry(xShape: number[], k: number, pad: number): number[] {
  const [n, h, w, c] = xShape as [number, number, number, number];
  return [n, h, w, c, k, pad, h + 2 * pad - k + 1, w + 2 * pad - k + 1];
}

const im2col = nativeKernel(IM2COL_KERNEL, ({ inputs, backend, attrs }, addon) => {
  const { x } = inputs as { x: TensorInfo };
  const { k, pad } = attrs as unknown as { k: number; pad: number };
  needFloat32(x);
  const geo = patchGeometry(x.shape, k, pad);
  const be = backend as BackendWasm;
  return withOutput(be, [geo[0]!, geo[6]!, geo[7]!, k * k * geo[3]!], (cols) => addon.patches(0, heapView(be, x), heapView(be, cols), geo));
});

const col2im = nativeKernel(COL2IM_KERNEL, ({ inputs, backend, attrs }, addon) => {
  const { cols } = inputs as { cols: TensorInfo };
  const { k, pad, xShape } = attrs as unknown as { k: number; pad: number; xShape: number[] };
  needFloat32(cols);
  const geo = patchGeometry(xShape, k, pad);
  const be = backend as BackendWasm;
  return withOutput(be, xShape, (x) => addon.patches(1, heapView(be, x), heapView(be, cols), geo));
});

// ---------------------------------------------------------------------------------------------
// Sum

/**
 * Sum over a leading block of axes (a bias gradient: [N, H, W, C] -> [C]) or a trailing block:
 * one pass in C++ (the stock wasm kernel transposes the reduced axes to the end first).
 * Other axis sets, and non-float32 data, run the wasm kernel.
 */
const sum = nativeKernel(
  tf.Sum,
  ({ inputs, backend, attrs }, addon) => {
    const { x } = inputs as { x: TensorInfo };
    const { axis, keepDims } = attrs as unknown as { axis: number | number[]; keepDims: boolean };
    needFloat32(x);
    needNonEmpty(x);
    const rank = x.shape.length;
    const axes = [...new Set(util.parseAxisParam(axis, x.shape))].sort((a, b) => a - b);
    if (axes.length === 0) throw new Unsupported('no axes');
    const leading = axes.length < rank && axes.every((a, i) => a === i);
    const trailing = axes.every((a, i) => a === rank - axes.length + i);
    if (!leading && !trailing) throw new Unsupported(`axes [${axes}] are neither leading nor trailing`);
    const reduced = axes.reduce((p, a) => p * x.shape[a]!, 1);
    const kept = util.sizeFromShape(x.shape) / reduced;
    const outShape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
    const be = backend as BackendWasm;
    return withOutput(be, outShape, (out) =>
      addon.reduceSum(heapView(be, x), heapView(be, out), leading ? [reduced, kept, 1] : [kept, reduced, 0]),
    );
  },
  true,
);

// ---------------------------------------------------------------------------------------------
// GroupNorm (memoryEfficient.ts)

/** GroupNorm over NHWC: inputs x, gamma, beta; attrs groups, eps; outputs y, mean, rstd ([N groups]). */
export const GROUP_NORM_KERNEL = 'UnetcGroupNorm';
/** Its gradient: inputs dy, x, mean, rstd, gamma; attrs groups; outputs dx, dgamma, dbeta. */
export const GROUP_NORM_GRAD_KERNEL = 'UnetcGroupNormGrad';

/** Runs `fill` with several outputs allocated first; releases them all if it throws. */
function withOutputs(backend: BackendWasm, shapes: number[][], fill: (outs: TensorInfo[]) => void): TensorInfo[] {
  const outs = shapes.map((s) => backend.makeOutput(s, 'float32'));
  try {
    fill(outs);
  } catch (err) {
    for (const o of outs) backend.disposeData(o.dataId);
    throw err;
  }
  return outs;
}

function groupGeometry(x: TensorInfo, groups: number): number[] {
  if (x.shape.length !== 4) throw new Unsupported('GroupNorm needs NHWC input');
  const [n, h, w, c] = x.shape as [number, number, number, number];
  if (c % groups !== 0) throw new Error(`GroupNorm: ${c} channels do not split into ${groups} groups`);
  return [n, h * w, c, groups];
}

const groupNorm = nativeKernel(GROUP_NORM_KERNEL, ({ inputs, backend, attrs }, addon) => {
  const { x, gamma, beta } = inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
  const { groups, eps } = attrs as unknown as { groups: number; eps: number };
  needFloat32(x, gamma, beta);
  const geo = groupGeometry(x, groups);
  const be = backend as BackendWasm;
  return withOutputs(be, [x.shape, [geo[0]! * groups], [geo[0]! * groups]], ([y, mean, rstd]) =>
    addon.groupNorm(
      heapView(be, x),
      heapView(be, gamma),
      heapView(be, beta),
      heapView(be, y!),
      heapView(be, mean!),
      heapView(be, rstd!),
      geo,
      eps,
    ),
  );
});

const groupNormGrad = nativeKernel(GROUP_NORM_GRAD_KERNEL, ({ inputs, backend, attrs }, addon) => {
  const { dy, x, mean, rstd, gamma } = inputs as Record<'dy' | 'x' | 'mean' | 'rstd' | 'gamma', TensorInfo>;
  const { groups } = attrs as unknown as { groups: number };
  needFloat32(dy, x, mean, rstd, gamma);
  const geo = groupGeometry(x, groups);
  const c = geo[2]!;
  const be = backend as BackendWasm;
  return withOutputs(be, [x.shape, [c], [c]], ([dx, dgamma, dbeta]) =>
    addon.groupNormGrad(
      heapView(be, dy),
      heapView(be, x),
      heapView(be, mean),
      heapView(be, rstd),
      heapView(be, gamma),
      heapView(be, dx!),
      heapView(be, dgamma!),
      heapView(be, dbeta!),
      geo,
    ),
  );
});

// ---------------------------------------------------------------------------------------------
// Registration

/**
 * A kernel config whose setup function runs the replaced kernel's (the engine runs setup
 * functions when the backend initialises; the stock wasm kernels need theirs to fall back on).
 */
function config(kernelName: string, kernelFunc: KernelFunc): KernelConfig {
  return { kernelName, backendName: BACKEND, kernelFunc, setupFunc: (b) => previous.get(kernelName)?.setupFunc?.(b) };
}

const NATIVE_KERNELS: readonly KernelConfig[] = [
  config(tf.Conv2D, conv2D),
  config(tf.FusedConv2D, fusedConv2D),
  config(tf.DepthwiseConv2dNative, depthwiseConv2D),
  config(tf.Conv2DBackpropInput, conv2DBackpropInput),
  config(tf.Conv2DBackpropFilter, conv2DBackpropFilter),
  config(tf.BatchMatMul, batchMatMul),
  config(tf.Sum, sum),
  config(PER_SAMPLE_KERNEL, convPerSample),
  config(IM2COL_KERNEL, im2col),
  config(COL2IM_KERNEL, col2im),
  config(GROUP_NORM_KERNEL, groupNorm),
  config(GROUP_NORM_GRAD_KERNEL, groupNormGrad),
];

/** Names of the kernels {@link registerNativeKernels} puts on the wasm backend. */
export const NATIVE_KERNEL_NAMES: readonly string[] = NATIVE_KERNELS.map((k) => k.kernelName);

const isNative = (c: KernelConfig | undefined) => c !== undefined && NATIVE_KERNELS.some((k) => k.kernelFunc === c.kernelFunc);

/**
 * Registers the native kernels over whatever the wasm backend has (stock or unetc's wasm
 * kernels, which become the fallbacks). Idempotent; call after registerWasmKernels.
 */
export function registerNativeKernels(): void {
  // UNETC_NATIVE_SKIP=Sum,BatchMatMul keeps those kernels on wasm (to bisect a difference).
  const skip = new Set((process.env.UNETC_NATIVE_SKIP ?? '').split(',').map((k) => k.trim()));
  for (const config of NATIVE_KERNELS) {
    if (skip.has(config.kernelName)) continue;
    const existing = tf.getKernel(config.kernelName, BACKEND);
    if (isNative(existing)) continue;
    if (existing !== undefined) {
      previous.set(config.kernelName, existing);
      tf.unregisterKernel(config.kernelName, BACKEND);
    }
    tf.registerKernel(config);
    // Initialised already: the engine will not run setup functions again.
    const wasm = tf.engine().registry[BACKEND];
    if (wasm !== undefined) existing?.setupFunc?.(wasm);
  }
}

/** Puts back the kernels {@link registerNativeKernels} replaced (for tests and benchmarks). */
export function unregisterNativeKernels(): void {
  for (const config of NATIVE_KERNELS) {
    if (!isNative(tf.getKernel(config.kernelName, BACKEND))) continue;
    tf.unregisterKernel(config.kernelName, BACKEND);
    const prev = previous.get(config.kernelName);
    if (prev !== undefined) {
      tf.registerKernel(prev);
      const wasm = tf.engine().registry[BACKEND];
      if (wasm !== undefined) prev.setupFunc?.(wasm);
    }
    previous.delete(config.kernelName);
  }
}

/** Whether the wasm kernel registered under `kernelName` is a native one. */
export function isNativeKernel(kernelName: string): boolean {
  return isNative(tf.getKernel(kernelName, BACKEND));
}
