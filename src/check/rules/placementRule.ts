/**
 * Where conditioning lands: selectors match some block and put modulations on their own block
 * kind, attention conditioning has attention blocks to go to, residual LoRA targets name convs the
 * block has, and a modulation at norm1 has a second norm to modulate.
 */
import { Diag } from '../../diagnostics/catalogue.ts';
import { LORA_KINDS, targetNames } from '../plan.ts';
import { reportMisplaced } from './conditioningKindsRule.ts';
import type { PlanContext } from './context.ts';

export function placementRule(ctx: PlanContext): void {
  const { settings: s, plan } = ctx;
  if (plan.stop) return;
  for (const m of plan.misplaced)
    reportMisplaced(
      ctx,
      m.cond,
      m.where,
      ` (selector "${m.pattern}" matches ${m.path}, a${m.where === 'attention' ? 'n attention' : ' residual'} block)`,
    );
  s.conditioning.selectors.forEach((sel, i) => {
    if (!plan.usedSelectors.has(i)) ctx.report(Diag.SelectorMatchesNothing, { pattern: sel.pattern }, sel);
  });
  if (!plan.blocks.some((b) => b.attention) && s.conditioning.attention.length > 0)
    ctx.report(Diag.AttentionConditioningWithoutAttention, {}, 'conditioning.attention');
  for (const b of plan.blocks) {
    const mod = b.modulation;
    if (mod && mod.at === 'norm1' && b.widths.length < 2) {
      // scale_shift(at: norm1) modulates the second norm's output, which a one-conv block does not have.
      ctx.report(Diag.ModulationTargetMissing, { block: b.path, convs: b.widths.length, kind: mod.cond.kind }, mod.cond);
    }
    for (const c of b.resCond) {
      if (!LORA_KINDS.includes(c.kind)) continue;
      const tv = c.args.get('targets');
      for (const name of targetNames(c) ?? []) {
        if (b.convs.some((t) => t.name === name)) continue;
        const item = tv?.kind === 'list' ? tv.items.find((i) => i.kind === 'sym' && i.name === name) : undefined;
        ctx.report(
          Diag.ConditioningTargetMissing,
          { block: b.path, name, has: `its convs are ${b.convs.map((t) => t.name).join(', ')}` },
          item ?? c,
        );
      }
    }
  }
}
