/** Types and values (E03xx): types, ranges, list lengths and arithmetic. Harness: ./harness.ts. */
import { describe, expect, it } from 'vitest';
import { BASE, marked, edit, check, expectCase, timed } from './harness.ts';

// ---------------------------------------------------------------------------------------------
// E03xx types and values
// ---------------------------------------------------------------------------------------------

describe('E03xx types and values', () => {
  it('E0301 TypeMismatch', () => {
    expectCase(edit(BASE, ['    size: 32\n', '    size: «"32"»\n']), 'E0301', ['an integer', 'a string']);
  });

  it('E0302 NotAnInteger', () => {
    expectCase(edit(BASE, ['    size: 32\n', '    size: «32.5»\n']), 'E0302', ['32.5']);
  });

  it('E0303 OutOfRange (blocks: 1000000000), fast', () => {
    const { ms } = timed(() => expectCase(edit(BASE, ['    blocks: 1\n', '    blocks: «1000000000»\n']), 'E0303', ['1000000000', '64']));
    expect(ms).toBeLessThan(1000);
  });

  it('E0303 OutOfRange (size: 0)', () => {
    expectCase(edit(BASE, ['    size: 32\n', '    size: «0»\n']), 'E0303', ['>= 1']);
  });

  it('E0304 WrongListLength (blocks list vs mult)', () => {
    expectCase(edit(BASE, ['    blocks: 1\n', '    blocks: «[1, 1, 1]»\n']), 'E0304', ['3', '2']);
  });

  it('E0304 WrongListLength (decoder_blocks list vs mult)', () => {
    expectCase(edit(BASE, ['    blocks: 1\n', '    blocks: 1\n    decoder_blocks: «[2]»\n']), 'E0304', ['decoder_blocks']);
  });

  it('E0304 WrongListLength (mult longer than the level limit)', () => {
    expectCase(edit(BASE, ['    mult: [1, 2]\n', `    mult: «[${Array(13).fill(1).join(', ')}]»\n`]), 'E0304', ['13', '12']);
  });

  it('E0304 WrongListLength (widths vs convs) points at the widths list', () => {
    expectCase(edit(BASE, ['    convs: 2\n', '    convs: 2\n    widths: «[out]»\n']), 'E0304', ['convs']);
  });

  it('E0304 WrongListLength (widths vs convs) is reported on the widths line', () => {
    const m = marked(edit(BASE, ['    convs: 2\n', '    convs: 2\n    widths: «[out]»\n']));
    const d = check(m.text).diagnostics.find((x) => x.code === 'E0304');
    expect(d?.span.line).toBe(m.line);
  });

  it('E0308 PositionalArgument', () => {
    expectCase(edit(BASE, ['sinusoidal(dim: 32)', 'sinusoidal(«32»)']), 'E0308', ["'sinusoidal'", 'name: value']);
  });

  it('E0309 NegateNonNumber (span covers the negation)', () => {
    expectCase(edit(BASE, ['    channels: 32\n', '    channels: «-true»\n']), 'E0309', ['a boolean']);
  });

  it('E0310 ArithmeticOnNonNumber', () => {
    expectCase(edit(BASE, ['    channels: 32\n', '    channels: 2 * «"16"»\n']), 'E0310', ['a string']);
  });

  it("E0311 BlockLocalOutsideWidth ('in' as a channel count)", () => {
    expectCase(edit(BASE, ['    channels: 32\n', '    channels: «in»\n']), 'E0311', ["'in' and 'out'"]);
  });

  it('E0312 WidthNotInteger (a string among the widths)', () => {
    expectCase(edit(BASE, ['    convs: 2\n', '    convs: 2\n    widths: [out, «"wide"»]\n']), 'E0312', ['a string']);
  });

  it('E0305 DivisionByZero (span covers the division)', () => {
    expectCase(edit(BASE, ['    channels: 32\n', '    channels: «32 / 0»\n']), 'E0305', ['division by zero']);
  });

  it('E0306 NotFinite', () => {
    expectCase('let big = «1e300 * 1e300»\n' + BASE, 'E0306', ['too large']);
  });

  it('E0307 EmptyList', () => {
    expectCase(edit(BASE, ['    mult: [1, 2]\n', '    mult: «[]»\n']), 'E0307', ['mult']);
  });
});
