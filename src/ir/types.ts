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

export interface Param {
  name: string;
  shape: number[];
  trainable: boolean;
  /** How the emitter initialises it (e.g. `zeros`, `ones`, `normal(1/r)`, `kaiming_uniform`). */
  init: string;
}

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
  attrs: Record<string, number | string | boolean | number[]>;
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
  /** How a residual block computes (absent on other kinds). */
  style?: BlockStyle;
  /** Attention heads, when the block has attention. */
  heads?: number;
  /** Where in the spec this block comes from: file and line. */
  origin: { file: string; line: number };
}

export interface BlockStyle {
  /** `pre`: norm, SiLU, conv; `post`: norm, conv, SiLU. */
  order: 'pre' | 'post';
  residual: boolean;
  /** Output multiplied by this (EDM: sqrt(0.5)). */
  outputScale: number;
  dropout: number;
}

/** How the shared condition vector v is made from the noise level / timestep, labels and augmentation. */
export interface EmbeddingSpec {
  noise: { kind: 'sinusoidal' | 'positional' | 'fourier' | 'table'; dim: number; maxPositions: number; endpoint: boolean; flip: boolean; scale: number };
  label: { kind: 'none' | 'embedding' | 'linear'; at: 'input' | 'output' };
  augment: { kind: 'none' | 'linear' };
  mlp: number[];
  /** SiLU after the last layer (after the output-side label is added). */
  outAct: boolean;
}

export interface IR {
  irVersion: 1;
  name: string;
  input: { size: number; channels: number; classes: number; augment: number };
  diffusion: Record<string, number | string | boolean>;
  training: Record<string, number | string | boolean>;
  /** Width of the shared condition vector v (0 when nothing consumes it). */
  embedDim: number;
  embedding: EmbeddingSpec;
  /** FIR filter of resampling inside blocks and of parameter-free resample modules. */
  resampleFilter: number[];
  blocks: Block[];
  modules: Module[];
  /** Modules the spec describes that nothing consumes (e.g. an embedding MLP only LoRA-free blocks used). */
  elided: string[];
}
