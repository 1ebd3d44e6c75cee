/**
 * Hover: what the thing under the cursor is, from the checker's schema. A section lists its options;
 * an option, a call kind or an argument shows its type, range, default and meaning; a `let` name
 * its value; a path selector the blocks it matches (from the last check that reached the IR).
 */
import { dirname, resolve } from 'node:path';
import type { Hover } from 'vscode-languageserver';
import { matchesPath } from '../check/selectors.ts';
import { constantsOf, formatValue } from './constants.ts';
import { roleOf, tokenAt, type Tok } from './context.ts';
import { pathToUri, rangeOf, uriToPath, type Analysis, type SpecDocuments } from './documents.ts';
import { argDoc, enumValues, fieldAt, fieldDoc, kindDoc, kindDocs, kindSchema, sectionAt, sectionDoc } from './schemaInfo.ts';

const MAX_LISTED = 40;

/** The token under `offset`, or the one that ends there (the cursor just after a word). */
export function tokenIndexAt(tokens: Tok[], offset: number): number {
  const i = tokenAt(tokens, offset);
  if (i >= 0) return i;
  const j = tokenAt(tokens, offset - 1);
  return j >= 0 && tokens[j].type === 'Identifier' ? j : -1;
}

export function hover(uri: string, a: Analysis, docs: SpecDocuments, offset: number): Hover | null {
  const doc = docs.get(uri);
  if (!doc) return null;
  const i = tokenIndexAt(a.tokens, offset);
  if (i < 0) return null;
  const t = a.tokens[i];
  const md = markdownFor(uri, a, docs, i);
  if (!md) return null;
  return { contents: { kind: 'markdown', value: md }, range: rangeOf(doc, { offset: t.start, length: t.end - t.start }) };
}

function markdownFor(uri: string, a: Analysis, docs: SpecDocuments, i: number): string | undefined {
  const r = roleOf(a.tokens, i);
  switch (r.role) {
    case 'section': {
      const s = sectionAt(r.path);
      return s && sectionDoc(r.path, s);
    }
    case 'field': {
      const f = fieldAt(r.path, r.key);
      return f && fieldDoc(r.path, r.key, f);
    }
    case 'arg': {
      const s = kindSchema(r.ty, r.callee);
      const arg = s && Object.hasOwn(s, r.arg) ? s[r.arg] : undefined;
      return arg && argDoc(r.callee, r.arg, arg);
    }
    case 'kind': {
      const s = kindSchema(r.ty, r.kind);
      return s && kindDoc(r.kind, s, r.field, r.ty && kindDocs(r.ty)[r.kind]);
    }
    case 'letDecl':
      return letDoc(uri, docs, r.name);
    case 'name': {
      const asLet = letDoc(uri, docs, r.name);
      if (asLet) return asLet;
      if (r.ty && enumValues(r.ty).includes(r.name))
        return `**\`${r.name}\`** (value${r.field ? ` of \`${r.field}\`` : ''})\n\none of ${enumValues(r.ty)
          .map((v) => `\`${v}\``)
          .join(', ')}`;
      const s = kindSchema(r.ty, r.name);
      if (s) return kindDoc(r.name, s, r.field, r.ty && kindDocs(r.ty)[r.name]);
      if (r.name === 'in') return '**`in`** (in a width): the channels entering the block';
      if (r.name === 'out') return "**`out`** (in a width): the block's nominal output channels";
      return undefined;
    }
    case 'selector':
      return selectorDoc(r.pattern, a);
    case 'extends': {
      const target = resolve(dirname(uriToPath(uri)), r.path);
      const text = docs.host.read(target);
      return `**extends** \`${target}\`${text === undefined ? ' (cannot be read)' : ''}`;
    }
    default:
      return undefined;
  }
}

function letDoc(uri: string, docs: SpecDocuments, name: string): string | undefined {
  const c = constantsOf(uri, docs);
  const decl = c?.lets.get(name);
  if (!c || !decl) return undefined;
  const v = c.value(name);
  const declUri = pathToUri(decl.nameSpan.file);
  const where = declUri === uri ? `line ${decl.nameSpan.line}` : `${decl.nameSpan.file}:${decl.nameSpan.line}`;
  const src = docs.host.read(decl.span.file);
  const text = src?.slice(decl.span.offset, decl.span.offset + decl.span.length) ?? `let ${name} = ...`;
  return [
    `**\`${name}\`** (constant) = \`${v ? formatValue(v) : 'does not evaluate'}\``,
    '',
    '```unet',
    text.length > 400 ? text.slice(0, 400) + ' ...' : text,
    '```',
    `declared at ${where}`,
  ].join('\n');
}

/** The blocks a path selector matches, as the elaborator matches them (src/elaborate/selectors.ts). */
export function selectorMatches(pattern: string, blocks: { path: string; attention: boolean }[]): string[] {
  const out: string[] = [];
  for (const b of blocks) {
    if (matchesPath(pattern, b.path)) out.push(b.path);
    if (b.attention && matchesPath(pattern, `${b.path}.attn`)) out.push(`${b.path}.attn`);
  }
  return out;
}

function selectorDoc(pattern: string, a: Analysis): string {
  const head = `**\`"${pattern}"\`** (path selector)`;
  if (!a.lastBlocks) return `${head}\n\nthe blocks it matches are shown once the spec checks without errors`;
  const m = selectorMatches(pattern, a.lastBlocks);
  if (m.length === 0) return `${head}\n\nmatches no block (E0508)`;
  const shown = m.slice(0, MAX_LISTED).map((p) => `- \`${p}\``);
  if (m.length > MAX_LISTED) shown.push(`- ... and ${m.length - MAX_LISTED} more`);
  return [
    `${head}\n\nmatches ${m.length} block${m.length === 1 ? '' : 's'}${a.check.ir ? '' : ' (as of the last spec that checked)'}:`,
    '',
    ...shown,
  ].join('\n');
}
