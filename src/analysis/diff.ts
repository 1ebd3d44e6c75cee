/**
 * `unetc diff`: two elaborated models compared module by module. Modules are aligned by path with a
 * longest common subsequence over the two (dataflow-ordered) path lists, so an inserted LoRA layer
 * shows as one added line and everything else lines up; a module whose details differ shows as a
 * removed and an added line. The summary gives the parameter delta (B - A) in total and per kind,
 * the FLOPs delta and the conditioning changes per block.
 */
import type { IR } from '../ir/types.ts';
import { listing, type ListingLine } from './listing.ts';
import { computeStats } from './stats.ts';

export type DiffOp = { op: ' ' | '-' | '+'; text: string; path: string };

export interface ModelDiff {
  equal: boolean;
  ops: DiffOp[];
  added: string[];
  removed: string[];
  changed: string[];
  paramDelta: number;
  trainableDelta: number;
  flopsDelta: number;
  paramDeltaByKind: Record<string, number>;
  conditioningChanges: { block: string; a: string; b: string }[];
  /** Diffusion and training settings that differ. */
  settingChanges: { key: string; a: string; b: string }[];
  a: { name: string; totalParams: number; forwardFlops: number };
  b: { name: string; totalParams: number; forwardFlops: number };
}

/** LCS alignment of two key sequences; returns pairs of indices (or -1) in order. */
export function align(a: string[], b: string[]): [number, number][] {
  const n = a.length;
  const m = b.length;
  const dp = new Int32Array((n + 1) * (m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      dp[i * (m + 1) + j] = a[i] === b[j] ? dp[(i + 1) * (m + 1) + j + 1] + 1 : Math.max(dp[(i + 1) * (m + 1) + j], dp[i * (m + 1) + j + 1]);
    }
  }
  const out: [number, number][] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) out.push([i++, j++]);
    else if (dp[(i + 1) * (m + 1) + j] >= dp[i * (m + 1) + j + 1]) out.push([i++, -1]);
    else out.push([-1, j++]);
  }
  while (i < n) out.push([i++, -1]);
  while (j < m) out.push([-1, j++]);
  return out;
}

export function diffModels(a: IR, b: IR): ModelDiff {
  const la = listing(a);
  const lb = listing(b);
  const ops: DiffOp[] = [];
  const added: string[] = [];
  const removed: string[] = [];
  const changed: string[] = [];
  const push = (op: DiffOp['op'], l: ListingLine) => ops.push({ op, text: l.text, path: l.path });
  for (const [i, j] of align(
    la.map((l) => l.path),
    lb.map((l) => l.path),
  )) {
    if (i >= 0 && j >= 0) {
      if (la[i].text === lb[j].text) push(' ', la[i]);
      else {
        push('-', la[i]);
        push('+', lb[j]);
        changed.push(la[i].path);
      }
    } else if (i >= 0) {
      push('-', la[i]);
      removed.push(la[i].path);
    } else {
      push('+', lb[j]);
      added.push(lb[j].path);
    }
  }
  const sa = computeStats(a);
  const sb = computeStats(b);
  const kinds = new Set([...Object.keys(sa.byKind), ...Object.keys(sb.byKind)]);
  const paramDeltaByKind: Record<string, number> = {};
  for (const k of kinds) {
    const d = (sb.byKind[k] ?? 0) - (sa.byKind[k] ?? 0);
    if (d !== 0) paramDeltaByKind[k] = d;
  }
  const condText = (ir: IR) => new Map(ir.blocks.map((bl) => [bl.path, JSON.stringify(bl.conditioning)]));
  const ca = condText(a);
  const cb = condText(b);
  const describe = (s: string | undefined) => {
    if (!s) return '(no block)';
    const c = JSON.parse(s) as IR['blocks'][number]['conditioning'];
    const f = (l: { kind: string; options: Record<string, unknown> }[]) => l.map((x) => `${x.kind}(${Object.entries(x.options).map(([k, v]) => `${k}: ${Array.isArray(v) ? `[${v.join(', ')}]` : v}`).join(', ')})`).join(' + ');
    const parts = [c.residual.length ? `residual ${f(c.residual)}` : '', c.attention.length ? `attention ${f(c.attention)}` : ''].filter(Boolean);
    return parts.join('; ') || 'none';
  };
  const conditioningChanges: ModelDiff['conditioningChanges'] = [];
  for (const block of new Set([...ca.keys(), ...cb.keys()])) {
    if (ca.get(block) !== cb.get(block)) conditioningChanges.push({ block, a: describe(ca.get(block)), b: describe(cb.get(block)) });
  }
  const settingChanges: ModelDiff['settingChanges'] = [];
  for (const [section, ra, rb] of [
    ['diffusion', a.diffusion, b.diffusion],
    ['training', a.training, b.training],
  ] as const) {
    for (const k of new Set([...Object.keys(ra), ...Object.keys(rb)])) {
      if (ra[k] !== rb[k]) settingChanges.push({ key: `${section}.${k}`, a: String(ra[k] ?? '(unset)'), b: String(rb[k] ?? '(unset)') });
    }
  }
  return {
    equal: added.length === 0 && removed.length === 0 && changed.length === 0 && conditioningChanges.length === 0 && settingChanges.length === 0,
    settingChanges,
    ops,
    added,
    removed,
    changed,
    paramDelta: sb.totalParams - sa.totalParams,
    trainableDelta: sb.trainableParams - sa.trainableParams,
    flopsDelta: sb.forwardFlops - sa.forwardFlops,
    paramDeltaByKind,
    conditioningChanges,
    a: { name: a.name, totalParams: sa.totalParams, forwardFlops: sa.forwardFlops },
    b: { name: b.name, totalParams: sb.totalParams, forwardFlops: sb.forwardFlops },
  };
}

