/** Syntax (E01xx): lexer and parser errors, at the offending character or token. Harness: ./harness.ts. */
import { describe, expect, it } from 'vitest';
import { BASE, EDM_BASE, BASE_NO_T, lineCol, marked, edit, check, expectDiag, expectCase, expectClean, timed } from './harness.ts';

// ---------------------------------------------------------------------------------------------
// The clean starting points
// ---------------------------------------------------------------------------------------------

describe('base specs', () => {
  it('the reduced IDDPM-like base checks clean', () => {
    expectClean(BASE);
  });
  it('the EDM variant of the base checks clean', () => {
    expectClean(EDM_BASE);
  });
  it('the base without diffusion.T checks clean', () => {
    expectClean(BASE_NO_T);
  });
  it('the helpers count lines and columns from the text', () => {
    const m = marked('ab\ncd«ef»\ng');
    expect(m).toEqual({ text: 'ab\ncdef\ng', offset: 5, line: 2, column: 3, length: 2 });
  });
});

// ---------------------------------------------------------------------------------------------
// E01xx syntax
// ---------------------------------------------------------------------------------------------

describe('E01xx syntax', () => {
  it('E0101 UnexpectedCharacter', () => {
    expectCase(edit(BASE, ['    size: 32\n', '    size: 32 «@»\n']), 'E0101', ['"@"']);
  });

  it('E0101 lexer errors are capped at 20', () => {
    const r = check(edit(BASE, ['    size: 32\n', `    size: 32 ${'@ '.repeat(100)}\n`]));
    const n = r.diagnostics.filter((d) => d.code === 'E0101').length;
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThanOrEqual(20);
  });

  it('E0102 UnterminatedString', () => {
    expectCase(edit(BASE, ['    schedule: cosine\n', '    schedule: «"cosine»\n']), 'E0102', ['not closed']);
  });

  it('E0103 UnexpectedToken (missing colon)', () => {
    expectCase(edit(BASE, ['    size: 32\n', '    size «32»\n']), 'E0103', ['number 32', "':'"]);
  });

  it('E0103 UnexpectedToken (a comma where a value belongs)', () => {
    expectCase(edit(BASE, ['    size: 32\n', '    size: «,» 32\n']), 'E0103', ["','"]);
  });

  it('E0104 UnexpectedEndOfInput points just past the last character', () => {
    const text = BASE.slice(0, BASE.lastIndexOf('}'));
    const r = check(text);
    expectDiag(r, 'E0104', { text, offset: text.length, ...lineCol(text, text.length) }, ['end of input']);
  });

  it('E0104 UnexpectedEndOfInput without a trailing newline', () => {
    const text = 'model tiny {\n  input {\n    size: 32';
    const r = check(text);
    expectDiag(r, 'E0104', { text, offset: text.length, line: 3, column: 13 }, ['end of input']);
  });

  it('E0105 InvalidNumber (1e999)', () => {
    expectCase(edit(BASE, ['    size: 32\n', '    size: «1e999»\n']), 'E0105', ['too large']);
  });

  it('E0106 NestingTooDeep at the 65th open bracket', () => {
    const src = `let deep = ${'('.repeat(64)}«(${'('.repeat(5)}1${')'.repeat(70)}\n${BASE}`;
    expectCase(src, 'E0106', ['64']);
  });

  it('E0106 a 100000-deep list is rejected quickly, without overflowing the stack', () => {
    // Depth 2 already at the mlp line (model and embedding braces): the 63rd '[' is the 65th open bracket.
    const src = edit(BASE, ['    mlp: [128, 128]\n', `    mlp: ${'['.repeat(62)}«${'['.repeat(100_000 - 62)}\n`]);
    const { value, ms } = timed(() => expectCase(src, 'E0106'));
    expect(value.r.ok).toBe(false);
    expect(ms).toBeLessThan(1000);
  });

  it('E0110 StringTooLong (a 5000-character string), at its opening quote', () => {
    expectCase(edit(BASE, ['    size: 32\n', `    size: «"${'s'.repeat(5000)}"\n`]), 'E0110', ['5002', '4096']);
  });

  it('E0107 TokenTooLong (100000-character identifier), fast', () => {
    const src = edit(BASE, ['    channels: 32\n', `    channels: «${'w'.repeat(100_000)}\n`]);
    const { ms } = timed(() => expectCase(src, 'E0107', ['100000', '256']));
    expect(ms).toBeLessThan(1000);
  });

  it('E0107 TokenTooLong (100000-digit number)', () => {
    expectCase(edit(BASE, ['    channels: 32\n', `    channels: «${'9'.repeat(100_000)}\n`]), 'E0107', ['100000']);
  });

  it('E0108 UnterminatedComment', () => {
    expectCase(edit(BASE, ['    T: 1000\n', '    T: 1000 «/*» this comment never ends\n']), 'E0108', ['*/']);
  });

  it('E0109 InputTooLarge', () => {
    const text = BASE + '// ' + 'x'.repeat(1 << 20) + '\n';
    const { value: r, ms } = timed(() => check(text));
    expectDiag(r, 'E0109', { text, offset: 0, line: 1, column: 1 }, [String(1 << 20)]);
    expect(ms).toBeLessThan(1000);
  });
});
