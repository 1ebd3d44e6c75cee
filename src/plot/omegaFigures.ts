/**
 * The omega figures as SVG: the similarity heatmap of one layer (the paper's Figure 4, optionally
 * at initialisation beside after training) and the panel of every layer's similarity to omega at
 * one reference point (Figure 7).
 */
import { axes, divergingColor, polyline, rgbHex, type AxisSpec } from '../runtime/images/chart.ts';
import { encodePng } from '../runtime/images/png.ts';
import { el, embeddedImage, n2, svgDocument, text, textWidth } from '../runtime/images/svg.ts';
import type { NoiseGrid, SimilaritySummary } from './omega.ts';

export interface HeatmapPanel {
  title: string;
  /** [n, n] cosine similarities on the grid. */
  S: Float64Array;
  summary: SimilaritySummary;
}

const xAxisOf = (grid: NoiseGrid, title: string): AxisSpec =>
  grid.axis.process === 'edm'
    ? { min: grid.values[0]!, max: grid.values[grid.values.length - 1]!, log: true, title }
    : { min: 0, max: grid.values.length - 1, integer: true, title };

/** Down-samples an [n, n] matrix to at most `max` x `max` pixels (nearest grid point), row 0 at the bottom. */
function heatmapPng(S: Float64Array, n: number, max = 300): { png: Buffer; size: number } {
  const k = Math.min(n, max);
  const px = new Uint8Array(k * k * 3);
  for (let r = 0; r < k; r++) {
    const i = Math.round(((k - 1 - r) * (n - 1)) / Math.max(1, k - 1)); // top row is the last grid point
    for (let c = 0; c < k; c++) {
      const j = Math.round((c * (n - 1)) / Math.max(1, k - 1));
      const rgb = divergingColor(S[i * n + j]!);
      px.set(rgb, (r * k + c) * 3);
    }
  }
  return { png: encodePng(px, k, k, 3), size: k };
}

function colorbar(x: number, y: number, h: number): string {
  const steps = 64;
  const parts: string[] = [];
  for (let s = 0; s < steps; s++) {
    const v = 1 - (2 * (s + 0.5)) / steps;
    parts.push(el('rect', { x, y: y + (s * h) / steps, width: 14, height: h / steps + 0.5, fill: rgbHex(divergingColor(v)) }));
  }
  parts.push(el('rect', { x, y, width: 14, height: h, fill: 'none', stroke: '#374151' }));
  for (const v of [1, 0.5, 0, -0.5, -1]) {
    const ty = y + ((1 - v) / 2) * h;
    parts.push(el('line', { x1: x + 14, y1: ty, x2: x + 18, y2: ty, stroke: '#374151' }));
    parts.push(text(x + 21, ty + 3.5, String(v), { size: 10, fill: '#374151' }));
  }
  parts.push(text(x + 7, y - 8, 'cos', { size: 10, anchor: 'middle', fill: '#374151' }));
  return parts.join('\n');
}

export interface HeatmapFigureOptions {
  title: string;
  subtitle: string;
  grid: NoiseGrid;
  panels: HeatmapPanel[];
}

const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');

export function summaryLine(s: SimilaritySummary, grid: NoiseGrid): string {
  const n = grid.values.length;
  const unit = grid.axis.process === 'ddpm' ? 'T' : 'grid';
  return `mean cos: |Δ| ≤ ${unit}/20 ${fmt(s.near)} · |Δ| ≥ ${unit}/2 ${fmt(s.far)} · all ${fmt(s.all)}${grid.axis.process === 'edm' ? ` (${n} log-spaced σ)` : ''}`;
}

/** Figure 4: one square heatmap per panel with a shared colour bar. */
export function heatmapFigure(o: HeatmapFigureOptions): string {
  const side = 330;
  const left = 78;
  const top = 72;
  const gap = 96;
  const n = o.grid.values.length;
  const parts: string[] = [];
  parts.push(text(16, 24, o.title, { size: 15, bold: true, fill: '#111827' }));
  parts.push(text(16, 42, o.subtitle, { size: 11, fill: '#4b5563' }));
  const axisName = o.grid.axis.process === 'ddpm' ? 't' : 'σ';
  o.panels.forEach((p, k) => {
    const x = left + k * (side + gap);
    const img = heatmapPng(p.S, n);
    parts.push(text(x + side / 2, top - 8, p.title, { size: 12, bold: true, anchor: 'middle', fill: '#111827' }));
    parts.push(embeddedImage(img.png, x, top, side, side, true));
    const ax = axes(
      { x, y: top, w: side, h: side },
      xAxisOf(o.grid, `${o.grid.label} (${axisName}₂)`),
      { ...xAxisOf(o.grid, `${axisName}₁`) },
      { grid: false },
    );
    parts.push(ax.svg);
    parts.push(text(x + side / 2, top + side + 56, summaryLine(p.summary, o.grid), { size: 10, anchor: 'middle', fill: '#111827' }));
  });
  const width = left + o.panels.length * (side + gap) - gap + 70;
  parts.push(colorbar(width - 58, top, side));
  const minWidth = Math.max(textWidth(o.title, 15, true), textWidth(o.subtitle, 11)) + 32;
  return svgDocument(Math.max(width, minWidth), top + side + 74, parts.join('\n'), o.title);
}

