/** Options of one diffusion process given to the other (e.g. `precond` on a ddpm model), and the hybrid loss without a learned variance. */
import { Diag } from '../../diagnostics/catalogue.ts';
import type { SettingsContext } from './context.ts';

const DDPM_ONLY = ['T', 'schedule', 'predict', 'learn_sigma', 'loss', 'vlb_weight', 'rescale_timesteps'];
const EDM_ONLY = ['precond', 'sigma_data', 'P_mean', 'P_std', 'sigma_min', 'sigma_max', 'rho'];

export function processOptionsRule(ctx: SettingsContext): void {
  const d = ctx.settings.diffusion;
  const owner = d.process === 'ddpm' ? 'edm' : 'ddpm';
  for (const name of d.process === 'ddpm' ? EDM_ONLY : DDPM_ONLY) {
    if (name in d) {
      ctx.reportEdit(
        Diag.ProcessOptionMismatch,
        { name, owner, process: d.process },
        `key:diffusion.${name}`,
        'diffusion.process',
        `'${name}' is inherited from here: replace the section (diffusion = { ... }) or unset ${name}`,
      );
    }
  }
  if (d.loss === 'hybrid' && d.learn_sigma !== true) ctx.report(Diag.HybridLossNeedsLearnedSigma, {}, 'key:diffusion.loss');
}
