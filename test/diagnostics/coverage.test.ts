/**
 * Every catalogued code is pinned by a test: coverage is read from the tests themselves (the codes
 * the family files beside this one assert with the harness), not from a hand-kept list.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Diag } from '../../src/diagnostics/catalogue.ts';

const here = import.meta.dirname;
const testFiles = [
  ...readdirSync(here)
    .filter((f) => f.endsWith('.test.ts') && f !== 'coverage.test.ts')
    .map((f) => join(here, f)),
];

/**
 * Codes a test asserts: a code standing alone in quotes, as the harness takes it
 * (`expectCase(src, 'E0402', ...)`, `d.code === 'E0202'`, `toEqual(['E0513'])`); test titles
 * ('E0402 GroupsNotDivisible ...') do not count.
 */
function assertedCodes(text: string): Set<string> {
  return new Set([...text.matchAll(/'([EW]\d{4})'/g)].map((m) => m[1]));
}

describe('catalogue coverage', () => {
  it('every catalogued code is asserted by some diagnostic test', () => {
    const covered = new Set<string>();
    for (const f of testFiles) for (const c of assertedCodes(readFileSync(f, 'utf8'))) covered.add(c);
    const missing = Object.values(Diag)
      .map((d) => d.code)
      .filter((c) => !covered.has(c));
    expect(missing).toEqual([]);
  });
  it('codes are unique', () => {
    const codes = Object.values(Diag).map((d) => d.code);
    expect(new Set(codes).size).toBe(codes.length);
  });
});
