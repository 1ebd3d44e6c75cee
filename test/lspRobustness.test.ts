/**
 * The language server's handlers on hostile text (the front end's fuzz corpus: mutated specs,
 * truncations, extreme inputs) must not throw, and on the largest spec must answer well under
 * 100 ms. In process, so thousands of requests stay fast; test/lsp.test.ts covers the stdio server.
 */
import fc from 'fast-check';
import { join, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { completion } from '../src/lsp/completion.ts';
import { definition } from '../src/lsp/definition.ts';
import { lspDiagnostics, SpecDocuments } from '../src/lsp/documents.ts';
import { formatting } from '../src/lsp/formatting.ts';
import { hover } from '../src/lsp/hover.ts';
import { documentSymbols } from '../src/lsp/symbols.ts';
import { applyMutations, extremes, mutationArb, specTexts, tokens } from './fuzz/specMutations.ts';

const SPECS = resolve(import.meta.dirname, '../specs');

/** Every request of the server on one text, at `samples` offsets spread over it (and its ends). */
function exercise(text: string, samples: number, file = join(SPECS, 'fuzz.unet')): void {
  const docs = new SpecDocuments();
  const uri = pathToFileURL(file).href;
  docs.open(uri, text, 1);
  const a = docs.analyse(uri)!;
  lspDiagnostics(uri, a, docs);
  const doc = docs.get(uri)!;
  documentSymbols(doc, a.ast ?? a.lastAst);
  formatting(doc);
  const step = Math.max(1, Math.floor(text.length / samples));
  const offsets = new Set([0, text.length, text.length - 1]);
  for (let o = 0; o <= text.length; o += step) offsets.add(o);
  for (const o of offsets) {
    if (o < 0) continue;
    hover(uri, a, docs, o);
    completion(uri, a, docs, o);
    definition(uri, a, docs, o);
  }
}

describe('language server on the fuzz corpus', () => {
  it('every spec, at every offset', () => {
    for (const s of specTexts) exercise(s.text, s.text.length, join(SPECS, s.file));
  }, 120_000);

  it('mutated specs: 200 cases, 60 offsets each', () => {
    const arb = fc.integer({ min: 0, max: specTexts.length - 1 }).chain((i) => {
      const n = tokens(specTexts[i].text).length;
      return fc.tuple(fc.constant(i), fc.array(mutationArb(n), { minLength: 1, maxLength: 4 }));
    });
    fc.assert(
      fc.property(arb, ([i, ms]) => {
        exercise(applyMutations(specTexts[i].text, ms), 60, join(SPECS, specTexts[i].file));
      }),
      { numRuns: 200, seed: 181818 },
    );
  }, 120_000);

  it('every truncation of the smallest spec', () => {
    const smallest = [...specTexts].sort((a, b) => a.text.length - b.text.length)[0].text;
    for (let k = 0; k <= smallest.length; k += 3) exercise(smallest.slice(0, k), 15);
  }, 120_000);

  for (const x of extremes()) {
    it(`extreme input: ${x.name}`, () => {
      exercise(x.text, 20);
    }, 60_000);
  }
});

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

describe('language server latency on the largest spec', () => {
  it('checks, hovers and completes edm-ffhq64-with-lora (3 files, 350 modules) well under 100 ms', () => {
    const file = join(SPECS, 'edm-ffhq64-with-lora.unet');
    const text = readFileSync(file, 'utf8');
    const uri = pathToFileURL(file).href;
    const docs = new SpecDocuments();
    const t: Record<string, number[]> = { check: [], hover: [], completion: [], definition: [] };
    // line 6 (0-based 5) "    attention: uc_lora(bases: 20, ...": the kind at character 15
    const lines = text.split('\n');
    const kindAt = text.indexOf(lines[5]) + 16;
    expect(lines[5].slice(15, 22)).toBe('uc_lora');
    for (let v = 1; v <= 21; v++) {
      docs.open(uri, text, v);
      let s = performance.now();
      const a = docs.analyse(uri)!;
      t.check.push(performance.now() - s);
      expect(a.check.ok).toBe(true);
      s = performance.now();
      const h = hover(uri, a, docs, kindAt);
      t.hover.push(performance.now() - s);
      expect(JSON.stringify(h)).toContain('bases');
      s = performance.now();
      const c = completion(uri, a, docs, kindAt + 8);
      t.completion.push(performance.now() - s);
      expect(c.map((i) => i.label)).toContain('rank');
      s = performance.now();
      definition(uri, a, docs, text.indexOf('"./'));
      t.definition.push(performance.now() - s);
    }
    const med = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v.slice(1))]));
    console.log(
      `lsp latency, edm-ffhq64-with-lora, median of 20 (ms): ${Object.entries(med)
        .map(([k, v]) => `${k} ${v.toFixed(2)}`)
        .join(', ')}`,
    );
    for (const v of Object.values(med)) expect(v).toBeLessThan(100);
  });
});
