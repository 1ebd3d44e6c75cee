/**
 * The layers each conditioning kind adds (DESIGN.md section 3), as IR modules:
 * shift / scale_shift on residual blocks, adaLN on attention, and the LoRA family on the 1x1 or
 * kxk convolutions of a block (TimeLoRA, ClassLoRA, UC-LoRA).
 */
import type { DiagnosticSink } from '../diagnostics/diagnostic.ts';
import type { ConditioningRef, Module } from '../ir/types.ts';
import { groupNorm, linear, makeModule, param, type Ctx } from './layers.ts';
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

/** Modules of one LoRA kind wrapping one conv. Checks rank and bases against the layer. */
export function loraModules(ctx: Ctx, c: CondSettings, t: LoraTarget, s: Settings, embedDim: number, sink: DiagnosticSink, reported: Set<string>): Module[] {
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
    return [];
  }
  if (r > Math.min(fanIn, t.cout)) {
    once('rankmax' + t.name + fanIn + t.cout, () =>
      sink.report('RankTooLarge', `LoRA rank ${r} exceeds min(${t.kernel > 1 ? `C_in x ${t.kernel} x ${t.kernel}` : 'C_in'}, C_out) = ${Math.min(fanIn, t.cout)} of ${t.path}`, c.args.get('rank')?.span ?? c.span),
    );
    return [];
  }
  // Per unit of (bases x rank): the down/up path costs H W (k^2 C_in + C_out) multiply-adds, per-sample
  // weights k^2 C_in C_out (the conv with them is the target conv, counted there); the runtime runs
  // whichever is cheaper (src/runtime/model/lora.ts perSampleWeightsCheaper), so that is what is counted.
  const flopsPerRank = (k: number) => 2 * k * Math.min(t.hw * (fanIn + t.cout), fanIn * t.cout);
  const path = `${t.path}.${c.kind}`;
  const attrs = (extra: Module['attrs']): Module['attrs'] => ({ target: t.path, cin: t.cin, cout: t.cout, kernel: t.kernel, rank: r, ...extra });
  if (c.kind === 'time_lora') {
    const m = argNum(c, 'bases', 1);
    if (m < 1) {
      once('bases', () => sink.report('BasesTooFew', `LoRA needs at least 1 basis, got ${m}`, c.args.get('bases')?.span ?? c.span));
      return [];
    }
    const T = loraTableSize(c, s);
    if (T === undefined) return [];
    if (m > T) {
      once('basesT', () => sink.report('BasesExceedSteps', `time_lora has ${m} bases but only ${T} timesteps`, c.args.get('bases')?.span ?? c.span));
      return [];
    }
    const init = argSym(c, 'init', 'interp');
    return [
      makeModule(
        ctx,
        path,
        'time_lora',
        [
          param('down', [m * r, fanIn], `normal(${1 / r})`, ctx.trainable),
          param('up', [t.cout, m * r], 'zeros', ctx.trainable),
          param('omega', [T, m], init === 'random' ? 'normal(1)' : 'interp', ctx.trainable),
        ],
        attrs({ bases: m, T, init }),
        flopsPerRank(m * r),
        t.cout * t.hw,
      ),
    ];
  }
  if (c.kind === 'class_lora') {
    const n = s.input.classes;
    if (n < 1) return [];
    return [
      makeModule(
        ctx,
        path,
        'class_lora',
        [param('down', [n * r, fanIn], `normal(${1 / r})`, ctx.trainable), param('up', [t.cout, n * r], 'zeros', ctx.trainable)],
        attrs({ classes: n }),
        flopsPerRank(n * r),
        t.cout * t.hw,
      ),
    ];
  }
  // uc_lora
  const m = argNum(c, 'bases', 1);
  if (m < 1) {
    once('bases', () => sink.report('BasesTooFew', `LoRA needs at least 1 basis, got ${m}`, c.args.get('bases')?.span ?? c.span));
    return [];
  }
  const bias = argBool(c, 'bias', true);
  const scale = argSym(c, 'scale', 'fixed');
  const params = [param('down', [r * m, fanIn], `normal(${1 / r})`, ctx.trainable), param('up', [t.cout, r * m], 'zeros', ctx.trainable)];
  if (bias) params.push(param('bias', [r * m, t.cout], 'zeros', ctx.trainable));
  if (scale === 'trainable') params.push(param('scale', [1], 'ones', ctx.trainable));
  const out: Module[] = [makeModule(ctx, path, 'uc_lora', params, attrs({ bases: m, bias, scale }), flopsPerRank(r * m) + (bias ? 2 * r * m * t.cout : 0) /* omega_rep Bias: once per sample */, t.cout * t.hw)];
  const widths = (c.args.get('mlp')?.kind === 'list' ? argList(c, 'mlp')!.map(Number) : [128, 64]).filter((w) => Number.isFinite(w));
  let d = embedDim;
  widths.forEach((w, i) => {
    out.push(linear(ctx, `${path}.mlp${i}`, d, w));
    const g = uclGroups(c, w);
    if (w % g !== 0) {
      once('groups' + w, () => sink.report('GroupsNotDivisible', `UC-LoRA MLP width ${w} is not divisible by its ${g} GroupNorm groups (set groups:)`, c.args.get('mlp')?.span ?? c.span));
    }
    out.push(groupNorm(ctx, `${path}.mlp${i}_norm`, w, g, 1e-6, true, 1));
    d = w;
  });
  out.push(linear(ctx, `${path}.mlp${widths.length}`, d, m));
  return out;
}

/** Does this conditioning read the shared condition vector v? */
export function readsEmbedding(c: CondSettings): boolean {
  return c.kind === 'shift' || c.kind === 'scale_shift' || c.kind === 'adaln' || c.kind === 'uc_lora';
}
