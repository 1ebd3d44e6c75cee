/** Per-level lists have one entry per level (as many as mult), and a block's widths one per conv. */
import { Diag } from '../../diagnostics/catalogue.ts';
import type { Width } from '../settings.ts';
import type { SettingsContext } from './context.ts';

export function listLengthsRule(ctx: SettingsContext): void {
  const u = ctx.settings.unet;
  const L = u.mult.length;
  const levels = (n: number) => `${n} level${n === 1 ? '' : 's'}`;
  const expected = `mult has ${L}`;
  if (u.blocks.length !== L) ctx.report(Diag.WrongListLength, { what: 'blocks', count: levels(u.blocks.length), expected }, 'unet.blocks');
  if (u.decoderBlocks.length !== L)
    ctx.report(Diag.WrongListLength, { what: 'decoder_blocks', count: levels(u.decoderBlocks.length), expected }, 'unet.decoder_blocks');
  if (u.decoderWidths && Array.isArray(u.decoderWidths[0]) && u.decoderWidths.length !== L) {
    ctx.report(
      Diag.WrongListLength,
      { what: 'decoder_widths', count: levels(u.decoderWidths.length), expected },
      (u.decoderWidths as Width[][])[0][0] ?? 'unet.decoder_widths',
    );
  }
  const w = u.block.widths;
  if (w && w.length !== u.block.convs) {
    ctx.report(
      Diag.WrongListLength,
      { what: 'widths', count: `${w.length} conv${w.length === 1 ? '' : 's'}`, expected: `the block has convs: ${u.block.convs}` },
      'unet.block.widths',
    );
  }
}
