/**
 * Inheritance a user needs (grammar/README.md §4): a child replaces a whole section
 * (`diffusion = { ... }`) or removes an inherited option (`unset T`), so a DDPM base extends into
 * an EDM variant; a problem a child's edit causes points at the child's line, with the base's line
 * as the related location. Positions come from markers and from counting the texts themselves.
 */
import { describe, expect, it } from 'vitest';
import { parseSpec } from '../../src/syntax/parse.ts';
import { printSpec } from '../../src/syntax/printer.ts';
import { stripSpans } from '../../src/syntax/strip.ts';
import { checkSpec } from '../../src/pipeline.ts';
import { BASE, dump, expectDiag, lineCol, marked, memHost } from './harness.ts';

const BASE_FILE = 'mem/base.unet';
const CHILD = 'mem/child.unet';
const check = (child: string) => checkSpec(CHILD, { text: child, host: memHost({ [BASE_FILE]: BASE }) });
const child = (body: string) => `model edm_variant extends "./base.unet" {\n${body}}\n`;

describe('extending a DDPM base into an EDM variant', () => {
  it('replacing the diffusion section whole checks clean and keeps nothing of the base section', () => {
    const r = check(child('  diffusion = {\n    process: edm\n    precond: edm\n    sigma_data: 0.5\n  }\n'));
    expect(r.diagnostics, dump(r.diagnostics)).toEqual([]);
    expect(r.ir!.diffusion).toEqual({ process: 'edm', precond: 'edm', sigma_data: 0.5 });
    // The rest of the base is inherited: its U-Net (channels 32, mult [1, 2]).
    expect(r.settings!.unet.channels).toBe(32);
  });

  it('unset removes inherited options: merging process: edm and unsetting T and schedule checks clean', () => {
    const r = check(child('  diffusion {\n    process: edm\n    unset T\n    unset schedule\n  }\n'));
    expect(r.diagnostics, dump(r.diagnostics)).toEqual([]);
    expect(r.ir!.diffusion).toEqual({ process: 'edm' });
  });

  it("without them, E0601 points at the child's process line, the base's T and schedule related", () => {
    const m = marked(child('  diffusion {\n    process: «edm»\n  }\n'));
    const r = check(m.text);
    const ds = r.diagnostics.filter((d) => d.code === 'E0601');
    expect(ds.map((d) => [d.span.file, d.span.line, d.span.column])).toEqual([
      [CHILD, m.line, m.column],
      [CHILD, m.line, m.column],
    ]);
    const inBase = (s: string) => ({ file: BASE_FILE, ...lineCol(BASE, BASE.indexOf(s)) });
    expect(ds.map((d) => d.related!.map((x) => ({ file: x.span.file, line: x.span.line, column: x.span.column })))).toEqual([
      [inBase('T: 1000')],
      [inBase('schedule: cosine')],
    ]);
    expect(ds[0].message).toContain("'T' is an option of ddpm, not of edm");
    expect(ds[0].related![0].message).toContain('unset T');
  });

  it('within one file the diagnostic stays at the option (no related location)', () => {
    const r = checkSpec('mem/x.unet', { text: BASE.replace('process: ddpm', 'process: edm'), host: memHost() });
    const d = r.diagnostics.find((x) => x.code === 'E0601')!;
    expect(d.span.line).toBe(lineCol(BASE, BASE.indexOf('T: 1000')).line);
    expect(d.related).toBeUndefined();
  });

  it("E0605 caused by a child's input.augment points at the child, the base's augment_pipe related", () => {
    const base = BASE.replace('    ema: 0.9999\n', '    ema: 0.9999\n    augment_pipe: edm\n').replace(
      '    channels: 3\n',
      '    channels: 3\n    augment: 9\n',
    );
    const m = marked(child('  input {\n    augment: «4»\n  }\n'));
    const r = checkSpec(CHILD, { text: m.text, host: memHost({ [BASE_FILE]: base }) });
    const d = expectDiag(r, 'E0605', m, ['input.augment is 4'], CHILD);
    const pipe = lineCol(base, base.indexOf('edm\n'));
    expect(d.related?.map((x) => [x.span.file, x.span.line, x.span.column])).toEqual([[BASE_FILE, pipe.line, pipe.column]]);
  });

  it('E0221 UnsetNothing: unset of an option the base does not set', () => {
    const m = marked(child('  diffusion {\n    unset «rho»\n  }\n'));
    expectDiag(check(m.text), 'E0221', m, ["'rho'"], CHILD);
  });

  it('unset removes a whole inherited section too', () => {
    const r = check(child('  unset conditioning\n'));
    expect(r.settings!.conditioning.residual).toEqual([]);
  });
});

describe('the new syntax prints canonically and round-trips', () => {
  const text = child(
    '  // the base is DDPM\n  diffusion = {\n    process: edm\n  }\n\n  unset training // no EMA\n  conditioning {\n    unset "dec.*"\n  }\n',
  );
  it('parse(print(ast)) = ast, and print is a fixed point', () => {
    const ast = parseSpec(text, 'x.unet').ast!;
    const printed = printSpec(ast);
    expect(printed).toContain('  diffusion = {\n');
    expect(printed).toContain('  unset training // no EMA\n');
    expect(printed).toContain('    unset "dec.*"\n');
    const again = parseSpec(printed, 'x.unet').ast!;
    expect(stripSpans(again)).toEqual(stripSpans(ast));
    expect(printSpec(again)).toBe(printed);
  });
});
