/** How diagnostics are reported: the error cap (W07xx), CRLF sources, the formatted excerpt. Harness: ./harness.ts. */
import { formatDiagnostic } from '../../src/diagnostics/format.ts';
import { describe, expect, it } from 'vitest';
import { BASE, marked, edit, check, expectDiag, expectClean } from './harness.ts';

// ---------------------------------------------------------------------------------------------
// W07xx warnings
// ---------------------------------------------------------------------------------------------

describe('W07xx warnings', () => {
  it('W0702 TooManyErrors: 200 unknown options give 50 errors and one note', () => {
    const fields = Array.from({ length: 200 }, (_, i) => `    bogus${i}: ${i}\n`).join('');
    const text = edit(BASE, ['    lr: 1e-4\n', '    lr: 1e-4\n' + fields]);
    const r = check(text);
    const errors = r.diagnostics.filter((d) => d.severity === 'error');
    expect(errors).toHaveLength(50);
    expect(errors.every((d) => d.code === 'E0202')).toBe(true);
    const notes = r.diagnostics.filter((d) => d.code === 'W0702');
    expect(notes).toHaveLength(1);
    expect(r.diagnostics[r.diagnostics.length - 1].code).toBe('W0702');
    expect(notes[0].severity).toBe('warning');
    expect(notes[0].message).toContain('150 more');
    // The kept errors are the first 50 fields, in order.
    const first = marked(edit(text, ['    bogus0: 0\n', '    «bogus0: 0\n']));
    expect([errors[0].span.line, errors[0].span.column]).toEqual([first.line, first.column]);
  });

  it('W0702 TooManyErrors respects maxErrors', () => {
    const fields = Array.from({ length: 200 }, (_, i) => `    bogus${i}: ${i}\n`).join('');
    const r = check(edit(BASE, ['    lr: 1e-4\n', '    lr: 1e-4\n' + fields]), { maxErrors: 5 });
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toHaveLength(5);
    const last = r.diagnostics[r.diagnostics.length - 1];
    expect(last.code).toBe('W0702');
    expect(last.message).toContain('195 more');
  });
});
// ---------------------------------------------------------------------------------------------
// Line endings
// ---------------------------------------------------------------------------------------------

describe('CRLF sources', () => {
  it('the base with CRLF line endings checks clean', () => {
    expectClean(BASE.replace(/\n/g, '\r\n'));
  });

  it('positions in a CRLF file are the same lines and columns as in the LF file', () => {
    const lf = marked(edit(BASE, ['    schedule: cosine\n', '    «shedule»: cosine\n']));
    const r = check(lf.text.replace(/\n/g, '\r\n'));
    expectDiag(r, 'E0202', lf, ["did you mean 'schedule'"]);
  });

  it('a syntax error in a CRLF file is at the same line and column', () => {
    const lf = marked(edit(BASE, ['    size: 32\n', '    size «32»\n']));
    const r = check(lf.text.replace(/\n/g, '\r\n'));
    expectDiag(r, 'E0103', lf, ['number 32']);
  });
});
// ---------------------------------------------------------------------------------------------
// CLI formatting
// ---------------------------------------------------------------------------------------------

