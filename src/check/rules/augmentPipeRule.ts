/** `augment_pipe: edm` writes EDM's 9 augmentation labels: the network's `input.augment` must take them. */
import type { DiagnosticSink } from '../../diagnostics/diagnostic.ts';
import type { Settings } from '../../elaborate/settings.ts';

/** Entries of EDM's augmentation-label vector (src/runtime/train/augment.ts, AUGMENT_LABELS). */
const EDM_LABELS = 9;

export function augmentPipeRule(s: Settings, sink: DiagnosticSink): void {
  if (s.training.augment_pipe !== 'edm' || s.input.augment >= EDM_LABELS) return;
  sink.report(
    'AugmentLabelsDontFit',
    `augment_pipe: edm conditions the network on ${EDM_LABELS} augmentation labels, but input.augment is ${s.input.augment}; set augment: ${EDM_LABELS}`,
    s.trainingSpans.get('augment_pipe')!,
  );
}
