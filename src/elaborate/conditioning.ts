/**
 * The layers each conditioning kind adds (DESIGN.md section 3), as IR modules:
 * shift / scale_shift on residual blocks, adaLN on attention, and the LoRA family on the 1x1 or
 * kxk convolutions of a block (TimeLoRA, ClassLoRA, UC-LoRA).
 */
import type { ConvSite } from '../check/plan.ts';
import {
  condBool as argBool,
  condNum as argNum,
  condSym as argSym,
  loraTableSize,
  ucMlpWidths,
  uclGroups,
  type CondSettings,
  type Settings,
} from '../check/settings.ts';
import type { ConditioningRef, LoraOp, Module, UcLoraOp } from '../ir/types.ts';
import { groupNorm, linear, makeModule, param, rel, type Ctx } from './layers.ts';

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

/** Modules of one LoRA kind wrapping one conv, and the op that reads them (rank and bases were checked by rules/loraShapesRule.ts). */
export function loraModules(ctx: Ctx, c: CondSettings, t: ConvSite, s: Settings, embedDim: number): { modules: Module[]; op: LoraOp } {
  const r = argNum(c, 'rank', 4);
  const fanIn = t.cin * t.kernel * t.kernel;
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
    const T = loraTableSize(c, s) ?? 0;
    const init = argSym(c, 'init', 'interp');
    const params = [
      ...downUp(m * r),
      param('omega', [T, m], init === 'random' ? { fn: 'normal', std: 1 } : { fn: 'interp' }, ctx.trainable),
    ];
    return {
      modules: [makeModule(ctx, path, 'time_lora', params, flopsPerRank(m * r), t.cout * t.hw)],
      op: { kind: 'time_lora', ...common, bases: m, steps: T, omega: rel(ctx, path, 'omega') },
    };
  }
  if (c.kind === 'class_lora') {
    const n = s.input.classes;
    return {
      modules: [makeModule(ctx, path, 'class_lora', downUp(n * r), flopsPerRank(n * r), t.cout * t.hw)],
      op: { kind: 'class_lora', ...common, classes: n },
    };
  }
  // uc_lora
  const m = argNum(c, 'bases', 1);
  const bias = argBool(c, 'bias', true);
  const scale = argSym(c, 'scale', 'fixed');
  const params = downUp(r * m);
  if (bias) params.push(param('bias', [r * m, t.cout], { fn: 'zeros' }, ctx.trainable));
  if (scale === 'trainable') params.push(param('scale', [1], { fn: 'ones' }, ctx.trainable));
  const out: Module[] = [
    makeModule(
      ctx,
      path,
      'uc_lora',
      params,
      flopsPerRank(r * m) + (bias ? 2 * r * m * t.cout : 0) /* omega_rep Bias: once per sample */,
      t.cout * t.hw,
    ),
  ];
  const widths = ucMlpWidths(c);
  // The LoRA paper's code (training/lora.py) builds the MLP from its training/nn.py Linear (kaiming_normal
  // weights, zero biases) and GroupNorm (min(32, C/4) groups, eps 1e-5).
  const eps = argNum(c, 'eps', 1e-5);
  const hidden: UcLoraOp['hidden'] = [];
  let d = embedDim;
  widths.forEach((w, i) => {
    const lin = linear(ctx, `${path}.mlp${i}`, d, w, { init: 'kaiming_normal' });
    const norm = groupNorm(ctx, `${path}.mlp${i}_norm`, w, uclGroups(c, w), eps, true, 1);
    out.push(lin.module, norm.module);
    hidden.push({ linear: lin.op, norm: norm.op });
    d = w;
  });
  const last = linear(ctx, `${path}.mlp${widths.length}`, d, m, { init: 'kaiming_normal' });
  out.push(last.module);
  return {
    modules: out,
    op: {
      kind: 'uc_lora',
      ...common,
      bases: m,
      hidden,
      out: last.op,
      ...(bias ? { bias: rel(ctx, path, 'bias') } : {}),
      scale: scale === 'trainable' ? rel(ctx, path, 'scale') : 1,
    },
  };
}
