/** Conditioning (E05xx): src/check/rules/conditioningKindsRule, placementRule, loraShapesRule, labelsRule; ablation edits. Harness: ./harness.ts. */
import { describe, expect, it } from 'vitest';
import { BASE, EDM_BASE, BASE_NO_T, edit, check, dump, expectCase, expectClean } from './harness.ts';

// ---------------------------------------------------------------------------------------------
// E05xx conditioning
// ---------------------------------------------------------------------------------------------

describe('E05xx conditioning', () => {
  it('E0501 RankTooSmall (rank 0)', () => {
    expectCase(edit(BASE, ['residual: scale_shift(at: norm1)', 'residual: uc_lora(rank: «0», bases: 2)']), 'E0501', ['at least 1', '0']);
  });

  it('E0501 RankTooSmall (negative rank)', () => {
    expectCase(edit(BASE, ['attention: none', 'attention: time_lora(rank: «-2», bases: 4)']), 'E0501', ['-2']);
  });

  it('E0502 RankTooLarge (attention qkv/proj of a 64-channel block)', () => {
    expectCase(edit(BASE, ['attention: none', 'attention: time_lora(rank: «100», bases: 4)']), 'E0502', ['100', 'min(C_in, C_out) = 64']);
  });

  it('E0502 RankTooLarge (3x3 conv of a 32-channel block)', () => {
    expectCase(edit(BASE, ['residual: scale_shift(at: norm1)', 'residual: uc_lora(rank: «40», bases: 2)']), 'E0502', ['40', '= 32']);
  });

  it('E0503 BasesTooFew (uc_lora)', () => {
    expectCase(edit(BASE, ['residual: scale_shift(at: norm1)', 'residual: uc_lora(rank: 4, bases: «0»)']), 'E0503', ['at least 1']);
  });

  it('E0503 BasesTooFew (time_lora)', () => {
    expectCase(edit(BASE, ['attention: none', 'attention: time_lora(rank: 4, bases: «0»)']), 'E0503', ['at least 1']);
  });

  it('E0504 TimeLoraContinuous (time_lora on an edm model)', () => {
    expectCase(edit(EDM_BASE, ['attention: none', 'attention: «time_lora(rank: 4, bases: 4)»']), 'E0504', ['edm', 'uc_lora']);
  });

  it('E0505 TimeLoraWithoutT', () => {
    expectCase(edit(BASE_NO_T, ['attention: none', 'attention: «time_lora(rank: 4, bases: 4)»']), 'E0505', ['T']);
  });

  it('E0506 ClassLoraWithoutClasses', () => {
    expectCase(edit(BASE, ['attention: none', 'attention: «class_lora(rank: 4)»']), 'E0506', ['classes']);
  });

  it('E0515 AttentionConditioningWithoutAttention (was E0507 before the split)', () => {
    const noAttention = edit(
      BASE,
      ['      at: [16]\n', '      at: []\n'],
      ['middle: [block(attention: true), block]', 'middle: [block, block]'],
    );
    expectClean(noAttention);
    expectCase(edit(noAttention, ['attention: none', 'attention: «adaln»']), 'E0515', ['no attention blocks']);
  });

  it('E0507 ConditioningTargetMissing (LoRA target layer the block lacks)', () => {
    expectCase(
      edit(BASE, ['residual: scale_shift(at: norm1)', 'residual: uc_lora(rank: 4, bases: 2, targets: [conv0, «conv2»])']),
      'E0507',
      ["'conv2'"],
    );
  });

  it('E0508 SelectorMatchesNothing', () => {
    expectCase(edit(BASE, ['    attention: none\n', '    attention: none\n    «"enc.64x64.*"»: scale_shift(at: norm1)\n']), 'E0508', [
      'enc.64x64.*',
    ]);
  });

  it('E0509 DuplicateLoraKind (the same LoRA kind twice)', () => {
    expectCase(
      edit(BASE, ['residual: scale_shift(at: norm1)', 'residual: [uc_lora(rank: 4, bases: 2), «uc_lora(rank: 2, bases: 2)»]']),
      'E0509',
      ["'uc_lora'"],
    );
  });

  it('E0509 DuplicateLoraKind (two modulations on the same block)', () => {
    expectCase(edit(BASE, ['residual: scale_shift(at: norm1)', 'residual: [scale_shift(at: norm1), «shift»]']), 'E0509', [
      "'shift'",
      "'scale_shift'",
    ]);
  });

  it('E0510 BasesExceedSteps (explicit T)', () => {
    expectCase(edit(BASE, ['attention: none', 'attention: time_lora(rank: 4, bases: «20», T: 10)']), 'E0510', ['20', '10']);
  });

  it('E0510 BasesExceedSteps (diffusion T)', () => {
    expectCase(edit(BASE, ['attention: none', 'attention: time_lora(rank: 4, bases: «2000»)']), 'E0510', ['2000', '1000']);
  });

  it('E0511 LabelsUnused is reported', () => {
    const text = edit(
      BASE,
      ['    channels: 3\n', '    channels: 3\n    classes: 10\n'],
      ['    mlp: [128, 128]\n', '    mlp: [128, 128]\n    label: none\n'],
    );
    const r = check(text);
    const d = r.diagnostics.find((x) => x.code === 'E0511');
    expect(d, dump(r.diagnostics)).toBeDefined();
    expect(d!.message).toContain('10 classes');
  });

  // The cause is `classes: 10` (with `label: none`); the span is the `input` section header
  // (elaborate.ts: `s.input.span`), a different line.
  it('E0511 LabelsUnused points at classes', () => {
    expectCase(
      edit(
        BASE,
        ['    channels: 3\n', '    channels: 3\n    classes: «10»\n'],
        ['    mlp: [128, 128]\n', '    mlp: [128, 128]\n    label: none\n'],
      ),
      'E0511',
      ['10 classes'],
    );
  });

  it('E0512 ConditioningNotAllowedHere (shift on attention)', () => {
    expectCase(edit(BASE, ['attention: none', 'attention: «shift»']), 'E0512', ["'shift'", 'adaln']);
  });

  it('E0512 ConditioningNotAllowedHere (adaln on residual blocks)', () => {
    expectCase(edit(BASE, ['residual: scale_shift(at: norm1)', 'residual: «adaln»']), 'E0512', ["'adaln'", 'scale_shift']);
  });

  // A one-conv block has no second norm: the modulation used to be allocated and counted, then
  // never applied (its parameters got no gradient), with no warning.
  it('E0514 ModulationTargetMissing (scale_shift at norm1 on a one-conv block)', () => {
    const { r } = expectCase(
      edit(BASE, ['      convs: 2\n', '      convs: 1\n'], ['residual: scale_shift(at: norm1)', 'residual: «scale_shift(at: norm1)»']),
      'E0514',
      ['1 conv', 'norm1', 'at: input'],
    );
    expect(r.ir).toBeUndefined();
    // Modulating the input instead is fine on one conv.
    expectClean(
      edit(BASE, ['      convs: 2\n', '      convs: 1\n'], ['residual: scale_shift(at: norm1)', 'residual: scale_shift(at: input)']),
    );
  });
});
describe('E05xx ablation edits', () => {
  it('E0513 AblationTargetMissing: an edit of a conditioning kind the base does not have', async () => {
    const { buildVariants } = await import('../../src/ablate/variants.ts');
    const { parseEdit } = await import('../../src/ablate/edits.ts');
    const [v] = buildVariants('specs/edm-cifar10.unet', [[parseEdit('time_lora.bases=3')]], 'specs');
    expect(v.result.diagnostics.map((d) => d.code)).toEqual(['E0513']);
    expect(v.result.diagnostics[0].message).toContain('no time_lora conditioning');
    // Placed at the base model's name.
    expect(v.result.diagnostics[0].span.file).toBe('specs/edm-cifar10.unet');
    // With the base's text, so the report shows the model line and a caret (it printed only the head before).
    const { formatDiagnostic } = await import('../../src/diagnostics/format.ts');
    const lines = formatDiagnostic(v.result.diagnostics[0], v.result.sources).split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[2]).toMatch(/\| model edm_cifar10 /);
  });
});
