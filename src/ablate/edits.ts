/**
 * Typed edits of a spec, for ablations. An edit is `TARGET=VALUE` where TARGET is either
 *   KIND.OPTION    an option of every conditioning of that kind (uc_lora.bases, time_lora.init), or
 *   a field path   section[.subsection].field (conditioning.attention, unet.channels,
 *                  unet.attention.at, unet.block.dropout, diffusion.T)
 * and VALUE is any .unet expression (9, interp, [16, 8], none, uc_lora(bases: 18, rank: 4)).
 * Edits become a short spec that extends the base, so every variant prints as canonical .unet.
 */
import { conditioningKinds } from '../check/schema.ts';
import type { MergedModel } from '../check/load.ts';
import type { CallExpr, Expr, Field, Section, SpecFile } from '../syntax/ast.ts';
import { parseSpec } from '../syntax/parse.ts';
import { printExpr } from '../syntax/printer.ts';
import type { Span } from '../diagnostics/span.ts';

export interface Edit {
  target: string;
  /** The value as written. */
  text: string;
  value: Expr;
}

export class EditError extends Error {}

const NOWHERE: Span = { file: '<edit>', offset: 0, length: 1, line: 1, column: 1 };

/** Parses a value as a .unet expression (by parsing it as a field of a one-line spec). */
export function parseValue(text: string): Expr {
  const r = parseSpec(`model v { x: ${text}\n}`, '<edit>');
  const f = r.ast?.model.members[0];
  if (!r.ast || !f || f.kind !== 'field' || r.ast.model.members.length !== 1) {
    throw new EditError(`cannot read '${text}' as a value${r.diagnostics[0] ? `: ${r.diagnostics[0].message}` : ''}`);
  }
  return f.value;
}

/** Splits `a,b(c, d),[e, f]` at top-level commas. */
export function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  let inStr = false;
  for (const ch of s) {
    if (ch === '"') inStr = !inStr;
    if (!inStr && (ch === '(' || ch === '[' || ch === '{')) depth++;
    if (!inStr && (ch === ')' || ch === ']' || ch === '}')) depth--;
    if (!inStr && depth === 0 && ch === ',') {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

export function parseEdit(s: string): Edit {
  const eq = s.indexOf('=');
  if (eq <= 0) throw new EditError(`an edit is TARGET=VALUE, got '${s}'`);
  const target = s.slice(0, eq).trim();
  const text = s.slice(eq + 1).trim();
  if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$/.test(target))
    throw new EditError(`'${target}' is not KIND.OPTION or section.field`);
  return { target, text, value: parseValue(text) };
}

/** `KIND.OPTION=V1,V2,...` -> one edit per value. */
export function parseAxis(s: string): Edit[] {
  const eq = s.indexOf('=');
  if (eq <= 0) throw new EditError(`an axis is TARGET=V1,V2,..., got '${s}'`);
  const target = s.slice(0, eq);
  const values = splitTopLevel(s.slice(eq + 1));
  if (values.length === 0) throw new EditError(`'${s}' lists no values`);
  return values.map((v) => parseEdit(`${target}=${v}`));
}

const span = NOWHERE;
const field = (key: string, value: Expr, quoted = false): Field => ({
  kind: 'field',
  key,
  quoted,
  keySpan: span,
  value,
  span,
  comments: { leading: [] },
});
const section = (key: string, members: (Field | Section)[]): Section => ({
  kind: 'section',
  key,
  quoted: false,
  keySpan: span,
  members,
  span,
  comments: { leading: [] },
  closingComments: [],
});

/** Replaces option `opt` in every call of `kind` inside `e`; reports whether any call was found. */
function withOption(e: Expr, kind: string, opt: string, v: Expr): { expr: Expr; found: boolean } {
  if (e.kind === 'call' && e.callee === kind) {
    // Replace the option where it is written, or append it.
    const has = e.args.some((a) => a.name === opt);
    const args = has ? e.args.map((a) => (a.name === opt ? { ...a, value: v } : a)) : [...e.args, { name: opt, nameSpan: span, value: v }];
    return { expr: { ...e, args } as CallExpr, found: true };
  }
  if (e.kind === 'list') {
    let found = false;
    const items = e.items.map((i) => {
      const r = withOption(i, kind, opt, v);
      found ||= r.found;
      return r.expr;
    });
    return { expr: { ...e, items }, found };
  }
  return { expr: e, found: false };
}

/**
 * The spec text of a variant: `model NAME extends "BASE" { ...edited fields }`. `base` is the
 * merged base model (to find the conditioning fields a KIND.OPTION edit rewrites).
 */
export function variantSpec(name: string, extendsPath: string, base: MergedModel, edits: Edit[]): SpecFile {
  // Overrides by section path, later edits winning.
  const overrides = new Map<string, Map<string, Field>>();
  const put = (sectionPath: string, f: Field) => {
    if (!overrides.has(sectionPath)) overrides.set(sectionPath, new Map());
    overrides.get(sectionPath)!.set(f.key, f);
  };
  const cond = base.root.sections.get('conditioning');
  for (const e of edits) {
    const parts = e.target.split('.');
    if (parts.length === 2 && conditioningKinds[parts[0]]) {
      const [kind, opt] = parts;
      if (!(opt in conditioningKinds[kind]))
        throw new EditError(`${kind} has no option '${opt}'; its options are ${Object.keys(conditioningKinds[kind]).join(', ')}`);
      let found = false;
      for (const f of [...(cond?.fields.values() ?? [])]) {
        const current = overrides.get('conditioning')?.get(f.key)?.value ?? f.value;
        const r = withOption(current, kind, opt, e.value);
        if (r.found) {
          found = true;
          put('conditioning', field(f.key, r.expr, f.quoted));
        }
      }
      // A kind introduced by an earlier edit of this variant.
      for (const [key, f] of overrides.get('conditioning') ?? []) {
        const r = withOption(f.value, kind, opt, e.value);
        if (r.found && !found) {
          found = true;
          put('conditioning', field(key, r.expr, f.quoted));
        }
      }
      if (!found)
        throw new EditError(
          `${e.target}: the base model has no ${kind} conditioning to change (set it first, e.g. conditioning.attention=${kind}(...))`,
        );
      continue;
    }
    const sectionPath = parts.slice(0, -1).join('.');
    put(sectionPath, field(parts[parts.length - 1], e.value));
  }
  // Nest the overrides into sections.
  const build = (prefix: string): (Field | Section)[] => {
    const members: (Field | Section)[] = [...(overrides.get(prefix)?.values() ?? [])];
    const children = new Set(
      [...overrides.keys()]
        .filter((k) => k.startsWith(prefix ? `${prefix}.` : '') && k !== prefix)
        .map((k) => k.slice(prefix ? prefix.length + 1 : 0).split('.')[0]),
    );
    for (const c of [...children].sort()) members.push(section(c, build(prefix ? `${prefix}.${c}` : c)));
    return members;
  };
  return {
    file: `${name}.unet`,
    lets: [],
    model: {
      name,
      nameSpan: span,
      extends: { kind: 'string', value: extendsPath, span },
      members: build(''),
      span,
      comments: {
        leading: [
          `// ablation variant of ${base.name}: ${edits.map((e) => `${e.target}=${printExpr(e.value)}`).join(', ') || 'the base itself'}`,
        ],
      },
      closingComments: [],
    },
    trailingComments: [],
  };
}
