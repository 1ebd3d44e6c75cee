/** A LoRA's rank and bases fit the layers it wraps: rank from 1 to min(fan-in, C_out), at least one basis, TimeLoRA's bases within its table. */
import { Diag } from '../../diagnostics/catalogue.ts';
import { LORA_KINDS, targetNames, type ConvSite } from '../plan.ts';
import { condNum, loraTableSize, type CondSettings } from '../settings.ts';
import type { PlanContext } from './context.ts';

export function loraShapesRule(ctx: PlanContext): void {
  const s = ctx.settings;
  if (ctx.plan.stop) return;
  for (const b of ctx.plan.blocks) {
    const sites = (c: CondSettings, all: ConvSite[]) => {
      const names = targetNames(c);
      return names ? all.filter((t) => names.includes(t.name)) : all;
    };
    const uses = [...b.resCond.map((c) => [c, sites(c, b.convs)] as const), ...b.attnCond.map((c) => [c, sites(c, b.attnConvs)] as const)];
    for (const [c, targets] of uses) {
      if (!LORA_KINDS.includes(c.kind) || targets.length === 0) continue;
      const r = condNum(c, 'rank', 4);
      if (r < 1) {
        ctx.report(Diag.RankTooSmall, { rank: r }, { of: c, arg: 'rank' });
        continue;
      }
      for (const t of targets) {
        const fanIn = t.cin * t.kernel * t.kernel;
        if (r > Math.min(fanIn, t.cout)) {
          ctx.report(
            Diag.RankTooLarge,
            { rank: r, fanIn: t.kernel > 1 ? `C_in x ${t.kernel} x ${t.kernel}` : 'C_in', max: Math.min(fanIn, t.cout), path: t.path },
            { of: c, arg: 'rank' },
          );
        }
      }
      if (c.kind === 'class_lora') continue;
      const m = condNum(c, 'bases', 1);
      if (m < 1) ctx.report(Diag.BasesTooFew, { bases: m }, { of: c, arg: 'bases' });
      const T = c.kind === 'time_lora' ? loraTableSize(c, s) : undefined;
      if (T !== undefined && m > T) ctx.report(Diag.BasesExceedSteps, { bases: m, steps: T }, { of: c, arg: 'bases' });
    }
  }
}
