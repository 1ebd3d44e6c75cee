/**
 * The IR: a flat, ordered list of named modules (leaf layers with their parameters) and the blocks
 * that own them, in dataflow order. Paths follow EDM's habit (`enc.16x16.block0.attn.qkv`), so
 * parameter names are predictable. src/ir/schema.ts is the JSON Schema of this shape.
 */

export interface Shape {
  c: number;
  h: number;
  w: number;
}

import type { BlockOp } from './ops.ts';
export type * from './ops.ts';

export interface Param {
  name: string;
  shape: number[];
  trainable: boolean;
  /** How it is initialised: named like EDM's weight_init(shape, mode, fan_in, fan_out), times a gain. */
  init: Init;
  /** How its PyTorch-layout shape maps to the runtime's (tfjs, NHWC) layout. */
  layout: Layout;
}

/**
 * Initialisation of one tensor. The fan modes follow EDM's `weight_init`: xavier_uniform
 * sqrt(6 / (fan_in + fan_out)) U(-1, 1), xavier_normal sqrt(2 / (fan_in + fan_out)) N(0, 1),
 * kaiming_uniform sqrt(3 / fan_in) U(-1, 1), kaiming_normal sqrt(1 / fan_in) N(0, 1), each times
 * `gain` (EDM's init_weight). PyTorch's default for conv and linear layers (weights and biases:
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in))) is kaiming_uniform with gain 1/sqrt(3).
 */
export type Init =
  | { fn: 'zeros' }
  | { fn: 'ones' }
  | { fn: 'normal'; std: number }
  | { fn: 'xavier_uniform' | 'xavier_normal' | 'kaiming_uniform' | 'kaiming_normal'; fanIn: number; fanOut: number; gain: number }
  /** TimeLoRA's omega table: linear interpolation between evenly spaced knots (DESIGN.md section 3). */
  | { fn: 'interp' }
  /** A [rows, dim] sinusoidal timestep table (row t: cos and sin of t f_i, f_i = 10000^(-i / half)). */
  | { fn: 'sinusoidal' };

/** How a PyTorch-layout parameter maps to the runtime's layout. */
export type Layout =
  | 'plain' // same shape
  | 'conv' // [O, I, kh, kw] -> [kh, kw, I, O]; also ConvTranspose2d [I, O, kh, kw] -> [kh, kw, O, I]
  | 'linear' // [O, I] -> [I, O]
  | 'chw' // [C, H, W] -> [H, W, C]
  | { loraDown: number }; // [r*m, I*k*k] -> [k, k, I, r*m] (a kxk conv to r*m channels)

export type ModuleKind =
  | 'conv2d'
  | 'conv_transpose2d'
  | 'linear'
  | 'group_norm'
  | 'layer_norm'
  | 'embedding_table'
  | 'noise_embedding'
  | 'attention_core'
  | 'resample'
  | 'time_lora'
  | 'class_lora'
  | 'uc_lora';

export interface Module {
  path: string;
  kind: ModuleKind;
  /** Path of the block this module belongs to. */
  block: string;
  /** `base` for the network itself, `conditioning` for the layers a conditioning adds. */
  role: 'base' | 'conditioning';
  params: Param[];
  /** Multiply-adds x 2 of one forward pass at batch 1. */
  flops: number;
  /** Floats this module's output holds at batch 1. */
  outputElems: number;
}

export type BlockKind = 'embedding' | 'stem' | 'res' | 'down' | 'up' | 'head';

export interface ConditioningRef {
  kind: string;
  /** Options as written (after defaults), for listings and the emitter. */
  options: Record<string, number | string | boolean | number[]>;
}

export interface Block {
  path: string;
  kind: BlockKind;
  part: 'emb' | 'enc' | 'mid' | 'dec' | 'out';
  in: Shape;
  out: Shape;
  /** Channels concatenated from the skip stack before this block, if any. */
  skipIn?: number;
  /** Whether this block's output is pushed on the skip stack. */
  pushSkip: boolean;
  attention: boolean;
  resample?: 'down' | 'up';
  conditioning: { residual: ConditioningRef[]; attention: ConditioningRef[] };
  /** What the block computes: the one statement of its semantics (src/ir/ops.ts). */
  op: BlockOp;
  /** Attention heads, when the block has attention. */
  heads?: number;
  /** Where in the spec this block comes from: file and line. */
  origin: { file: string; line: number };
}

export interface IR {
  irVersion: 2;
  name: string;
  input: { size: number; channels: number; classes: number; augment: number };
  diffusion: Record<string, number | string | boolean>;
  training: Record<string, number | string | boolean>;
  /** Width of the shared condition vector v (0 when nothing consumes it). */
  embedDim: number;
  blocks: Block[];
  modules: Module[];
  /** Modules the spec describes that nothing consumes (e.g. an embedding MLP only LoRA-free blocks used). */
  elided: string[];
}
