/**
 * The LoRA conditioning layers (DESIGN.md section 3), in two exact formulations, whichever costs
 * less for the layer's shapes (perSampleWeightsCheaper): through the down-projection, the
 * per-sample composition weights and the up-projection (loraDelta),
 *
 *   delta(x) = s * [ up( omega_rep * down(x) ) + omega_rep @ Bias ]
 *
 * or with the per-sample weights W + s A diag(omega_rep) B composed first (convWithLoraWeights);
 * down is a kxk conv to m*r channels (the stacked A_i), omega_rep each basis weight repeated r
 * times (basis-major: channel i*r + j belongs to basis i), up the stacked B_i as a 1x1 map.
 *   TimeLoRA:  omega = table[t]           (m bases, table T x m)
 *   ClassLoRA: omega = the class vector c  (one basis per class)
 *   UC-LoRA:   omega = MLP(v), plus the bias term and the scale s
 */
import * as tf from '@tensorflow/tfjs-core';
import { lorasOf, type BlockOp, type ConvOp, type LoraOp, type UcLoraOp } from '../../ir/ops.ts';
import { conv, conv2dRaw, groupNorm1d, linear, normalizeLastAxisGroups, silu, Weights } from './layers.ts';
import type { ParamStore } from './params.ts';
import { patches } from '../engine/patches.ts';

/** One UC-LoRA layer of a model: the block it belongs to and its op (the generated module lists them). */
export type UcLoraSite = readonly [block: string, op: UcLoraOp];

export interface LoraInputs {
  /** ddpm timestep indices, for TimeLoRA. */
  t?: tf.Tensor1D | undefined;
  classes?: tf.Tensor2D | undefined;
  v?: tf.Tensor2D | undefined;
  /**
   * Every UC-LoRA layer of the model. All their composition MLPs read the same v, so those of one
   * shape run as one batched MLP on first use in a forward pass.
   */
  ucLora?: readonly UcLoraSite[];
}

/** The UC-LoRA layers of the given blocks, in block order (qkv before proj, convs in order). */
export function ucLoraSites(blocks: readonly (readonly [path: string, op: BlockOp])[]): UcLoraSite[] {
  return blocks.flatMap(([path, op]) => lorasOf(op).flatMap((l): UcLoraSite[] => (l.kind === 'uc_lora' ? [[path, l]] : [])));
}

/**
 * Repeats each of the m columns of omega [N, m] r times: [N, m * r], basis-major. Written as a
 * product with the 0/1 expansion matrix E [m, m r] (E[i, i r + j] = 1): one small matmul forward
 * and one backward, where a Tile costs a slow kernel forward and r slices and adds backward.
 */
export function repeatBases(omega: tf.Tensor2D, r: number): tf.Tensor2D {
  if (r === 1) return omega;
  const m = omega.shape[1];
  const e = new Float32Array(m * m * r);
  for (let i = 0; i < m; i++) for (let j = 0; j < r; j++) e[i * m * r + i * r + j] = 1;
  return tf.matMul(omega, tf.tensor2d(e, [m, m * r]));
}

/** The composition weights omega [N, m] of one LoRA layer. */
export function compositionWeights(w: Weights, l: LoraOp, inp: LoraInputs): tf.Tensor2D {
  if (l.kind === 'time_lora') return tf.gather(w.get(l.omega), tf.cast(inp.t!, 'int32')) as tf.Tensor2D;
  if (l.kind === 'class_lora') return inp.classes!;
  return batchedUcLoraOmegas(w.store, inp)?.get(w.name(l.site)) ?? ucLoraMlp(w, l, inp.v!);
}

/** The composition MLP of one UC-LoRA layer: [Linear, GroupNorm, SiLU] per hidden layer, then Linear to m. */
export function ucLoraMlp(w: Weights, l: UcLoraOp, v: tf.Tensor2D): tf.Tensor2D {
  let h = v;
  for (const layer of l.hidden) h = silu(groupNorm1d(w, linear(w, h, layer.linear), layer.norm));
  return linear(w, h, l.out);
}

