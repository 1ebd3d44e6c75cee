/**
 * im2col: the k x k patches of x for a stride-1 conv with symmetric zero padding, as
 * [N, H + 2 pad - k + 1, W + 2 pad - k + 1, k k C], ordered (i, j, c) as a conv weight
 * [k, k, C, C_out] flattens. LoRA layers use it to run a conv with per-sample weights as one
 * batched matmul (lora.ts).
 *
 * On the CPU backends (wasm, cpu) it is one pass over the data each way: a pad, k^2 slices and a
 * concat cost 11x more on wasm (the concat's gradient, a last-axis SplitV of runs of C floats, is
 * the slowest part). With the native kernels on wasm (native.ts) that pass runs in C++ on the
 * heap (no copy out to JS and back). Elsewhere (tfjs-node, where reading data back would
 * synchronise a GPU) it is written with those ops.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap } from '@tensorflow/tfjs-core';
import { COL2IM_KERNEL, IM2COL_KERNEL, isNativeKernel } from './native.ts';

interface Geometry {
  n: number;
  h: number;
  w: number;
  c: number;
  k: number;
  pad: number;
  ho: number;
  wo: number;
}

function geometry(shape: readonly number[], k: number, pad: number): Geometry {
  const [n, h, w, c] = shape;
  return { n, h, w, c, k, pad, ho: h + 2 * pad - k + 1, wo: w + 2 * pad - k + 1 };
}

/**
 * Copies between x ([N, H, W, C]) and its patches, one run of k C floats per patch row and tap
 * row i (the k taps of a row are adjacent in both): `toCols` fills the patches, otherwise the
 * patches are added back onto x (the adjoint). Taps outside x are skipped (zero / nothing).
 */
function transfer(g: Geometry, xs: Float32Array, cols: Float32Array, toCols: boolean): void {
  const { n, h, w, c, k, pad, ho, wo } = g;
  const kc = k * k * c;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < ho; oy++) {
      for (let ox = 0; ox < wo; ox++) {
        // Taps j in [j0, j1) land inside the row; they are contiguous in x and in the patch.
        const j0 = Math.max(0, pad - ox);
        const j1 = Math.min(k, w + pad - ox);
        if (j1 <= j0) continue;
        const len = (j1 - j0) * c;
        const rowBase = ((b * ho + oy) * wo + ox) * kc;
        for (let i = 0; i < k; i++) {
          const y = oy + i - pad;
          if (y < 0 || y >= h) continue;
          const dst = rowBase + (i * k + j0) * c;
          const src = ((b * h + y) * w + (ox + j0 - pad)) * c;
          if (toCols) {
            if (len >= 64) cols.set(xs.subarray(src, src + len), dst);
            else for (let t = 0; t < len; t++) cols[dst + t] = xs[src + t];
          } else {
            for (let t = 0; t < len; t++) xs[src + t] += cols[dst + t];
          }
        }
      }
    }
  }
}

/** The patches of x ([N, H, W, C] row-major) as a new array. */
export function im2col(x: Float32Array, shape: readonly number[], k: number, pad: number): Float32Array {
  const g = geometry(shape, k, pad);
  const out = new Float32Array(g.n * g.ho * g.wo * k * k * g.c);
  transfer(g, x, out, true);
  return out;
}

/** The adjoint of im2col: every patch entry added back onto the pixel it came from. */
export function col2im(cols: Float32Array, shape: readonly number[], k: number, pad: number): Float32Array {
  const g = geometry(shape, k, pad);
  const out = new Float32Array(g.n * g.h * g.w * g.c);
  transfer(g, out, cols, false);
  return out;
}

/** The same patches from tfjs ops: pad, k^2 slices, one concat (any backend). */
export function patchesFromOps(x: tf.Tensor4D, k: number, pad: number): tf.Tensor4D {
  const g = geometry(x.shape, k, pad);
  const xp =
    pad > 0
      ? tf.pad(x, [
          [0, 0],
          [pad, pad],
          [pad, pad],
          [0, 0],
        ])
      : x;
  const cols: tf.Tensor4D[] = [];
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) cols.push(tf.slice(xp, [0, i, j, 0], [g.n, g.ho, g.wo, g.c]));
  return tf.concat(cols, 3);
}

type Arg = tf.Tensor | tf.GradSaveFunc;

/** The patches of x: [N, Ho, Wo, k k C]. */
export function patches(x: tf.Tensor4D, k: number, pad: number): tf.Tensor4D {
  if (k === 1 && pad === 0) return x;
  const backend = tf.getBackend();
  if (backend !== 'wasm' && backend !== 'cpu') return patchesFromOps(x, k, pad);
  const g = geometry(x.shape, k, pad);
  const outShape = [g.n, g.ho, g.wo, k * k * g.c];
  if (backend === 'wasm' && x.dtype === 'float32' && isNativeKernel(IM2COL_KERNEL)) {
    const native = tf.customGrad((...args: Arg[]) => {
      const xi = args[0] as tf.Tensor4D;
      return {
        value: tf.engine().runKernel(IM2COL_KERNEL, { x: xi }, { k, pad } as unknown as NamedAttrMap) as tf.Tensor4D,
        gradFunc: (dy: tf.Tensor) => [
          tf.engine().runKernel(COL2IM_KERNEL, { cols: dy }, { k, pad, xShape: x.shape } as unknown as NamedAttrMap) as tf.Tensor4D,
        ],
      };
    });
    return native(x) as tf.Tensor4D;
  }
  const f = tf.customGrad((...args: Arg[]) => {
    const xi = args[0] as tf.Tensor4D;
    return {
      value: tf.tensor4d(im2col(xi.dataSync() as Float32Array, xi.shape, k, pad), outShape as [number, number, number, number]),
      gradFunc: (dy: tf.Tensor) => [tf.tensor4d(col2im(dy.dataSync() as Float32Array, x.shape, k, pad), x.shape)],
    };
  });
  return f(x) as tf.Tensor4D;
}
