/**
 * `unetc diff`: two elaborated models compared module by module. Modules are aligned by path with a
 * longest common subsequence over the two (dataflow-ordered) path lists, so an inserted LoRA layer
 * shows as one added line and everything else lines up; a module whose details differ shows as a
 * removed and an added line. The summary gives the parameter delta (B - A) in total and per kind,
 * the FLOPs delta and the conditioning changes per block.
 */
import type { BlockOp, IR, LoraOp } from '../ir/types.ts';
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
  /** Each distinct change of conditioning (as the ops resolve it), once, with the blocks it affects. */
  conditioningChanges: { a: string; b: string; blocks: string[] }[];
  /** Other changes of what blocks compute (order, dropout, scales, heads, ...), once each, with their blocks. */
  blockChanges: { change: string; blocks: string[] }[];
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
      dp[i * (m + 1) + j] =
        a[i] === b[j] ? dp[(i + 1) * (m + 1) + j + 1] + 1 : Math.max(dp[(i + 1) * (m + 1) + j], dp[i * (m + 1) + j + 1]);
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

export interface DiffOptions {
  /** What omitted diffusion and training settings mean (the schema's literal defaults), so spelling a default out is no change. */
  defaults?: { diffusion?: Record<string, number | string | boolean>; training?: Record<string, number | string | boolean> };
}

