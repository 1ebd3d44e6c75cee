/** Topology and shapes (E04xx): src/check/rules/topologyRule, widthsRule, normsRule, attentionHeadsRule, limitsRule. Harness: ./harness.ts. */
import { describe, expect, it } from 'vitest';
import { DiagnosticSink } from '../../src/diagnostics/diagnostic.ts';
import { makeContext } from '../../src/check/rules/index.ts';
import { limitsRule } from '../../src/check/rules/limitsRule.ts';
import { BASE, marked, edit, check, dump, expectCase, expectClean, timed } from './harness.ts';

// ---------------------------------------------------------------------------------------------
// E04xx topology and shapes
// ---------------------------------------------------------------------------------------------

describe('E04xx topology and shapes', () => {
  it('E0401 ImageNotDivisible (size 31 with two levels), at mult', () => {
    expectCase(edit(BASE, ['    size: 32\n', '    size: 31\n'], ['    mult: [1, 2]\n', '    mult: «[1, 2]»\n']), 'E0401', ['31', '2^1']);
  });

  it('E0402 GroupsNotDivisible (48 channels, 32 groups), at the norm', () => {
    expectCase(
      edit(BASE, ['    channels: 32\n', '    channels: 48\n'], ['norm: group(groups: 32)', 'norm: «group(groups: 32)»']),
      'E0402',
      ['48', '32 GroupNorm groups'],
    );
  });

  it('E0402 GroupsNotDivisible (UC-LoRA MLP width vs its groups), at the mlp list', () => {
    expectCase(edit(BASE, ['residual: scale_shift(at: norm1)', 'residual: uc_lora(rank: 4, bases: 2, mlp: «[30]», groups: 4)']), 'E0402', [
      '30',
      '4',
    ]);
  });

  it('E0403 AttentionResolutionMissing', () => {
    expectCase(edit(BASE, ['      at: [16]\n', '      at: [16, «4»]\n']), 'E0403', ['4x4', '32x32, 16x16']);
  });

  it('E0404 SkipCountMismatch (decoder_blocks consume one skip too few)', () => {
    // Encoder pushes stem, enc.32x32.block0, enc.16x16.down, enc.16x16.block0; the decoder's level 1
    // takes two (both 16x16), level 0 takes one, and the stem's skip is left over.
    expectCase(edit(BASE, ['    blocks: 1\n', '    blocks: 1\n    decoder_blocks: «[1, 2]»\n']), 'E0404', ['1 more skip connection']);
  });

  it('E0404 SkipCountMismatch (no stem: the default decoder_blocks pop one skip too many), at blocks', () => {
    expectCase(edit(BASE, ['    blocks: 1\n', '    blocks: «1»\n    stem: none\n']), 'E0404', ['needs a skip connection']);
  });

  // EDM's up: conv_transpose2d(stride 2, padding (k - 1) // 2) gives 2H - k + 2 + 2 ((k - 1) // 2)
  // rows: 2H for k = 4, 2H - 1 for k = 3.
  it('E0411 ResampleFilterOddLength (up: block with a 3-tap filter), at the filter', () => {
    expectCase(
      edit(BASE, ['    blocks: 1\n', '    blocks: 1\n    down: block\n    up: block\n    resample_filter: «[1, 2, 1]»\n']),
      'E0411',
      ['3 taps', '2H - 1'],
    );
  });

  it('an odd filter is fine for down: block alone, and an even one for both', () => {
    expectClean(edit(BASE, ['    blocks: 1\n', '    blocks: 1\n    down: block\n    resample_filter: [1, 2, 1]\n']));
    expectClean(edit(BASE, ['    blocks: 1\n', '    blocks: 1\n    down: block\n    up: block\n    resample_filter: [1, 3, 3, 1]\n']));
  });

  it('E0412 ResampleFilterSumZero, at the filter', () => {
    expectCase(edit(BASE, ['    blocks: 1\n', '    blocks: 1\n    down: block\n    resample_filter: «[1, -1]»\n']), 'E0412', ['sums to 0']);
  });

  it('E0405 BadWidth (literal 0)', () => {
    expectCase(edit(BASE, ['    convs: 2\n', '    convs: 2\n    widths: [out, «0»]\n']), 'E0405', ['positive whole number']);
  });

  it('E0405 BadWidth (expression negative for a block)', () => {
    expectCase(edit(BASE, ['    convs: 2\n', '    convs: 2\n    widths: [«out - 64», out]\n']), 'E0405', ['-32', 'in = 32', 'out = 32']);
  });

  it('E0406 ModelTooLarge (channels 65536, four levels), fast', () => {
    const src = edit(
      BASE,
      ['    channels: 32\n', '    channels: 65536\n'],
      ['    mult: [1, 2]\n', '    mult: [1, 2, 2, 2]\n'],
      ['  unet {\n', '  «unet» {\n'],
    );
    const { ms } = timed(() => expectCase(src, 'E0406', ['parameters', '1e+11']));
    expect(ms).toBeLessThan(1000);
  });

  it('E0407 TooManyModules (64 blocks per level, 16 convs, UC-LoRA on every conv)', () => {
    const src = edit(
      BASE,
      ['    mult: [1, 2]\n', '    mult: [1, 1, 1, 1]\n'],
      ['    blocks: 1\n', '    blocks: 64\n'],
      ['    convs: 2\n', '    convs: 16\n'],
      ['residual: scale_shift(at: norm1)', 'residual: uc_lora(rank: 1, bases: 1, mlp: [4, 4, 4, 4, 4, 4, 4, 4])'],
      ['  unet {\n', '  «unet» {\n'],
    );
    const { ms } = timed(() => expectCase(src, 'E0407', ['100000']));
    // Generous: the elaborator builds every module before counting them.
    expect(ms).toBeLessThan(10_000);
  });

  it('E0408 HeadsNotDivisible is reported', () => {
    const m = marked(edit(BASE, ['      heads: 1\n', '      heads: «3»\n']));
    const d = check(m.text).diagnostics.find((x) => x.code === 'E0408');
    expect(d, dump(check(m.text).diagnostics)).toBeDefined();
    expect(d!.message).toContain('3 attention heads');
  });

  // heads is the option at fault (channels are fine everywhere else), but the span is the
  // `attention` section header (elaborate.ts: `a.span`), a different line.
  it('E0408 HeadsNotDivisible points at heads', () => {
    expectCase(edit(BASE, ['      heads: 1\n', '      heads: «3»\n']), 'E0408', ['64 channels', '3 attention heads']);
  });

  it('E0409 ResolutionTooSmall (size 1 with two levels), at mult', () => {
    expectCase(edit(BASE, ['    size: 32\n', '    size: 1\n'], ['    mult: [1, 2]\n', '    mult: «[1, 2]»\n']), 'E0409', [
      '1x1',
      '1 times',
    ]);
  });

  it('E0410 SkipsUnbalancedPerLevel (decoder_blocks too many)', () => {
    expectCase(edit(BASE, ['    blocks: 1\n', '    blocks: 1\n    decoder_blocks: «3»\n']), 'E0410', ['16x16', '32x32']);
  });
});

describe("E09xx the compiler's own consistency", () => {
  it('E0901 IrInvariantBroken: the IR rule reports a built model with a parameter no op reads (no spec can reach it)', () => {
    const r = check(BASE);
    const ir = structuredClone(r.ir!);
    ir.modules[0].params.push({ name: 'stray', shape: [1], init: { fn: 'zeros' }, trainable: true, layout: 'plain' });
    const sink = new DiagnosticSink();
    limitsRule({ ...makeContext(r.settings!, r.config!, sink), plan: r.plan!, ir });
    expect(sink.items.map((d) => d.code)).toEqual(['E0901']);
  });
});