/**
 * Computes now what the LoRA layers of every block share (the batched UC-LoRA omegas), so that it
 * belongs to the forward pass's scope rather than to the first block's tf.tidy. Idempotent.
 */
export function prepareLoraInputs(p: ParamStore, inp: LoraInputs): void {
  batchedUcLoraOmegas(p, inp);
}

/** Per forward pass (one LoraInputs object each), the omegas of every listed UC-LoRA layer. */
const omegasOfPass = new WeakMap<LoraInputs, Map<string, tf.Tensor2D>>();

/**
 * The omegas of all UC-LoRA layers, computed group by group: layers whose MLPs have the same
 * widths, groups, eps and bases stack their weights ([L, in, out]) and run as one batched MLP on
 * [L, N, width] activations. Same arithmetic as ucLoraMlp per layer, but ~15 kernels per MLP layer
 * for the whole group instead of per layer (a model with 22 UC-LoRA layers ran ~1,200 tiny kernels
 * per step for them, forward and backward).
 */
function batchedUcLoraOmegas(p: ParamStore, inp: LoraInputs): Map<string, tf.Tensor2D> | undefined {
  if (!inp.ucLora || inp.ucLora.length < 2) return undefined; // nothing to batch
  const cached = omegasOfPass.get(inp);
  if (cached) return cached;
  const out = new Map<string, tf.Tensor2D>();
  const groups = new Map<string, UcLoraSite[]>();
  for (const site of inp.ucLora!) {
    const l = site[1];
    const key = JSON.stringify([l.hidden.map((h) => [h.linear.dout, h.norm.groups, h.norm.eps]), l.bases]);
    groups.set(key, [...(groups.get(key) ?? []), site]);
  }
  const v = inp.v!;
  const [n, d] = v.shape;
  for (const sites of groups.values()) {
    const l0 = sites[0][1];
    const count = sites.length;
    const get = (block: string, ref: string) => p.get(`${block}.${ref}`);
    const stacked = (pick: (l: UcLoraOp) => string, shape: number[]) =>
      tf.reshape(tf.stack(sites.map(([block, l]) => get(block, pick(l)))), shape);
    const layers = [...l0.hidden.map((_, i) => (l: UcLoraOp) => l.hidden[i].linear), (l: UcLoraOp) => l.out];
    let h: tf.Tensor = v;
    let width = d;
    layers.forEach((lin, i) => {
      const out_ = lin(l0).dout;
      if (i === 0) {
        // All layers read v: one [N, d] x [d, L out] product, then [L, N, out]. (A batched product
        // of [1, N, d] by [L, d, out] would do too, but tfjs 4.22's BatchMatMul gradient does not
        // reduce a broadcast batch axis.)
        const w0 = tf.concat(
          sites.map(([block, l]) => get(block, lin(l).weight)),
          1,
        );
        h = tf.transpose(tf.reshape(tf.matMul(v, w0 as tf.Tensor2D), [n, count, out_]), [1, 0, 2]);
      } else {
        h = tf.matMul(
          h,
          stacked((l) => lin(l).weight, [count, width, out_]),
        );
      }
      if (lin(l0).bias)
        h = tf.add(
          h,
          stacked((l) => lin(l).bias!, [count, 1, out_]),
        );
      if (i < l0.hidden.length) {
        const nrm = l0.hidden[i].norm;
        const normed = normalizeLastAxisGroups(h, nrm.groups, nrm.eps);
        h = silu(
          tf.add(
            tf.mul(
              normed,
              stacked((l) => l.hidden[i].norm.weight!, [count, 1, out_]),
            ),
            stacked((l) => l.hidden[i].norm.bias!, [count, 1, out_]),
          ),
        );
      }
      width = out_;
    });
    // (tfjs's Unpack gradient breaks for a single output: it is handed the tensor, not a list.)
    const omegas = count === 1 ? [tf.reshape(h, [n, l0.bases])] : tf.unstack(h);
    omegas.forEach((omega, i) => out.set(`${sites[i][0]}.${sites[i][1].site}`, omega as tf.Tensor2D));
  }
  omegasOfPass.set(inp, out);
  return out;
}

