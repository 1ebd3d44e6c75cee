import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { checkSpec } from '../src/pipeline.ts';
import { computeStats } from '../src/analysis/stats.ts';

export const SPECS_DIR = join(import.meta.dirname, '..', 'specs');
export const specFiles = (): string[] =>
  readdirSync(SPECS_DIR)
    .filter((f) => f.endsWith('.unet'))
    .sort();

/** Checks a spec from specs/ and returns its stats; fails the test with the diagnostics if it has errors. */
export function statsOf(name: string) {
  const r = checkSpec(join(SPECS_DIR, name));
  if (!r.ir)
    throw new Error(
      `${name} did not check:\n${r.diagnostics.map((d) => `${d.code} ${d.span.line}:${d.span.column} ${d.message}`).join('\n')}`,
    );
  return computeStats(r.ir);
}
