/**
 * Conditioning against the rest of the model, without its topology: each kind given once per
 * list, modulations on their own block kind, TimeLoRA only with discrete timesteps and a T,
 * ClassLoRA only with classes, a table noise embedding only with a T, attention LoRA targets
 * that attention blocks have.
 */
import { Diag } from '../../diagnostics/catalogue.ts';
import { LORA_KINDS, misplacedOn } from '../plan.ts';
import type { CondSettings } from '../settings.ts';
import type { SettingsContext } from './context.ts';

const MODULATIONS = ['shift', 'scale_shift', 'adaln'];

export function conditioningKindsRule(ctx: SettingsContext): void {
  const s = ctx.settings;
  const lists: { conds: CondSettings[]; where?: 'residual' | 'attention' }[] = [
    { conds: s.conditioning.residual, where: 'residual' },
    { conds: s.conditioning.attention, where: 'attention' },
    // Selectors are checked for placement where they match (placementRule): a pattern can match both kinds.
    ...s.conditioning.selectors.map((x) => ({ conds: x.conds })),
  ];
  for (const { conds, where } of lists) {
    const seen = new Map<string, CondSettings>();
    for (const c of conds) {
      const family = MODULATIONS.includes(c.kind) ? 'modulation' : c.kind;
      const earlier = seen.get(family);
      if (earlier)
        ctx.report(Diag.ConflictingConditioning, { kind: c.kind, other: earlier.kind }, c, [
          { message: `'${earlier.kind}' is given here`, at: earlier },
        ]);
      seen.set(family, c);
      if (where && misplacedOn(c, where)) reportMisplaced(ctx, c, where, '');
      if (c.kind === 'time_lora') {
        if (s.diffusion.process === 'edm') ctx.report(Diag.TimeLoraContinuous, {}, c);
        else if (!c.args.has('T') && typeof s.diffusion.T !== 'number') ctx.report(Diag.TimeLoraWithoutT, {}, c);
      }
      if (c.kind === 'class_lora' && s.input.classes < 1) ctx.report(Diag.ClassLoraWithoutClasses, {}, c);
      // Residual targets are checked per block (planRules: blocks may have different conv counts).
      const targets = c.args.get('targets');
      if (LORA_KINDS.includes(c.kind) && where === 'attention' && targets?.kind === 'list') {
        for (const t of targets.items) {
          if (t.kind === 'sym' && t.name !== 'qkv' && t.name !== 'proj')
            ctx.report(Diag.ConditioningTargetMissing, { block: 'attention blocks', name: t.name, has: 'they have qkv and proj' }, t);
        }
      }
    }
  }
  if (s.embedding.noise.kind === 'table' && typeof s.diffusion.T !== 'number') ctx.report(Diag.TableNeedsSteps, {}, s.embedding.noise);
}

/** shift/scale_shift on an attention block or adaln on a residual block. */
export function reportMisplaced(ctx: SettingsContext, c: CondSettings, where: 'residual' | 'attention', context: string): void {
  const adaln = c.kind === 'adaln';
  ctx.report(
    Diag.ConditioningNotAllowedHere,
    { kind: c.kind, owner: adaln ? 'attention' : 'residual', instead: adaln ? 'scale_shift' : 'adaln', here: where, context },
    c,
  );
}
