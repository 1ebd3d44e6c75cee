/**
 * The VS Code extension folder (editors/vscode/): its manifest points at files that exist, the
 * language configuration matches the lexer's comment and bracket tokens, and every snippet, with
 * its placeholders at their defaults, is a spec (or a conditioning value) the checker accepts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkSpec } from '../src/pipeline.ts';

const EXT = resolve(import.meta.dirname, '../editors/vscode');
const json = (p: string) => JSON.parse(readFileSync(join(EXT, p), 'utf8'));
const manifest = json('package.json');
const snippets = json('snippets/unet.json') as Record<string, { prefix: string; body: string[] }>;

/** A snippet body as the editor inserts it when every placeholder keeps its default. */
export function expandSnippet(body: string[]): string {
  return body
    .join('\n')
    .replace(/\$\{\d+\|([^,|]*)[^}]*\|\}/g, '$1')
    .replace(/\$\{\d+:([^}]*)\}/g, '$1')
    .replace(/\$\{?\d+\}?/g, '')
    .replace(/\t/g, '  ');
}

describe('editors/vscode', () => {
  it('contributes the unet language, the source.unet grammar and the snippets from files that exist', () => {
    const lang = manifest.contributes.languages[0];
    expect(lang.id).toBe('unet');
    expect(lang.extensions).toEqual(['.unet']);
    expect(manifest.contributes.grammars[0].scopeName).toBe('source.unet');
    for (const p of [
      lang.configuration,
      manifest.contributes.grammars[0].path,
      manifest.contributes.snippets[0].path,
      './src/extension.js',
    ]) {
      expect(existsSync(join(EXT, p)), p).toBe(true);
    }
    expect(manifest.main).toBe('./dist/extension.js');
    expect(manifest.scripts.build).toContain('src/extension.js');
  });

  it("language configuration: the lexer's comments and brackets", () => {
    const c = json('language-configuration.json');
    expect(c.comments).toEqual({ lineComment: '//', blockComment: ['/*', '*/'] });
    expect(c.brackets).toEqual([
      ['{', '}'],
      ['[', ']'],
      ['(', ')'],
    ]);
    expect(c.autoClosingPairs.map((p: { open: string }) => p.open)).toEqual(['{', '[', '(', '"', '/*']);
  });

  it('the model skeleton, at its defaults, checks without errors', () => {
    const text = expandSnippet(snippets['model skeleton'].body);
    const r = checkSpec('skeleton.unet', { text });
    expect(r.diagnostics).toEqual([]);
    expect(r.ir?.name).toBe('name');
  });

  it('has a snippet for each conditioning kind, each a valid conditioning value', () => {
    const kinds = ['none', 'shift', 'scale_shift', 'adaln', 'time_lora', 'class_lora', 'uc_lora'];
    const byPrefix = new Map(Object.values(snippets).map((s) => [s.prefix, s]));
    for (const k of kinds) expect(byPrefix.has(k), k).toBe(true);
    const skeleton = expandSnippet(snippets['model skeleton'].body)
      .replace('  size: 32\n', '  size: 32\n    classes: 10\n')
      .replace('embedding {', 'embedding {\n    label: embedding');
    for (const k of kinds) {
      const value = expandSnippet(byPrefix.get(k)!.body);
      const where = ['shift', 'scale_shift'].includes(k) ? 'residual' : 'attention';
      const text = skeleton.replace(where === 'residual' ? 'residual: scale_shift(at: norm1)' : 'attention: none', `${where}: ${value}`);
      expect(text, k).toContain(`${where}: ${value}`);
      const r = checkSpec(`${k}.unet`, { text });
      expect(
        r.diagnostics.map((d) => `${d.code} ${d.message}`),
        k,
      ).toEqual([]);
    }
  });

  // Needs the bundled client: `npm ci && npm run build` in editors/vscode (not part of the root install).
  it.skipIf(!existsSync(join(EXT, 'dist', 'extension.js')))(
    'the bundled client starts unetc lsp and completes the handshake (stand-in vscode module)',
    () => {
      const r = spawnSync(process.execPath, [join(EXT, 'test', 'smoke.cjs'), resolve(EXT, '../..'), EXT], {
        encoding: 'utf8',
        timeout: 90_000,
      });
      expect(r.stdout).toContain(`spawn: node ["${resolve(EXT, '../..', 'bin', 'unetc.mjs')}","lsp","--stdio"]`);
      expect(r.stdout).toContain('server answered initialize with capabilities');
      expect(r.stdout).toContain('deactivated');
      expect(r.status).toBe(0);
    },
    120_000,
  );
});
