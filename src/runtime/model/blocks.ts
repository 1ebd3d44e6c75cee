/**
 * The blocks of a U-Net, configured by literal descriptors that the emitter writes out per block.
 * One residual block type covers IDDPM's ResBlock, EDM's UNetBlock and nano diffusion's plain conv
 * stacks: conv widths, norm, order, residual path, resampling, attention and conditioning are
 * options of it, as in EDM's networks.py.
 */
import * as tf from '@tensorflow/tfjs-core';
import { attentionCore, conv, convTranspose, dropout, linear, norm, resample, silu, type NormOpts } from './layers.ts';
import { convWithLoraWeights, loraDelta, perSampleWeightsCheaper, prepareLoraInputs, type LoraInputs, type LoraOpts } from './lora.ts';
import { nameSeed, type ParamStore } from './params.ts';

/** A modulation by v: shift or scale-and-shift, at the block input, after conv0, or on norm1. */
export interface ModulationOpts {
  kind: 'shift' | 'scale_shift';
  at: 'input' | 'conv0' | 'norm1';
  /** Hidden layers of the projection MLP (0 for a single linear layer). */
  hidden: number;
}

export interface AttentionOpts {
  heads: number;
  norm: NormOpts;
  adaln: boolean;
  lora: { qkv: LoraOpts[]; proj: LoraOpts[] };
}

export interface ResBlockOpts {
  widths: number[];
  kernel: number;
  /** Norm before each conv (index i normalises conv i's input). */
  norms: (NormOpts | null)[];
  order: 'pre' | 'post';
  residual: boolean;
  skipConv: boolean;
  outputScale: number;
  dropout: number;
  resample?: { mode: 'down' | 'up'; filter: number[] };
  modulation?: ModulationOpts;
  /** LoRA layers on conv i: lora[i]. */
  lora: LoraOpts[][];
  attention?: AttentionOpts;
}

export interface BlockContext {
  training: boolean;
  lora: LoraInputs;
  /** Seed for dropout masks of this forward pass (undefined: unseeded). */
  seed?: number;
}

function modulationParams(p: ParamStore, path: string, v: tf.Tensor2D, hidden: number): tf.Tensor2D {
  let h = v;
  for (let i = 0; i < hidden; i++) h = silu(linear(p, `${path}${i}`, h));
  return linear(p, hidden > 0 ? `${path}${hidden}` : path, h);
}

/** x * (1 + scale) + shift, or x + shift, with [N, C] parameters broadcast over H, W. */
function modulate(x: tf.Tensor4D, params: tf.Tensor2D, kind: 'shift' | 'scale_shift'): tf.Tensor4D {
  const [n, , , c] = x.shape;
  if (kind === 'shift') return tf.add(x, tf.reshape(params, [n, 1, 1, c]));
  const [scale, shift] = tf.split(params, 2, 1);
  return tf.add(tf.mul(x, tf.add(tf.reshape(scale, [n, 1, 1, c]), 1)), tf.reshape(shift, [n, 1, 1, c]));
}

/** A stride-1 conv plus its LoRA layers, in whichever exact formulation costs less here (lora.ts). */
function convWithLora(p: ParamStore, path: string, x: tf.Tensor4D, kernel: number, loras: LoraOpts[], ctx: BlockContext): tf.Tensor4D {
  const [n, h, w, cin] = x.shape;
  if (loras.length > 0 && perSampleWeightsCheaper(cin, p.get(`${path}.weight`).shape[3]!, h * w, kernel, n)) {
    return convWithLoraWeights(p, path, x, kernel, loras, ctx.lora);
  }
  let y = conv(p, path, x, { kernel });
  const pad = Math.floor((kernel - 1) / 2);
  for (const l of loras) y = tf.add(y, loraDelta(p, `${path}.${l.kind}`, x, { kernel, stride: 1, pad }, l, ctx.lora));
  return y;
}

/**
 * A residual block (with its attention, if any). Its body runs in a tf.tidy: tfjs otherwise keeps
 * every intermediate of the forward pass alive until the whole forward pass ends, though the
 * backward pass needs only what the kernels saved (the engine keeps those apart). With the
 * shape-only saves freed early (engine/eagerGradients.ts) this cuts the forward peak of the
 * attention U-Net at batch 64 by ~1 GiB. UC-LoRA omegas shared by all blocks are computed first,
 * outside the scope.
 */
