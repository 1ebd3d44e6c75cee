/**
 * The API documentation is current: docs/API.md is what docs/generate-api.ts prints from today's
 * sources, and the README's API table names real exports with the signatures they have.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { apiMarkdown } from '../docs/generate-api.ts';

const ROOT = join(import.meta.dirname, '..');

/** export name -> signature, from the tables of docs/API.md. */
function signatures(md: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of md.matchAll(/^\| `([^`]+)` \| \w+ \| `((?:[^`]|\\`)*)` \|/gm)) out.set(m[1]!, m[2]!);
  return out;
}

describe('API documentation', () => {
  it('docs/API.md is up to date (run `npm run api-docs` when this fails)', () => {
    expect(readFileSync(join(ROOT, 'docs', 'API.md'), 'utf8')).toBe(apiMarkdown());
  }, 60_000);

  it("the README's API table lists exports with their signatures as the declarations give them", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('| function | signature | what it does |'));
    const rows = [...table.split('\n\n')[0]!.matchAll(/^\| `([^`]+)` \| `([^`]+)` \|/gm)].map((m) => [m[1]!, m[2]!] as const);
    expect(rows.length).toBeGreaterThanOrEqual(10);
    const known = signatures(readFileSync(join(ROOT, 'docs', 'API.md'), 'utf8'));
    for (const [name, sig] of rows) expect(known.get(name), name).toBe(sig);
  });
});
