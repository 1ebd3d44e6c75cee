/**
 * The embedding network: noise/timestep embedding, label and augmentation projections, the shared
 * MLP, giving the condition vector v that conditioning layers read.
 */
import * as tf from '@tensorflow/tfjs-core';
import { linear, silu } from './layers.ts';
import { nameSeed, type ParamStore } from './params.ts';

export interface Cond {
  /** ddpm: timestep indices 0..T-1 (int32 or float32); edm: the preconditioned noise label c_noise. */
  noise: tf.Tensor1D;
  /** Class weights [N, classes]: one-hot for a label, any real vector for interpolation. */
  classes?: tf.Tensor2D;
  /** Augmentation labels [N, augment]. */
  augment?: tf.Tensor2D;
}

export interface EmbeddingOpts {
  noise: { kind: 'sinusoidal' | 'positional' | 'fourier' | 'table'; dim: number; maxPositions: number; endpoint: boolean; flip: boolean; scale: number };
  label: { kind: 'none' | 'embedding' | 'linear'; at: 'input' | 'output' };
  augment: { kind: 'none' | 'linear' };
  mlp: readonly number[];
  outAct: boolean;
  seed?: number;
}

/** cos/sin of x * freqs, concatenated ([cos, sin], or [sin, cos] when flipped as DDPM++ does). */
function trig(x: tf.Tensor1D, freqs: tf.Tensor1D, flip: boolean): tf.Tensor2D {
  const a = tf.outerProduct(tf.cast(x, 'float32'), freqs);
  const parts = [tf.cos(a), tf.sin(a)];
  return tf.concat(flip ? parts.reverse() : parts, 1) as tf.Tensor2D;
}

export function noiseEmbedding(p: ParamStore, x: tf.Tensor1D, o: EmbeddingOpts['noise'], seed = 0): tf.Tensor2D {
  const half = Math.floor(o.dim / 2);
  if (o.kind === 'table') return tf.gather(p.get('emb.noise.weight'), tf.cast(x, 'int32')) as tf.Tensor2D;
  if (o.kind === 'sinusoidal') {
    // IDDPM's timestep_embedding: f_i = 10000^(-i / half).
    const freqs = tf.exp(tf.mul(tf.range(0, half), -Math.log(o.maxPositions) / half)) as tf.Tensor1D;
    return trig(x, freqs, o.flip);
  }
  if (o.kind === 'positional') {
    // EDM's PositionalEmbedding: f_i = (1 / max_positions)^(i / (half - endpoint)).
    const freqs = tf.pow(1 / o.maxPositions, tf.div(tf.range(0, half), half - (o.endpoint ? 1 : 0))) as tf.Tensor1D;
    return trig(x, freqs, o.flip);
  }
  // EDM's FourierEmbedding: fixed random frequencies N(0, scale^2), times 2 pi.
  const freqs = tf.mul(tf.randomNormal([half], 0, o.scale, 'float32', nameSeed(seed, 'emb.noise.freqs')), 2 * Math.PI) as tf.Tensor1D;
  return trig(x, freqs, o.flip);
}

/** v from the condition inputs; the layer names match the IR (`emb.label`, `emb.mlp0`, ...). */
export function embedding(p: ParamStore, cond: Cond, o: EmbeddingOpts): tf.Tensor2D {
  let e = noiseEmbedding(p, cond.noise, o.noise, o.seed ?? 0);
  const labelIn = (x: tf.Tensor2D) => (o.label.kind === 'embedding' ? tf.matMul(x, p.get('emb.label.weight') as tf.Tensor2D) : linear(p, 'emb.label', x, p.has('emb.label.bias')));
  if (o.label.kind !== 'none' && o.label.at === 'input' && cond.classes) e = tf.add(e, labelIn(cond.classes));
  if (o.augment.kind === 'linear' && cond.augment) e = tf.add(e, linear(p, 'emb.augment', cond.augment, p.has('emb.augment.bias')));
  o.mlp.forEach((_, i) => {
    e = linear(p, `emb.mlp${i}`, e);
    if (i < o.mlp.length - 1) e = silu(e);
  });
  if (o.label.kind !== 'none' && o.label.at === 'output' && cond.classes) e = tf.add(e, labelIn(cond.classes));
  return o.outAct ? silu(e) : e;
}
