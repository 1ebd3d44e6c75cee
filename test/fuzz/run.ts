/**
 * `npm run fuzz [-- CASES [SEED]]`: mutation fuzzing of the front end (default 10,000 cases plus the
 * extreme inputs and every truncation of the smallest spec). Prints the counts, the slowest case
 * and the heap high-water mark; exits 1 with the failing input when any case fails.
 */
import fc from 'fast-check';
import { applyMutations, extremes, mutationArb, runCase, specTexts, tokens } from './specMutations.ts';

const cases = Number(process.argv[2] ?? 10_000);
const seed = Number(process.argv[3] ?? Date.now() % 1_000_000);
const arb = fc
  .integer({ min: 0, max: specTexts.length - 1 })
  .chain((i) => fc.tuple(fc.constant(i), fc.array(mutationArb(tokens(specTexts[i].text).length), { minLength: 1, maxLength: 6 })));

let run = 0;
let failures = 0;
let slowest = 0;
let heap = 0;
const t0 = Date.now();
const check = (text: string, label: string) => {
  const o = runCase(text);
  run++;
  slowest = Math.max(slowest, o.ms);
  heap = Math.max(heap, process.memoryUsage().heapUsed);
  if (!o.ok) {
    failures++;
    if (failures <= 5) console.error(`FAIL ${label}: ${o.problem}\n--- input (first 500 chars) ---\n${text.slice(0, 500)}\n---`);
  }
};
for (const [i, ms] of fc.sample(arb, { numRuns: cases, seed }))
  check(applyMutations(specTexts[i].text, ms), `${specTexts[i].file} ${JSON.stringify(ms)}`);
for (const x of extremes()) check(x.text, x.name);
const smallest = [...specTexts].sort((a, b) => a.text.length - b.text.length)[0].text;
for (let k = 0; k <= smallest.length; k++) check(smallest.slice(0, k), `truncated at ${k}`);
console.log(
  `fuzz: ${run} cases (seed ${seed}), ${failures} failures, slowest ${slowest.toFixed(1)} ms, heap high-water ${(heap / 2 ** 20).toFixed(0)} MiB, ${((Date.now() - t0) / 1000).toFixed(1)} s`,
);
process.exitCode = failures > 0 ? 1 : 0;
