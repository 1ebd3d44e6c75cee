/**
 * The architecture diagram as SVG: level bands, block boxes (path, channels, attention tag,
 * conditioning badges), the dataflow arrows, the skip connections, parameter counts per level and
 * in total, a legend. With `changes` (unetc diff --draw), added and changed blocks and badges of
 * the second model are marked and the first model's removed blocks listed.
 */
import { el, svgDocument, text, textWidth, n2 } from '../runtime/images/svg.ts';
import { attnTag, blockTitle, BOX_H, CHIP_GAP, CHIP_H, chipWidth, FONT, layoutDiagram, type Box } from './layout.ts';
import type { BadgeKind, DiagramChanges, DiagramModel } from './model.ts';

export const BADGE_COLORS: Record<BadgeKind, { fill: string; stroke: string; name: string }> = {
  shift: { fill: '#dbeafe', stroke: '#2563eb', name: 'shift' },
  scale_shift: { fill: '#bfdbfe', stroke: '#1d4ed8', name: 'scale-shift' },
  adaln: { fill: '#ede9fe', stroke: '#7c3aed', name: 'adaLN' },
  time_lora: { fill: '#dcfce7', stroke: '#16a34a', name: 'TimeLoRA' },
  class_lora: { fill: '#fef3c7', stroke: '#d97706', name: 'ClassLoRA' },
  uc_lora: { fill: '#fce7f3', stroke: '#db2777', name: 'UC-LoRA' },
  other: { fill: '#f3f4f6', stroke: '#6b7280', name: 'other' },
};
const ATTN = { fill: '#ffedd5', stroke: '#ea580c' };
const ADDED = '#16a34a';
const CHANGED = '#ea580c';

export const fmtInt = (n: number): string => n.toLocaleString('en-US');

export interface DiagramOptions {
  changes?: DiagramChanges;
  /** A line under the title (e.g. the spec file, or "diff A -> B"). */
  subtitle?: string;
}

function chip(x: number, y: number, label: string, kind: BadgeKind | 'attn', mark?: 'added' | 'removed'): string {
  const c = kind === 'attn' ? ATTN : BADGE_COLORS[kind];
  const w = chipWidth(label);
  const fill = mark === 'removed' ? '#f3f4f6' : c.fill;
  const stroke = mark === 'removed' ? '#9ca3af' : mark === 'added' ? ADDED : c.stroke;
  return (
    el('rect', { x, y, width: w, height: CHIP_H, rx: 4, fill, stroke, 'stroke-width': mark === 'added' ? 2 : 1 }) +
    text(x + w / 2, y + CHIP_H - 4, label, {
      size: FONT - 1,
      anchor: 'middle',
      fill: mark === 'removed' ? '#6b7280' : '#111827',
      extra: mark === 'removed' ? { 'text-decoration': 'line-through' } : undefined,
    })
  );
}

function blockBox(bx: Box, o: DiagramOptions): string {
  const b = bx.block;
  const ch = o.changes;
  const status = ch?.added.has(b.path) ? 'added' : ch?.changed.has(b.path) ? 'changed' : undefined;
  const fill = b.part === 'emb' ? '#f9fafb' : b.resample ? '#eef2ff' : b.attention ? '#fff7ed' : '#ffffff';
  const stroke = status === 'added' ? ADDED : status === 'changed' ? CHANGED : '#374151';
  let s = el('rect', { x: bx.x, y: bx.y, width: bx.w, height: bx.h, rx: 5, fill, stroke, 'stroke-width': status ? 2.5 : 1 });
  if (status)
    s += text(bx.x + bx.w - 6, bx.y - 3, status === 'added' ? 'new' : 'changed', {
      size: FONT - 2,
      anchor: 'end',
      fill: stroke,
      bold: true,
    });
  const t = blockTitle(b);
  const pathW = textWidth(t.path, FONT, true);
  s += text(bx.x + 8, bx.y + 15, t.path, { size: FONT, bold: true, fill: '#111827' });
  s += text(bx.x + 8 + pathW + 8, bx.y + 15, b.part === 'emb' ? embDetail(b.inC, b.outC) : t.detail, { size: FONT, fill: '#374151' });
  const tag = attnTag(b);
  if (tag) s += chip(bx.x + bx.w - 8 - chipWidth(tag), bx.y + 4, tag, 'attn');
  // Conditioning badges on the second line.
  let x = bx.x + 8;
  const marks = ch?.badges.get(b.path);
  for (const g of b.badges) {
    const mark = marks?.added.has(g.label) ? 'added' : undefined;
    const label = mark ? `+ ${g.label}` : g.label;
    s += chip(x, bx.y + BOX_H - CHIP_H - 4, label, g.kind, mark);
    x += chipWidth(label) + CHIP_GAP;
  }
  for (const g of marks?.removed ?? []) {
    const label = `− ${g.label}`;
    s += chip(x, bx.y + BOX_H - CHIP_H - 4, label, g.kind, 'removed');
    x += chipWidth(label) + CHIP_GAP;
  }
  if (!b.badges.length && !marks?.removed.length && b.part !== 'emb' && b.kind !== 'head') {
    s += text(bx.x + 8, bx.y + BOX_H - 8, b.kind === 'down' || b.kind === 'up' ? 'resample' : 'no conditioning', {
      size: FONT - 2,
      fill: '#9ca3af',
    });
  }
  if (b.part === 'emb') s += text(bx.x + 8, bx.y + BOX_H - 8, `${fmtInt(b.params)} params`, { size: FONT - 2, fill: '#6b7280' });
  return el('g', { 'data-path': b.path, 'data-kind': b.kind }, s);
}

