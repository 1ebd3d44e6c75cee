/** Diffusion and training settings (E06xx): src/check/rules/processOptionsRule, emaRule, augmentPipeRule. Harness: ./harness.ts. */
import { describe, expect, it } from 'vitest';
import { BASE, EDM_BASE, BASE_NO_T, edit, expectCase } from './harness.ts';

// ---------------------------------------------------------------------------------------------
// E06xx diffusion and training
// ---------------------------------------------------------------------------------------------

describe('E06xx diffusion and training', () => {
  it('E0601 ProcessOptionMismatch (edm option on ddpm), at its name', () => {
    expectCase(edit(BASE, ['    schedule: cosine\n', '    schedule: cosine\n    «precond»: vp\n']), 'E0601', ["'precond'", 'edm']);
  });

  it('E0601 ProcessOptionMismatch (ddpm option on edm), at its name', () => {
    expectCase(edit(EDM_BASE, ['    sigma_data: 0.5\n', '    sigma_data: 0.5\n    «schedule»: linear\n']), 'E0601', ["'schedule'", 'ddpm']);
  });

  it('E0602 EmaOutOfRange (decay 1)', () => {
    expectCase(edit(BASE, ['    ema: 0.9999\n', '    ema: «1»\n']), 'E0602', ['below 1']);
  });

  it('E0606 EmaAndHalflife (was E0602 before the split), with the decay as a related location', () => {
    const { m, d } = expectCase(edit(BASE, ['    ema: 0.9999\n', '    ema: 0.9999\n    ema_halflife_kimg: «500»\n']), 'E0606', [
      'not both',
    ]);
    // The decay is on the line above the half-life, at the same column as its value.
    expect(d.related?.map((r) => [r.span.line, r.span.column])).toEqual([
      [m.line - 1, m.column - 'ema_halflife_kimg: '.length + 'ema: '.length],
    ]);
  });

  it('E0603 HybridLossNeedsLearnedSigma', () => {
    expectCase(edit(BASE, ['    schedule: cosine\n', '    schedule: cosine\n    «loss»: hybrid\n']), 'E0603', ['learn_sigma']);
  });

  it('E0604 TableNeedsSteps (edm)', () => {
    expectCase(edit(EDM_BASE, ['sinusoidal(dim: 32)', '«table(dim: 32)»']), 'E0604', ['diffusion.T']);
  });

  it('E0604 TableNeedsSteps (ddpm without T)', () => {
    expectCase(edit(BASE_NO_T, ['sinusoidal(dim: 32)', '«table(dim: 32)»']), 'E0604', ['diffusion.T']);
  });

  it('E0605 AugmentLabelsDontFit (the EDM pipe on a model without its 9 augmentation inputs), at the pipe', () => {
    expectCase(edit(BASE, ['    ema: 0.9999\n', '    ema: 0.9999\n    augment_pipe: «edm»\n']), 'E0605', [
      '9 augmentation labels',
      'input.augment is 0',
    ]);
  });
});
