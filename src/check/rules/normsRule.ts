/** GroupNorm groups divide the channels they normalise: every norm of every block, and UC-LoRA's MLP norms. */
import { Diag } from '../../diagnostics/catalogue.ts';
import { groupsFor } from '../plan.ts';
import { uclGroups, ucMlpWidths } from '../settings.ts';
import type { PlanContext } from './context.ts';

export function normsRule(ctx: PlanContext): void {
  for (const b of ctx.plan.blocks) {
    for (const n of b.norms) {
      if (n.norm.kind !== 'group') continue;
      const groups = groupsFor(n.norm, n.channels);
      if (n.channels % groups !== 0)
        ctx.report(Diag.GroupsNotDivisible, { count: n.channels, where: `at ${n.path}`, groups, fix: '' }, n.norm);
    }
    for (const c of [...b.resCond, ...b.attnCond]) {
      if (c.kind !== 'uc_lora') continue;
      for (const w of ucMlpWidths(c)) {
        const g = uclGroups(c, w);
        if (w % g !== 0)
          ctx.report(
            Diag.GroupsNotDivisible,
            { count: w, where: 'a UC-LoRA MLP width', groups: g, fix: ' (set groups:)' },
            { of: c, arg: 'mlp' },
          );
      }
    }
  }
}
