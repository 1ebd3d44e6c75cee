/**
 * FLOPs of one forward pass and activation-memory estimates, at batch 1 in float32, from the
 * blocks' typed ops (opCost.ts).
 * - training: every module output is kept for the backward pass, so the sum of outputs;
 * - inference peak: the largest point of (live skip tensors + the current block's input and output).
 */
import type { IR } from '../ir/types.ts';
import { blockCost } from './opCost.ts';

export interface CostSummary {
  forwardFlops: number;
  attentionFlops: number;
  trainingActivationBytes: number;
  inferencePeakBytes: number;
}

export function summarizeCost(ir: IR): CostSummary {
  let flops = 0;
  let attn = 0;
  let kept = 0;
  const costs = new Map(ir.blocks.map((b) => [b.path, blockCost(b)]));
  for (const c of costs.values()) {
    flops += c.flops;
    attn += c.attentionFlops;
    kept += c.kept;
  }
  let live = 0;
  let peak = 0;
  const stack: number[] = [];
  for (const b of ir.blocks) {
    const inN = b.in.c * b.in.h * b.in.w;
    const outN = b.out.c * b.out.h * b.out.w;
    if (b.skipIn !== undefined) live -= stack.pop() ?? 0;
    const blockPeak = costs.get(b.path)!.largest;
    peak = Math.max(peak, live + inN + Math.max(outN, blockPeak));
    if (b.pushSkip) {
      stack.push(outN);
      live += outN;
    }
  }
  return { forwardFlops: flops, attentionFlops: attn, trainingActivationBytes: kept * 4, inferencePeakBytes: peak * 4 };
}
