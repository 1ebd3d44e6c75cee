/**
 * The training-loss chart written next to checkpoints: drawn by hand on a pixel buffer (no canvas
 * or plotting dependency, works headless), raw loss in a light colour under a moving average in a
 * dark one, since per-step diffusion losses are too noisy to read on their own.
 */
import { GLYPH_HEIGHT, textWidth } from './font5x7.ts';
import { Raster, type Rgb } from './raster.ts';
import { formatTick, linearTicks, logTicks } from './ticks.ts';

export interface LossPoint {
  step: number;
  loss: number;
}

export interface LossCurveOptions {
  /** Image size in pixels; defaults 640x360, at least 120x80. */
  width?: number;
  height?: number;
}

const BACKGROUND: Rgb = [255, 255, 255];
const GRID: Rgb = [232, 232, 232];
const AXIS: Rgb = [64, 64, 64];
const LABEL: Rgb = [80, 80, 80];
export const RAW_COLOR: Rgb = [170, 200, 235];
export const SMOOTH_COLOR: Rgb = [20, 60, 140];

/**
 * Renders `points` as a PNG. Non-finite losses (a NaN step) are skipped rather than breaking the
 * scale. The y axis is logarithmic when all losses are positive and span more than a factor of 10
 * (early diffusion losses are orders of magnitude above the plateau, which a linear axis flattens).
 */
export function renderLossCurve(points: LossPoint[], opts: LossCurveOptions = {}): Buffer {
  const width = opts.width ?? 640;
  const height = opts.height ?? 360;
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width < 120 || height < 80) {
    throw new RangeError(`renderLossCurve: size must be integers of at least 120x80, got ${width}x${height}`);
  }
  const pts = points.filter((p) => Number.isFinite(p.step) && Number.isFinite(p.loss)).sort((a, b) => a.step - b.step);

  const minLoss = pts.reduce((m, p) => Math.min(m, p.loss), Infinity);
  const maxLoss = pts.reduce((m, p) => Math.max(m, p.loss), -Infinity);
  const log = pts.length > 0 && minLoss > 0 && maxLoss / minLoss > 10;
  const ty = (v: number) => (log ? Math.log10(v) : v);

  // Data ranges, widened when degenerate and given a 5% margin so the curve does not touch the frame.
  let [y0, y1] = pts.length > 0 ? [ty(minLoss), ty(maxLoss)] : [0, 1];
  if (y1 - y0 < 1e-12) [y0, y1] = [y0 - 0.5 * (Math.abs(y0) || 1), y1 + 0.5 * (Math.abs(y1) || 1)];
  const m = (y1 - y0) * 0.05;
  [y0, y1] = [y0 - m, y1 + m];
  let [x0, x1] = pts.length > 0 ? [pts[0]!.step, pts[pts.length - 1]!.step] : [0, 1];
  if (x1 === x0) [x0, x1] = [x0 - 1, x1 + 1];

  const lin = linearTicks(y0, y1, 5);
  const yTicks = log ? logTicks(y0, y1) : lin.ticks;
  const yLabels = yTicks.map((v) => formatTick(v, log ? undefined : lin.step));
  const xt = linearTicks(x0, x1, 5, 1);
  const xLabels = xt.ticks.map((v) => formatTick(v, xt.step));

  // Plot area: room on the left for the widest y label, below for the x labels.
  const left = 6 + Math.max(0, ...yLabels.map(textWidth)) + 4;
  const right = width - 1 - Math.ceil(textWidth(xLabels[xLabels.length - 1] ?? '') / 2) - 2;
  const top = 6;
  const bottom = height - 1 - (GLYPH_HEIGHT + 6);
  const px = (s: number) => left + ((s - x0) / (x1 - x0)) * (right - left);
  const py = (v: number) => bottom - ((v - y0) / (y1 - y0)) * (bottom - top);

  const r = new Raster(width, height, BACKGROUND);
  yTicks.forEach((v, i) => {
    const y = Math.round(py(ty(v)));
    r.line(left, y, right, y, GRID);
    r.text(left - 4 - textWidth(yLabels[i]!), y - 3, yLabels[i]!, LABEL);
  });
  xt.ticks.forEach((s, i) => {
    const x = Math.round(px(s));
    r.line(x, top, x, bottom, GRID);
    r.line(x, bottom, x, bottom + 3, AXIS);
    r.text(x - Math.floor(textWidth(xLabels[i]!) / 2), bottom + 5, xLabels[i]!, LABEL);
  });

  const raw = pts.map((p) => ty(p.loss));
  polyline(r, pts.map((p, i) => [px(p.step), py(raw[i]!)]), RAW_COLOR, 1);
  const smooth = movingAverage(raw, Math.max(1, Math.round(pts.length / 25)));
  polyline(r, pts.map((p, i) => [px(p.step), py(smooth[i]!)]), SMOOTH_COLOR, 2);

  // Axes last, so curves at the range edge do not hide them.
  r.line(left, top, left, bottom, AXIS);
  r.line(left, bottom, right, bottom, AXIS);
  return r.toPng();
}

function polyline(r: Raster, xy: [number, number][], color: Rgb, thickness: number): void {
  if (xy.length === 1) r.line(xy[0]![0], xy[0]![1], xy[0]![0], xy[0]![1], color, thickness + 1);
  for (let i = 1; i < xy.length; i++) r.line(xy[i - 1]![0], xy[i - 1]![1], xy[i]![0], xy[i]![1], color, thickness);
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
