/**
 * The TextMate grammar (editors/vscode/syntaxes/unet.tmLanguage.json) through the engine VS Code
 * uses (vscode-textmate + vscode-oniguruma): every spec is tokenised with no character left in the
 * bare `source.unet` scope and none illegal, and the scopes of comments, strings, numbers, sections,
 * options, kinds and arguments land where the spec text says.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { IGrammar } from 'vscode-textmate';
import { loadGrammar, tokenize, type ScopedToken } from '../editors/vscode/highlight.mts';
import { generateTextmate, TEXTMATE_PATH } from '../grammar/generate-textmate.ts';

const SPECS = resolve(import.meta.dirname, '../specs');

let grammar: IGrammar;

/** The scopes of the first token (at or after `from`) whose text is exactly `text` on that line. */
function scopesOf(toks: ScopedToken[], line: number, text: string): string[] {
  const t = toks.find((x) => x.line === line && x.text.trim() === text);
  expect(t, `a token '${text}' on line ${line + 1}`).toBeDefined();
  return t!.scopes;
}

beforeAll(async () => {
  grammar = await loadGrammar();
});

describe('TextMate grammar (source.unet)', () => {
  it('is committed up to date (run `npm run textmate` after changing the tokens or the schema)', () => {
    expect(readFileSync(TEXTMATE_PATH, 'utf8')).toBe(generateTextmate());
  });

  const specs = readdirSync(SPECS).filter((f) => f.endsWith('.unet'));
  it('finds the specs', () => expect(specs.length).toBeGreaterThanOrEqual(20));

  for (const f of specs) {
    it(`tokenises ${f} with no untokenised or illegal text`, () => {
      const toks = tokenize(grammar, readFileSync(join(SPECS, f), 'utf8'));
      for (const t of toks) {
        if (t.text.trim() === '') continue;
        expect(t.scopes.length, `'${t.text}' at ${t.line + 1}:${t.start + 1} has a scope`).toBeGreaterThan(1);
        expect(t.scopes.join(' '), `'${t.text}' at ${t.line + 1}:${t.start + 1}`).not.toContain('invalid');
      }
    });
  }

  it('scopes comments, strings, numbers, keywords, sections, options, kinds and arguments', () => {
    // specs/edm-cifar10-with-lora.unet:
    //   1 "// EDM CIFAR-10 "with LoRA": shift conditioning kept, ..."
    //   4 'model edm_cifar10_with_lora extends "./edm-cifar10.unet" {'
    //   5 "  conditioning {"
    //   6 "    attention: uc_lora(bases: 18, rank: 4, mlp: [128, 64], bias: true, scale: fixed)"
    const toks = tokenize(grammar, readFileSync(join(SPECS, 'edm-cifar10-with-lora.unet'), 'utf8'));
    expect(toks.filter((t) => t.line === 0).every((t) => t.scopes.includes('comment.line.double-slash.unet'))).toBe(true);
    expect(scopesOf(toks, 3, 'model')).toContain('keyword.other.model.unet');
    expect(scopesOf(toks, 3, 'edm_cifar10_with_lora')).toContain('entity.name.type.model.unet');
    expect(scopesOf(toks, 3, 'extends')).toContain('keyword.other.extends.unet');
    expect(scopesOf(toks, 3, './edm-cifar10.unet')).toContain('string.quoted.double.unet');
    expect(scopesOf(toks, 4, 'conditioning')).toContain('entity.name.section.unet');
    expect(scopesOf(toks, 5, 'attention')).toContain('variable.other.property.unet');
    expect(scopesOf(toks, 5, 'uc_lora')).toContain('entity.name.function.kind.unet');
    expect(scopesOf(toks, 5, 'bases')).toContain('variable.parameter.unet');
    expect(scopesOf(toks, 5, '18')).toContain('constant.numeric.unet');
    expect(scopesOf(toks, 5, '128')).toContain('constant.numeric.unet');
    expect(scopesOf(toks, 5, 'true')).toContain('constant.language.boolean.unet');
    expect(scopesOf(toks, 5, 'fixed')).toContain('support.constant.enum.unet');
  });

  it('scopes let constants, block comments, selectors, escapes, widths and bare kinds', () => {
    const text = [
      'let C = 1_000 * 2.5e-3 /* block',
      'comment */ model m {',
      '  unet { block { widths: [out / 2, in] } middle: [block(attention: true), block] }',
      '  conditioning { "dec.*.attn": adaln residual: none }',
      '  x: "a\\"b"',
      '}',
    ].join('\n');
    const toks = tokenize(grammar, text);
    expect(scopesOf(toks, 0, 'let')).toContain('storage.type.let.unet');
    expect(scopesOf(toks, 0, 'C')).toContain('variable.other.constant.unet');
    expect(scopesOf(toks, 0, '1_000')).toContain('constant.numeric.unet');
    expect(scopesOf(toks, 0, '2.5e-3')).toContain('constant.numeric.unet');
    expect(scopesOf(toks, 1, 'comment')).toContain('comment.block.unet');
    expect(scopesOf(toks, 1, 'model')).toContain('keyword.other.model.unet');
    expect(scopesOf(toks, 2, 'block')).toContain('entity.name.section.unet');
    expect(scopesOf(toks, 2, 'out')).toContain('variable.language.unet');
    expect(scopesOf(toks, 2, 'middle')).toContain('variable.other.property.unet');
    expect(toks.filter((t) => t.line === 2 && t.text === 'block').map((t) => t.scopes.at(-1))).toEqual([
      'entity.name.section.unet',
      'entity.name.function.kind.unet',
      'support.function.kind.unet',
    ]);
    expect(scopesOf(toks, 3, '"dec.*.attn"')).toContain('entity.name.tag.selector.unet');
    expect(scopesOf(toks, 3, 'adaln')).toContain('support.function.kind.unet');
    expect(scopesOf(toks, 4, '\\"')).toContain('constant.character.escape.unet');
    // A character that starts no token is marked, as the lexer rejects it (E0101).
    expect(scopesOf(tokenize(grammar, 'model m { x: 1 # }'), 0, '#')).toContain('invalid.illegal.unet');
  });
});