export function resBlock(p: ParamStore, path: string, x: tf.Tensor4D, v: tf.Tensor2D | undefined, o: ResBlockOpts, ctx: BlockContext): tf.Tensor4D {
  prepareLoraInputs(p, ctx.lora);
  return tf.tidy(() => resBlockBody(p, path, x, v, o, ctx));
}

function resBlockBody(p: ParamStore, path: string, x: tf.Tensor4D, v: tf.Tensor2D | undefined, o: ResBlockOpts, ctx: BlockContext): tf.Tensor4D {
  const mod = o.modulation;
  const modParams = (_c: number) => modulationParams(p, `${path}.emb`, v!, mod!.hidden);
  const input = mod && mod.at === 'input' ? modulate(x, modParams(x.shape[3]), mod.kind) : x;
  let h = input;
  o.widths.forEach((w, i) => {
    const nrm = o.norms[i];
    if (i > 0) h = dropout(h, o.dropout, ctx.training, ctx.seed === undefined ? undefined : nameSeed(ctx.seed, `${path}.dropout${i}`));
    if (nrm) h = norm(p, `${path}.norm${i}`, h, nrm);
    if (mod && mod.at === 'norm1' && i === 1) h = modulate(h, modParams(h.shape[3]), mod.kind);
    if (o.order === 'pre') h = silu(h);
    if (i === 0 && o.resample) h = resample(h, o.resample.mode, o.resample.filter);
    h = convWithLora(p, `${path}.conv${i}`, h, o.kernel, o.lora[i] ?? [], ctx);
    if (o.order === 'post') h = silu(h);
    if (mod && mod.at === 'conv0' && i === 0) h = modulate(h, modParams(w), mod.kind);
  });
  if (o.residual) {
    let skip = o.resample ? resample(input, o.resample.mode, o.resample.filter) : input;
    if (o.skipConv) skip = conv(p, `${path}.skip`, skip, { kernel: 1 });
    h = tf.add(h, skip);
  }
  if (o.outputScale !== 1) h = tf.mul(h, o.outputScale);
  if (o.attention) h = attentionBlock(p, `${path}.attn`, h, v, o.attention, o.outputScale, ctx);
  return h;
}

export function attentionBlock(p: ParamStore, path: string, x: tf.Tensor4D, v: tf.Tensor2D | undefined, o: AttentionOpts, outputScale: number, ctx: BlockContext): tf.Tensor4D {
  let h = norm(p, `${path}.norm`, x, o.norm);
  if (o.adaln) h = modulate(h, linear(p, `${path}.adaln`, v!), 'scale_shift');
  const qkv = convWithLora(p, `${path}.qkv`, h, 1, o.lora.qkv, ctx);
  const a = attentionCore(qkv, o.heads);
  const out = convWithLora(p, `${path}.proj`, a, 1, o.lora.proj, ctx);
  const y: tf.Tensor4D = tf.add(x, out);
  return outputScale !== 1 ? tf.mul(y, outputScale) : y;
}

export type ResampleOpts =
  | { kind: 'conv'; kernel: number; stride: number }
  | { kind: 'conv_transpose'; kernel: number }
  | { kind: 'nearest_conv'; kernel: number }
  | { kind: 'nearest' }
  | { kind: 'avgpool' };

/** A resampling step between levels that is not a residual block. */
export function resampleStep(p: ParamStore, path: string, x: tf.Tensor4D, o: ResampleOpts): tf.Tensor4D {
  switch (o.kind) {
    case 'conv':
      return conv(p, `${path}.conv`, x, { kernel: o.kernel, stride: o.stride });
    case 'conv_transpose':
      return convTranspose(p, `${path}.conv`, x, o.kernel);
    case 'nearest_conv':
      return conv(p, `${path}.conv`, resample(x, 'up', [1, 1]), { kernel: o.kernel });
    case 'nearest':
      return resample(x, 'up', [1, 1]);
    case 'avgpool':
      return resample(x, 'down', [1, 1]);
  }
}

/** Output head: [norm, SiLU,] conv. */
export function head(p: ParamStore, path: string, x: tf.Tensor4D, o: { norm: NormOpts | null; kernel: number }): tf.Tensor4D {
  const h = o.norm ? silu(norm(p, `${path}.norm`, x, o.norm)) : x;
  return conv(p, `${path}.conv`, h, { kernel: o.kernel });
}
