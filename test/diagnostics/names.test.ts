/** Names and structure (E02xx): unknown and duplicate names, sections and options, extends; and positions across extends. Harness: ./harness.ts. */
import { checkSpec } from '../../src/pipeline.ts';
import { describe, expect, it } from 'vitest';
import { BASE, DDPM_DIFFUSION, marked, edit, memHost, dump, expectDiag, expectCase } from './harness.ts';

// ---------------------------------------------------------------------------------------------
// E02xx names and structure
// ---------------------------------------------------------------------------------------------

describe('E02xx names and structure', () => {
  it('E0201 UnknownSection (misspelled section, with suggestion)', () => {
    expectCase(edit(BASE, ['  training {\n', '  «trainig» {\n']), 'E0201', ["did you mean 'training'"]);
  });

  it('E0201 UnknownSection (a top-level field that is no section)', () => {
    expectCase(edit(BASE, ['  training {\n', '  «precision»: 16\n  training {\n']), 'E0201', ["'precision'"]);
  });

  it('E0202 UnknownField (misspelled key, with suggestion)', () => {
    expectCase(edit(BASE, ['    schedule: cosine\n', '    «shedule»: cosine\n']), 'E0202', ["'shedule'", "did you mean 'schedule'"]);
  });

  it('E0218 SelectorOutsideConditioning (was E0202 before the split)', () => {
    expectCase(edit(BASE, ['    blocks: 1\n', '    blocks: 1\n    «"enc.*"»: 2\n']), 'E0218', ['only allowed in conditioning']);
  });

  it('E0202 UnknownField names the reference config a well-known option comes from', () => {
    expectCase(edit(BASE, ['    blocks: 1\n', '    blocks: 1\n    «num_res_blocks»: 2\n']), 'E0202', [
      "improved-diffusion's 'num_res_blocks' is unet.blocks here",
    ]);
    expectCase(edit(BASE, ['    blocks: 1\n', '    blocks: 1\n    «attn_resolutions»: [16]\n']), 'E0202', [
      "EDM's 'attn_resolutions' is unet.attention.at here",
    ]);
    expectCase(edit(BASE, ['    blocks: 1\n', '    blocks: 1\n    «layers_per_block»: 2\n']), 'E0202', [
      "diffusers's 'layers_per_block' is unet.blocks here",
    ]);
  });

  it('E0217 QuotedSectionName', () => {
    expectCase(edit(BASE, ['  training {', '  «"training"» {']), 'E0217', ['not quoted']);
  });

  it('E0219 ReservedLetName (in and out are the block-local widths)', () => {
    expectCase('let «in» = 3\n' + BASE, 'E0219', ["'in'"]);
  });

  it('E0203 UnknownName (misspelled enum value, with suggestion)', () => {
    expectCase(edit(BASE, ['    schedule: cosine\n', '    schedule: «cosin»\n']), 'E0203', ["'cosin'", "did you mean 'cosine'"]);
  });

  it('E0203 UnknownName (misspelled constant in arithmetic, with suggestion)', () => {
    expectCase(edit('let width = 16\n' + BASE, ['    channels: 32\n', '    channels: «widt» * 2\n']), 'E0203', [
      "'widt'",
      "did you mean 'width'",
    ]);
  });

  it('E0203 UnknownName (unknown name in a block width)', () => {
    expectCase(edit(BASE, ['    convs: 2\n', '    convs: 2\n    widths: [out, «ot»]\n']), 'E0203', ["'ot'", "did you mean 'out'"]);
  });

  it('E0204 DuplicateField', () => {
    expectCase(edit(BASE, ['    size: 32\n', '    size: 32\n    «size»: 32\n']), 'E0204', ["'size'"]);
  });

  it('E0205 DuplicateLet', () => {
    expectCase('let C = 32\nlet «C» = 64\n' + BASE, 'E0205', ["'C'"]);
  });

  it('E0206 UnknownKind (with suggestion)', () => {
    expectCase(edit(BASE, ['sinusoidal(dim: 32)', '«sinusodal»(dim: 32)']), 'E0206', ["'sinusodal'", "did you mean 'sinusoidal'"]);
  });

  it('E0207 UnknownArgument (with suggestion)', () => {
    expectCase(edit(BASE, ['sinusoidal(dim: 32)', 'sinusoidal(dim: 32, «flp»: true)']), 'E0207', ["'flp'", "did you mean 'flip'"]);
  });

  it('E0208 MissingField (a required option) at its section', () => {
    expectCase(edit(BASE, ['  input {\n    size: 32\n', '  «input» {\n']), 'E0208', ["'size'"]);
  });

  it('E0220 MissingSection (a required section) at the model name (was E0208 before the split)', () => {
    expectCase(edit(BASE, [DDPM_DIFFUSION + '\n', ''], ['model tiny {', 'model «tiny» {']), 'E0220', ["'diffusion'"]);
  });

  it('E0209 MissingArgument (the whole call is the span)', () => {
    expectCase(edit(BASE, ['sinusoidal(dim: 32)', '«sinusoidal()»']), 'E0209', ["'dim'"]);
  });

  it('E0210 ExtendsNotFound (extended spec)', () => {
    expectCase(edit(BASE, ['model tiny {', 'model tiny extends «"./nope.unet"» {']), 'E0210', ['nope.unet']);
  });

  it('E0210 ExtendsNotFound (the spec itself) at 1:1 of that file', () => {
    const r = checkSpec('mem/missing.unet', { host: memHost() });
    expectDiag(r, 'E0210', { text: '', offset: 0, line: 1, column: 1 }, ['missing.unet'], 'mem/missing.unet');
  });

  it('E0211 ExtendsCycle (a.unet extends b.unet extends a.unet)', () => {
    const a = 'model a extends "./b.unet" {\n}\n';
    const b = marked('// b goes back to a\nmodel b extends «"./a.unet"» {\n}\n');
    const r = checkSpec('/mem/a.unet', { host: memHost({ '/mem/a.unet': a, '/mem/b.unet': b.text }) });
    expectDiag(r, 'E0211', b, ['a.unet -> b.unet -> a.unet'], '/mem/b.unet');
    expect(r.diagnostics.filter((d) => d.code === 'E0211')).toHaveLength(1);
  });

  it('E0211 ExtendsCycle (relative entry path) is reported where the cycle closes', () => {
    const a = 'model a extends "./b.unet" {\n}\n';
    const b = marked('// b goes back to a\nmodel b extends «"./a.unet"» {\n}\n');
    const r = checkSpec('mem/a.unet', { text: a, host: memHost({ 'mem/a.unet': a, 'mem/b.unet': b.text }) });
    expectDiag(r, 'E0211', b, ['a.unet -> b.unet -> a.unet'], 'mem/b.unet');
  });

  // The entry text given inline (stdin, an editor buffer) that the host cannot read: still a cycle.
  it('E0211 ExtendsCycle (inline entry text the host cannot read)', () => {
    const a = 'model a extends "./b.unet" {\n}\n';
    const b = marked('// b goes back to a\nmodel b extends «"./a.unet"» {\n}\n');
    const r = checkSpec('mem/a.unet', { text: a, host: memHost({ 'mem/b.unet': b.text }) });
    expectDiag(r, 'E0211', b, ['a.unet -> b.unet -> a.unet'], 'mem/b.unet');
    expect(r.diagnostics.some((d) => d.code === 'E0210')).toBe(false);
  });

  it('E0211 ExtendsCycle (a spec extending itself)', () => {
    const a = marked('model a extends «"./a.unet"» {\n}\n');
    const r = checkSpec('/mem/a.unet', { host: memHost({ '/mem/a.unet': a.text }) });
    expectDiag(r, 'E0211', a, ['a.unet -> a.unet'], '/mem/a.unet');
  });

  it('E0216 ExtendsTooDeep (an acyclic chain past the limit is not called a cycle)', () => {
    // s0 extends s1 extends ... s40: no file twice, 40 links.
    const files: Record<string, string> = {};
    for (let i = 0; i < 40; i++) files[`/mem/s${i}.unet`] = `model s${i} extends "./s${i + 1}.unet" {\n}\n`;
    files['/mem/s40.unet'] = 'model s40 {\n}\n';
    // The limit is hit at s32's extends: reported there.
    const at = marked('model s32 extends «"./s33.unet"» {\n}\n');
    files['/mem/s32.unet'] = at.text;
    const r = checkSpec('/mem/s0.unet', { host: memHost(files) });
    expectDiag(r, 'E0216', at, ['limit of 32', 's0.unet -> s1.unet', 's33.unet'], '/mem/s32.unet');
    expect(r.diagnostics.some((d) => d.code === 'E0211')).toBe(false);
  });

  it('E0212 SectionExpected', () => {
    expectCase(edit(BASE, ['  training {\n    lr: 1e-4\n    ema: 0.9999\n  }\n', '  «training»: 3\n']), 'E0212', [
      "'training' is a section",
    ]);
  });

  it('E0213 FieldExpected', () => {
    expectCase(edit(BASE, ['    size: 32\n', '    «size» {\n      value: 32\n    }\n']), 'E0213', ["'size' is an option"]);
  });

  it('E0214 DuplicateArgument', () => {
    expectCase(edit(BASE, ['sinusoidal(dim: 32)', 'sinusoidal(dim: 32, «dim»: 64)']), 'E0214', ["'dim'"]);
  });

  it('E0215 SelfReferentialLet', () => {
    expectCase('let «C» = C + 1\n' + BASE, 'E0215', ["'C'"]);
  });

  it('E0215 SelfReferentialLet (mutual recursion, reported at the first constant)', () => {
    expectCase('let «A» = B * 2\nlet B = A\n' + BASE, 'E0215', ["'A'"]);
  });
});
// ---------------------------------------------------------------------------------------------
// Files: diagnostics carry the file they come from
// ---------------------------------------------------------------------------------------------

