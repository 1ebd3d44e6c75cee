/** Parameter counts of an IR: per module, per block, per kind, trainable and frozen. */
import type { IR, Module, Param } from '../ir/types.ts';

export const paramSize = (p: Param): number => p.shape.reduce((a, b) => a * b, 1);
export const moduleParams = (m: Module): number => m.params.reduce((a, p) => a + paramSize(p), 0);
export const moduleTrainable = (m: Module): number => m.params.filter((p) => p.trainable).reduce((a, p) => a + paramSize(p), 0);

export interface ParamSummary {
  totalParams: number;
  trainableParams: number;
  frozenParams: number;
  /** Parameters of the layers conditioning adds (embedding projections, adaLN, LoRA). */
  conditioningParams: number;
  byKind: Record<string, number>;
  byBlock: { path: string; params: number }[];
}

export function summarizeParams(ir: IR): ParamSummary {
  let total = 0;
  let trainable = 0;
  let cond = 0;
  const byKind: Record<string, number> = {};
  const byBlock = new Map<string, number>();
  for (const m of ir.modules) {
    const n = moduleParams(m);
    total += n;
    trainable += moduleTrainable(m);
    if (m.role === 'conditioning') cond += n;
    byKind[m.kind] = (byKind[m.kind] ?? 0) + n;
    byBlock.set(m.block, (byBlock.get(m.block) ?? 0) + n);
  }
  return {
    totalParams: total,
    trainableParams: trainable,
    frozenParams: total - trainable,
    conditioningParams: cond,
    byKind,
    byBlock: ir.blocks.map((b) => ({ path: b.path, params: byBlock.get(b.path) ?? 0 })),
  };
}
