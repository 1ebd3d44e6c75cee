/** Attention's channels split evenly into its heads. */
import { Diag } from '../../diagnostics/catalogue.ts';
import type { PlanContext } from './context.ts';

export function attentionHeadsRule(ctx: PlanContext): void {
  for (const b of ctx.plan.blocks) {
    if (b.heads !== undefined && b.attnChannels !== undefined && b.attnChannels % b.heads !== 0) {
      ctx.report(Diag.HeadsNotDivisible, { channels: b.attnChannels, heads: b.heads }, { span: ctx.settings.unet.attention.headsSpan });
    }
  }
}
