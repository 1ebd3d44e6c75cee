/**
 * The layers each conditioning kind adds (DESIGN.md section 3), as IR modules:
 * shift / scale_shift on residual blocks, adaLN on attention, and the LoRA family on the 1x1 or
 * kxk convolutions of a block (TimeLoRA, ClassLoRA, UC-LoRA).
 */
import type { DiagnosticSink } from '../diagnostics/diagnostic.ts';
import type { ConditioningRef, LoraOp, Module, UcLoraOp } from '../ir/types.ts';
import { groupNorm, linear, makeModule, param, rel, type Ctx } from './layers.ts';
import type { CondSettings, Settings } from './settings.ts';

export const LORA_KINDS = ['time_lora', 'class_lora', 'uc_lora'];

/** A conv a LoRA can wrap: its path and dimensions. */
export interface LoraTarget {
  name: string;
  path: string;
  cin: number;
  cout: number;
  kernel: number;
  hw: number;
}

export function argNum(c: CondSettings, k: string, d: number): number {
  const v = c.args.get(k);
  return v && v.kind === 'num' ? v.v : d;
}
export function argBool(c: CondSettings, k: string, d: boolean): boolean {
  const v = c.args.get(k);
  return v && v.kind === 'bool' ? v.v : d;
}
export function argSym(c: CondSettings, k: string, d: string): string {
  const v = c.args.get(k);
  return v && v.kind === 'sym' ? v.name : d;
}
export function argList(c: CondSettings, k: string): string[] | undefined {
  const v = c.args.get(k);
  return v && v.kind === 'list' ? v.items.map((i) => (i.kind === 'sym' ? i.name : i.kind === 'num' ? String(i.v) : '')) : undefined;
}

/** The options of a conditioning as a plain record, with defaults resolved, for the IR. */
export function conditioningRef(c: CondSettings, s: Settings): ConditioningRef {
  const options: ConditioningRef['options'] = {};
  for (const [k, v] of c.args) {
    if (v.kind === 'num' || v.kind === 'bool') options[k] = v.v;
    else if (v.kind === 'sym') options[k] = v.name;
    else if (v.kind === 'list') options[k] = v.items.map((i) => (i.kind === 'num' ? i.v : NaN)).filter((x) => !Number.isNaN(x));
  }
  if (c.kind === 'time_lora') {
    options.T = loraTableSize(c, s) ?? 0;
    options.init = argSym(c, 'init', 'interp');
  }
  if (c.kind === 'uc_lora') {
    options.bias = argBool(c, 'bias', true);
    options.scale = argSym(c, 'scale', 'fixed');
  }
  if (c.kind === 'class_lora') options.classes = s.input.classes;
  return { kind: c.kind, options };
}

export function loraTableSize(c: CondSettings, s: Settings): number | undefined {
  const t = c.args.get('T');
  if (t && t.kind === 'num') return t.v;
  const dt = s.diffusion.T;
  return typeof dt === 'number' ? dt : undefined;
}

export function uclGroups(c: CondSettings, width: number): number {
  const g = c.args.get('groups');
  return g && g.kind === 'num' ? g.v : Math.max(1, Math.min(32, Math.floor(width / 4)));
}

