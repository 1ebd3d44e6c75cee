/**
 * Axis ticks for the charts: "nice" 1/2/5 x 10^k steps on linear axes, decades (plus 2x and
 * 5x when few decades are shown) on log axes, and short labels.
 */

/** About `target` ticks in [lo, hi], at multiples of a 1/2/5 x 10^k step (at least minStep: steps are integers). */
export function linearTicks(lo: number, hi: number, target = 5, minStep = 0): { ticks: number[]; step: number } {
  const raw = (hi - lo) / Math.max(1, target);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(minStep, [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag);
  const ticks: number[] = [];
  for (let k = Math.ceil(lo / step); k * step <= hi + step * 1e-9; k++) ticks.push(k * step);
  return { ticks, step };
}

/** Tick values (not logs) for a log10 axis spanning log10 values [lo, hi]. */
export function logTicks(lo: number, hi: number): number[] {
  const decades = hi - lo;
  const every = Math.max(1, Math.ceil(decades / 6));
  const mults = decades < 3 ? [1, 2, 5] : [1];
  const ticks: number[] = [];
  for (let d = Math.floor(lo); d <= Math.ceil(hi); d++) {
    if (d % every !== 0) continue;
    for (const m of mults) {
      const v = m * 10 ** d;
      const l = Math.log10(v);
      if (l >= lo - 1e-9 && l <= hi + 1e-9) ticks.push(v);
    }
  }
  return ticks;
}

/** Formats a tick label: fixed decimals from the step on linear axes, else short exponent form. */
export function formatTick(v: number, step?: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e6) return Number(v.toPrecision(2)).toExponential().replace('e+', 'e');
  if (step !== undefined) return v.toFixed(Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9))));
  return String(Number(v.toPrecision(3)));
}
