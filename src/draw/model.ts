/**
 * The view models of the pictures (the architecture diagram; the LoRA layers and noise axis that
 * `unetc plot omega` evaluates), and the one place src/draw and src/plot read the IR (so that a
 * change of the IR's shape touches this file only). It reads `ir.blocks` (path, kind, part, shapes,
 * skips, attention, resampling, conditioning references, heads) and `ir.modules` (path, kind,
 * block, role, parameter shapes); never module attributes.
 */
import { lorasOf } from '../ir/ops.ts';
import type { EmbeddingOp, IR, LinearOp, TimeLoraOp, UcLoraOp } from '../ir/types.ts';

export type BadgeKind = 'shift' | 'scale_shift' | 'adaln' | 'time_lora' | 'class_lora' | 'uc_lora' | 'other';

export interface Badge {
  kind: BadgeKind;
  /** What the badge says, e.g. `UC-LoRA 18x r4 on qkv, proj`. */
  label: string;
  /** Where in the block it acts: the residual branch or the attention layers. */
  site: 'residual' | 'attention';
}

export interface DiagramBlock {
  path: string;
  kind: 'embedding' | 'stem' | 'res' | 'down' | 'up' | 'head';
  part: 'emb' | 'enc' | 'mid' | 'dec' | 'out';
  /** Output resolution (height x width), the level the block is drawn in. */
  res: string;
  resH: number;
  inC: number;
  outC: number;
  inRes: string;
  skipIn?: number;
  pushSkip: boolean;
  attention: boolean;
  heads?: number;
  resample?: 'down' | 'up';
  badges: Badge[];
  params: number;
  trainable: number;
  /** Parameters of the layers the block's conditioning adds. */
  conditioningParams: number;
}

export interface DiagramModel {
  name: string;
  input: { size: number; channels: number; classes: number };
  process: string;
  /** Width of the condition vector v and how it is made. */
  embedding: { dim: number; noise: string; mlp: number[]; label: string };
  blocks: DiagramBlock[];
  /** Skip connections: the block whose output is pushed, the block that reads it. */
  skips: { from: string; to: string; channels: number }[];
  totalParams: number;
  trainableParams: number;
}

const LORA_NAMES: Record<string, string> = { time_lora: 'TimeLoRA', class_lora: 'ClassLoRA', uc_lora: 'UC-LoRA' };

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Reads the IR into the diagram's view model. */
export function diagramModel(ir: IR): DiagramModel {
  const params = new Map<string, { all: number; trainable: number; cond: number }>();
  // LoRA modules per block: the layer each wraps (`<block>.<layer>.<kind>`).
  const loraLayers = new Map<string, Map<string, string[]>>();
  let total = 0;
  let trainable = 0;
  for (const m of ir.modules) {
    const n = m.params.reduce((a, p) => a + size(p.shape), 0);
    const t = m.params.filter((p) => p.trainable).reduce((a, p) => a + size(p.shape), 0);
    total += n;
    trainable += t;
    const e = params.get(m.block) ?? { all: 0, trainable: 0, cond: 0 };
    e.all += n;
    e.trainable += t;
    if (m.role === 'conditioning') e.cond += n;
    params.set(m.block, e);
    if (m.kind in LORA_NAMES && m.path.endsWith(`.${m.kind}`)) {
      const layer = m.path.slice(m.block.length + 1, m.path.length - m.kind.length - 1);
      const byKind = loraLayers.get(m.block) ?? new Map<string, string[]>();
      byKind.set(m.kind, [...(byKind.get(m.kind) ?? []), layer.replace(/^attn\./, '')]);
      loraLayers.set(m.block, byKind);
    }
  }

  const blocks: DiagramBlock[] = ir.blocks.map((b) => {
    const badges: Badge[] = [];
    const lorasHere = loraLayers.get(b.path) ?? new Map<string, string[]>();
    for (const site of ['residual', 'attention'] as const) {
      for (const c of b.conditioning[site]) {
        const o = c.options;
        let label: string;
        let kind: BadgeKind = 'other';
        if (c.kind === 'shift' || c.kind === 'scale_shift') {
          kind = c.kind;
          label = `${c.kind === 'shift' ? 'shift' : 'scale-shift'}${o.at ? ` @${String(o.at)}` : ''}`;
        } else if (c.kind === 'adaln') {
          kind = 'adaln';
          label = 'adaLN';
        } else if (c.kind in LORA_NAMES) {
          kind = c.kind as BadgeKind;
          const bases = c.kind === 'class_lora' ? (o.classes ?? ir.input.classes) : o.bases;
          const layers = lorasHere.get(c.kind) ?? [];
          label = `${LORA_NAMES[c.kind]} ${c.kind === 'class_lora' ? `${String(bases)} classes` : `${String(bases)} bases`}, r${String(o.rank ?? 4)}${layers.length ? ` on ${layers.join(', ')}` : ''}`;
        } else label = c.kind;
        badges.push({ kind, label, site });
      }
    }
    const p = params.get(b.path) ?? { all: 0, trainable: 0, cond: 0 };
    return {
      path: b.path,
      kind: b.kind,
      part: b.part,
      res: `${b.out.h}x${b.out.w}`,
      resH: b.out.h,
      inC: b.in.c,
      outC: b.out.c,
      inRes: `${b.in.h}x${b.in.w}`,
      skipIn: b.skipIn,
      pushSkip: b.pushSkip,
      attention: b.attention,
      heads: b.heads,
      resample: b.resample,
      badges,
      params: p.all,
      trainable: p.trainable,
      conditioningParams: p.cond,
    };
  });

  // The skip stack, replayed in dataflow order.
  const stack: DiagramBlock[] = [];
  const skips: DiagramModel['skips'] = [];
  for (const b of blocks) {
    if (b.skipIn !== undefined) {
      const from = stack.pop();
      if (from) skips.push({ from: from.path, to: b.path, channels: b.skipIn });
    }
    if (b.pushSkip) stack.push(b);
  }

  const e = embeddingOptions(ir);
  return {
    name: ir.name,
    input: { size: ir.input.size, channels: ir.input.channels, classes: ir.input.classes },
    process: String(ir.diffusion.process ?? ''),
    embedding: e
      ? {
          dim: ir.embedDim,
          noise: `${e.noise.kind} ${e.noise.dim}`,
          mlp: e.mlp.map((l: LinearOp) => l.dout),
          label: e.label ? (e.label.table ? 'embedding' : 'linear') : 'none',
        }
      : { dim: 0, noise: 'none', mlp: [], label: 'none' },
    blocks,
    skips,
    totalParams: total,
    trainableParams: trainable,
  };
}

