/**
 * Reads a validated Config into typed settings with every default filled in. Defaults live here,
 * once; the schema says what is allowed, this file says what an omitted option means. Spans kept
 * here are the ones the built model names as a block's origin; rules find the place of a problem
 * through their context (rules/context.ts), not through these.
 */
import type { Span } from '../diagnostics/span.ts';
import type { Config, SectionValues } from './validate.ts';
import type { CallV, Value } from './values.ts';

export interface NormSettings {
  kind: 'group' | 'layer' | 'none';
  groups: number;
  minGroupChannels?: number;
  eps: number;
  affine: boolean;
  span: Span;
}

export type Width = { fixed: number; span: Span } | { expr: import('../syntax/ast.ts').Expr; span: Span };

export interface BlockSettings {
  convs: number;
  kernel: number;
  widths?: Width[];
  norm: NormSettings;
  order: 'pre' | 'post';
  residual: boolean;
  skipProj: 'changed' | 'changed_or_resampled';
  dropout: number;
  scale: number;
}

export interface CondSettings {
  kind: string;
  args: Map<string, Value>;
  span: Span;
}

export interface Settings {
  name: string;
  files: string[];
  input: { size: number; channels: number; classes: number; augment: number; span: Span };
  diffusion: Record<string, number | string | boolean> & { process: 'ddpm' | 'edm' };
  embedding: {
    noise: {
      kind: string;
      dim: number;
      frozen: boolean;
      maxPositions: number;
      endpoint: boolean;
      flip: boolean;
      scale: number;
      span: Span;
    };
    label: { kind: 'none' | 'embedding' | 'linear'; bias: boolean; at: 'input' | 'output' };
    augment: { kind: 'none' | 'linear'; bias: boolean };
    mlp: number[];
    outAct: boolean;
    /** Multiplies the class vector before it joins v. */
    labelScale: number;
    span: Span;
  };
  unet: {
    channels: number;
    mult: number[];
    blocks: number[];
    /** Where the encoder's and decoder's blocks per level are given (blocks, when decoder_blocks is omitted): blocks are traced to these lines. */
    blocksSpan: Span;
    decoderBlocks: number[];
    decoderBlocksSpan: Span;
    /** Per level (level 0 first) when given per level; one list for every level otherwise. */
    decoderWidths?: Width[] | Width[][];
    stem: { kind: 'none' | 'conv'; kernel: number };
    skips: 'all' | 'levels' | 'none';
    bottleneck: 'lowest' | 'below';
    down: { kind: 'conv' | 'avgpool' | 'block'; kernel: number; span: Span };
    up: { kind: 'nearest_conv' | 'nearest' | 'conv_transpose' | 'block'; kernel: number; span: Span };
    middle: { attention: boolean; widths?: Width[]; span: Span }[];
    head: { kernel: number; norm: boolean; zeroInit: boolean; span: Span };
    init: 'torch' | 'edm';
    resampleFilter: number[];
    block: BlockSettings;
    attention: {
      at: number[];
      heads: number;
      headsSpan: Span;
      headChannels?: number;
      encoder: 'all' | 'none';
      decoder: 'all' | 'last' | 'none';
      norm: NormSettings;
      qkvLayout: 'interleaved' | 'per_head';
      span: Span;
    };
    span: Span;
  };
  conditioning: {
    residual: CondSettings[];
    attention: CondSettings[];
    selectors: { pattern: string; span: Span; conds: CondSettings[] }[];
  };
  training: Record<string, number | string | boolean>;
}

const num = (s: SectionValues, k: string, d: number): number => {
  const v = s.values.get(k);
  return v && v.kind === 'num' ? v.v : d;
};
const bool = (s: SectionValues, k: string, d: boolean): boolean => {
  const v = s.values.get(k);
  return v && v.kind === 'bool' ? v.v : d;
};
const sym = <T extends string>(s: SectionValues, k: string, d: T): T => {
  const v = s.values.get(k);
  return v && v.kind === 'sym' ? (v.name as T) : d;
};
const spanOf = (s: SectionValues, k: string): Span => s.values.get(k)?.span ?? s.span;
const call = (s: SectionValues, k: string): CallV | undefined => {
  const v = s.values.get(k);
  return v && v.kind === 'call' ? v : undefined;
};
const argNum = (c: CallV | undefined, k: string, d: number): number => {
  const v = c?.args.get(k);
  return v && v.kind === 'num' ? v.v : d;
};
const argBool = (c: CallV | undefined, k: string, d: boolean): boolean => {
  const v = c?.args.get(k);
  return v && v.kind === 'bool' ? v.v : d;
};
const numList = (v: Value | undefined): number[] | undefined =>
  v && v.kind === 'list' ? v.items.map((i) => (i.kind === 'num' ? i.v : NaN)) : undefined;

/** A list value of width expressions (numbers, or expressions over in/out) as Widths. */
export function widthsOf(v: Value | undefined): Width[] | undefined {
  if (!v || v.kind !== 'list') return undefined;
  return v.items.map((i) =>
    i.kind === 'num' ? { fixed: i.v, span: i.span } : { expr: (i as { expr: import('../syntax/ast.ts').Expr }).expr, span: i.span },
  );
}

