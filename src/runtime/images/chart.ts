/**
 * Chart parts shared by the SVG figures (loss curve, omega similarity): a plot area with ticks,
 * tick labels and axis titles on linear or log axes, polylines, and colour maps.
 */
import { el, n2, text, textWidth } from './svg.ts';
import { formatTick, linearTicks, logTicks } from './ticks.ts';

export interface AxisSpec {
  min: number;
  max: number;
  log?: boolean;
  title?: string;
  /** Explicit tick values (data units); default nice ticks. */
  ticks?: number[];
  /** Integer ticks only (steps, timesteps). */
  integer?: boolean;
}

export interface PlotArea {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Axes {
  svg: string;
  px: (v: number) => number;
  py: (v: number) => number;
}

const tickValues = (a: AxisSpec): { ticks: number[]; step?: number } => {
  if (a.ticks) return { ticks: a.ticks };
  if (a.log) return { ticks: logTicks(Math.log10(a.min), Math.log10(a.max)) };
  return linearTicks(a.min, a.max, 5, a.integer ? 1 : 0);
};

/** Width the y tick labels of an axis need at font size `size`. */
export function yLabelWidth(a: AxisSpec, size = 10): number {
  const { ticks, step } = tickValues(a);
  return Math.max(0, ...ticks.map((v) => textWidth(formatTick(v, step), size)));
}

/** A framed plot area with grid lines, ticks, labels and axis titles. */
export function axes(area: PlotArea, xa: AxisSpec, ya: AxisSpec, o: { grid?: boolean; size?: number } = {}): Axes {
  const size = o.size ?? 10;
  const tx = (a: AxisSpec, v: number) => (a.log ? Math.log10(v) : v);
  const span = (a: AxisSpec) => tx(a, a.max) - tx(a, a.min) || 1;
  const px = (v: number) => area.x + ((tx(xa, v) - tx(xa, xa.min)) / span(xa)) * area.w;
  const py = (v: number) => area.y + area.h - ((tx(ya, v) - tx(ya, ya.min)) / span(ya)) * area.h;
  const parts: string[] = [];
  const xt = tickValues(xa);
  const yt = tickValues(ya);
  for (const v of xt.ticks) {
    const x = px(v);
    if (x < area.x - 0.5 || x > area.x + area.w + 0.5) continue;
    if (o.grid !== false) parts.push(el('line', { x1: x, y1: area.y, x2: x, y2: area.y + area.h, stroke: '#e5e7eb' }));
    parts.push(el('line', { x1: x, y1: area.y + area.h, x2: x, y2: area.y + area.h + 4, stroke: '#374151' }));
    parts.push(text(x, area.y + area.h + 6 + size, formatTick(v, xt.step), { size, anchor: 'middle', fill: '#374151' }));
  }
  for (const v of yt.ticks) {
    const y = py(v);
    if (y < area.y - 0.5 || y > area.y + area.h + 0.5) continue;
    if (o.grid !== false) parts.push(el('line', { x1: area.x, y1: y, x2: area.x + area.w, y2: y, stroke: '#e5e7eb' }));
    parts.push(el('line', { x1: area.x - 4, y1: y, x2: area.x, y2: y, stroke: '#374151' }));
    parts.push(text(area.x - 6, y + size * 0.35, formatTick(v, yt.step), { size, anchor: 'end', fill: '#374151' }));
  }
  parts.push(el('rect', { x: area.x, y: area.y, width: area.w, height: area.h, fill: 'none', stroke: '#374151' }));
  if (xa.title)
    parts.push(text(area.x + area.w / 2, area.y + area.h + 2 * size + 12, xa.title, { size: size + 1, anchor: 'middle', fill: '#111827' }));
  if (ya.title) {
    const lx = area.x - yLabelWidth(ya, size) - 14;
    parts.push(text(lx, area.y + area.h / 2, ya.title, { size: size + 1, anchor: 'middle', fill: '#111827', rotate: -90 }));
  }
  return { svg: parts.join('\n'), px, py };
}

export function polyline(points: [number, number][], stroke: string, width = 1.5, extra: Record<string, string | number> = {}): string {
  if (points.length === 0) return '';
  const d = points.map(([x, y], i) => `${i ? 'L' : 'M'}${n2(x)} ${n2(y)}`).join('');
  return el('path', { d, fill: 'none', stroke, 'stroke-width': width, 'stroke-linejoin': 'round', ...extra });
}

type Rgb = [number, number, number];

/** Interpolates a list of colour stops evenly spaced on [0, 1]. */
function ramp(stops: Rgb[], u: number): Rgb {
  const x = Math.min(1, Math.max(0, Number.isFinite(u) ? u : 0)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const a = stops[i]!;
  const b = stops[i + 1]!;
  return [0, 1, 2].map((k) => Math.round(a[k]! + (b[k]! - a[k]!) * f)) as Rgb;
}

// ColorBrewer RdBu (11 classes), reversed: -1 blue, 0 near white, +1 red.
const RDBU: Rgb[] = [
  [5, 48, 97],
  [33, 102, 172],
  [67, 147, 195],
  [146, 197, 222],
  [209, 229, 240],
  [247, 247, 247],
  [253, 219, 199],
  [244, 165, 130],
  [214, 96, 77],
  [178, 24, 43],
  [103, 0, 31],
];

/** The diverging colour of a value in [-1, 1] (cosine similarity). */
export const divergingColor = (v: number): Rgb => ramp(RDBU, (v + 1) / 2);

export const rgbHex = (c: Rgb): string => `#${c.map((v) => v.toString(16).padStart(2, '0')).join('')}`;