/** What changed from model A to model B, per block of B (and the blocks of A that B lacks). */
export interface DiagramChanges {
  added: Set<string>;
  changed: Set<string>;
  removed: string[];
  /** Per block of B: badges B has that A lacks (`added`) and A's badges B lacks (`removed`). */
  badges: Map<string, { added: Set<string>; removed: Badge[] }>;
}

export function diagramChanges(a: DiagramModel, b: DiagramModel): DiagramChanges {
  const inA = new Map(a.blocks.map((x) => [x.path, x]));
  const inB = new Set(b.blocks.map((x) => x.path));
  const out: DiagramChanges = {
    added: new Set(),
    changed: new Set(),
    removed: a.blocks.filter((x) => !inB.has(x.path)).map((x) => x.path),
    badges: new Map(),
  };
  for (const x of b.blocks) {
    const y = inA.get(x.path);
    if (!y) {
      out.added.add(x.path);
      continue;
    }
    const la = new Set(y.badges.map((g) => g.label));
    const lb = new Set(x.badges.map((g) => g.label));
    const added = new Set([...lb].filter((l) => !la.has(l)));
    const removed = y.badges.filter((g) => !lb.has(g.label));
    if (added.size || removed.length) out.badges.set(x.path, { added, removed });
    if (added.size || removed.length || x.params !== y.params || x.inC !== y.inC || x.outC !== y.outC || x.attention !== y.attention)
      out.changed.add(x.path);
  }
  return out;
}

/**
 * The LoRA layers whose composition weights omega depend on the noise level (what `unetc plot
 * omega` draws), read from the same IR fields: TimeLoRA (a table omega[T, m]) and UC-LoRA (an MLP
 * of the condition vector v). ClassLoRA's omega is the class vector itself, so it is left out.
 */
export interface OmegaSite {
  /** The LoRA module's path (`<layer>.uc_lora`); its parameters are `<path>.omega`, `<path>.mlp0.weight`, ... */
  path: string;
  block: string;
  /** The layer it adapts, relative to the block (`conv0`, `attn.qkv`). */
  layer: string;
  kind: 'time_lora' | 'uc_lora';
  bases: number;
  /** The typed op (src/ir/ops.ts) the runtime evaluates omega from. */
  op: TimeLoraOp | UcLoraOp;
}

export interface NoiseAxis {
  process: 'ddpm' | 'edm';
  /** ddpm: the number of timesteps. */
  T: number;
  /** edm: preconditioning and sigma_data (c_noise depends on them). */
  precond: string;
  sigmaData: number;
}

/** Every TimeLoRA and UC-LoRA layer, read from the blocks' typed ops. */
export function omegaSites(ir: IR): OmegaSite[] {
  return ir.blocks.flatMap((b) =>
    lorasOf(b.op).flatMap((l): OmegaSite[] =>
      l.kind === 'class_lora'
        ? []
        : [
            {
              path: `${b.path}.${l.site}`,
              block: b.path,
              layer: l.site.slice(0, l.site.length - l.kind.length - 1),
              kind: l.kind,
              bases: l.bases,
              op: l,
            },
          ],
    ),
  );
}

export function noiseAxis(ir: IR): NoiseAxis {
  const d = ir.diffusion;
  return {
    process: d.process === 'edm' ? 'edm' : 'ddpm',
    T: Number(d.T ?? 1000),
    precond: String(d.precond ?? 'edm'),
    sigmaData: Number(d.sigma_data ?? 0.5),
  };
}

/** The embedding network's op, as the runtime's `embedding()` takes it (absent when nothing reads v). */
export function embeddingOptions(ir: IR): EmbeddingOp | undefined {
  const op = ir.blocks.find((b) => b.op.op === 'embedding')?.op;
  return op?.op === 'embedding' ? op : undefined;
}