export function diffModels(a: IR, b: IR, opts: DiffOptions = {}): ModelDiff {
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
  // Conditioning and block computations are compared as the typed ops state them (defaults
  // resolved), not as the spec spelled them: `scale_shift` and `scale_shift(at: norm1)` are one model.
  const blocksA = new Map(a.blocks.map((bl) => [bl.path, bl]));
  const blocksB = new Map(b.blocks.map((bl) => [bl.path, bl]));
  const condGroups = new Map<string, { a: string; b: string; blocks: string[] }>();
  const opGroups = new Map<string, { change: string; blocks: string[] }>();
  for (const path of new Set([...blocksA.keys(), ...blocksB.keys()])) {
    const ba = blocksA.get(path);
    const bb = blocksB.get(path);
    const ca = ba ? conditioningOf(ba.op) : '(no block)';
    const cb = bb ? conditioningOf(bb.op) : '(no block)';
    if (ca !== cb) {
      const key = `${ca}\u0000${cb}`;
      const g = condGroups.get(key) ?? { a: ca, b: cb, blocks: [] };
      g.blocks.push(path);
      condGroups.set(key, g);
    } else if (ba && bb) {
      for (const change of opChanges(ba.op, bb.op)) {
        const g = opGroups.get(change) ?? { change, blocks: [] };
        g.blocks.push(path);
        opGroups.set(change, g);
      }
    }
  }
  const conditioningChanges = [...condGroups.values()];
  const blockChanges = [...opGroups.values()];
  const settingChanges: ModelDiff['settingChanges'] = [];
  for (const [section, ra, rb] of [
    ['diffusion', a.diffusion, b.diffusion],
    ['training', a.training, b.training],
  ] as const) {
    const dflt = opts.defaults?.[section] ?? {};
    for (const k of new Set([...Object.keys(ra), ...Object.keys(rb)])) {
      const va = ra[k] ?? dflt[k];
      const vb = rb[k] ?? dflt[k];
      if (va !== vb) settingChanges.push({ key: `${section}.${k}`, a: String(va ?? '(unset)'), b: String(vb ?? '(unset)') });
    }
  }
  return {
    equal:
      added.length === 0 &&
      removed.length === 0 &&
      changed.length === 0 &&
      conditioningChanges.length === 0 &&
      blockChanges.length === 0 &&
      settingChanges.length === 0,
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
    blockChanges,
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
  out.push(
    `parameters  ${d.a.totalParams.toLocaleString('en-US')} -> ${d.b.totalParams.toLocaleString('en-US')}  (${signed(d.paramDelta)})`,
  );
  for (const [k, v] of Object.entries(d.paramDeltaByKind)) out.push(`  ${k.padEnd(18)} ${signed(v)}`);
  const pct = d.a.forwardFlops ? ((100 * d.flopsDelta) / d.a.forwardFlops).toFixed(2) : '0';
  out.push(`forward FLOPs  ${signed(d.flopsDelta)} (${d.flopsDelta >= 0 ? '+' : ''}${pct}%)`);
  out.push(`modules  ${d.added.length} added, ${d.removed.length} removed, ${d.changed.length} changed`);
  for (const c of d.settingChanges) out.push(`${c.key}  ${c.a} -> ${c.b}`);
  const blocks = (bs: string[]) =>
    `${bs.length} block${bs.length === 1 ? '' : 's'}: ${bs.slice(0, 8).join(', ')}${bs.length > 8 ? `, ... ${bs.length - 8} more` : ''}`;
  if (d.conditioningChanges.length) {
    out.push('conditioning changes:');
    for (const c of d.conditioningChanges) out.push(`  ${c.a}  ->  ${c.b}`, `    on ${blocks(c.blocks)}`);
  }
  if (d.blockChanges.length) {
    out.push('block changes:');
    for (const c of d.blockChanges) out.push(`  ${c.change}`, `    on ${blocks(c.blocks)}`);
  }
  return out.join('\n');
}

/** A block's conditioning as its op resolves it: residual modulation and LoRAs, attention adaLN and LoRAs. */
export function conditioningOf(op: BlockOp): string {
  if (op.op !== 'res_block') return 'none';
  const parts: string[] = [];
  const m = op.modulation;
  if (m)
    parts.push(
      `residual ${m.kind}(at: ${m.at}${
        m.mlp.length > 1
          ? `, mlp: [${m.mlp
              .slice(0, -1)
              .map((l) => l.dout)
              .join(', ')}]`
          : ''
      })`,
    );
  const loras = (convs: { lora: LoraOp[] }[], names: string[]) => {
    const byKind = new Map<string, string[]>();
    convs.forEach((c, i) => {
      for (const l of c.lora) {
        const key = loraText(l);
        byKind.set(key, [...(byKind.get(key) ?? []), names[i]]);
      }
    });
    return [...byKind].map(([k, on]) => `${k.slice(0, -1)}, on: ${on.join(' ')})`);
  };
  parts.push(
    ...loras(
      op.convs,
      op.convs.map((_, i) => `conv${i}`),
    ).map((t) => `residual ${t}`),
  );
  if (op.attention) {
    if (op.attention.adaln) parts.push('attention adaln');
    parts.push(...loras([op.attention.qkv, op.attention.proj], ['qkv', 'proj']).map((t) => `attention ${t}`));
  }
  return parts.join('; ') || 'none';
}

function loraText(l: LoraOp): string {
  if (l.kind === 'time_lora') return `time_lora(rank: ${l.rank}, bases: ${l.bases}, T: ${l.steps})`;
  if (l.kind === 'class_lora') return `class_lora(rank: ${l.rank}, classes: ${l.classes})`;
  return `uc_lora(rank: ${l.rank}, bases: ${l.bases}, mlp: [${l.hidden.map((h) => h.linear.dout).join(', ')}], bias: ${l.bias !== undefined}, scale: ${typeof l.scale === 'number' ? l.scale : 'trainable'})`;
}

/** What else differs between two ops of one block, field by field (conditioning aside: conditioningOf compares it). */
function opChanges(a: BlockOp, b: BlockOp): string[] {
  const out: string[] = [];
  const ra = a as unknown as Record<string, unknown>;
  const rb = b as unknown as Record<string, unknown>;
  for (const k of new Set([...Object.keys(ra), ...Object.keys(rb)])) {
    if (k === 'modulation') continue;
    let va = ra[k];
    let vb = rb[k];
    if (k === 'convs' || k === 'attention') {
      // LoRAs hang off the convs; they are conditioning.
      va = stripLora(va);
      vb = stripLora(vb);
    }
    const ja = JSON.stringify(va);
    const jb = JSON.stringify(vb);
    if (ja === jb) continue;
    const scalar = (v: unknown) => v === undefined || typeof v !== 'object' || v === null;
    out.push(scalar(va) && scalar(vb) ? `${k} ${va ?? '(none)'} -> ${vb ?? '(none)'}` : `${k} changes`);
  }
  return out;
}

function stripLora(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v ?? null, (k, x) => (k === 'lora' || k === 'adaln' ? undefined : x)));
}
