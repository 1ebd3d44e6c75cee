/**
 * What the language server reads from tokens alone (src/lsp/context.ts), on complete and on broken
 * text, and that every option and argument of the schema has the documentation hover shows.
 */
import { describe, expect, it } from 'vitest';
import { modelSchema, type SectionSpec, type Ty } from '../src/check/schema.ts';
import { lexTokens, roleOf, walk, type TokenRole } from '../src/lsp/context.ts';
import { describeTy } from '../src/lsp/schemaInfo.ts';

/** The role of the n-th token whose text is `image` (n from 0). */
function role(text: string, image: string, n = 0): TokenRole {
  const { tokens } = lexTokens(text);
  const idx = tokens.map((t, i) => [t.image, i] as const).filter(([im]) => im === image)[n]?.[1];
  expect(idx, `token ${image} #${n}`).toBeDefined();
  return roleOf(tokens, idx!);
}

describe('token roles', () => {
  it('members without commas: a value ends where the next key starts', () => {
    const t = 'model m { input { size: 32 channels: 3 } }';
    expect(role(t, 'channels')).toEqual({ role: 'field', path: ['input'], key: 'channels' });
    expect(role(t, 'input')).toEqual({ role: 'section', path: ['input'] });
  });

  it('kinds, arguments and values inside calls and lists', () => {
    const t = 'let C = 4\nmodel m { unet { block { norm: group(groups: C, eps: 1e-6) } middle: [block(attention: true), block] } }';
    expect(role(t, 'group')).toMatchObject({ role: 'kind', kind: 'group', field: 'unet.block.norm' });
    expect(role(t, 'eps')).toMatchObject({ role: 'arg', callee: 'group', arg: 'eps' });
    expect(role(t, 'C', 1)).toMatchObject({ role: 'name', name: 'C', ty: { t: 'int', min: 1, max: 4096 } });
    expect(role(t, 'C', 0)).toEqual({ role: 'letDecl', name: 'C' });
    expect(role(t, 'block', 1)).toMatchObject({ role: 'kind', kind: 'block', field: 'unet.middle' });
    // the bare `block` after the comma is the kind written without arguments
    const bare = role(t, 'block', 2);
    expect(bare.role).toBe('name');
    expect(bare.role === 'name' && bare.ty?.t).toBe('call');
  });

  it('a missing value does not swallow the next member', () => {
    const t = 'model m {\n  conditioning {\n    attention:\n    residual: shift(at: conv0)\n  }\n}';
    expect(role(t, 'residual')).toEqual({ role: 'field', path: ['conditioning'], key: 'residual' });
    expect(role(t, 'at')).toMatchObject({ role: 'arg', callee: 'shift', arg: 'at' });
  });

  it('selectors, extends paths and unclosed brackets', () => {
    const t = 'model m extends "./base.unet" {\n  conditioning { "dec.*.attn": adaln }\n  unet { mult: [1, 2\n  channels: 3 }';
    expect(role(t, '"./base.unet"')).toEqual({ role: 'extends', path: './base.unet' });
    expect(role(t, '"dec.*.attn"')).toEqual({ role: 'selector', path: ['conditioning'], pattern: 'dec.*.attn' });
    expect(role(t, 'adaln')).toMatchObject({ role: 'name', name: 'adaln', field: '"dec.*.attn"' });
    // inside the unclosed list, `channels` is read as a list item, not a key (no recovery into keys)
    expect(role(t, 'channels').role).not.toBe('section');
  });

  it('the walk stops on pathological nesting instead of copying deep paths', () => {
    const { tokens } = lexTokens('model m ' + '{ a '.repeat(5000));
    expect(walk(tokens, tokens.length).stack.length).toBeLessThanOrEqual(257);
  });
});

describe('schema documentation', () => {
  it('every option and argument has a meaning, and its type reads as text', () => {
    const missing: string[] = [];
    const ty = (t: Ty, where: string): void => {
      if (t.t === 'list') ty(t.of, where);
      if (t.t === 'union') t.of.forEach((x) => ty(x, where));
      if (t.t === 'call')
        for (const [k, args] of Object.entries(t.kinds))
          for (const [a, s] of Object.entries(args)) {
            if (!s.doc) missing.push(`${where}: ${k}(${a})`);
            ty(s.ty, `${where}.${k}.${a}`);
          }
    };
    const section = (path: string[], s: SectionSpec) => {
      for (const [k, f] of Object.entries(s.fields)) {
        if (!f.doc) missing.push([...path, k].join('.'));
        expect(describeTy(f.ty).length).toBeGreaterThan(2);
        ty(f.ty, [...path, k].join('.'));
      }
      for (const [k, sub] of Object.entries(s.sections ?? {})) section([...path, k], sub);
    };
    section([], modelSchema);
    expect(missing).toEqual([]);
  });

  it('types in words, with ranges as the validator checks them', () => {
    expect(describeTy({ t: 'int', min: 1, max: 4096 })).toBe('int, 1 <= x <= 4096');
    expect(describeTy({ t: 'num', min: 0, lt: 1 })).toBe('num, 0 <= x < 1');
    expect(describeTy({ t: 'num', gt: 0 })).toBe('num, 0 < x');
    expect(describeTy({ t: 'list', of: { t: 'int', min: 1, max: 1024 }, min: 1, max: 12 })).toBe(
      'list of int, 1 <= x <= 1024 (1-12 items)',
    );
    expect(describeTy({ t: 'enum', values: ['linear', 'cosine'] })).toBe('enum: `linear` | `cosine`');
  });
});
