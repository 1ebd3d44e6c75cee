/**
 * The embedding network: noise/timestep embedding, label and augmentation projections, the shared
 * MLP, giving the condition vector v that conditioning layers read.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { EmbeddingOp, NoiseEmbeddingOp } from '../../ir/ops.ts';
import { linear, mlp, silu, Weights } from './layers.ts';
import { nameSeed, type ParamStore } from './params.ts';

export interface Cond {
  /** ddpm: timestep indices 0..T-1 (int32 or float32); edm: the preconditioned noise label c_noise. */
  noise: tf.Tensor1D;
  /** Class weights [N, classes]: one-hot for a label, any real vector for interpolation. */
  classes?: tf.Tensor2D | undefined;
  /** Augmentation labels [N, augment]. */
  augment?: tf.Tensor2D | undefined;
}

/** cos/sin of x * freqs, concatenated ([cos, sin], or [sin, cos] when flipped as DDPM++ does). */
function trig(x: tf.Tensor1D, freqs: tf.Tensor1D, flip: boolean): tf.Tensor2D {
  const a = tf.outerProduct(tf.cast(x, 'float32'), freqs);
  const parts = [tf.cos(a), tf.sin(a)];
  return tf.concat(flip ? parts.reverse() : parts, 1) as tf.Tensor2D;
}

/** The embedding of the time input: a table row for timestep t, or cos/sin features of t * inputScale (or c_noise). */
export function noiseEmbedding(w: Weights, x: tf.Tensor1D, o: NoiseEmbeddingOp, seed = 0): tf.Tensor2D {
  const half = Math.floor(o.dim / 2);
  if (o.kind === 'table') return tf.gather(w.get(o.table!), tf.cast(x, 'int32')) as tf.Tensor2D;
  const t = o.inputScale !== 1 ? (tf.mul(tf.cast(x, 'float32'), o.inputScale) as tf.Tensor1D) : x;
  if (o.kind === 'sinusoidal') {
    // IDDPM's timestep_embedding: f_i = 10000^(-i / half).
    const freqs = tf.exp(tf.mul(tf.range(0, half), -Math.log(o.maxPositions) / half)) as tf.Tensor1D;
    return trig(t, freqs, o.flip);
  }
  if (o.kind === 'positional') {
    // EDM's PositionalEmbedding: f_i = (1 / max_positions)^(i / (half - endpoint)).
    const freqs = tf.pow(1 / o.maxPositions, tf.div(tf.range(0, half), half - (o.endpoint ? 1 : 0))) as tf.Tensor1D;
    return trig(t, freqs, o.flip);
  }
  // EDM's FourierEmbedding: fixed random frequencies N(0, scale^2), times 2 pi.
  const freqs = tf.mul(tf.randomNormal([half], 0, o.scale, 'float32', nameSeed(seed, w.name('noise.freqs'))), 2 * Math.PI) as tf.Tensor1D;
  return trig(t, freqs, o.flip);
}

/** v from the condition inputs (the layers of block `emb`). */
export function embedding(p: ParamStore, cond: Cond, op: EmbeddingOp, seed = 0): tf.Tensor2D {
  const w = new Weights(p, 'emb');
  let e = noiseEmbedding(w, cond.noise, op.noise, seed);
  const lbl = op.label;
  const labelIn = (c: tf.Tensor2D) => {
    const x = lbl!.scale !== 1 ? (tf.mul(c, lbl!.scale) as tf.Tensor2D) : c;
    return lbl!.table ? tf.matMul(x, w.get(lbl!.table) as tf.Tensor2D) : linear(w, x, lbl!.linear!);
  };
  if (lbl && lbl.at === 'input' && cond.classes) e = tf.add(e, labelIn(cond.classes));
  if (op.augment && cond.augment) e = tf.add(e, linear(w, cond.augment, op.augment));
  e = mlp(w, e, op.mlp);
  if (lbl && lbl.at === 'output' && cond.classes) e = tf.add(e, labelIn(cond.classes));
  return op.outAct ? silu(e) : e;
}
