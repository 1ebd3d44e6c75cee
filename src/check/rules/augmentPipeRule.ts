/** `augment_pipe: edm` writes EDM's 9 augmentation labels: the network's `input.augment` must take them. */
import { Diag } from '../../diagnostics/catalogue.ts';
import type { SettingsContext } from './context.ts';

/** Entries of EDM's augmentation-label vector (src/runtime/train/augment.ts, AUGMENT_LABELS). */
const EDM_LABELS = 9;

export function augmentPipeRule(ctx: SettingsContext): void {
  const s = ctx.settings;
  if (s.training.augment_pipe !== 'edm' || s.input.augment >= EDM_LABELS) return;
  // A child that narrows input.augment under a base's augment_pipe: edm is told at its own line.
  ctx.reportEdit(
    Diag.AugmentLabelsDontFit,
    { labels: EDM_LABELS, augment: s.input.augment },
    'training.augment_pipe',
    'input.augment',
    'augment_pipe: edm is inherited from here',
  );
}