describe('formatDiagnostic', () => {
  it('prints file:line:col: severity code: message, the source line and a caret under the span', () => {
    const m = marked(edit(BASE, ['    schedule: cosine\n', '    «shedule»: cosine\n']));
    const r = check(m.text);
    const d = r.diagnostics.find((x) => x.code === 'E0202')!;
    expect(m.line).toBe(11);
    const out = formatDiagnostic(d, r.sources);
    expect(out).toBe([`mem/x.unet:11:5: error E0202: ${d.message}`, '   |', '11 |     shedule: cosine', '   |     ^^^^^^^'].join('\n'));
    expect(out.split('\n')[0]).toMatch(/^mem\/x\.unet:11:5: error E0202: unknown option 'shedule' .*did you mean 'schedule'\?$/);
  });

  it('prints warnings with their severity', () => {
    const fields = Array.from({ length: 60 }, (_, i) => `    bogus${i}: ${i}\n`).join('');
    const r = check(edit(BASE, ['    lr: 1e-4\n', '    lr: 1e-4\n' + fields]));
    const note = r.diagnostics.find((x) => x.code === 'W0702')!;
    expect(formatDiagnostic(note, r.sources)).toMatch(/^mem\/x\.unet:\d+:\d+: warning W0702: too many errors/);
  });

  it('keeps tabs in the caret line so the caret lines up', () => {
    const m = marked(edit(BASE, ['    schedule: cosine\n', '\t\t«shedule»: cosine\n']));
    const r = check(m.text);
    const d = r.diagnostics.find((x) => x.code === 'E0202')!;
    expect([d.span.line, d.span.column]).toEqual([m.line, m.column]);
    expect(formatDiagnostic(d, r.sources).split('\n').slice(2)).toEqual(['11 | \t\tshedule: cosine', '   | \t\t^^^^^^^']);
  });

  it('truncates very long source lines and still prints a caret', () => {
    const m = marked(edit(BASE, ['    channels: 32\n', `    channels: «${'w'.repeat(100_000)}\n`]));
    const r = check(m.text);
    const d = r.diagnostics.find((x) => x.code === 'E0107')!;
    const lines = formatDiagnostic(d, r.sources).split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[2].length).toBeLessThan(300);
    expect(lines[2].endsWith('…')).toBe(true);
    expect(lines[3]).toBe(`${' '.repeat(String(m.line).length)} | ${' '.repeat(m.column - 1)}^`);
  });

  it('shows control characters as ? so the terminal is not disturbed', () => {
    const m = marked(edit(BASE, ['    size: 32\n', '    size: 32 «\u0007»\n']));
    const r = check(m.text);
    const d = r.diagnostics.find((x) => x.code === 'E0101')!;
    expect([d.span.line, d.span.column]).toEqual([m.line, m.column]);
    const lines = formatDiagnostic(d, r.sources).split('\n');
    expect(lines[2]).toBe(`${m.line} |     size: 32 ?`);
    expect(lines[3]).toBe(`${' '.repeat(String(m.line).length)} |              ^`);
  });

  it('prints only the head when the source is unknown', () => {
    const m = marked(edit(BASE, ['    schedule: cosine\n', '    «shedule»: cosine\n']));
    const d = check(m.text).diagnostics.find((x) => x.code === 'E0202')!;
    expect(formatDiagnostic(d, new Map())).toBe(`mem/x.unet:11:5: error E0202: ${d.message}`);
  });

  it('an end-of-input error prints a caret after the last line', () => {
    const text = 'model tiny {\n  input {\n    size: 32';
    const r = check(text);
    const d = r.diagnostics.find((x) => x.code === 'E0104')!;
    expect(formatDiagnostic(d, r.sources).split('\n').slice(2)).toEqual(['3 |     size: 32', '  |             ^']);
  });
});

describe('order and causes', () => {
  it('diagnostics come in position order, whichever rule found them first', () => {
    // A training problem (settings rule) late in the file and an attention problem (plan rule) earlier.
    const text = edit(BASE, ['      at: [16]\n', '      at: [16, 4]\n'], ['    ema: 0.9999\n', '    ema: 1\n']);
    const r = check(text);
    expect(r.diagnostics.map((d) => d.code)).toEqual(['E0403', 'E0602']);
    const offsets = r.diagnostics.map((d) => d.span.offset);
    expect([...offsets].sort((a, b) => a - b)).toEqual(offsets);
  });
  it('one problem met in many blocks is reported once (one cause, one place)', () => {
    // 48 channels in 32 groups: every norm of every 48-channel block meets it; the norm option is one place.
    const m = marked(
      edit(BASE, ['    channels: 32\n', '    channels: 48\n'], ['      norm: group(groups: 32)\n', '      norm: «group(groups: 32)»\n']),
    );
    const r = check(m.text);
    expect(r.diagnostics.filter((d) => d.code === 'E0402')).toHaveLength(1);
    expectDiag(r, 'E0402', m, ['48 channels']);
  });
});
