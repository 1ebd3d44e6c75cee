/**
 * The network's shape: the image halves once per level, attention resolutions exist, the decoder
 * takes exactly the skips the encoder pushes, level by level, and the model stays within the
 * module budget before anything is built.
 */
import { Diag } from '../../diagnostics/catalogue.ts';
import { LIMITS } from '../schema.ts';
import type { PlanContext } from './context.ts';

const tag = (r: number) => `${r}x${r}`;

export function topologyRule(ctx: PlanContext): void {
  const { settings: s, plan } = ctx;
  const u = s.unet;
  const stop = plan.stop;
  const decoderAt = { span: u.decoderBlocksSpan };
  const encoderNote = [{ message: 'the encoder blocks that push skips are set here', at: 'unet.blocks' }];
  switch (stop?.kind) {
    case 'resolution':
      ctx.report(Diag.ResolutionTooSmall, { size: s.input.size, steps: stop.steps }, 'unet.mult');
      return;
    case 'divisible':
      ctx.report(
        Diag.ImageNotDivisible,
        {
          size: s.input.size,
          steps: stop.steps,
          factor: 2 ** stop.steps,
          levels: u.mult.length,
          below: u.bottleneck === 'below' ? ' and a bottleneck below them' : '',
        },
        'unet.mult',
      );
      return;
    case 'skips-short':
      ctx.report(
        Diag.SkipCountMismatch,
        { ...plan.skips, detail: `decoder block ${stop.block} needs a skip connection, but none is left` },
        decoderAt,
        u.decoderBlocksSpan === u.blocksSpan ? [] : encoderNote,
      );
      break;
    case 'skips-left':
      ctx.report(
        Diag.SkipCountMismatch,
        {
          ...plan.skips,
          detail: `${stop.left} more skip connection${stop.left === 1 ? ' is' : 's are'} pushed than the decoder's blocks consume`,
        },
        decoderAt,
        u.decoderBlocksSpan === u.blocksSpan ? [] : encoderNote,
      );
      break;
    case 'skips-unbalanced':
      ctx.report(Diag.SkipsUnbalancedPerLevel, { res: tag(stop.res), skipRes: tag(stop.skipRes) }, decoderAt);
      break;
  }
  if (plan.resolutions.length === 0) return;
  u.attention.at.forEach((r, i) => {
    if (!plan.resolutions.includes(r))
      ctx.report(Diag.AttentionResolutionMissing, { res: tag(r), levels: plan.resolutions.map(tag).join(', ') }, `unet.attention.at[${i}]`);
  });
  if (stop) return;
  // Bound the module count before building anything, so a huge spec costs no memory.
  const c = s.conditioning;
  const loras = Math.max(1, c.residual.length + c.attention.length + c.selectors.reduce((a, x) => a + x.conds.length, 0));
  const estimate = plan.blocks.reduce((a, b) => a + b.widths.length * 3 + 12 + loras * (b.widths.length + 2) * 20, 0);
  if (estimate > LIMITS.maxModules * 4) ctx.report(Diag.TooManyModules, { count: `about ${estimate}`, max: LIMITS.maxModules }, 'unet');
}
