/** Options of one diffusion process given to the other (e.g. `precond` on a ddpm model). */
import type { DiagnosticSink } from '../../diagnostics/diagnostic.ts';
import type { Settings } from '../../elaborate/settings.ts';

const DDPM_ONLY = ['T', 'schedule', 'predict', 'learn_sigma', 'loss', 'vlb_weight', 'rescale_timesteps'];
const EDM_ONLY = ['precond', 'sigma_data', 'P_mean', 'P_std', 'sigma_min', 'sigma_max', 'rho'];

export function processOptionsRule(s: Settings, sink: DiagnosticSink): void {
  const wrong = s.diffusion.process === 'ddpm' ? EDM_ONLY : DDPM_ONLY;
  for (const k of wrong) {
    const span = s.diffusionSpans.get(k);
    if (span) sink.report('ProcessOptionMismatch', `'${k}' is an option of ${s.diffusion.process === 'ddpm' ? 'edm' : 'ddpm'}, not of ${s.diffusion.process}`, span);
  }
  if (s.diffusion.loss === 'hybrid' && s.diffusion.learn_sigma !== true) {
    sink.report('HybridLossNeedsLearnedSigma', 'the hybrid loss trains the variance: set learn_sigma: true', s.diffusionSpans.get('loss')!);
  }
}
