/** A model that takes class labels reads them: through ClassLoRA, or through v with a label embedding. */
import { Diag } from '../../diagnostics/catalogue.ts';
import type { PlanContext } from './context.ts';

export function labelsRule(ctx: PlanContext): void {
  const { settings: s, plan } = ctx;
  if (plan.stop || s.input.classes < 1) return;
  const c = s.conditioning;
  const classLora = [c.residual, c.attention, ...c.selectors.map((x) => x.conds)].some((l) => l.some((x) => x.kind === 'class_lora'));
  if (classLora || (s.embedding.label.kind !== 'none' && plan.vUsed)) return;
  const why = s.embedding.label.kind === 'none' ? 'embedding.label is none' : 'no conditioning reads the embedding v that carries it';
  ctx.report(Diag.LabelsUnused, { classes: s.input.classes, why }, 'input.classes');
}
