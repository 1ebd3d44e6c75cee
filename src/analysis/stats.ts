/** `unetc stats`: the numbers of a model as a JSON object and as a readable table. */
import type { IR } from '../ir/types.ts';
import { summarizeCost, type CostSummary } from './cost.ts';
import { summarizeParams, type ParamSummary } from './params.ts';

export interface Stats extends ParamSummary, CostSummary {
  name: string;
  modules: number;
  blocks: number;
  embedDim: number;
  elided: string[];
}

export function computeStats(ir: IR): Stats {
  return {
    name: ir.name,
    ...summarizeParams(ir),
    ...summarizeCost(ir),
    modules: ir.modules.length,
    blocks: ir.blocks.length,
    embedDim: ir.embedDim,
    elided: ir.elided,
  };
}

const fmt = (n: number) => n.toLocaleString('en-US');
const human = (n: number, unit: string) => {
  const units = ['', 'K', 'M', 'G', 'T'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${n.toFixed(n >= 100 || i === 0 ? 0 : 2)} ${units[i]}${unit}`;
};
const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

export function formatStats(s: Stats, ir: IR): string {
  const lines: string[] = [];
  lines.push(`model ${s.name}`);
  lines.push(`  parameters      ${fmt(s.totalParams).padStart(14)}   (trainable ${fmt(s.trainableParams)}, frozen ${fmt(s.frozenParams)})`);
  lines.push(
    `  conditioning    ${fmt(s.conditioningParams).padStart(14)}   (${((100 * s.conditioningParams) / Math.max(1, s.totalParams)).toFixed(1)}% of all)`,
  );
  lines.push(
    `  forward FLOPs   ${human(s.forwardFlops, 'FLOP').padStart(14)}   (attention matmuls ${human(s.attentionFlops, 'FLOP')}), batch 1`,
  );
  lines.push(
    `  activations     ${mib(s.trainingActivationBytes).padStart(14)}   kept for backward per sample; inference peak ${mib(s.inferencePeakBytes)}`,
  );
  lines.push(`  blocks ${s.blocks}, modules ${s.modules}${s.embedDim ? `, condition vector v: ${s.embedDim}` : ''}`);
  if (s.elided.length) lines.push(`  elided (nothing reads them): ${s.elided.join(', ')}`);
  lines.push('');
  lines.push('  by kind');
  for (const [k, v] of Object.entries(s.byKind).sort((a, b) => b[1] - a[1])) {
    if (v > 0) lines.push(`    ${k.padEnd(18)} ${fmt(v).padStart(14)}`);
  }
  lines.push('');
  lines.push('  by block                         in -> out                  params');
  for (const b of ir.blocks) {
    const p = s.byBlock.find((x) => x.path === b.path)?.params ?? 0;
    const shape = `${b.in.c}@${b.in.h} -> ${b.out.c}@${b.out.h}`;
    const tags = [b.attention ? 'attn' : '', b.skipIn ? `+skip ${b.skipIn}` : '', b.resample ?? ''].filter(Boolean).join(' ');
    lines.push(`    ${b.path.padEnd(28)} ${shape.padEnd(22)} ${fmt(p).padStart(12)}  ${tags}`);
  }
  return lines.join('\n');
}
