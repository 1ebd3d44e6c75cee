/**
 * Constructors of IR modules: each knows its parameter shapes and initialisation, its forward
 * FLOPs and output size, and returns the typed op fragment that reads its parameters. Parameter
 * shapes follow PyTorch's layout (conv weight [out, in, kh, kw], linear [out, in]) so counts and
 * checkpoints line up with the reference implementations.
 */
import type { ConvOp, ConvTransposeOp, Init, Layout, LinearOp, Module, ModuleKind, NormOp, Param, Ref, Shape } from '../ir/types.ts';

/**
 * How weights start, by scheme: `torch` is PyTorch's default for conv and linear layers (weights
 * and biases U(+-1/sqrt(fan_in))), with exact zeros for zero-initialised layers (improved
 * diffusion's zero_module); `edm` is EDM's networks.py: xavier_uniform weights with zero biases,
 * zero-initialised layers scaled by 1e-5 and attention's qkv by sqrt(0.2).
 */
export type InitScheme = 'torch' | 'edm';
/** What a layer is to its initialisation: plain, zero-initialised (last conv, proj, head), or attention's qkv. */
export type InitRole = 'plain' | 'zero' | 'attn';

export interface Ctx {
  block: string;
  role: Module['role'];
  trainable: boolean;
  init: InitScheme;
}

const TORCH_GAIN = 1 / Math.sqrt(3);

function fanInit(scheme: InitScheme, role: InitRole, fanIn: number, fanOut: number, what: 'weight' | 'bias'): Init {
  if (scheme === 'torch') return role === 'zero' ? { fn: 'zeros' } : { fn: 'kaiming_uniform', fanIn, fanOut, gain: TORCH_GAIN };
  if (what === 'bias') return { fn: 'zeros' };
  return { fn: 'xavier_uniform', fanIn, fanOut, gain: role === 'zero' ? 1e-5 : role === 'attn' ? Math.sqrt(0.2) : 1 };
}

export const param = (name: string, shape: number[], init: Init, trainable = true, layout: Layout = 'plain'): Param => ({
  name,
  shape,
  init,
  trainable,
  layout,
});

/** A parameter's name relative to the block (what ops hold). */
export const rel = (ctx: Ctx, path: string, name: string): Ref => `${path}.${name}`.slice(ctx.block.length + 1);

export function makeModule(ctx: Ctx, path: string, kind: ModuleKind, params: Param[], flops: number, outputElems: number): Module {
  return { path, kind, block: ctx.block, role: ctx.role, params, flops, outputElems };
}

export interface Built<Op> {
  module: Module;
  op: Op;
}

export function conv2d(
  ctx: Ctx,
  path: string,
  cin: number,
  cout: number,
  k: number,
  inShape: Shape,
  opts: { stride?: number; bias?: boolean; role?: InitRole; up?: boolean; down?: boolean } = {},
): Built<ConvOp> {
  const stride = opts.stride ?? 1;
  const ho = opts.up ? inShape.h * 2 : opts.down || stride === 2 ? Math.floor(inShape.h / 2) : inShape.h;
  const wo = opts.up ? inShape.w * 2 : opts.down || stride === 2 ? Math.floor(inShape.w / 2) : inShape.w;
  const role = opts.role ?? 'plain';
  const fanIn = cin * k * k;
  const fanOut = cout * k * k;
  const params = [param('weight', [cout, cin, k, k], fanInit(ctx.init, role, fanIn, fanOut, 'weight'), ctx.trainable, 'conv')];
  const hasBias = opts.bias !== false;
  if (hasBias) params.push(param('bias', [cout], fanInit(ctx.init, role, fanIn, fanOut, 'bias'), ctx.trainable));
  // PyTorch-style symmetric padding, as the reference networks use: 1 for 3x3 and for 4x4 stride 2.
  const op: ConvOp = {
    weight: rel(ctx, path, 'weight'),
    ...(hasBias ? { bias: rel(ctx, path, 'bias') } : {}),
    cin,
    cout,
    kernel: k,
    stride,
    pad: Math.floor((k - 1) / 2),
    lora: [],
  };
  return { module: makeModule(ctx, path, 'conv2d', params, 2 * k * k * cin * cout * ho * wo, cout * ho * wo), op };
}

