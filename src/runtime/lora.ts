/**
 * The LoRA conditioning layers (DESIGN.md section 3), computed through the down-projection, the
 * per-sample composition weights and the up-projection, never by materialising per-sample weights:
 *
 *   delta(x) = s * [ up( omega_rep * down(x) ) + omega_rep @ Bias ]
 *
 * with down a kxk conv to m*r channels (the stacked A_i), omega_rep each basis weight repeated r
 * times (basis-major: channel i*r + j belongs to basis i), up the stacked B_i as a 1x1 map.
 *   TimeLoRA:  omega = table[t]           (m bases, table T x m)
 *   ClassLoRA: omega = the class vector c  (one basis per class)
 *   UC-LoRA:   omega = MLP(v), plus the bias term and the scale s
 */
import * as tf from '@tensorflow/tfjs-core';
import { conv2dRaw, groupNorm1d, linear, silu } from './layers.ts';
import type { ParamStore } from './params.ts';

export interface LoraTargetOpts {
  kernel: number;
  stride: number;
  pad: number;
}

export type LoraOpts =
  | { kind: 'time_lora'; rank: number; bases: number }
  | { kind: 'class_lora'; rank: number; bases: number }
  | { kind: 'uc_lora'; rank: number; bases: number; mlp: readonly number[]; groups: readonly number[]; bias: boolean; scale: 'fixed' | 'trainable' };

export interface LoraInputs {
  /** ddpm timestep indices, for TimeLoRA. */
  t?: tf.Tensor1D;
  classes?: tf.Tensor2D;
  v?: tf.Tensor2D;
}

/** Repeats each of the m columns of omega [N, m] r times: [N, m * r], basis-major. */
export function repeatBases(omega: tf.Tensor2D, r: number): tf.Tensor2D {
  const [n, m] = omega.shape;
  return tf.reshape(tf.tile(tf.reshape(omega, [n, m, 1]), [1, 1, r]), [n, m * r]);
}

/** The composition weights omega [N, m] of one LoRA layer. */
export function compositionWeights(p: ParamStore, path: string, o: LoraOpts, inp: LoraInputs): tf.Tensor2D {
  if (o.kind === 'time_lora') return tf.gather(p.get(`${path}.omega`), tf.cast(inp.t!, 'int32')) as tf.Tensor2D;
  if (o.kind === 'class_lora') return inp.classes!;
  let h = inp.v!;
  o.mlp.forEach((_, i) => {
    h = silu(groupNorm1d(p, `${path}.mlp${i}_norm`, linear(p, `${path}.mlp${i}`, h), o.groups[i], 1e-6));
  });
  return linear(p, `${path}.mlp${o.mlp.length}`, h);
}

/** The LoRA delta for a conv with input x; add it to the conv's output. */
export function loraDelta(p: ParamStore, path: string, x: tf.Tensor4D, t: LoraTargetOpts, o: LoraOpts, inp: LoraInputs): tf.Tensor4D {
  const omega = compositionWeights(p, path, o, inp);
  const rep = repeatBases(omega, o.rank);
  const [n] = x.shape;
  const mr = rep.shape[1];
  const down = conv2dRaw(x, p.get(`${path}.down`) as tf.Tensor4D, t.stride, t.pad); // [N, Ho, Wo, m r]
  const [, ho, wo] = down.shape;
  const scaled = tf.mul(down, tf.reshape(rep, [n, 1, 1, mr]));
  const up = p.get(`${path}.up`) as tf.Tensor2D; // [m r, C_out]
  let delta = tf.reshape(tf.matMul(tf.reshape(scaled, [n * ho * wo, mr]), up), [n, ho, wo, up.shape[1]]) as tf.Tensor4D;
  if (o.kind === 'uc_lora') {
    if (o.bias) delta = tf.add(delta, tf.reshape(tf.matMul(rep, p.get(`${path}.bias`) as tf.Tensor2D), [n, 1, 1, up.shape[1]]));
    if (o.scale === 'trainable') delta = tf.mul(delta, p.get(`${path}.scale`));
  }
  return delta;
}
