/**
 * Typed block ops: the one statement of what each block computes. The elaborator writes one op
 * per block; the runtime (src/runtime/model/), the emitters and the analyses read only these.
 * Every tensor an op reads is named by a `Ref`: a parameter name relative to the block's path
 * (`conv0.weight` in block `enc.16x16.block0` is the parameter `enc.16x16.block0.conv0.weight`).
 * Relative names let blocks with the same structure share one op value (the emitted model
 * declares each distinct op once). src/ir/invariants.ts checks that every parameter is read by
 * exactly one op and that every Ref names a parameter.
 */

/** A parameter name relative to the op's block path. */
export type Ref = string;

export interface LinearOp {
  weight: Ref;
  bias?: Ref;
  din: number;
  dout: number;
}

/** A conv with PyTorch's symmetric zero padding, plus the LoRA layers that wrap it. */
export interface ConvOp {
  weight: Ref;
  bias?: Ref;
  cin: number;
  cout: number;
  kernel: number;
  stride: number;
  pad: number;
  lora: LoraOp[];
}

/** ConvTranspose2d(kernel, stride 2): doubles H and W. */
export interface ConvTransposeOp {
  weight: Ref;
  bias: Ref;
  cin: number;
  cout: number;
  kernel: number;
}

/** GroupNorm (statistics per sample and group over H, W and the group's channels) or LayerNorm over (C, H, W). */
export interface NormOp {
  kind: 'group' | 'layer';
  groups: number;
  eps: number;
  /** Absent without an affine transform. */
  weight?: Ref;
  bias?: Ref;
}

interface LoraCommon {
  /** The LoRA module's path relative to the block (`conv0.uc_lora`): its identity in listings and batching. */
  site: Ref;
  rank: number;
  /** Stacked A_i: [m r, C_in k k], a k x k conv to m r channels. */
  down: Ref;
  /** Stacked B_i: [C_out, m r]. */
  up: Ref;
}

/** omega = table[t] for the integer timestep t (0-based row). */
export interface TimeLoraOp extends LoraCommon {
  kind: 'time_lora';
  bases: number;
  steps: number;
  omega: Ref;
}

/** omega = the class vector (one basis per class). */
export interface ClassLoraOp extends LoraCommon {
  kind: 'class_lora';
  classes: number;
}

/** One hidden layer of UC-LoRA's composition MLP: Linear, GroupNorm, SiLU. */
export interface MlpLayerOp {
  linear: LinearOp;
  norm: NormOp;
}

/** omega = MLP(v); delta = s (up(omega_rep down(x)) + omega_rep Bias). */
export interface UcLoraOp extends LoraCommon {
  kind: 'uc_lora';
  bases: number;
  hidden: MlpLayerOp[];
  out: LinearOp;
  bias?: Ref;
  /** A trainable scalar, or the fixed scale s. */
  scale: Ref | number;
}

export type LoraOp = TimeLoraOp | ClassLoraOp | UcLoraOp;

/** A modulation by v through an MLP (SiLU between its layers): shift or scale-and-shift. */
export interface ModulationOp {
  kind: 'shift' | 'scale_shift';
  /** `input`: the block's input; `conv0`: after the first conv; `norm1`: the second norm's output. */
  at: 'input' | 'conv0' | 'norm1';
  mlp: LinearOp[];
}

/**
 * Self-attention over H x W. `layout` is how qkv's 3C channels split into heads: `interleaved`
 * (EDM: channel h 3d + 3 i + s) or `per_head` (improved-diffusion: h 3d + s d + i), with s the
 * q/k/v index and i < d = C / heads.
 */
export interface AttentionOp {
  norm: NormOp | null;
  adaln?: LinearOp;
  qkv: ConvOp;
  proj: ConvOp;
  heads: number;
  layout: 'interleaved' | 'per_head';
  /** Multiplies x + proj(...) (EDM: sqrt(0.5)). */
  outputScale: number;
}

/**
 * A residual (or plain) block. Conv i reads norm i's output (then the activation, for `pre`);
 * dropout sits right before every conv after the first, after its activation (as EDM, improved
 * diffusion and the LoRA paper's code place it). Resampling happens before conv 0 and on the skip.
 */
export interface ResBlockOp {
  op: 'res_block';
  order: 'pre' | 'post';
  norms: (NormOp | null)[];
  convs: ConvOp[];
  dropout: number;
  resample?: { mode: 'down' | 'up'; filter: number[] };
  residual: boolean;
  skip?: ConvOp;
  outputScale: number;
  modulation?: ModulationOp;
  attention?: AttentionOp;
}

