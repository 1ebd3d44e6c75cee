/**
 * The checker's schema (src/check/schema.ts) read for the editor: the section or option at a path,
 * the type expected inside a call or list, and the same type, range, default and meaning as text.
 * Nothing here restates the schema; hover and completion show what the validator enforces.
 */
import { modelSchema, type ArgSpec, type CallSchema, type FieldSpec, type SectionSpec, type Ty } from '../check/schema.ts';

/** The section at `path` ([] is the model). */
export function sectionAt(path: readonly string[]): SectionSpec | undefined {
  let s: SectionSpec | undefined = modelSchema;
  for (const k of path) s = s?.sections?.[k];
  return s;
}

export function fieldAt(path: readonly string[], key: string): FieldSpec | undefined {
  const s = sectionAt(path);
  return s && Object.hasOwn(s.fields, key) ? s.fields[key] : undefined;
}

/** The type of a quoted key (path selector) in the section at `path`, if it allows them. */
export function selectorTy(path: readonly string[]): Ty | undefined {
  return sectionAt(path)?.selectors;
}

/** The kinds a call-typed value may take (through unions), or undefined. */
export function callKinds(ty: Ty): Record<string, CallSchema> | undefined {
  if (ty.t === 'call') return ty.kinds;
  if (ty.t === 'union') {
    for (const t of ty.of) {
      const k = callKinds(t);
      if (k) return k;
    }
  }
  return undefined;
}

/** What each kind of a call-typed value is, when the schema says. */
export function kindDocs(ty: Ty): Record<string, string> {
  if (ty.t === 'call') return ty.docs ?? {};
  if (ty.t === 'union') return Object.assign({}, ...ty.of.map(kindDocs));
  return {};
}

export function kindSchema(ty: Ty | undefined, kind: string): CallSchema | undefined {
  const kinds = ty && callKinds(ty);
  return kinds && Object.hasOwn(kinds, kind) ? kinds[kind] : undefined;
}

/** The type of an item of a list written where `ty` is expected. */
export function elementTy(ty: Ty): Ty | undefined {
  if (ty.t === 'list') return ty.of;
  if (ty.t === 'call' && ty.list) return { ...ty, list: false };
  if (ty.t === 'union') {
    const lists = ty.of.filter((t) => t.t === 'list') as Extract<Ty, { t: 'list' }>[];
    if (lists.length === 1) return lists[0].of;
    // A flat list or a list of lists (decoder_widths): an item may be either.
    if (lists.length > 1) return { t: 'union', of: lists.map((l) => l.of) };
  }
  return undefined;
}

/** Enumerated values a value of type `ty` may be (through unions and lists not included). */
export function enumValues(ty: Ty): string[] {
  if (ty.t === 'enum') return [...ty.values];
  if (ty.t === 'union') return ty.of.flatMap(enumValues);
  return [];
}

function rangeText(o: { min?: number; max?: number; gt?: number; lt?: number }): string {
  const lo = o.min !== undefined ? `${fmtNum(o.min)} <= x` : o.gt !== undefined ? `${fmtNum(o.gt)} < x` : undefined;
  const hi = o.max !== undefined ? `x <= ${fmtNum(o.max)}` : o.lt !== undefined ? `x < ${fmtNum(o.lt)}` : undefined;
  if (lo && hi) return `${lo.replace(' x', '')} x ${hi.replace('x ', '')}`;
  return lo ?? hi ?? '';
}

function fmtNum(n: number): string {
  return n >= 1e6 && Number.isInteger(n) && /^10*$/.test(String(n)) ? `10^${String(n).length - 1}` : String(n);
}

/** A type in words: `int, 1 <= x <= 4096`, `enum: linear | cosine`, `list of int (1-12 items)`. */
export function describeTy(ty: Ty): string {
  switch (ty.t) {
    case 'int':
    case 'num': {
      const r = rangeText(ty);
      return r ? `${ty.t}, ${r}` : ty.t;
    }
    case 'bool':
      return 'bool';
    case 'str':
      return 'string';
    case 'enum':
      return `enum: ${ty.values.map((v) => `\`${v}\``).join(' | ')}`;
    case 'width':
      return 'width (an integer expression over `in`, `out` and constants)';
    case 'list': {
      const n =
        ty.min !== undefined && ty.max !== undefined
          ? `${ty.min}-${ty.max} items`
          : ty.min !== undefined
            ? `at least ${ty.min} item${ty.min === 1 ? '' : 's'}`
            : ty.max !== undefined
              ? `at most ${ty.max} items`
              : '';
      return `list of ${describeTy(ty.of)}${n ? ` (${n})` : ''}`;
    }
    case 'union':
      return ty.of.map(describeTy).join(', or ');
    case 'call': {
      const kinds = Object.entries(ty.kinds).map(([k, s]) =>
        Object.keys(s).length ? `\`${k}(${Object.keys(s).join(', ')})\`` : `\`${k}\``,
      );
      return `${ty.list ? 'one of, or a list of' : 'one of'} ${kinds.join(' | ')}`;
    }
  }
}

function specLines(s: FieldSpec | ArgSpec): string[] {
  const out = [`type: ${describeTy(s.ty)}`];
  if (s.required) out.push('required');
  else if (s.default !== undefined) out.push(`default: \`${s.default}\``);
  else out.push('default: unset');
  return out;
}

/** Markdown for an option (hover). */
export function fieldDoc(path: readonly string[], key: string, s: FieldSpec): string {
  const name = [...path, key].join('.');
  return [`**\`${name}\`** (option)`, '', ...(s.doc ? [s.doc, ''] : []), ...specLines(s).map((l) => `- ${l}`)].join('\n');
}

/** Markdown for a section (hover). */
export function sectionDoc(path: readonly string[], s: SectionSpec): string {
  const opts = Object.keys(s.fields);
  const subs = Object.keys(s.sections ?? {});
  const lines = [`**\`${path.join('.')}\`** (section)`, '', s.doc, ''];
  if (opts.length) lines.push(`options: ${opts.map((o) => `\`${o}\``).join(', ')}`);
  if (subs.length) lines.push(`sections: ${subs.map((o) => `\`${o}\``).join(', ')}`);
  if (s.selectors) lines.push('path selectors ("enc.*.block0": ...) allowed');
  const req = Object.entries(s.fields)
    .filter(([, f]) => f.required)
    .map(([k]) => `\`${k}\``);
  if (req.length) lines.push(`required: ${req.join(', ')}`);
  return lines.join('\n');
}

/** Markdown for a call kind and its arguments (hover). */
export function kindDoc(kind: string, schema: CallSchema, what?: string, doc?: string): string {
  const args = Object.entries(schema);
  const lines = [`**\`${kind}\`** (kind${what ? ` of \`${what}\`` : ''})`, ''];
  if (doc) lines.push(doc, '');
  if (args.length === 0) lines.push('no arguments');
  for (const [a, s] of args)
    lines.push(
      `- \`${a}\`: ${describeTy(s.ty)}; ${s.required ? 'required' : s.default !== undefined ? `default \`${s.default}\`` : 'unset by default'}${s.doc ? `; ${s.doc}` : ''}`,
    );
  return lines.join('\n');
}

/** Markdown for an argument of a call (hover). */
export function argDoc(kind: string, arg: string, s: ArgSpec): string {
  return [`**\`${kind}(${arg}: ...)\`** (argument)`, '', ...(s.doc ? [s.doc, ''] : []), ...specLines(s).map((l) => `- ${l}`)].join('\n');
}
