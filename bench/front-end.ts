/**
 * Front-end timings per spec: parse, check + elaborate (whole pipeline), stats, fmt (parse + print),
 * median of repeated runs in one process, with the parse time as the baseline ratio.
 * Run: node bin/run-ts.mjs bench/front-end.ts
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { computeStats } from '../src/analysis/stats.ts';
import { checkSpec } from '../src/check/check.ts';
import { parseSpec } from '../src/syntax/parse.ts';
import { printSpec } from '../src/syntax/printer.ts';
import { specFiles, SPECS_DIR } from '../test/helpers.ts';

function median(f: () => void, n = 30): number {
  const ts: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    f();
    ts.push(performance.now() - t);
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(n / 2)];
}

const rows: string[] = [];
for (const f of specFiles()) {
  const path = join(SPECS_DIR, f);
  const text = readFileSync(path, 'utf8');
  const parse = median(() => parseSpec(text, path));
  const check = median(() => checkSpec(path));
  const ir = checkSpec(path).ir!;
  const stats = median(() => computeStats(ir));
  const fmt = median(() => printSpec(parseSpec(text, path).ast!));
  rows.push(`${f.padEnd(36)} ${parse.toFixed(2).padStart(7)} ${check.toFixed(2).padStart(7)} ${stats.toFixed(2).padStart(7)} ${fmt.toFixed(2).padStart(7)}   ${(check / parse).toFixed(1)}x`);
}
console.log(`${'spec'.padEnd(36)} ${'parse'.padStart(7)} ${'check'.padStart(7)} ${'stats'.padStart(7)} ${'fmt'.padStart(7)}   check/parse   (ms, median of 30)`);
console.log(rows.join('\n'));