type Arg = tf.Tensor | tf.GradSaveFunc;

/**
 * x_n W_n for every sample: [N, P, K] x [N, K, C] -> [N, P, C], with the gradients written so that
 * no large operand is transposed: dW_n = (dy_n^T x_n)^T transposes only dy and the small result
 * (tfjs's own BatchMatMul gradient transposes x, the large im2col patches, explicitly on wasm).
 */
const perSampleProduct = tf.customGrad((...args: Arg[]) => {
  const [x, w, save] = args as [tf.Tensor3D, tf.Tensor3D, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: tf.matMul(x, w),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor3D, tf.Tensor3D];
      const dy3 = dy as tf.Tensor3D;
      return [tf.matMul(dy3, ws, false, true), tf.transpose(tf.matMul(dy3, xs, true, false), [0, 2, 1])];
    },
  };
}) as (x: tf.Tensor, w: tf.Tensor) => tf.Tensor;

/** The scale s of a LoRA layer's delta: a trainable scalar, or null when it is fixed at 1. */
function loraScale(w: Weights, l: LoraOp): tf.Tensor | number | null {
  if (l.kind !== 'uc_lora') return null;
  if (typeof l.scale === 'string') return w.get(l.scale);
  return l.scale === 1 ? null : l.scale;
}

/** UC-LoRA's bias term omega_rep @ Bias ([N, C_out]), before the scale; null without one. */
function loraBiasTerm(w: Weights, l: LoraOp, rep: tf.Tensor2D): tf.Tensor2D | null {
  return l.kind === 'uc_lora' && l.bias ? (tf.matMul(rep, w.get(l.bias) as tf.Tensor2D) as tf.Tensor2D) : null;
}

/** The LoRA delta for the conv `c` with input x; add it to the conv's output. */
export function loraDelta(w: Weights, x: tf.Tensor4D, c: ConvOp, l: LoraOp, inp: LoraInputs): tf.Tensor4D {
  const omega = compositionWeights(w, l, inp);
  const rep = repeatBases(omega, l.rank);
  const [n] = x.shape;
  const mr = rep.shape[1];
  const down = conv2dRaw(x, w.get(l.down) as tf.Tensor4D, c.stride, c.pad); // [N, Ho, Wo, m r]
  const [, ho, wo] = down.shape;
  const scaled = tf.mul(down, tf.reshape(rep, [n, 1, 1, mr]));
  const up = w.get(l.up) as tf.Tensor2D; // [m r, C_out]
  let delta = tf.reshape(tf.matMul(tf.reshape(scaled, [n * ho * wo, mr]), up), [n, ho, wo, up.shape[1]]) as tf.Tensor4D;
  const biasTerm = loraBiasTerm(w, l, rep);
  if (biasTerm) delta = tf.add(delta, tf.reshape(biasTerm, [n, 1, 1, up.shape[1]]));
  const s = loraScale(w, l);
  if (s !== null) delta = tf.mul(delta, s);
  return delta;
}

/** A conv plus its LoRA layers, in whichever exact formulation costs less here. */
export function convWithLora(w: Weights, x: tf.Tensor4D, c: ConvOp, inp: LoraInputs): tf.Tensor4D {
  if (c.lora.length === 0) return conv(w, x, c);
  const [n, h, wd] = x.shape;
  if (c.stride === 1 && perSampleWeightsCheaper(c.cin, c.cout, h * wd, c.kernel, n)) return convWithLoraWeights(w, x, c, inp);
  let y = conv(w, x, c);
  for (const l of c.lora) y = tf.add(y, loraDelta(w, x, c, l, inp));
  return y;
}

/** Patches larger than this (bytes, whole batch) keep a k x k conv on the down/up path. */
const MAX_PATCH_BYTES = 64 * 2 ** 20;