export function readNorm(c: CallV | undefined, dflt: Omit<NormSettings, 'span'>, span: Span): NormSettings {
  if (!c) return { ...dflt, span };
  const kind = c.name as NormSettings['kind'];
  const minGroup = c.args.get('min_group_channels');
  return {
    kind,
    groups: argNum(c, 'groups', 32),
    minGroupChannels: minGroup && minGroup.kind === 'num' ? minGroup.v : undefined,
    eps: argNum(c, 'eps', 1e-5),
    affine: argBool(c, 'affine', true),
    span: c.span,
  };
}

function decoderWidths(v: Value | undefined): Width[] | Width[][] | undefined {
  if (v && v.kind === 'list' && v.items.length > 0 && v.items[0].kind === 'list') return v.items.map((i) => widthsOf(i)!);
  return widthsOf(v);
}

function conds(v: Value | undefined): CondSettings[] {
  if (!v) return [];
  const items = v.kind === 'list' ? v.items : [v];
  return items.filter((i): i is CallV => i.kind === 'call' && i.name !== 'none').map((c) => ({ kind: c.name, args: c.args, span: c.span }));
}

function perLevel(v: Value | undefined, levels: number, dflt: (l: number) => number): number[] {
  if (v && v.kind === 'num') return Array.from({ length: levels }, () => v.v);
  const l = numList(v);
  if (l) return l;
  return Array.from({ length: levels }, (_, i) => dflt(i));
}

function record(s: SectionValues): Record<string, number | string | boolean> {
  const out: Record<string, number | string | boolean> = {};
  for (const [k, v] of s.values) {
    if (v.kind === 'num' || v.kind === 'bool') out[k] = v.v;
    else if (v.kind === 'sym') out[k] = v.name;
    else if (v.kind === 'str') out[k] = v.v;
  }
  return out;
}

function labelScale(v: Value | undefined, classes: number): number {
  if (v && v.kind === 'sym' && v.name === 'sqrt_classes') return Math.sqrt(classes);
  return v && v.kind === 'num' ? v.v : 1;
}

