/** EMA settings: a decay below 1, and not both a decay and a half-life. */
import type { DiagnosticSink } from '../../diagnostics/diagnostic.ts';
import type { Settings } from '../../elaborate/settings.ts';

export function emaRule(s: Settings, sink: DiagnosticSink, spans: Map<string, import('../../diagnostics/span.ts').Span>): void {
  const ema = s.training.ema;
  if (typeof ema === 'number' && ema >= 1) sink.report('EmaOutOfRange', `ema decay ${ema} never moves the average; use a value below 1`, spans.get('ema')!);
  if (ema !== undefined && s.training.ema_halflife_kimg !== undefined) {
    sink.report('EmaOutOfRange', 'give either ema (a decay) or ema_halflife_kimg, not both', spans.get('ema_halflife_kimg')!);
  }
}