const embDetail = (inC: number, outC: number) => `${inC} → v (${outC})`;

/** An arrow along an elbow path from the bottom or top middle of one box to another. */
function arrow(a: Box, b: Box): string {
  const ax = a.x + a.w / 2;
  const bx = b.x + b.w / 2;
  let d: string;
  if (Math.abs(ax - bx) < 1) {
    const [y0, y1] = b.y > a.y ? [a.y + a.h, b.y] : [a.y, b.y + b.h];
    d = `M${n2(ax)} ${n2(y0)} V${n2(y1)}`;
  } else if (Math.abs(a.y - b.y) < 1) {
    const [x0, x1] = b.x > a.x ? [a.x + a.w, b.x] : [a.x, b.x + b.w];
    d = `M${n2(x0)} ${n2(a.y + a.h / 2)} H${n2(x1)}`;
  } else if (b.y > a.y) {
    // Down into the middle row: leave from the bottom, enter from the side.
    const y = b.y + b.h / 2;
    d = `M${n2(ax)} ${n2(a.y + a.h)} V${n2(y)} H${n2(b.x > ax ? b.x : b.x + b.w)}`;
  } else {
    // Up from the middle row into the decoder: leave from the side, enter from the bottom.
    const y = a.y + a.h / 2;
    d = `M${n2(bx > a.x + a.w ? a.x + a.w : a.x)} ${n2(y)} H${n2(bx)} V${n2(b.y + b.h)}`;
  }
  return el('path', { d, fill: 'none', stroke: '#374151', 'stroke-width': 1.4, 'marker-end': 'url(#arrow)' });
}

function skipCurve(a: Box, b: Box): string {
  const x0 = a.x + a.w;
  const y0 = a.y + a.h / 2;
  const x1 = b.x;
  const y1 = b.y + b.h / 2;
  const mx = (x0 + x1) / 2;
  return el('path', {
    d: `M${n2(x0)} ${n2(y0)} C${n2(mx)} ${n2(y0)} ${n2(mx)} ${n2(y1)} ${n2(x1 - 2)} ${n2(y1)}`,
    fill: 'none',
    stroke: '#6b7280',
    'stroke-width': 1,
    'stroke-dasharray': '4 3',
    'marker-end': 'url(#skiparrow)',
    'data-skip': `${a.block.path}->${b.block.path}`,
  });
}