export function readSettings(cfg: Config): Settings {
  const sec = (k: string) => cfg.root.sections.get(k)!;
  const input = sec('input');
  const diff = sec('diffusion');
  const emb = sec('embedding');
  const unet = sec('unet');
  const block = unet.sections.get('block')!;
  const attn = unet.sections.get('attention')!;
  const cond = sec('conditioning');

  const process = sym(diff, 'process', 'ddpm' as 'ddpm' | 'edm');
  const diffusion = { ...record(diff), process } as Settings['diffusion'];

  const noise = call(emb, 'noise');
  const label = call(emb, 'label');
  const augment = call(emb, 'augment');
  const mult = numList(unet.values.get('mult')) ?? [1];
  const levels = mult.length;
  const blocks = perLevel(unet.values.get('blocks'), levels, () => 2);
  const stem = call(unet, 'stem');
  const down = call(unet, 'down');
  const up = call(unet, 'up');
  const head = call(unet, 'head');
  const middleV = unet.values.get('middle');
  const middle =
    middleV && middleV.kind === 'list'
      ? middleV.items.map((i) => {
          const c = i as CallV;
          return { attention: argBool(c, 'attention', false), widths: widthsOf(c.args.get('widths')), span: c.span };
        })
      : [
          { attention: true, span: unet.span },
          { attention: false, span: unet.span },
        ];
  const atV = attn.values.get('at');

  return {
    name: cfg.name,
    files: cfg.files,
    input: {
      size: num(input, 'size', 32),
      channels: num(input, 'channels', 3),
      classes: num(input, 'classes', 0),
      augment: num(input, 'augment', 0),
      span: input.span,
    },
    diffusion,
    embedding: {
      noise: {
        kind: noise?.name ?? 'sinusoidal',
        dim: argNum(noise, 'dim', 128),
        frozen: argBool(noise, 'frozen', true),
        maxPositions: argNum(noise, 'max_positions', 10000),
        endpoint: argBool(noise, 'endpoint', false),
        flip: argBool(noise, 'flip', false),
        scale: argNum(noise, 'scale', 16),
        span: noise?.span ?? emb.span,
      },
      label: {
        kind: (label?.name ?? (num(input, 'classes', 0) > 0 ? 'embedding' : 'none')) as 'none' | 'embedding' | 'linear',
        bias: argBool(label, 'bias', true),
        at: sym(emb, 'label_at', label?.name === 'linear' ? 'input' : 'output'),
      },
      augment: {
        kind: (augment?.name ?? (num(input, 'augment', 0) > 0 ? 'linear' : 'none')) as 'none' | 'linear',
        bias: argBool(augment, 'bias', false),
      },
      mlp: numList(emb.values.get('mlp')) ?? [],
      outAct: bool(emb, 'out_act', false),
      labelScale: labelScale(emb.values.get('label_scale'), num(input, 'classes', 0)),
      span: emb.span,
    },
    unet: {
      channels: num(unet, 'channels', 64),
      mult,
      blocks,
      blocksSpan: spanOf(unet, 'blocks'),
      decoderBlocks: perLevel(unet.values.get('decoder_blocks'), levels, (l) => blocks[l] + 1),
      decoderBlocksSpan: unet.values.get('decoder_blocks')?.span ?? spanOf(unet, 'blocks'),
      decoderWidths: decoderWidths(unet.values.get('decoder_widths')),
      stem: { kind: (stem?.name ?? 'conv') as 'none' | 'conv', kernel: argNum(stem, 'kernel', 3) },
      skips: sym(unet, 'skips', 'all'),
      bottleneck: sym(unet, 'bottleneck', 'lowest'),
      down: {
        kind: (down?.name ?? 'conv') as 'conv' | 'avgpool' | 'block',
        kernel: argNum(down, 'kernel', 3),
        span: down?.span ?? unet.span,
      },
      up: {
        kind: (up?.name ?? 'nearest_conv') as Settings['unet']['up']['kind'],
        kernel: argNum(up, 'kernel', up?.name === 'conv_transpose' ? 4 : 3),
        span: up?.span ?? unet.span,
      },
      middle,
      head: {
        kernel: argNum(head, 'kernel', 3),
        norm: argBool(head, 'norm', true),
        zeroInit: argBool(head, 'zero_init', true),
        span: head?.span ?? unet.span,
      },
      resampleFilter: numList(unet.values.get('resample_filter')) ?? [1, 1],
      init: sym(unet, 'init', 'torch'),
      block: {
        convs: num(block, 'convs', 2),
        kernel: num(block, 'kernel', 3),
        widths: widthsOf(block.values.get('widths')),
        norm: readNorm(call(block, 'norm'), { kind: 'group', groups: 32, eps: 1e-5, affine: true }, block.span),
        order: sym(block, 'order', 'pre'),
        residual: bool(block, 'residual', true),
        skipProj: sym(block, 'skip_proj', 'changed'),
        dropout: num(block, 'dropout', 0),
        scale: num(block, 'scale', 1),
      },
      attention: {
        at: numList(atV) ?? [],
        heads: num(attn, 'heads', 1),
        headsSpan: attn.values.get('head_channels')?.span ?? attn.values.get('heads')?.span ?? attn.span,
        headChannels: attn.values.has('head_channels') ? num(attn, 'head_channels', 64) : undefined,
        encoder: sym(attn, 'encoder', 'all'),
        decoder: sym(attn, 'decoder', 'all'),
        // Attention uses the block's norm unless it names its own.
        norm: call(attn, 'norm')
          ? readNorm(call(attn, 'norm'), { kind: 'group', groups: 32, eps: 1e-5, affine: true }, attn.span)
          : readNorm(call(block, 'norm'), { kind: 'group', groups: 32, eps: 1e-5, affine: true }, block.span),
        qkvLayout: sym(attn, 'qkv_layout', 'interleaved'),
        span: attn.span,
      },
      span: unet.span,
    },
    conditioning: {
      residual: conds(cond.values.get('residual')),
      attention: conds(cond.values.get('attention')),
      selectors: cond.selectors.map((s) => ({ pattern: s.pattern, span: s.span, conds: conds(s.value) })),
    },
    training: record(sec('training')),
  };
}

// Arguments of a conditioning call, with their defaults (the schema's `default` texts say the same).
export function condNum(c: CondSettings, k: string, d: number): number {
  const v = c.args.get(k);
  return v && v.kind === 'num' ? v.v : d;
}
export function condBool(c: CondSettings, k: string, d: boolean): boolean {
  const v = c.args.get(k);
  return v && v.kind === 'bool' ? v.v : d;
}
export function condSym(c: CondSettings, k: string, d: string): string {
  const v = c.args.get(k);
  return v && v.kind === 'sym' ? v.name : d;
}

/** TimeLoRA's table size: its own T, else the diffusion's. */
export function loraTableSize(c: CondSettings, s: Settings): number | undefined {
  const t = c.args.get('T');
  if (t && t.kind === 'num') return t.v;
  const dt = s.diffusion.T;
  return typeof dt === 'number' ? dt : undefined;
}

/** Hidden widths of UC-LoRA's composition MLP (default [128, 64]). */
export function ucMlpWidths(c: CondSettings): number[] {
  const v = c.args.get('mlp');
  return v && v.kind === 'list' ? v.items.filter((i) => i.kind === 'num').map((i) => (i as { v: number }).v) : [128, 64];
}

/** GroupNorm groups of UC-LoRA's MLP at hidden width w: its `groups`, else min(32, w / 4), at least 1. */
export function uclGroups(c: CondSettings, width: number): number {
  const g = c.args.get('groups');
  return g && g.kind === 'num' ? g.v : Math.max(1, Math.min(32, Math.floor(width / 4)));
}
