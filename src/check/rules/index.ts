/**
 * Semantic rules that need the whole model's settings but not its topology. Topology and shape
 * rules (divisibility, skips, attention resolutions, LoRA rank against layer sizes) run during
 * elaboration, where channels and resolutions are known.
 */
import type { DiagnosticSink } from '../../diagnostics/diagnostic.ts';
import type { Settings } from '../../elaborate/settings.ts';
import { augmentPipeRule } from './augmentPipeRule.ts';
import { emaRule } from './emaRule.ts';
import { processOptionsRule } from './processOptionsRule.ts';

export function runRules(s: Settings, sink: DiagnosticSink): void {
  processOptionsRule(s, sink);
  emaRule(s, sink, s.trainingSpans);
  augmentPipeRule(s, sink);
}