describe('diagnostics across extends', () => {
  it('a clean child of the base checks clean', () => {
    const child = 'model child extends "./base.unet" {\n  unet {\n    channels: 64\n  }\n}\n';
    const r = checkSpec('/mem/child.unet', { host: memHost({ '/mem/base.unet': BASE, '/mem/child.unet': child }) });
    expect(r.diagnostics, dump(r.diagnostics)).toEqual([]);
  });

  it("an error in the child is reported in the child's file", () => {
    const child = marked('model child extends "./base.unet" {\n  diffusion {\n    «shedule»: linear\n  }\n}\n');
    const r = checkSpec('/mem/child.unet', { host: memHost({ '/mem/base.unet': BASE, '/mem/child.unet': child.text }) });
    expectDiag(r, 'E0202', child, ["did you mean 'schedule'"], '/mem/child.unet');
  });

  it("a shape error caused by the parent's option is reported in the parent's file", () => {
    const child = 'model child extends "./base.unet" {\n  input {\n    size: 31\n  }\n}\n';
    const base = marked(edit(BASE, ['    mult: [1, 2]\n', '    mult: «[1, 2]»\n']));
    const r = checkSpec('/mem/child.unet', { host: memHost({ '/mem/base.unet': base.text, '/mem/child.unet': child }) });
    expectDiag(r, 'E0401', base, ['31'], '/mem/base.unet');
  });

  it('a syntax error in the parent is reported in the parent, with the parent text in sources', () => {
    const child = 'model child extends "./base.unet" {\n}\n';
    const base = marked(edit(BASE, ['    size: 32\n', '    size «32»\n']));
    const r = checkSpec('/mem/child.unet', { host: memHost({ '/mem/base.unet': base.text, '/mem/child.unet': child }) });
    expectDiag(r, 'E0103', base, ['number 32'], '/mem/base.unet');
    expect(r.sources.get('/mem/base.unet')).toBe(base.text);
  });
});
