/** The built model: within the module and parameter limits, and consistent (every parameter read by exactly one op). */
import { Diag } from '../../diagnostics/catalogue.ts';
import { invariantErrors } from '../../ir/invariants.ts';
import { LIMITS } from '../schema.ts';
import type { IrContext } from './context.ts';

export function limitsRule(ctx: IrContext): void {
  const ir = ctx.ir;
  if (ir.modules.length > LIMITS.maxModules) {
    ctx.report(Diag.TooManyModules, { count: ir.modules.length, max: LIMITS.maxModules }, 'unet');
    return;
  }
  const total = ir.modules.reduce((a, m) => a + m.params.reduce((b, p) => b + p.shape.reduce((x, y) => x * y, 1), 0), 0);
  if (total > LIMITS.maxParams) {
    ctx.report(Diag.ModelTooLarge, { count: total.toExponential(2), max: LIMITS.maxParams.toExponential(0) }, 'unet');
    return;
  }
  const broken = invariantErrors(ir);
  if (broken.length > 0) ctx.report(Diag.IrInvariantBroken, { details: broken.slice(0, 3).join('; ') }, 'unet');
}
