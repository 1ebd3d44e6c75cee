/** Block widths evaluate, for every block they are used in, to a channel count from 1 to the limit. */
import { Diag } from '../../diagnostics/catalogue.ts';
import { LIMITS } from '../schema.ts';
import type { PlanContext } from './context.ts';

export function widthsRule(ctx: PlanContext): void {
  for (const d of ctx.plan.evalDiagnostics) ctx.relay(d);
  for (const w of ctx.plan.widthProblems) {
    if (w.got !== undefined) ctx.report(Diag.WidthNotInteger, { got: w.got }, w);
    else
      ctx.report(
        Diag.BadWidth,
        { what: 'this width', value: w.value ?? NaN, context: ` for a block with in = ${w.cin}, out = ${w.cout}`, max: LIMITS.channels },
        w,
      );
  }
}
