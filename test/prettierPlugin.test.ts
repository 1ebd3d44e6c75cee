/**
 * The prettier plugin (`unetc/prettier`): prettier prints every spec as `unetc fmt` does (the
 * committed specs are canonical, so formatting them is the identity, and a re-indented copy formats
 * back to them, comments kept), and `prettier --check` flags the same files as `unetc fmt --check`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import * as prettier from 'prettier';
import { afterAll, describe, expect, it } from 'vitest';
import plugin from '../src/prettier/index.ts';

const ROOT = resolve(import.meta.dirname, '..');
const SPECS = join(ROOT, 'specs');
const specs = readdirSync(SPECS).filter((f) => f.endsWith('.unet'));
const format = (text: string, filepath = 'x.unet') => prettier.format(text, { parser: 'unet', plugins: [plugin], filepath });

/** The same spec with every line's indentation changed and blank lines doubled. */
function mess(text: string): string {
  return (
    text
      .split('\n')
      // (no trailing blanks after a line comment: they would be part of the comment's text)
      .map((l, i) => (l.trim() === '' ? '\n' : ' '.repeat(i % 5) + l.trimStart() + (i % 3 === 0 && !l.includes('//') ? '   ' : '')))
      .join('\n')
  );
}

/** The environment without colour: prettier (through chalk) honours FORCE_COLOR=0. */
const noColour = { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' };

const comments = (text: string) => text.match(/\/\/[^\n]*|\/\*[\s\S]*?\*\//g) ?? [];

describe('prettier plugin', () => {
  it('finds the specs', () => expect(specs.length).toBeGreaterThanOrEqual(20));

  for (const f of specs) {
    it(`round-trips ${f}, and formats a re-indented copy back to it with its comments`, async () => {
      const text = readFileSync(join(SPECS, f), 'utf8');
      expect(await format(text, f)).toBe(text);
      const messy = mess(text);
      expect(messy).not.toBe(text);
      const out = await format(messy, f);
      expect(out).toBe(text);
      expect(comments(out).map((c) => c.trim())).toEqual(comments(text).map((c) => c.trim()));
    });
  }

  it('reports a spec that does not parse as a syntax error at its line and column', async () => {
    // line 2 "  input { size: 3 ]": the ']' at column 19 is E0103
    await expect(format('model m {\n  input { size: 3 ]\n}\n')).rejects.toMatchObject({ loc: { start: { line: 2, column: 19 } } });
    await expect(format('model m {\n  input { size: 3 ]\n}\n')).rejects.toThrow(/E0103/);
  });

  const dir = mkdtempSync(join(tmpdir(), 'unetc-prettier-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prettier --check flags the same files as unetc fmt --check', () => {
    writeFileSync(join(dir, 'canonical.unet'), readFileSync(join(SPECS, 'nano-mnist.unet'), 'utf8'));
    writeFileSync(join(dir, 'messy.unet'), mess(readFileSync(join(SPECS, 'edm-cifar10.unet'), 'utf8')));
    const files = [join(dir, 'canonical.unet'), join(dir, 'messy.unet')];
    const fmt = spawnSync(process.execPath, [join(ROOT, 'bin', 'unetc.mjs'), 'fmt', '--check', ...files], { cwd: ROOT, encoding: 'utf8' });
    expect(fmt.status).toBe(1);
    expect(fmt.stdout.trim().split('\n')).toEqual([`${files[1]}: not in canonical form`]);
    // (CI sets FORCE_COLOR, which colours prettier's "[warn]": ask for none, and strip any left)
    const pr = spawnSync(
      process.execPath,
      [join(ROOT, 'node_modules', 'prettier', 'bin', 'prettier.cjs'), '--plugin', 'unetc/prettier', '--check', ...files],
      {
        cwd: ROOT,
        encoding: 'utf8',
        env: noColour,
      },
    );
    expect(pr.status).toBe(1);
    const flagged = stripVTControlCharacters(pr.stderr)
      .split('\n')
      .filter((l) => l.startsWith('[warn] ') && l.endsWith('.unet'))
      .map((l) => l.slice('[warn] '.length));
    expect(flagged.map((f) => resolve(ROOT, f))).toEqual([files[1]]);
    // and on the committed specs, both agree that all are canonical
    const all = spawnSync(
      process.execPath,
      [join(ROOT, 'node_modules', 'prettier', 'bin', 'prettier.cjs'), '--plugin', 'unetc/prettier', '--check', 'specs/*.unet'],
      { cwd: ROOT, encoding: 'utf8' },
    );
    expect(all.status, all.stderr).toBe(0);
  }, 60_000);
});