export interface StemOp {
  op: 'stem';
  conv: ConvOp;
}

export type ResampleOp =
  | { op: 'resample'; mode: 'conv'; conv: ConvOp }
  | { op: 'resample'; mode: 'conv_transpose'; conv: ConvTransposeOp }
  | { op: 'resample'; mode: 'nearest_conv'; conv: ConvOp }
  | { op: 'resample'; mode: 'nearest' | 'avgpool' };

/** Output head: [norm, SiLU,] conv. */
export interface HeadOp {
  op: 'head';
  norm: NormOp | null;
  conv: ConvOp;
}

export interface NoiseEmbeddingOp {
  kind: 'sinusoidal' | 'positional' | 'fourier' | 'table';
  dim: number;
  maxPositions: number;
  endpoint: boolean;
  flip: boolean;
  /** Fourier: std of the fixed random frequencies. */
  scale: number;
  /** Multiplies the time input before the embedding (improved-diffusion's rescale_timesteps: 1000 / T). */
  inputScale: number;
  table?: Ref;
}

/** v from the noise level / timestep, class labels and augmentation labels. */
export interface EmbeddingOp {
  op: 'embedding';
  noise: NoiseEmbeddingOp;
  /** Class labels (times `scale`, EDM: sqrt(classes)) through a table or a linear map, added before or after the MLP. */
  label?: { at: 'input' | 'output'; scale: number; table?: Ref; linear?: LinearOp };
  augment?: LinearOp;
  /** Linear layers with SiLU between them. */
  mlp: LinearOp[];
  /** SiLU after the last layer (after an output-side label is added). */
  outAct: boolean;
}

export type BlockOp = EmbeddingOp | StemOp | ResBlockOp | ResampleOp | HeadOp;

/** Every Ref an op reads, in reading order. */
export function refsOf(op: BlockOp): Ref[] {
  const out: Ref[] = [];
  const lin = (l: LinearOp | undefined) => {
    if (l) out.push(l.weight, ...(l.bias ? [l.bias] : []));
  };
  const norm = (n: NormOp | null | undefined) => {
    if (n?.weight) out.push(n.weight);
    if (n?.bias) out.push(n.bias);
  };
  const lora = (l: LoraOp) => {
    out.push(l.down, l.up);
    if (l.kind === 'time_lora') out.push(l.omega);
    if (l.kind === 'uc_lora') {
      for (const h of l.hidden) {
        lin(h.linear);
        norm(h.norm);
      }
      lin(l.out);
      if (l.bias) out.push(l.bias);
      if (typeof l.scale === 'string') out.push(l.scale);
    }
  };
  const conv = (c: ConvOp | ConvTransposeOp | undefined) => {
    if (!c) return;
    out.push(c.weight, ...(c.bias ? [c.bias] : []));
    if ('lora' in c) c.lora.forEach(lora);
  };
  switch (op.op) {
    case 'embedding':
      if (op.noise.table) out.push(op.noise.table);
      if (op.label?.table) out.push(op.label.table);
      lin(op.label?.linear);
      lin(op.augment);
      op.mlp.forEach(lin);
      break;
    case 'stem':
      conv(op.conv);
      break;
    case 'resample':
      if ('conv' in op) conv(op.conv);
      break;
    case 'head':
      norm(op.norm);
      conv(op.conv);
      break;
    case 'res_block':
      op.modulation?.mlp.forEach(lin);
      op.convs.forEach((c, i) => {
        norm(op.norms[i]);
        conv(c);
      });
      conv(op.skip);
      if (op.attention) {
        norm(op.attention.norm);
        lin(op.attention.adaln);
        conv(op.attention.qkv);
        conv(op.attention.proj);
      }
      break;
  }
  return out;
}

/** The convs a LoRA can wrap: a residual block's convs in order, then its attention's qkv and proj. */
export function convsOf(op: BlockOp): ConvOp[] {
  if (op.op !== 'res_block') return [];
  return [...op.convs, ...(op.attention ? [op.attention.qkv, op.attention.proj] : [])];
}

/** Every LoRA op of a block op, in the order of convsOf. */
export function lorasOf(op: BlockOp): LoraOp[] {
  return convsOf(op).flatMap((c) => c.lora);
}
