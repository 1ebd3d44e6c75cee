/**
 * The language reference's tables (grammar/README.md) are generated from the schema and the
 * diagnostic catalogue by grammar/generate-reference.ts (`npm run docs`): the committed file must be
 * what the generator writes, so a new option, range, default or diagnostic cannot be left out.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { REFERENCE_PATH, renderReference } from '../grammar/generate-reference.ts';
import { modelSchema } from '../src/check/schema.ts';
import { Diag } from '../src/diagnostics/catalogue.ts';

const text = readFileSync(REFERENCE_PATH, 'utf8');

describe('grammar/README.md', () => {
  it('is up to date with the schema and the catalogue (run npm run docs)', () => {
    expect(renderReference(text) === text, 'grammar/README.md is stale: run npm run docs').toBe(true);
  });
  it('a changed default would make it stale', () => {
    const edited = text.replace('| `convs` | int | 1–16 | `2` |', '| `convs` | int | 1–16 | `3` |');
    expect(edited).not.toBe(text);
    expect(renderReference(edited)).toBe(text);
  });
  it('lists every catalogued code with its template, and every option of every section', () => {
    for (const d of Object.values(Diag)) expect(text).toContain(`| ${d.code} |`);
    const walk = (s: NonNullable<typeof modelSchema.sections>[string]) => {
      for (const k of Object.keys(s.fields)) expect(text).toContain(`| \`${k}\` |`);
      for (const sub of Object.values(s.sections ?? {})) walk(sub);
    };
    for (const s of Object.values(modelSchema.sections!)) walk(s);
  });
  it('has no hand-kept "not used" marks', () => {
    expect(text).not.toContain('†');
    expect(text).not.toMatch(/not used by the current elaborator/);
  });
});