export interface AgainstLayer {
  label: string;
  trained: Float64Array;
  init?: Float64Array;
  summary?: SimilaritySummary;
}

export interface AgainstFigureOptions {
  title: string;
  subtitle: string;
  grid: NoiseGrid;
  /** The reference grid index and its value. */
  ref: number;
  layers: AgainstLayer[];
}

/** Figure 7: a small plot per layer of cos(omega(t), omega(t_ref)) over the axis. */
export function againstFigure(o: AgainstFigureOptions): string {
  const cols = Math.min(4, o.layers.length);
  const rows = Math.ceil(o.layers.length / cols);
  const pw = 250;
  const ph = 150;
  const gx = 62;
  const gy = 78;
  const left = 60;
  const top = 96;
  const parts: string[] = [];
  parts.push(text(16, 24, o.title, { size: 15, bold: true, fill: '#111827' }));
  parts.push(text(16, 42, o.subtitle, { size: 11, fill: '#4b5563' }));
  const refValue = o.grid.values[o.ref]!;
  const hasInit = o.layers.some((l) => l.init);
  // Legend.
  let lx = 16;
  parts.push(
    polyline(
      [
        [lx, 58],
        [lx + 24, 58],
      ],
      '#b91c1c',
      2,
    ),
  );
  parts.push(text(lx + 30, 62, 'after training', { size: 10, fill: '#374151' }));
  lx += 30 + textWidth('after training', 10) + 16;
  if (hasInit) {
    parts.push(
      polyline(
        [
          [lx, 58],
          [lx + 24, 58],
        ],
        '#6b7280',
        1.3,
        { 'stroke-dasharray': '4 3' },
      ),
    );
    parts.push(text(lx + 30, 62, 'at initialisation (same seed)', { size: 10, fill: '#374151' }));
  }
  const xa = xAxisOf(o.grid, o.grid.label);
  o.layers.forEach((l, k) => {
    const x = left + (k % cols) * (pw + gx);
    const y = top + Math.floor(k / cols) * (ph + gy);
    parts.push(text(x + pw / 2, y - 8, l.label, { size: 11, bold: true, anchor: 'middle', fill: '#111827' }));
    const ax = axes({ x, y, w: pw, h: ph }, xa, {
      min: -1,
      max: 1,
      ticks: [-1, -0.5, 0, 0.5, 1],
      title: k % cols === 0 ? 'cos similarity' : undefined,
    });
    parts.push(ax.svg);
    const rx = ax.px(refValue);
    parts.push(el('line', { x1: rx, y1: y, x2: rx, y2: y + ph, stroke: '#9ca3af', 'stroke-dasharray': '2 3' }));
    const pts = (s: Float64Array): [number, number][] => Array.from(s, (v, i) => [ax.px(o.grid.values[i]!), ax.py(v)]);
    if (l.init) parts.push(polyline(pts(l.init), '#6b7280', 1.3, { 'stroke-dasharray': '4 3' }));
    parts.push(polyline(pts(l.trained), '#b91c1c', 1.8));
  });
  const width = left + cols * (pw + gx) - gx + 24;
  const refText = o.grid.axis.process === 'ddpm' ? `t = ${refValue}` : `σ = ${n2(refValue)}`;
  parts.push(text(16, top + rows * (ph + gy) - 14, `dotted line: the reference ${refText}`, { size: 10, fill: '#6b7280' }));
  return svgDocument(
    Math.max(width, textWidth(o.title, 15, true) + 32, textWidth(o.subtitle, 11) + 32),
    top + rows * (ph + gy),
    parts.join('\n'),
    o.title,
  );
}