const signed = (n: number) => (n > 0 ? '+' : n < 0 ? '-' : '±') + Math.abs(n).toLocaleString('en-US');

/** Unified-diff-style text: hunks of changed lines with `context` unchanged lines around them. */
export function formatModelDiff(d: ModelDiff, labelA: string, labelB: string, context = 2): string {
  const out: string[] = [`--- ${labelA} (${d.a.name})`, `+++ ${labelB} (${d.b.name})`];
  const keep = new Array(d.ops.length).fill(false);
  d.ops.forEach((o, i) => {
    if (o.op !== ' ') for (let k = Math.max(0, i - context); k <= Math.min(d.ops.length - 1, i + context); k++) keep[k] = true;
  });
  let inHunk = false;
  d.ops.forEach((o, i) => {
    if (!keep[i]) {
      inHunk = false;
      return;
    }
    if (!inHunk) out.push(`@@ ${o.path} @@`);
    inHunk = true;
    out.push(`${o.op} ${o.text}`);
  });
  out.push('');
  out.push(`parameters  ${d.a.totalParams.toLocaleString('en-US')} -> ${d.b.totalParams.toLocaleString('en-US')}  (${signed(d.paramDelta)})`);
  for (const [k, v] of Object.entries(d.paramDeltaByKind)) out.push(`  ${k.padEnd(18)} ${signed(v)}`);
  const pct = d.a.forwardFlops ? ((100 * d.flopsDelta) / d.a.forwardFlops).toFixed(2) : '0';
  out.push(`forward FLOPs  ${signed(d.flopsDelta)} (${d.flopsDelta >= 0 ? '+' : ''}${pct}%)`);
  out.push(`modules  ${d.added.length} added, ${d.removed.length} removed, ${d.changed.length} changed`);
  for (const c of d.settingChanges) out.push(`${c.key}  ${c.a} -> ${c.b}`);
  if (d.conditioningChanges.length) {
    out.push('conditioning changes:');
    for (const c of d.conditioningChanges.slice(0, 40)) out.push(`  ${c.block}: ${c.a}  ->  ${c.b}`);
    if (d.conditioningChanges.length > 40) out.push(`  ... and ${d.conditioningChanges.length - 40} more blocks`);
  }
  return out.join('\n');
}
