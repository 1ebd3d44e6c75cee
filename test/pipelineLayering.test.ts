/**
 * Data flows one way through the front half (DESIGN.md section 1): syntax -> check -> elaborate,
 * with diagnostics/ and ir/ as the shared vocabulary. A stage imports only itself, the stages
 * before it and the shared folders; nothing upstream reaches into a later stage, and elaborate/
 * (the builder) does not touch diagnostics at all, because it reports nothing.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '..', 'src');
const ROOT = join(SRC, '..');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Every relative import (type-only ones too: a type is a dependency on its stage) as a path from the repo root. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/gms)].map((m) => relative(ROOT, resolve(dirname(file), m[1])));
}

/** What each stage folder may import, besides itself and node or npm packages. */
const ALLOWED: Record<string, string[]> = {
  'src/diagnostics': [],
  'src/ir': [],
  'src/syntax': ['grammar', 'src/diagnostics'],
  'src/check': ['src/syntax', 'src/diagnostics', 'src/ir'],
  'src/elaborate': ['src/check', 'src/ir'],
  'src/analysis': ['src/ir'],
};

describe('pipeline layering', () => {
  for (const [stage, allowed] of Object.entries(ALLOWED)) {
    it(`${stage}/ imports only ${allowed.length ? allowed.join(', ') : 'itself'}`, () => {
      const bad: string[] = [];
      for (const f of files(join(ROOT, stage))) {
        const rel = relative(ROOT, f);
        for (const imp of importsOf(f)) {
          const ok = imp.startsWith(stage + '/') || allowed.some((a) => imp === a || imp.startsWith(a + '/'));
          if (!ok) bad.push(`${rel} imports ${imp}`);
        }
      }
      expect(bad).toEqual([]);
    });
  }
  it('the driver runs the stages in order: load, validate, settings, rules, plan, rules, build, rules', () => {
    const text = readFileSync(join(SRC, 'pipeline.ts'), 'utf8');
    const order = [
      'loadSpec(',
      'validateModel(',
      'readSettings(',
      'SETTINGS_RULES',
      'planModel(',
      'PLAN_RULES',
      'buildModel(',
      'IR_RULES',
    ].map((s) => text.indexOf(s, text.indexOf('export function checkSpec')));
    expect(order.every((i) => i > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });
});
