/**
 * The language server over stdio (`unetc lsp --stdio`), as an editor talks to it. Positions are
 * 0-based (LSP); every expected range is counted by hand from the spec lines quoted beside it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printSpec } from '../src/syntax/printer.ts';
import { parseSpec } from '../src/syntax/parse.ts';
import fc from 'fast-check';
import { applyMutations, mutationArb, specTexts, tokens } from './fuzz/specMutations.ts';
import { LspClient } from './lspClient.ts';

const SPECS = resolve(import.meta.dirname, '../specs');
const uriOf = (p: string) => pathToFileURL(p).href;
const EDM = join(SPECS, 'edm-cifar10.unet');
const EDM_TEXT = readFileSync(EDM, 'utf8');

type Hover = { contents: { kind: string; value: string }; range: unknown } | null;
type Item = { label: string; kind?: number; textEdit?: { newText: string }; insertTextFormat?: number };
const labels = (items: Item[]) => items.map((i) => i.label);

let client: LspClient;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'unetc-lsp-'));
  client = new LspClient();
  const init = (await client.initialize()) as { capabilities: Record<string, unknown> };
  expect(init.capabilities.hoverProvider).toBe(true);
}, 60_000);

afterAll(async () => {
  const code = await client.stop();
  expect(code).toBe(0);
  rmSync(dir, { recursive: true, force: true });
});

const pos = (line: number, character: number) => ({ line, character });
const at = (uri: string, line: number, character: number) => ({ textDocument: { uri }, position: pos(line, character) });

describe('unetc lsp: diagnostics', () => {
  it('publishes E0202 for a typo at its range, and nothing once it is fixed', async () => {
    // specs/edm-cifar10.unet line 15 is "    precond: vp"; the typo "precnd" starts at column 5.
    const lines = EDM_TEXT.split('\n');
    expect(lines[14]).toBe('    precond: vp');
    lines[14] = '    precnd: vp';
    const uri = uriOf(join(dir, 'typo.unet'));
    const first = client.nextDiagnostics(uri);
    await client.open(uri, lines.join('\n'));
    const d = await first;
    expect(d.diagnostics).toHaveLength(1);
    expect(d.diagnostics[0].code).toBe('E0202');
    expect(d.diagnostics[0].severity).toBe(1);
    expect(d.diagnostics[0].range).toEqual({ start: pos(14, 4), end: pos(14, 10) });
    expect(d.diagnostics[0].message).toContain("did you mean 'precond'");
    // Insert the missing "o" (an incremental change): the spec checks clean.
    const fixed = client.nextDiagnostics(uri, (p) => p.version === 2);
    await client.change(uri, 2, [{ range: { start: pos(14, 8), end: pos(14, 8) }, text: 'o' }]);
    expect((await fixed).diagnostics).toEqual([]);
  });

  it('shows an error in a base spec on the extends line of the child, and in the base', async () => {
    // base.unet line 10 is "    colour: 1" (an unknown option): E0202 at 0-based (9, 4)-(9, 10).
    const base = EDM_TEXT.replace('    channels: 3\n', '    channels: 3\n    colour: 1\n');
    expect(base.split('\n')[9]).toBe('    colour: 1');
    writeFileSync(join(dir, 'base.unet'), base);
    // child.unet line 2 is 'model child extends "./base.unet" {': the string is at characters 20..33.
    const child = '// a child\nmodel child extends "./base.unet" {\n  diffusion { steps: 20 }\n}\n';
    const childUri = uriOf(join(dir, 'child.unet'));
    const baseUri = uriOf(join(dir, 'base.unet'));
    const inChild = client.nextDiagnostics(childUri);
    const inBase = client.nextDiagnostics(baseUri);
    await client.open(childUri, child);
    const c = await inChild;
    expect(c.diagnostics.map((d) => d.code)).toEqual(['E0202']);
    expect(c.diagnostics[0].range).toEqual({ start: pos(1, 20), end: pos(1, 33) });
    expect(c.diagnostics[0].message).toContain('base.unet:10:5');
    expect(c.diagnostics[0].relatedInformation?.[0].location).toEqual({ uri: baseUri, range: { start: pos(9, 4), end: pos(9, 10) } });
    const b = await inBase;
    expect(b.diagnostics.map((d) => [d.code, d.range])).toEqual([['E0202', { start: pos(9, 4), end: pos(9, 10) }]]);
  });

  it('re-checks an open child when its open base changes', async () => {
    const baseUri = uriOf(join(dir, 'base2.unet'));
    const childUri = uriOf(join(dir, 'child2.unet'));
    writeFileSync(join(dir, 'base2.unet'), EDM_TEXT);
    const clean = client.nextDiagnostics(childUri);
    await client.open(childUri, 'model child2 extends "./base2.unet" {}\n');
    expect((await clean).diagnostics).toEqual([]);
    await client.open(baseUri, EDM_TEXT);
    // Break the base in the editor (not on disk): "    size: 32" (line 8, 0-based 7) -> "    size: 0".
    expect(EDM_TEXT.split('\n')[7]).toBe('    size: 32');
    const broken = client.nextDiagnostics(childUri, (p) => p.diagnostics.length > 0);
    await client.change(baseUri, 2, [{ range: { start: pos(7, 10), end: pos(7, 12) }, text: '0' }]);
    const d = await broken;
    expect(d.diagnostics.map((x) => x.code)).toEqual(['E0303']);
    expect(d.diagnostics[0].range).toEqual({ start: pos(0, 21), end: pos(0, 35) });
  });

  it('re-checks open specs when a spec they extend changes on disk', async () => {
    writeFileSync(join(dir, 'base3.unet'), EDM_TEXT);
    const childUri = uriOf(join(dir, 'child3.unet'));
    const clean = client.nextDiagnostics(childUri);
    await client.open(childUri, 'model child3 extends "./base3.unet" {}\n');
    expect((await clean).diagnostics).toEqual([]);
    // base3.unet line 8 (0-based 7) "    size: 32" -> "    size: 0" on disk, not in the editor
    writeFileSync(join(dir, 'base3.unet'), EDM_TEXT.replace('    size: 32\n', '    size: 0\n'));
    const broken = client.nextDiagnostics(childUri, (p) => p.diagnostics.length > 0);
    await client.conn.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: uriOf(join(dir, 'base3.unet')), type: 2 }] });
    const d = await broken;
    expect(d.diagnostics.map((x) => x.code)).toEqual(['E0303']);
    expect(d.diagnostics[0].relatedInformation?.[0].location.range).toEqual({ start: pos(7, 10), end: pos(7, 11) });
  });
});

describe('unetc lsp: hover, completion, definition, symbols, formatting on real specs', () => {
  const uri = uriOf(EDM);
  beforeAll(async () => {
    const d = client.nextDiagnostics(uri);
    await client.open(uri, EDM_TEXT);
    expect((await d).diagnostics).toEqual([]);
  });

  it('hover on an option: type, default and meaning from the schema', async () => {
    // line 15 "    precond: vp"
    const h = await client.request<Hover>('textDocument/hover', at(uri, 14, 6));
    expect(h!.contents.value).toContain('diffusion.precond');
    expect(h!.contents.value).toContain('edm: preconditioning');
    expect(h!.contents.value).toContain('enum: `edm` | `vp`');
    expect(h!.range).toEqual({ start: pos(14, 4), end: pos(14, 11) });
  });

  it('hover on an option with a range and a default', async () => {
    // line 55 "      dropout: 0.13" in unet.block: num, 0 <= x < 1, default 0
    const h = await client.request<Hover>('textDocument/hover', at(uri, 54, 8));
    expect(h!.contents.value).toContain('unet.block.dropout');
    expect(h!.contents.value).toContain('num, 0 <= x < 1');
    expect(h!.contents.value).toContain('default: `0`');
  });

  it('hover on a section lists its options', async () => {
    // line 59 "    attention {" inside unet
    const h = await client.request<Hover>('textDocument/hover', at(uri, 58, 6));
    expect(h!.contents.value).toContain('unet.attention');
    expect(h!.contents.value).toContain('`head_channels`');
  });

  it('hover on a kind and on an argument', async () => {
    // line 26 "    noise: positional(dim: C, ...": positional at characters 11..21
    const k = await client.request<Hover>('textDocument/hover', at(uri, 25, 15));
    expect(k!.contents.value).toContain('**`positional`** (kind of `embedding.noise`)');
    expect(k!.contents.value).toContain('`max_positions`');
    // line 51 "      norm: group(groups: 32, min_group_channels: 4, eps: 1e-6)": the argument at 30
    const a = await client.request<Hover>('textDocument/hover', at(uri, 50, 32));
    expect(a!.contents.value).toContain('group(min_group_channels: ...)');
    expect(a!.contents.value).toContain('int, 1 <= x <= 4096');
  });

  it('hover on a let name shows its value', async () => {
    // line 36 "    channels: C": C at character 14; line 31 "    mlp: [4 * C, 4 * C]"
    const h = await client.request<Hover>('textDocument/hover', at(uri, 35, 14));
    expect(h!.contents.value).toContain('(constant) = `128`');
    expect(h!.contents.value).toContain('let C = 128');
  });

  it('completion: option names valid in the section', async () => {
    // an empty line inside "block { ... }" (after line 50 "      convs: 2")
    const items = await client.request<Item[]>('textDocument/completion', at(uri, 49, 20));
    const l = labels(items);
    for (const o of ['convs', 'kernel', 'widths', 'norm', 'skip_proj']) expect(l).toContain(o);
    expect(l).not.toContain('process');
    expect(l).not.toContain('input');
  });

  it('completion: enum values, kinds with required arguments, arguments not yet given, constants', async () => {
    const doc = uriOf(join(dir, 'complete.unet'));
    // 0-based lines: 0 "let W = 64", 1 "model m {", 2 "  diffusion { schedule:  }", 3 "  conditioning {",
    // 4 "    attention: ", 5 "    residual: shift(at: conv0, )", 6 "  }", 7 "}"
    const text =
      'let W = 64\nmodel m {\n  diffusion { schedule:  }\n  conditioning {\n    attention: \n    residual: shift(at: conv0, )\n  }\n}\n';
    await client.open(doc, text);
    const enumItems = labels(await client.request<Item[]>('textDocument/completion', at(doc, 2, 24)));
    expect(enumItems).toEqual(expect.arrayContaining(['linear', 'cosine', 'W']));
    expect(enumItems).not.toContain('ddpm');
    const kinds = await client.request<Item[]>('textDocument/completion', at(doc, 4, 15));
    expect(labels(kinds)).toEqual(expect.arrayContaining(['none', 'shift', 'scale_shift', 'adaln', 'time_lora', 'class_lora', 'uc_lora']));
    const uc = kinds.find((i) => i.label === 'uc_lora')!;
    expect(uc.textEdit!.newText).toBe('uc_lora(rank: ${1}, bases: ${2})');
    expect(uc.insertTextFormat).toBe(2);
    // after "shift(at: conv0, " (character 31): the remaining argument
    const args = labels(await client.request<Item[]>('textDocument/completion', at(doc, 5, 31)));
    expect(args).toEqual(['mlp']);
  });

  it('completion while typing a name replaces the word typed so far', async () => {
    const doc = uriOf(join(dir, 'typing.unet'));
    // line 2 "  input { cha" : the cursor after "cha" (character 13)
    await client.open(doc, 'model m {\n\n  input { cha\n}\n');
    const items = await client.request<(Item & { textEdit: { range: unknown } })[]>('textDocument/completion', at(doc, 2, 13));
    const ch = items.find((i) => i.label === 'channels')!;
    expect(ch.textEdit.range).toEqual({ start: pos(2, 10), end: pos(2, 13) });
    expect(labels(items)).toContain('classes');
  });

  it('go to definition: a let name and an extends path', async () => {
    // "    channels: C" (35, 14) -> "let C = 128" (line 4: 0-based 3, C at 4..5)
    const d = await client.request<{ uri: string; range: unknown }>('textDocument/definition', at(uri, 35, 14));
    expect(d).toEqual({ uri, range: { start: pos(3, 4), end: pos(3, 5) } });
    // specs/edm-cifar10-with-lora.unet line 4: 'model edm_cifar10_with_lora extends "./edm-cifar10.unet" {'
    const child = join(SPECS, 'edm-cifar10-with-lora.unet');
    const childUri = uriOf(child);
    await client.open(childUri, readFileSync(child, 'utf8'));
    const e = await client.request<{ uri: string; range: unknown }>('textDocument/definition', at(childUri, 3, 45));
    // the base's model name: line 6 "model edm_cifar10 {" -> (5, 6)-(5, 17)
    expect(e).toEqual({ uri, range: { start: pos(5, 6), end: pos(5, 17) } });
  });

  it('hover on a path selector lists the blocks it matches', async () => {
    copyFileSync(join(SPECS, 'iddpm-cifar10.unet'), join(dir, 'iddpm-cifar10.unet'));
    const sel = uriOf(join(dir, 'sel.unet'));
    // line 2 '    "dec.8x8.*.attn": none': the key at characters 4..20. IDDPM CIFAR-10 has 4 decoder
    // blocks per level and attention on all of them at 16x16 and 8x8: 4 matches at 8x8.
    const d = client.nextDiagnostics(sel);
    await client.open(sel, 'model sel extends "./iddpm-cifar10.unet" {\n  conditioning {\n    "dec.8x8.*.attn": none\n  }\n}\n');
    expect((await d).diagnostics).toEqual([]);
    const h = await client.request<Hover>('textDocument/hover', at(sel, 2, 8));
    expect(h!.contents.value).toContain('matches 4 blocks');
    for (let b = 0; b < 4; b++) expect(h!.contents.value).toContain(`dec.8x8.block${b}.attn`);
    expect(h!.contents.value).not.toContain('dec.16x16');
  });

  it('document symbols: the constants, the model and its sections', async () => {
    const s = await client.request<{ name: string; kind: number; children?: { name: string; children?: { name: string }[] }[] }[]>(
      'textDocument/documentSymbol',
      { textDocument: { uri } },
    );
    expect(s.map((x) => x.name)).toEqual(['C', 'edm_cifar10']);
    expect(s[1].children!.map((c) => c.name)).toEqual(['input', 'diffusion', 'embedding', 'unet', 'conditioning', 'training']);
    const unet = s[1].children!.find((c) => c.name === 'unet')!;
    expect(unet.children!.map((c) => c.name)).toContain('block');
  });

  it('formatting: the canonical printer, comments kept', async () => {
    const doc = uriOf(join(dir, 'fmt.unet'));
    const messy = 'model   m{ // the model\n  input {size:32 channels : 3}\n}';
    await client.open(doc, messy);
    const edits = await client.request<{ range: unknown; newText: string }[]>('textDocument/formatting', {
      textDocument: { uri: doc },
      options: { tabSize: 2, insertSpaces: true },
    });
    expect(edits).toHaveLength(1);
    expect(edits[0].range).toEqual({ start: pos(0, 0), end: pos(2, 1) });
    // The comment is not on a line where a member ends, so it stays above the next member (grammar/README.md §1).
    expect(edits[0].newText).toBe('model m {\n  // the model\n  input {\n    size: 32\n    channels: 3\n  }\n}\n');
    // A canonical spec needs no edit.
    expect(printSpec(parseSpec(EDM_TEXT).ast!)).toBe(EDM_TEXT);
    expect(await client.request('textDocument/formatting', { textDocument: { uri }, options: { tabSize: 2, insertSpaces: true } })).toEqual(
      [],
    );
  });

  it('answers requests on a spec that does not parse, and on text that is not a spec', async () => {
    const doc = uriOf(join(dir, 'junk.unet'));
    const d = client.nextDiagnostics(doc);
    await client.open(doc, 'model { {{ ]] "unterminated\n\u0000 let = = (');
    expect((await d).diagnostics.length).toBeGreaterThan(0);
    for (let c = 0; c < 12; c++) {
      await client.request('textDocument/hover', at(doc, 0, c));
      await client.request('textDocument/completion', at(doc, 1, c));
      await client.request('textDocument/definition', at(doc, 0, c));
    }
    expect(
      await client.request('textDocument/formatting', { textDocument: { uri: doc }, options: { tabSize: 2, insertSpaces: true } }),
    ).toEqual([]);
    expect(client.logs.filter((l) => l.includes('failed'))).toEqual([]);
  });
});

describe('unetc lsp: robustness and latency over stdio', () => {
  it('stays up through mutated specs (the fuzz corpus), logging no handler failure', async () => {
    const arb = fc.integer({ min: 0, max: specTexts.length - 1 }).chain((i) => {
      const n = tokens(specTexts[i].text).length;
      return fc.tuple(fc.constant(i), fc.array(mutationArb(n), { minLength: 1, maxLength: 4 }));
    });
    const cases = fc.sample(arb, { numRuns: 25, seed: 99 });
    for (const [k, [i, ms]] of cases.entries()) {
      const text = applyMutations(specTexts[i].text, ms);
      const doc = uriOf(join(dir, `fuzz${k}.unet`));
      const d = client.nextDiagnostics(doc);
      await client.open(doc, text);
      await d;
      const lines = text.split('\n');
      for (let l = 0; l < lines.length; l += 5) {
        const c = Math.floor(lines[l].length / 2);
        await client.request('textDocument/hover', at(doc, l, c));
        await client.request('textDocument/completion', at(doc, l, c));
      }
      await client.request('textDocument/documentSymbol', { textDocument: { uri: doc } });
      await client.request('textDocument/formatting', { textDocument: { uri: doc }, options: { tabSize: 2, insertSpaces: true } });
    }
    expect(client.logs.filter((l) => l.includes('failed'))).toEqual([]);
    expect(client.proc.exitCode).toBeNull();
  }, 120_000);

  it('answers hover and completion on the largest spec in well under 100 ms (round trip)', async () => {
    const file = join(SPECS, 'edm-ffhq64-with-lora.unet');
    const doc = uriOf(file);
    const d = client.nextDiagnostics(doc);
    await client.open(doc, readFileSync(file, 'utf8'));
    expect((await d).diagnostics).toEqual([]);
    const times: number[] = [];
    for (let k = 0; k < 11; k++) {
      const s = performance.now();
      // line 6 (0-based 5) "    attention: uc_lora(bases: 20, ...": hover the kind, complete its arguments
      await client.request('textDocument/hover', at(doc, 5, 17));
      await client.request('textDocument/completion', at(doc, 5, 24));
      times.push((performance.now() - s) / 2);
    }
    times.sort((a, b) => a - b);
    console.log(`lsp round trip over stdio, edm-ffhq64-with-lora: median ${times[5].toFixed(2)} ms per request`);
    expect(times[5]).toBeLessThan(100);
  });
});
