/**
 * Constructors of IR modules: each knows its parameter shapes, forward FLOPs and output size.
 * Parameter shapes follow PyTorch's layout (conv weight [out, in, kh, kw], linear [out, in]) so
 * counts and checkpoints line up with the reference implementations.
 */
import type { Module, ModuleKind, Param, Shape } from '../ir/types.ts';

export interface Ctx {
  block: string;
  role: Module['role'];
  trainable: boolean;
}

function mod(ctx: Ctx, path: string, kind: ModuleKind, params: Param[], attrs: Module['attrs'], flops: number, outputElems: number): Module {
  return { path, kind, block: ctx.block, role: ctx.role, params, attrs, flops, outputElems };
}

const p = (name: string, shape: number[], init: string, trainable = true): Param => ({ name, shape, init, trainable });

export function conv2d(ctx: Ctx, path: string, cin: number, cout: number, k: number, inShape: Shape, opts: { stride?: number; bias?: boolean; init?: string; up?: boolean; down?: boolean } = {}): Module {
  const stride = opts.stride ?? 1;
  const ho = opts.up ? inShape.h * 2 : opts.down || stride === 2 ? Math.floor(inShape.h / 2) : inShape.h;
  const wo = opts.up ? inShape.w * 2 : opts.down || stride === 2 ? Math.floor(inShape.w / 2) : inShape.w;
  const params = [p('weight', [cout, cin, k, k], opts.init ?? 'default', ctx.trainable)];
  if (opts.bias !== false) params.push(p('bias', [cout], opts.init === 'zeros' ? 'zeros' : 'default', ctx.trainable));
  // PyTorch-style symmetric padding, as the reference networks use: 1 for 3x3 and for 4x4 stride 2.
  const attrs: Module['attrs'] = { cin, cout, kernel: k, stride, pad: Math.floor((k - 1) / 2) };
  if (opts.up) attrs.resample = 'up';
  if (opts.down) attrs.resample = 'down';
  return mod(ctx, path, 'conv2d', params, attrs, 2 * k * k * cin * cout * ho * wo, cout * ho * wo);
}

export function convTranspose2d(ctx: Ctx, path: string, cin: number, cout: number, k: number, inShape: Shape): Module {
  const params = [p('weight', [cin, cout, k, k], 'default', ctx.trainable), p('bias', [cout], 'default', ctx.trainable)];
  return mod(ctx, path, 'conv_transpose2d', params, { cin, cout, kernel: k, stride: 2 }, 2 * k * k * cin * cout * inShape.h * inShape.w, cout * inShape.h * 2 * inShape.w * 2);
}

export function linear(ctx: Ctx, path: string, din: number, dout: number, opts: { bias?: boolean; init?: string } = {}): Module {
  const params = [p('weight', [dout, din], opts.init ?? 'default', ctx.trainable)];
  if (opts.bias !== false) params.push(p('bias', [dout], opts.init === 'zeros' ? 'zeros' : 'default', ctx.trainable));
  return mod(ctx, path, 'linear', params, { din, dout }, 2 * din * dout, dout);
}

export function groupNorm(ctx: Ctx, path: string, c: number, groups: number, eps: number, affine: boolean, hw: number): Module {
  const params = affine ? [p('weight', [c], 'ones', ctx.trainable), p('bias', [c], 'zeros', ctx.trainable)] : [];
  return mod(ctx, path, 'group_norm', params, { channels: c, groups, eps }, 8 * c * hw, c * hw);
}

/** LayerNorm over the whole (C, H, W) tensor, with an elementwise affine (as nano diffusion's MyConv). */
export function layerNorm(ctx: Ctx, path: string, s: Shape, eps: number, affine: boolean): Module {
  const n = s.c * s.h * s.w;
  const params = affine ? [p('weight', [s.c, s.h, s.w], 'ones', ctx.trainable), p('bias', [s.c, s.h, s.w], 'zeros', ctx.trainable)] : [];
  return mod(ctx, path, 'layer_norm', params, { channels: s.c, height: s.h, width: s.w, eps }, 8 * n, n);
}

export function embeddingTable(ctx: Ctx, path: string, rows: number, dim: number, init: string, trainable: boolean): Module {
  return mod(ctx, path, 'embedding_table', [p('weight', [rows, dim], init, trainable)], { rows, dim }, 0, dim);
}

export function noiseEmbedding(ctx: Ctx, path: string, kind: string, dim: number, attrs: Module['attrs']): Module {
  return mod(ctx, path, 'noise_embedding', [], { kind, dim, ...attrs }, 4 * dim, dim);
}

/** Softmax(QK^T / sqrt(d)) V over heads; the parameters live in the qkv and proj convs. */
export function attentionCore(ctx: Ctx, path: string, c: number, heads: number, hw: number): Module {
  return mod(ctx, path, 'attention_core', [], { channels: c, heads }, 4 * hw * hw * c + 5 * heads * hw * hw, c * hw + heads * hw * hw);
}

export function resample(ctx: Ctx, path: string, mode: string, s: Shape, out: Shape, filter: number[]): Module {
  return mod(ctx, path, 'resample', [], { mode, filter }, 2 * filter.length * filter.length * out.c * out.h * out.w, out.c * out.h * out.w);
}

export function makeModule(ctx: Ctx, path: string, kind: ModuleKind, params: Param[], attrs: Module['attrs'], flops: number, outputElems: number): Module {
  return mod(ctx, path, kind, params, attrs, flops, outputElems);
}

export const param = p;