export function convTranspose2d(ctx: Ctx, path: string, cin: number, cout: number, k: number, inShape: Shape): Built<ConvTransposeOp> {
  // PyTorch computes ConvTranspose2d's fan-in from weight dim 1 (C_out) times k k.
  const fanIn = cout * k * k;
  const fanOut = cin * k * k;
  const params = [
    param('weight', [cin, cout, k, k], fanInit(ctx.init, 'plain', fanIn, fanOut, 'weight'), ctx.trainable, 'conv'),
    param('bias', [cout], fanInit(ctx.init, 'plain', fanIn, fanOut, 'bias'), ctx.trainable),
  ];
  const op: ConvTransposeOp = { weight: rel(ctx, path, 'weight'), bias: rel(ctx, path, 'bias'), cin, cout, kernel: k };
  return {
    module: makeModule(
      ctx,
      path,
      'conv_transpose2d',
      params,
      2 * k * k * cin * cout * inShape.h * inShape.w,
      cout * inShape.h * 2 * inShape.w * 2,
    ),
    op,
  };
}

/**
 * A linear layer. `init` overrides the scheme (UC-LoRA's composition MLP follows the LoRA paper's
 * code: kaiming_normal weights, zero biases).
 */
export function linear(
  ctx: Ctx,
  path: string,
  din: number,
  dout: number,
  opts: { bias?: boolean; role?: InitRole; init?: 'kaiming_normal' } = {},
): Built<LinearOp> {
  const w: Init =
    opts.init === 'kaiming_normal'
      ? { fn: 'kaiming_normal', fanIn: din, fanOut: dout, gain: 1 }
      : fanInit(ctx.init, opts.role ?? 'plain', din, dout, 'weight');
  const b: Init = opts.init === 'kaiming_normal' ? { fn: 'zeros' } : fanInit(ctx.init, opts.role ?? 'plain', din, dout, 'bias');
  const params = [param('weight', [dout, din], w, ctx.trainable, 'linear')];
  const hasBias = opts.bias !== false;
  if (hasBias) params.push(param('bias', [dout], b, ctx.trainable));
  const op: LinearOp = { weight: rel(ctx, path, 'weight'), ...(hasBias ? { bias: rel(ctx, path, 'bias') } : {}), din, dout };
  return { module: makeModule(ctx, path, 'linear', params, 2 * din * dout, dout), op };
}

export function groupNorm(ctx: Ctx, path: string, c: number, groups: number, eps: number, affine: boolean, hw: number): Built<NormOp> {
  const params = affine ? [param('weight', [c], { fn: 'ones' }, ctx.trainable), param('bias', [c], { fn: 'zeros' }, ctx.trainable)] : [];
  const op: NormOp = { kind: 'group', groups, eps, ...(affine ? { weight: rel(ctx, path, 'weight'), bias: rel(ctx, path, 'bias') } : {}) };
  return { module: makeModule(ctx, path, 'group_norm', params, 8 * c * hw, c * hw), op };
}

/** LayerNorm over the whole (C, H, W) tensor, with an elementwise affine (as nano diffusion's MyConv). */
export function layerNorm(ctx: Ctx, path: string, s: Shape, eps: number, affine: boolean): Built<NormOp> {
  const n = s.c * s.h * s.w;
  const params = affine
    ? [
        param('weight', [s.c, s.h, s.w], { fn: 'ones' }, ctx.trainable, 'chw'),
        param('bias', [s.c, s.h, s.w], { fn: 'zeros' }, ctx.trainable, 'chw'),
      ]
    : [];
  const op: NormOp = {
    kind: 'layer',
    groups: 1,
    eps,
    ...(affine ? { weight: rel(ctx, path, 'weight'), bias: rel(ctx, path, 'bias') } : {}),
  };
  return { module: makeModule(ctx, path, 'layer_norm', params, 8 * n, n), op };
}

export function embeddingTable(ctx: Ctx, path: string, rows: number, dim: number, init: Init, trainable: boolean): Built<Ref> {
  return {
    module: makeModule(ctx, path, 'embedding_table', [param('weight', [rows, dim], init, trainable)], 0, dim),
    op: rel(ctx, path, 'weight'),
  };
}

export function noiseEmbedding(ctx: Ctx, path: string, dim: number): Module {
  return makeModule(ctx, path, 'noise_embedding', [], 4 * dim, dim);
}

/** Softmax(QK^T / sqrt(d)) V over heads; the parameters live in the qkv and proj convs. */
export function attentionCore(ctx: Ctx, path: string, c: number, heads: number, hw: number): Module {
  return makeModule(ctx, path, 'attention_core', [], 4 * hw * hw * c + 5 * heads * hw * hw, c * hw + heads * hw * hw);
}

export function resample(ctx: Ctx, path: string, out: Shape, filter: number[]): Module {
  return makeModule(ctx, path, 'resample', [], 2 * filter.length * filter.length * out.c * out.h * out.w, out.c * out.h * out.w);
}
