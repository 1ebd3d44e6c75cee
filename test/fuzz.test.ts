/**
 * A fixed-seed sample of the front-end fuzzing (`npm run fuzz` runs 10,000+ cases): no uncaught
 * exception, every failure a catalogued diagnostic with a valid span, each case under 1 s.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyMutations, extremes, mutationArb, runCase, specTexts, tokens } from './fuzz/specMutations.ts';

describe('front-end fuzzing (fixed seed)', () => {
  it('mutated specs: 400 cases', () => {
    const arb = fc.integer({ min: 0, max: specTexts.length - 1 }).chain((i) => {
      const n = tokens(specTexts[i].text).length;
      return fc.tuple(fc.constant(i), fc.array(mutationArb(n), { minLength: 1, maxLength: 4 }));
    });
    fc.assert(
      fc.property(arb, ([i, ms]) => {
        const o = runCase(applyMutations(specTexts[i].text, ms));
        expect(o.problem).toBeUndefined();
      }),
      { numRuns: 400, seed: 424242 },
    );
  }, 120_000);

  it('truncation at every offset of the smallest spec', () => {
    const smallest = [...specTexts].sort((a, b) => a.text.length - b.text.length)[0].text;
    for (let k = 0; k <= smallest.length; k++) expect(runCase(smallest.slice(0, k)).problem).toBeUndefined();
  }, 120_000);

  for (const x of extremes()) {
    it(`extreme input: ${x.name}`, () => {
      expect(runCase(x.text).problem).toBeUndefined();
    });
  }
});
