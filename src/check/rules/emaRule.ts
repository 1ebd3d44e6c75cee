/** EMA settings: a decay below 1, and not both a decay and a half-life. */
import { Diag } from '../../diagnostics/catalogue.ts';
import type { SettingsContext } from './context.ts';

export function emaRule(ctx: SettingsContext): void {
  const { ema, ema_halflife_kimg: halflife } = ctx.settings.training;
  if (typeof ema === 'number' && ema >= 1) ctx.report(Diag.EmaOutOfRange, { ema }, 'training.ema');
  if (ema !== undefined && halflife !== undefined) {
    ctx.reportEdit(
      Diag.EmaAndHalflife,
      {},
      'training.ema_halflife_kimg',
      'training.ema',
      'the half-life is inherited from here: unset one of them',
      'the decay is set here',
    );
  }
}