/**
 * Whether a stride-1 k x k conv with LoRA layers is cheaper with per-sample weights
 * W_n = W + sum_l s_l A_l diag(omega_rep_l[n]) B_l than with the down/up path. Per sample and
 * LoRA layer (per unit of m r), the path costs H W (k^2 C_in + C_out) multiply-adds forward (and
 * twice that backward), composing W_n costs k^2 C_in C_out, and the conv with W_n costs what the
 * plain conv costs (its per-sample weight gradient is the plain conv's weight gradient before the
 * sum over the batch). So compose when k^2 C_in C_out < H W (k^2 C_in + C_out): at 16x16 with 64
 * channels (1x1, attention) the path costs 5x more; at 8x8 with 128 channels (qkv) composing costs
 * 1.5x more; on nano diffusion's 3x3 convs of 10-40 channels at 32x32 the path costs ~100x more.
 * For k > 1 the conv becomes a product with the k^2 C_in-wide patches of x, kept for backward:
 * only while they stay under MAX_PATCH_BYTES.
 */
export function perSampleWeightsCheaper(cin: number, cout: number, pixels: number, kernel = 1, batch = 1): boolean {
  const k2 = kernel * kernel;
  if (kernel > 1 && batch * pixels * k2 * cin * 4 > MAX_PATCH_BYTES) return false;
  return k2 * cin * cout < pixels * (k2 * cin + cout);
}

/**
 * A stride-1 conv (weight [k, k, C_in, C_out], bias [C_out]) plus its LoRA layers, through
 * per-sample weights: y_n = patches(x_n) W_n + b + sum_l s_l omega_rep_l[n] Bias_l, one batched
 * matmul [N, HoWo, k^2 C_in] x [N, k^2 C_in, C_out]. Equal to conv + loraDelta per layer (tested).
 */
export function convWithLoraWeights(w: Weights, x: tf.Tensor4D, c: ConvOp, inp: LoraInputs): tf.Tensor4D {
  const cols = patches(x, c.kernel, c.pad);
  const [n, h, wd, cin] = cols.shape; // cin: k^2 C_in
  const w0 = w.get(c.weight) as tf.Tensor4D; // [k, k, C_in, C_out]
  const cout = w0.shape[3];
  let weights: tf.Tensor = tf.reshape(w0, [1, cin, cout]);
  let perSampleBias: tf.Tensor | null = null;
  for (const l of c.lora) {
    const rep = repeatBases(compositionWeights(w, l, inp), l.rank); // [N, m r]
    const mr = rep.shape[1];
    const down = tf.reshape(w.get(l.down), [1, cin, mr]); // [k, k, C_in, m r] flattened like the weight
    const up = w.get(l.up) as tf.Tensor2D; // [m r, C_out]
    // A diag(rep_n) B for every n: scale A's columns per sample, then one [N k^2 C_in, m r] x [m r, C_out] product.
    const scaledDown = tf.reshape(tf.mul(down, tf.reshape(rep, [n, 1, mr])), [n * cin, mr]);
    let dw: tf.Tensor = tf.reshape(tf.matMul(scaledDown, up), [n, cin, cout]);
    let db: tf.Tensor | null = loraBiasTerm(w, l, rep);
    const s = loraScale(w, l);
    if (s !== null) {
      dw = tf.mul(dw, s);
      if (db) db = tf.mul(db, s);
    }
    weights = tf.add(weights, dw);
    if (db) perSampleBias = perSampleBias ? tf.add(perSampleBias, db) : db;
  }
  let y: tf.Tensor = tf.reshape(perSampleProduct(tf.reshape(cols, [n, h * wd, cin]), tf.broadcastTo(weights, [n, cin, cout])), [
    n,
    h,
    wd,
    cout,
  ]);
  if (c.bias) y = tf.add(y, w.get(c.bias));
  if (perSampleBias) y = tf.add(y, tf.reshape(perSampleBias, [n, 1, 1, cout]));
  return y as tf.Tensor4D;
}
