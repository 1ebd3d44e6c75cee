/**
 * The training-loss chart written next to checkpoints, as SVG rendered to PNG (svg.ts): raw loss in
 * a light colour under a moving average in a dark one (per-step diffusion losses are too noisy to
 * read on their own), axis titles, and the run's name and spec as the title.
 */
import { axes, polyline, yLabelWidth, type AxisSpec } from './chart.ts';
import { svgDocument, svgToPng, text } from './svg.ts';
import { linearTicks } from './ticks.ts';

export interface LossPoint {
  step: number;
  loss: number;
}

export interface LossCurveOptions {
  /** Image size in pixels; defaults 640x360, at least 120x80. */
  width?: number;
  height?: number;
  /** The title (e.g. the run's name) and a line under it (e.g. the spec). */
  title?: string;
  subtitle?: string;
}

export type Rgb = [number, number, number];
export const RAW_COLOR: Rgb = [170, 200, 235];
export const SMOOTH_COLOR: Rgb = [20, 60, 140];
const hex = (c: Rgb) => `rgb(${c.join(',')})`;

/**
 * The chart as an SVG document. Non-finite losses (a NaN step) are skipped rather than breaking
 * the scale. The y axis is logarithmic when all losses are positive and span more than a factor of
 * 10 (early diffusion losses are orders of magnitude above the plateau, which a linear axis flattens).
 */
export function lossCurveSvg(points: LossPoint[], opts: LossCurveOptions = {}): string {
  const width = opts.width ?? 640;
  const height = opts.height ?? 360;
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width < 120 || height < 80) {
    throw new RangeError(`renderLossCurve: size must be integers of at least 120x80, got ${width}x${height}`);
  }
  const pts = points.filter((p) => Number.isFinite(p.step) && Number.isFinite(p.loss)).sort((a, b) => a.step - b.step);
  const minLoss = pts.reduce((m, p) => Math.min(m, p.loss), Infinity);
  const maxLoss = pts.reduce((m, p) => Math.max(m, p.loss), -Infinity);
  const log = pts.length > 0 && minLoss > 0 && maxLoss / minLoss > 10;

  // Data ranges, widened when degenerate and given a 5% margin (in display space) so the curve does not touch the frame.
  const ty = (v: number) => (log ? Math.log10(v) : v);
  let [y0, y1] = pts.length > 0 ? [ty(minLoss), ty(maxLoss)] : [0, 1];
  if (y1 - y0 < 1e-12) [y0, y1] = [y0 - 0.5 * (Math.abs(y0) || 1), y1 + 0.5 * (Math.abs(y1) || 1)];
  const m = (y1 - y0) * 0.05;
  [y0, y1] = [y0 - m, y1 + m];
  let [x0, x1] = pts.length > 0 ? [pts[0]!.step, pts[pts.length - 1]!.step] : [0, 1];
  if (x1 === x0) [x0, x1] = [x0 - 1, x1 + 1];
  const ya: AxisSpec = log ? { min: 10 ** y0, max: 10 ** y1, log: true, title: 'loss (log scale)' } : { min: y0, max: y1, title: 'loss' };
  const xa: AxisSpec = {
    min: x0,
    max: x1,
    integer: true,
    title: 'training step',
    ticks: linearTicks(x0, x1, width < 300 ? 3 : 5, 1).ticks,
  };

  const size = width < 300 ? 8 : 10;
  const hasTitle = opts.title !== undefined || opts.subtitle !== undefined;
  const top = hasTitle && height >= 160 ? (opts.subtitle ? 44 : 30) : 8;
  const left = yLabelWidth(ya, size) + 30;
  const area = { x: left, y: top, w: Math.max(10, width - left - 14), h: Math.max(10, height - top - (2 * size + 22)) };
  const parts: string[] = [];
  if (hasTitle && height >= 160) {
    if (opts.title) parts.push(text(10, 18, opts.title, { size: 13, bold: true, fill: '#111827' }));
    if (opts.subtitle) parts.push(text(10, 34, opts.subtitle, { size: 10, fill: '#4b5563' }));
  }
  const ax = axes(area, xa, ya, { size });
  parts.push(ax.svg);
  const yOf = (v: number) => ax.py(log ? v : v);
  const crisp = { 'shape-rendering': 'crispEdges' };
  const raw = pts.map((p): [number, number] => [ax.px(p.step), yOf(p.loss)]);
  parts.push(polyline(raw, hex(RAW_COLOR), 1, crisp));
  const smooth = movingAverage(
    pts.map((p) => ty(p.loss)),
    Math.max(1, Math.round(pts.length / 25)),
  );
  parts.push(
    polyline(
      pts.map((p, i): [number, number] => [ax.px(p.step), yOf(log ? 10 ** smooth[i]! : smooth[i]!)]),
      hex(SMOOTH_COLOR),
      2,
      crisp,
    ),
  );
  if (pts.length === 1)
    parts.push(
      polyline(
        [
          [raw[0]![0] - 1, raw[0]![1]],
          [raw[0]![0] + 1, raw[0]![1]],
        ],
        hex(SMOOTH_COLOR),
        3,
        crisp,
      ),
    );
  return svgDocument(width, height, parts.join('\n'), opts.title ?? 'training loss');
}

/** The chart as PNG bytes. */
export function renderLossCurve(points: LossPoint[], opts: LossCurveOptions = {}): Buffer {
  return svgToPng(lossCurveSvg(points, opts));
}

/**
 * Centred moving average over `window` points (shrinking at the ends), in display space: on a
 * log axis that is a geometric mean, which tracks the visual middle of the noisy curve. Centred,
 * unlike a trailing average, so the smooth curve does not lag the data.
 */
export function movingAverage(v: number[], window: number): number[] {
  const half = Math.floor(window / 2);
  const prefix = [0];
  for (const x of v) prefix.push(prefix[prefix.length - 1]! + x);
  return v.map((_, i) => {
    const a = Math.max(0, i - half);
    const b = Math.min(v.length, i + half + 1);
    return (prefix[b]! - prefix[a]!) / (b - a);
  });
}
