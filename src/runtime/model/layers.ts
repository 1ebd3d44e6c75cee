/**
 * Layer primitives on NHWC tensors. Each reads one typed op fragment of the IR (src/ir/ops.ts)
 * and the weights of the block it belongs to, so model code reads like the architecture:
 * conv(w, x, op.conv).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ConvOp, ConvTransposeOp, LinearOp, NormOp, Ref } from '../../ir/ops.ts';
import { groupNormFused, siluFused } from '../engine/memoryEfficient.ts';
import type { ParamStore } from './params.ts';

/** The parameters of one block: the op's relative names resolved against the block's path. */
export class Weights {
  constructor(
    readonly store: ParamStore,
    readonly path: string,
  ) {}
  get(ref: Ref): tf.Variable {
    return this.store.get(`${this.path}.${ref}`);
  }
  /** The absolute name of a relative one (dropout seeds, batching keys). */
  name(ref: Ref): string {
    return `${this.path}.${ref}`;
  }
}

/** Zero padding then a 'valid' conv: matches PyTorch's symmetric padding exactly. */
export function conv2dRaw(x: tf.Tensor4D, w: tf.Tensor4D, stride: number, pad: number): tf.Tensor4D {
  if (pad === 0) return tf.conv2d(x, w, stride, 'valid');
  return tf.conv2d(x, w, stride, [
    [0, 0],
    [pad, pad],
    [pad, pad],
    [0, 0],
  ]);
}

/** The conv itself (its LoRA layers are applied by lora.ts convWithLora). */
export function conv(w: Weights, x: tf.Tensor4D, c: ConvOp): tf.Tensor4D {
  const y = conv2dRaw(x, w.get(c.weight) as tf.Tensor4D, c.stride, c.pad);
  return c.bias ? tf.add(y, w.get(c.bias)) : y;
}

/** ConvTranspose2d(k, stride 2, padding (k - 2) / 2): doubles H and W, as PyTorch's k=4, p=1 does. */
export function convTranspose(w: Weights, x: tf.Tensor4D, c: ConvTransposeOp): tf.Tensor4D {
  const [n, h, wd] = x.shape;
  const wt = w.get(c.weight) as tf.Tensor4D;
  const y = tf.conv2dTranspose(x, wt, [n, 2 * h, 2 * wd, wt.shape[2]], 2, 'same');
  return tf.add(y, w.get(c.bias));
}

export function linear(w: Weights, x: tf.Tensor2D, l: LinearOp): tf.Tensor2D {
  const y: tf.Tensor2D = tf.matMul(x, w.get(l.weight) as tf.Tensor2D);
  return l.bias ? tf.add(y, w.get(l.bias)) : y;
}

/** SiLU, with a gradient that keeps only x (src/runtime/engine/memoryEfficient.ts). */
export const silu = <T extends tf.Tensor>(x: T): T => siluFused(x) as T;

/** Linear layers with SiLU between them (none after the last). */
export function mlp(w: Weights, x: tf.Tensor2D, layers: readonly LinearOp[]): tf.Tensor2D {
  return layers.reduce((h, l, i) => (i > 0 ? linear(w, silu(h), l) : linear(w, h, l)), x);
}

/** GroupNorm over NHWC (statistics per sample and group over H, W and the group's channels) or LayerNorm over (C, H, W). */
export function norm(w: Weights, x: tf.Tensor4D, n: NormOp): tf.Tensor4D {
  const gamma = n.weight ? w.get(n.weight) : undefined;
  const beta = n.bias ? w.get(n.bias) : undefined;
  if (n.kind === 'layer') {
    const { mean, variance } = tf.moments(x, [1, 2, 3], true);
    const y = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, n.eps))) as tf.Tensor4D;
    return gamma && beta ? tf.add(tf.mul(y, gamma), beta) : y;
  }
  if (gamma && beta) return groupNormFused(x, gamma, beta, n.groups, n.eps);
  const [b, h, wd, c] = x.shape;
  const g = tf.reshape(x, [b, h, wd, n.groups, c / n.groups]);
  const { mean, variance } = tf.moments(g, [1, 2, 4], true);
  return tf.reshape(tf.div(tf.sub(g, mean), tf.sqrt(tf.add(variance, n.eps))), [b, h, wd, c]);
}

/** Normalises each of `groups` equal groups of the last axis of x (any rank) to mean 0, variance 1. */
export function normalizeLastAxisGroups<T extends tf.Tensor>(x: T, groups: number, eps: number): T {
  const c = x.shape[x.rank - 1];
  const g = tf.reshape(x, [...x.shape.slice(0, -1), groups, c / groups]);
  const { mean, variance } = tf.moments(g, [x.rank], true);
  return tf.reshape(tf.div(tf.sub(g, mean), tf.sqrt(tf.add(variance, eps))), x.shape) as T;
}

