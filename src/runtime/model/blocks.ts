/**
 * The blocks of a U-Net, each reading its typed op (src/ir/ops.ts). One residual block covers
 * IDDPM's ResBlock, EDM's UNetBlock and nano diffusion's plain conv stacks: conv widths, norms,
 * order, residual path, resampling, attention and conditioning are fields of its op, as in EDM's
 * networks.py.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AttentionOp, HeadOp, ModulationOp, ResampleOp, ResBlockOp, StemOp } from '../../ir/ops.ts';
import { attentionCore, conv, convTranspose, dropout, linear, mlp, norm, resample, silu, Weights } from './layers.ts';
import { convWithLora, prepareLoraInputs, type LoraInputs } from './lora.ts';
import { nameSeed, type ParamStore } from './params.ts';

export interface BlockContext {
  training: boolean;
  lora: LoraInputs;
  /** Seed for dropout masks of this forward pass (undefined: unseeded). */
  seed?: number | undefined;
}

/** x * (1 + scale) + shift, or x + shift, with [N, C] parameters broadcast over H, W. */
function modulate(x: tf.Tensor4D, params: tf.Tensor2D, kind: 'shift' | 'scale_shift'): tf.Tensor4D {
  const [n, , , c] = x.shape;
  if (kind === 'shift') return tf.add(x, tf.reshape(params, [n, 1, 1, c]));
  const [scale, shift] = tf.split(params, 2, 1);
  return tf.add(tf.mul(x, tf.add(tf.reshape(scale, [n, 1, 1, c]), 1)), tf.reshape(shift, [n, 1, 1, c]));
}

/**
 * A residual block (with its attention, if any). Its body runs in a tf.tidy: tfjs otherwise keeps
 * every intermediate of the forward pass alive until the whole forward pass ends, though the
 * backward pass needs only what the kernels saved (the engine keeps those apart). With the
 * shape-only saves freed early (engine/eagerGradients.ts) this cuts the forward peak of the
 * attention U-Net at batch 64 by ~1 GiB. UC-LoRA omegas shared by all blocks are computed first,
 * outside the scope.
 */
export function resBlock(
  p: ParamStore,
  path: string,
  x: tf.Tensor4D,
  v: tf.Tensor2D | undefined,
  op: ResBlockOp,
  ctx: BlockContext,
): tf.Tensor4D {
  prepareLoraInputs(p, ctx.lora);
  return tf.tidy(() => resBlockBody(new Weights(p, path), x, v, op, ctx));
}

/**
 * conv_i(drop_i(act(mod_i(norm_i(h))))) for each conv i (pre order; post order puts the
 * activation after the conv), where mod modulates where the op says, drop is dropout before
 * every conv but the first, and resampling precedes conv 0; then the residual path and the
 * output scale, then attention.
 */
function resBlockBody(w: Weights, x: tf.Tensor4D, v: tf.Tensor2D | undefined, op: ResBlockOp, ctx: BlockContext): tf.Tensor4D {
  const mod = op.modulation;
  const modulated = (h: tf.Tensor4D, at: ModulationOp['at']) => (mod && mod.at === at ? modulate(h, mlp(w, v!, mod.mlp), mod.kind) : h);
  const input = modulated(x, 'input');
  let h = input;
  op.convs.forEach((c, i) => {
    const nrm = op.norms[i];
    if (nrm) h = norm(w, h, nrm);
    if (i === 1) h = modulated(h, 'norm1');
    if (op.order === 'pre') h = silu(h);
    if (i > 0) h = dropout(h, op.dropout, ctx.training, ctx.seed === undefined ? undefined : nameSeed(ctx.seed, w.name(`dropout${i}`)));
    if (i === 0 && op.resample) h = resample(h, op.resample.mode, op.resample.filter);
    h = convWithLora(w, h, c, ctx.lora);
    if (op.order === 'post') h = silu(h);
    if (i === 0) h = modulated(h, 'conv0');
  });
  if (op.residual) {
    let skip = op.resample ? resample(input, op.resample.mode, op.resample.filter) : input;
    if (op.skip) skip = conv(w, skip, op.skip);
    h = tf.add(h, skip);
  }
  if (op.outputScale !== 1) h = tf.mul(h, op.outputScale);
  if (op.attention) h = attentionBlock(w, h, v, op.attention, ctx);
  return h;
}

/** x + proj(attention(qkv(adaLN(norm(x))))), times the output scale. */
export function attentionBlock(w: Weights, x: tf.Tensor4D, v: tf.Tensor2D | undefined, op: AttentionOp, ctx: BlockContext): tf.Tensor4D {
  let h = op.norm ? norm(w, x, op.norm) : x;
  if (op.adaln) h = modulate(h, linear(w, v!, op.adaln), 'scale_shift');
  const qkv = convWithLora(w, h, op.qkv, ctx.lora);
  const a = attentionCore(qkv, op.heads, op.layout);
  const y: tf.Tensor4D = tf.add(x, convWithLora(w, a, op.proj, ctx.lora));
  return op.outputScale !== 1 ? tf.mul(y, op.outputScale) : y;
}

/** The first conv on the image. */
export function stem(p: ParamStore, path: string, x: tf.Tensor4D, op: StemOp): tf.Tensor4D {
  return conv(new Weights(p, path), x, op.conv);
}

/** A resampling step between levels that is not a residual block. */
export function resampleStep(p: ParamStore, path: string, x: tf.Tensor4D, op: ResampleOp): tf.Tensor4D {
  const w = new Weights(p, path);
  switch (op.mode) {
    case 'conv':
      return conv(w, x, op.conv);
    case 'conv_transpose':
      return convTranspose(w, x, op.conv);
    case 'nearest_conv':
      return conv(w, resample(x, 'up', [1, 1]), op.conv);
    case 'nearest':
      return resample(x, 'up', [1, 1]);
    case 'avgpool':
      return resample(x, 'down', [1, 1]);
  }
}

/** Output head: [norm, SiLU,] conv. */
export function head(p: ParamStore, path: string, x: tf.Tensor4D, op: HeadOp): tf.Tensor4D {
  const w = new Weights(p, path);
  const h = op.norm ? silu(norm(w, x, op.norm)) : x;
  return conv(w, h, op.conv);
}