export function diagramSvg(m: DiagramModel, o: DiagramOptions = {}): string {
  const marks = o.changes?.badges;
  const extra = (b: { path: string }) => {
    const mk = marks?.get(b.path);
    if (!mk) return 0;
    return [...mk.added].length * chipWidth('+ ') + mk.removed.reduce((a, g) => a + chipWidth(`− ${g.label}`) + CHIP_GAP, 0);
  };
  const L = layoutDiagram(m, extra);
  const byPath = new Map(L.boxes.map((b) => [b.block.path, b]));
  const parts: string[] = [];
  parts.push(
    '<defs>' +
      '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z" fill="#374151"/></marker>' +
      '<marker id="skiparrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z" fill="#6b7280"/></marker>' +
      '</defs>',
  );
  // Title.
  parts.push(text(16, 24, m.name, { size: 16, bold: true, fill: '#111827' }));
  parts.push(
    text(
      16 + textWidth(m.name, 16, true) + 14,
      24,
      `${fmtInt(m.totalParams)} parameters (${fmtInt(m.trainableParams)} trainable) · ${m.input.channels}@${m.input.size}×${m.input.size}${m.input.classes ? ` · ${m.input.classes} classes` : ''} · ${m.process}`,
      { size: 12, fill: '#374151' },
    ),
  );
  if (o.subtitle) parts.push(text(16, 42, o.subtitle, { size: 11, fill: '#6b7280' }));
  // Level bands.
  L.bands.forEach((band, i) => {
    parts.push(
      el('rect', { x: 8, y: band.y, width: L.width - 16, height: band.h, fill: i % 2 ? '#ffffff' : '#f8fafc', stroke: '#e5e7eb' }),
    );
    parts.push(text(16, band.y + band.h / 2 + 5, band.label, { size: 13, bold: true, fill: '#4b5563' }));
    const px = L.decX + L.boxW + 18;
    parts.push(text(px, band.y + band.h / 2 - 2, `${fmtInt(band.params)} params`, { size: 11, fill: '#374151' }));
    if (band.conditioningParams)
      parts.push(text(px, band.y + band.h / 2 + 12, `conditioning ${fmtInt(band.conditioningParams)}`, { size: 10, fill: '#6b7280' }));
  });
  // Column headings.
  const top = L.bands[0]?.y ?? 80;
  parts.push(text(L.encX + L.boxW / 2, top - 6, 'encoder ↓', { size: 11, anchor: 'middle', fill: '#6b7280' }));
  parts.push(text(L.decX + L.boxW / 2, top - 6, 'decoder ↑', { size: 11, anchor: 'middle', fill: '#6b7280' }));
  // Skips under the boxes, then the dataflow, then the boxes.
  for (const s of m.skips) {
    const a = byPath.get(s.from);
    const b = byPath.get(s.to);
    if (a && b) parts.push(skipCurve(a, b));
  }
  for (let i = 1; i < L.flow.length; i++) {
    const a = byPath.get(L.flow[i - 1]!);
    const b = byPath.get(L.flow[i]!);
    if (a && b) parts.push(arrow(a, b));
  }
  // Input and output of the network, and v feeding the blocks.
  const first = byPath.get(L.flow[0]!);
  const last = byPath.get(L.flow[L.flow.length - 1]!);
  if (first) parts.push(text(first.x - 6, first.y + 14, `x`, { size: 12, anchor: 'end', bold: true }));
  if (last)
    parts.push(
      text(last.x + last.w / 2, last.y - 4, `output ${last.block.outC}@${last.block.res.replace('x', '×')}`, {
        size: 10,
        anchor: 'middle',
        fill: '#374151',
      }),
    );
  for (const bx of L.boxes) parts.push(blockBox(bx, o));
  // Legend.
  let x = 16;
  const ly = L.legendY;
  const used = new Set(m.blocks.flatMap((b) => b.badges.map((g) => g.kind)));
  for (const g of o.changes?.badges.values() ?? []) for (const r of g.removed) used.add(r.kind);
  parts.push(text(x, ly + 11, 'legend:', { size: 10, fill: '#6b7280' }));
  x += 48;
  for (const k of Object.keys(BADGE_COLORS) as BadgeKind[]) {
    if (!used.has(k)) continue;
    parts.push(chip(x, ly, BADGE_COLORS[k].name, k));
    x += chipWidth(BADGE_COLORS[k].name) + 8;
  }
  parts.push(chip(x, ly, 'attn', 'attn'));
  x += chipWidth('attn') + 4;
  parts.push(text(x, ly + 11, 'self-attention', { size: 10, fill: '#374151' }));
  x += textWidth('self-attention', 10) + 14;
  if (m.skips.length) {
    parts.push(el('path', { d: `M${x} ${ly + 8} H${x + 28}`, stroke: '#6b7280', 'stroke-dasharray': '4 3', fill: 'none' }));
    parts.push(text(x + 34, ly + 11, `skip connection (${m.skips.length})`, { size: 10, fill: '#374151' }));
    x += 34 + textWidth(`skip connection (${m.skips.length})`, 10) + 14;
  }
  parts.push(text(x, ly + 11, '↓ ↑ resampling', { size: 10, fill: '#374151' }));
  if (o.changes) {
    const c = o.changes;
    const line = `marked: ${c.added.size} new, ${c.changed.size} changed block${c.changed.size === 1 ? '' : 's'}${c.removed.length ? `; removed: ${c.removed.join(', ')}` : ''}`;
    parts.push(text(16, ly + 34, line, { size: 11, fill: CHANGED }));
  }
  return svgDocument(L.width, L.height + (o.changes ? 10 : 0), parts.join('\n'), m.name);
}