/** GroupNorm of vectors [N, C] (the UC-LoRA composition MLP). */
export function groupNorm1d(w: Weights, x: tf.Tensor2D, n: NormOp): tf.Tensor2D {
  const y = normalizeLastAxisGroups(x, n.groups, n.eps);
  return n.weight && n.bias ? tf.add(tf.mul(y, w.get(n.weight)), w.get(n.bias)) : y;
}

export function dropout<T extends tf.Tensor>(x: T, rate: number, training: boolean, seed?: number): T {
  return training && rate > 0 ? (tf.dropout(x, rate, undefined, seed) as T) : x;
}

/**
 * Resampling with a separable FIR filter, as EDM's Conv2d does it (filter normalised to sum 1, the
 * same for every channel, padding (k - 1) / 2): down is a depthwise stride-2 conv, up a depthwise
 * stride-2 transposed conv with gain 4. With the [1, 1] filter these are 2x2 average pooling and
 * nearest-neighbour upsampling. The channels are folded into the batch and one single-channel
 * (transposed) conv runs: the same filter for every channel, and conv gradients every backend has
 * (the wasm backend has no DepthwiseConv2dNativeBackpropInput).
 */
export function resample(x: tf.Tensor4D, mode: 'down' | 'up', filter: readonly number[]): tf.Tensor4D {
  const isBox = filter.length === 2 && filter[0] === filter[1];
  if (isBox) return mode === 'down' ? tf.avgPool(x, 2, 2, 'valid') : upsampleNearest(x);
  const [n, h, w, c] = x.shape;
  const k = filter.length;
  const pad = Math.floor((k - 1) / 2);
  return tf.tidy(() => {
    const sum = filter.reduce((a, b) => a + b, 0);
    const f = tf.tensor1d(filter.map((v) => v / sum));
    const f2 = tf.reshape(tf.outerProduct(f, f), [k, k, 1, 1]) as tf.Tensor4D;
    const folded = tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [n * c, h, w, 1]) as tf.Tensor4D;
    const y =
      mode === 'down'
        ? tf.conv2d(folded, f2, 2, [
            [0, 0],
            [pad, pad],
            [pad, pad],
            [0, 0],
          ])
        : tf.conv2dTranspose(folded, tf.mul(f2, 4) as tf.Tensor4D, [n * c, 2 * h, 2 * w, 1], 2, pad);
    const [, ho, wo] = y.shape;
    return tf.transpose(tf.reshape(y, [n, c, ho, wo]), [0, 2, 3, 1]) as tf.Tensor4D;
  });
}

/**
 * Nearest-neighbour x2 as two concatenations of x with itself (columns, then rows). Concat is a copy
 * on wasm and its gradient is one SplitV; Tile is a slow generic loop there and its gradient a
 * slice-and-add per copy (10x slower forward + backward at [64, 16, 16, 128]).
 */
export function upsampleNearest(x: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const pixels = tf.reshape(x, [n * h, w, 1, c]);
  const rows = tf.reshape(tf.concat([pixels, pixels], 2), [n * h, 1, 2 * w * c]);
  return tf.reshape(tf.concat([rows, rows], 1), [n, 2 * h, 2 * w, c]);
}

/**
 * Multi-head self-attention core on a qkv tensor [N, H, W, 3C]: softmax(q k^T / sqrt(d)) v, back to
 * [N, H, W, C], with d = C / heads. `interleaved` is EDM's UNetBlock layout (channel h 3d + 3 i + s,
 * s the q/k/v index), `per_head` improved-diffusion's QKVAttention (channel h 3d + s d + i).
 */
export function attentionCore(qkv: tf.Tensor4D, heads: number, layout: 'interleaved' | 'per_head' = 'interleaved'): tf.Tensor4D {
  const [n, h, w, c3] = qkv.shape;
  const c = c3 / 3;
  const d = c / heads;
  const t = h * w;
  // [3, N, heads, T, d], split into q, k, v along the first axis (our wasm Unpack copies heap views).
  const split =
    layout === 'interleaved'
      ? tf.transpose(tf.reshape(qkv, [n, t, heads, d, 3]), [4, 0, 2, 1, 3])
      : tf.transpose(tf.reshape(qkv, [n, t, heads, 3, d]), [3, 0, 2, 1, 4]);
  const [q, k, v] = tf.unstack(split) as tf.Tensor4D[];
  const logits = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(d));
  const a = tf.matMul(tf.softmax(logits), v); // [N, heads, T, d]
  return tf.reshape(tf.transpose(a, [0, 2, 1, 3]), [n, h, w, c]);
}
