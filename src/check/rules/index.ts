/**
 * The rules, one family a file, in the phase whose facts they read: the settings alone, the shape
 * plan, or the built IR. Each is `(ctx) => void` and reports through `ctx.report`.
 */
import { attentionHeadsRule } from './attentionHeadsRule.ts';
import { augmentPipeRule } from './augmentPipeRule.ts';
import { conditioningKindsRule } from './conditioningKindsRule.ts';
import type { IrRule, PlanRule, SettingsRule } from './context.ts';
import { emaRule } from './emaRule.ts';
import { labelsRule } from './labelsRule.ts';
import { limitsRule } from './limitsRule.ts';
import { listLengthsRule } from './listLengthsRule.ts';
import { loraShapesRule } from './loraShapesRule.ts';
import { normsRule } from './normsRule.ts';
import { placementRule } from './placementRule.ts';
import { processOptionsRule } from './processOptionsRule.ts';
import { resampleFilterRule } from './resampleFilterRule.ts';
import { topologyRule } from './topologyRule.ts';
import { widthsRule } from './widthsRule.ts';

export const SETTINGS_RULES: SettingsRule[] = [
  processOptionsRule,
  emaRule,
  augmentPipeRule,
  listLengthsRule,
  resampleFilterRule,
  conditioningKindsRule,
];
export const PLAN_RULES: PlanRule[] = [topologyRule, widthsRule, normsRule, attentionHeadsRule, placementRule, loraShapesRule, labelsRule];
export const IR_RULES: IrRule[] = [limitsRule];

export { makeContext, resolveAt, type At, type IrContext, type PlanContext, type SettingsContext } from './context.ts';