/** Modules of one LoRA kind wrapping one conv, and the op that reads them. Checks rank and bases against the layer. */
export function loraModules(ctx: Ctx, c: CondSettings, t: LoraTarget, s: Settings, embedDim: number, sink: DiagnosticSink, reported: Set<string>): { modules: Module[]; op: LoraOp } | undefined {
  const r = argNum(c, 'rank', 4);
  const fanIn = t.cin * t.kernel * t.kernel;
  const once = (key: string, f: () => void) => {
    const k = `${key}@${c.span.offset}`;
    if (!reported.has(k)) {
      reported.add(k);
      f();
    }
  };
  if (r < 1) {
    once('rank', () => sink.report('RankTooSmall', `LoRA rank must be at least 1, got ${r}`, c.args.get('rank')?.span ?? c.span));
    return undefined;
  }
  if (r > Math.min(fanIn, t.cout)) {
    once('rankmax' + t.name + fanIn + t.cout, () =>
      sink.report('RankTooLarge', `LoRA rank ${r} exceeds min(${t.kernel > 1 ? `C_in x ${t.kernel} x ${t.kernel}` : 'C_in'}, C_out) = ${Math.min(fanIn, t.cout)} of ${t.path}`, c.args.get('rank')?.span ?? c.span),
    );
    return undefined;
  }
  // Per unit of (bases x rank): the down/up path costs H W (k^2 C_in + C_out) multiply-adds, per-sample
  // weights k^2 C_in C_out (the conv with them is the target conv, counted there); the runtime runs
  // whichever is cheaper (src/runtime/model/lora.ts perSampleWeightsCheaper), so that is what is counted.
  const flopsPerRank = (k: number) => 2 * k * Math.min(t.hw * (fanIn + t.cout), fanIn * t.cout);
  const path = `${t.path}.${c.kind}`;
  const site = rel(ctx, t.path, c.kind);
  const downUp = (cols: number) => [
    param('down', [cols, fanIn], { fn: 'normal', std: 1 / r }, ctx.trainable, { loraDown: t.kernel }),
    param('up', [t.cout, cols], { fn: 'zeros' }, ctx.trainable, 'linear'),
  ];
  const common = { site, rank: r, down: rel(ctx, path, 'down'), up: rel(ctx, path, 'up') };
  if (c.kind === 'time_lora') {
    const m = argNum(c, 'bases', 1);
    if (m < 1) {
      once('bases', () => sink.report('BasesTooFew', `LoRA needs at least 1 basis, got ${m}`, c.args.get('bases')?.span ?? c.span));
      return undefined;
    }
    const T = loraTableSize(c, s);
    if (T === undefined) return undefined;
    if (m > T) {
      once('basesT', () => sink.report('BasesExceedSteps', `time_lora has ${m} bases but only ${T} timesteps`, c.args.get('bases')?.span ?? c.span));
      return undefined;
    }
    const init = argSym(c, 'init', 'interp');
    const params = [...downUp(m * r), param('omega', [T, m], init === 'random' ? { fn: 'normal', std: 1 } : { fn: 'interp' }, ctx.trainable)];
    return {
      modules: [makeModule(ctx, path, 'time_lora', params, flopsPerRank(m * r), t.cout * t.hw)],
      op: { kind: 'time_lora', ...common, bases: m, steps: T, omega: rel(ctx, path, 'omega') },
    };
  }
  if (c.kind === 'class_lora') {
    const n = s.input.classes;
    if (n < 1) return undefined;
    return { modules: [makeModule(ctx, path, 'class_lora', downUp(n * r), flopsPerRank(n * r), t.cout * t.hw)], op: { kind: 'class_lora', ...common, classes: n } };
  }
  // uc_lora
  const m = argNum(c, 'bases', 1);
  if (m < 1) {
    once('bases', () => sink.report('BasesTooFew', `LoRA needs at least 1 basis, got ${m}`, c.args.get('bases')?.span ?? c.span));
    return undefined;
  }
  const bias = argBool(c, 'bias', true);
  const scale = argSym(c, 'scale', 'fixed');
  const params = downUp(r * m);
  if (bias) params.push(param('bias', [r * m, t.cout], { fn: 'zeros' }, ctx.trainable));
  if (scale === 'trainable') params.push(param('scale', [1], { fn: 'ones' }, ctx.trainable));
  const out: Module[] = [makeModule(ctx, path, 'uc_lora', params, flopsPerRank(r * m) + (bias ? 2 * r * m * t.cout : 0) /* omega_rep Bias: once per sample */, t.cout * t.hw)];
  const widths = (c.args.get('mlp')?.kind === 'list' ? argList(c, 'mlp')!.map(Number) : [128, 64]).filter((w) => Number.isFinite(w));
  // The LoRA paper's code (training/lora.py) builds the MLP from its training/nn.py Linear (kaiming_normal
  // weights, zero biases) and GroupNorm (min(32, C/4) groups, eps 1e-5).
  const eps = argNum(c, 'eps', 1e-5);
  const hidden: UcLoraOp['hidden'] = [];
  let d = embedDim;
  widths.forEach((w, i) => {
    const lin = linear(ctx, `${path}.mlp${i}`, d, w, { init: 'kaiming_normal' });
    const g = uclGroups(c, w);
    if (w % g !== 0) {
      once('groups' + w, () => sink.report('GroupsNotDivisible', `UC-LoRA MLP width ${w} is not divisible by its ${g} GroupNorm groups (set groups:)`, c.args.get('mlp')?.span ?? c.span));
    }
    const norm = groupNorm(ctx, `${path}.mlp${i}_norm`, w, g, eps, true, 1);
    out.push(lin.module, norm.module);
    hidden.push({ linear: lin.op, norm: norm.op });
    d = w;
  });
  const last = linear(ctx, `${path}.mlp${widths.length}`, d, m, { init: 'kaiming_normal' });
  out.push(last.module);
  return {
    modules: out,
    op: { kind: 'uc_lora', ...common, bases: m, hidden, out: last.op, ...(bias ? { bias: rel(ctx, path, 'bias') } : {}), scale: scale === 'trainable' ? rel(ctx, path, 'scale') : 1 },
  };
}

/** Does this conditioning read the shared condition vector v? */
export function readsEmbedding(c: CondSettings): boolean {
  return c.kind === 'shift' || c.kind === 'scale_shift' || c.kind === 'adaln' || c.kind === 'uc_lora';
}
