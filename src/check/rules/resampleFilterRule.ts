/**
 * The FIR filter of block resampling (EDM's `resample_filter`) is normalised by its sum, and up
 * doubles the size only with an even number of taps: EDM's conv_transpose2d(stride 2, padding
 * (k - 1) // 2) gives 2H - k + 2 + 2 ((k - 1) // 2) rows, 2H for even k and 2H - 1 for odd k.
 */
import { Diag } from '../../diagnostics/catalogue.ts';
import type { SettingsContext } from './context.ts';

export function resampleFilterRule(ctx: SettingsContext): void {
  const u = ctx.settings.unet;
  const f = u.resampleFilter;
  const shown = `[${f.join(', ')}]`;
  const usesFilter = u.down.kind === 'block' || u.up.kind === 'block';
  if (!usesFilter) return;
  if (f.reduce((a, b) => a + b, 0) === 0) ctx.report(Diag.ResampleFilterSumZero, { filter: shown }, 'unet.resample_filter');
  if (u.up.kind === 'block' && f.length % 2 === 1)
    ctx.report(Diag.ResampleFilterOddLength, { filter: shown, length: f.length }, 'unet.resample_filter');
}
