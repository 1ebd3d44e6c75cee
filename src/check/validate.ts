/**
 * Checks a merged model against the schema (src/check/schema.ts): unknown sections, fields, kinds
 * and arguments (with the nearest name suggested), types, ranges, list lengths and required
 * options. The result is a Config of validated values, each still carrying its span.
 */
import { Diag } from '../diagnostics/catalogue.ts';
import type { DiagnosticSink } from '../diagnostics/diagnostic.ts';
import type { Span } from '../diagnostics/span.ts';
import { didYouMean, suggestName } from '../diagnostics/suggest.ts';
import type { Expr } from '../syntax/ast.ts';
import { BLOCK_LOCALS, evaluate, Scope } from './evaluate.ts';
import type { MergedModel, MergedSection } from './load.ts';
import { LIMITS, modelSchema, type SectionSpec, type Ty } from './schema.ts';
import { describeValue, type CallV, type Value } from './values.ts';

export interface SectionValues {
  key: string;
  span: Span;
  present: boolean;
  values: Map<string, Value>;
  /** Where each option's name is written. */
  keySpans: Map<string, Span>;
  sections: Map<string, SectionValues>;
  /** Quoted keys: path selector -> value. */
  selectors: { pattern: string; span: Span; value: Value }[];
}

export interface Config {
  name: string;
  nameSpan: Span;
  files: string[];
  root: SectionValues;
  scope: Scope;
}

export function validateModel(model: MergedModel, sink: DiagnosticSink): Config {
  const scope = new Scope(model.lets, sink);
  // Evaluate every constant once so errors in unused ones are reported too.
  for (const name of model.lets.keys()) scope.lookup(name);
  const root = validateSection(model.root, modelSchema, scope, sink, model.nameSpan, true);
  return { name: model.name, nameSpan: model.nameSpan, files: model.files, root, scope };
}

function validateSection(
  sec: MergedSection | undefined,
  spec: SectionSpec,
  scope: Scope,
  sink: DiagnosticSink,
  where: Span,
  present: boolean,
  label = 'model',
): SectionValues {
  const out: SectionValues = {
    key: sec?.key ?? '',
    span: sec?.span ?? where,
    present,
    values: new Map(),
    keySpans: new Map(),
    sections: new Map(),
    selectors: [],
  };
  const fieldNames = Object.keys(spec.fields);
  const sectionNames = Object.keys(spec.sections ?? {});
  if (sec) {
    for (const [key, f] of sec.fields) {
      if (f.quoted) {
        if (!spec.selectors) {
          sink.report(Diag.SelectorOutsideConditioning, { pattern: key }, f.keySpan);
          continue;
        }
        const v = evaluate(f.value, scope, sink);
        const checked = v && checkType(v, spec.selectors, scope, sink, `"${key}"`, f.value);
        if (checked) out.selectors.push({ pattern: key, span: f.keySpan, value: checked });
        continue;
      }
      const fs = spec.fields[key];
      if (!fs) {
        if (spec.sections?.[key]) sink.report(Diag.SectionExpected, { name: key }, f.keySpan);
        else
          sink.report(
            label === 'model' ? Diag.UnknownSection : Diag.UnknownField,
            { name: key, where: label, suggestion: suggestName(key, [...fieldNames, ...sectionNames]) },
            f.keySpan,
          );
        continue;
      }
      const v = evaluate(f.value, scope, sink, undefined);
      if (!v) continue;
      const checked = checkType(v, fs.ty, scope, sink, key, f.value);
      if (checked) {
        out.values.set(key, checked);
        out.keySpans.set(key, f.keySpan);
      }
    }
    for (const [key, s] of sec.sections) {
      if (s.quoted) {
        sink.report(Diag.QuotedSectionName, { name: key }, s.span);
        continue;
      }
      const ss = spec.sections?.[key];
      if (!ss) {
        if (spec.fields[key]) sink.report(Diag.FieldExpected, { name: key }, s.span);
        else
          sink.report(
            Diag.UnknownSection,
            { name: key, where: label, suggestion: suggestName(key, [...sectionNames, ...fieldNames]) },
            s.span,
          );
        continue;
      }
      out.sections.set(key, validateSection(s, ss, scope, sink, s.span, true, key));
    }
  }
  for (const [key, ss] of Object.entries(spec.sections ?? {})) {
    if (!out.sections.has(key)) out.sections.set(key, validateSection(undefined, ss, scope, sink, sec?.span ?? where, false, key));
  }
  for (const [key, fs] of Object.entries(spec.fields)) {
    if (fs.required && !out.values.has(key) && !sec?.fields.has(key)) {
      if (present) sink.report(Diag.MissingField, { where: label, name: key, doc: fs.doc ?? '' }, sec?.span ?? where);
    }
  }
  if (!present && spec !== modelSchema && Object.values(spec.fields).some((f) => f.required) && label !== 'model') {
    const needs = Object.entries(spec.fields)
      .filter(([, f]) => f.required)
      .map(([k]) => k);
    if (['input', 'diffusion', 'embedding', 'unet'].includes(label)) {
      sink.report(Diag.MissingSection, { name: label, needs: needs.join(', ') }, where);
    }
  }
  return out;
}

/** Checks (and for width lists, defers) a value against a type; null after reporting a problem. */
export function checkType(v: Value, ty: Ty, scope: Scope, sink: DiagnosticSink, what: string, expr?: Expr): Value | null {
  switch (ty.t) {
    case 'int':
    case 'num': {
      if (v.kind === 'deferred' || (v.kind === 'sym' && BLOCK_LOCALS.includes(v.name))) {
        sink.report(Diag.BlockLocalOutsideWidth, { what }, v.span);
        return null;
      }
      if (v.kind !== 'num') return mismatch(v, ty.t === 'int' ? 'an integer' : 'a number', what, scope, sink);
      if (ty.t === 'int' && !Number.isInteger(v.v)) {
        sink.report(Diag.NotAnInteger, { what, value: v.v }, v.span);
        return null;
      }
      const o = ty as { min?: number; max?: number; gt?: number; lt?: number };
      const bad =
        (o.min !== undefined && v.v < o.min) ||
        (o.max !== undefined && v.v > o.max) ||
        (o.gt !== undefined && v.v <= o.gt) ||
        (o.lt !== undefined && v.v >= o.lt);
      if (bad) {
        sink.report(Diag.OutOfRange, { what, value: v.v, range: rangeText(o) }, v.span);
        return null;
      }
      return v;
    }
    case 'bool':
      return v.kind === 'bool' ? v : mismatch(v, 'true or false', what, scope, sink);
    case 'str':
      return v.kind === 'str' ? v : mismatch(v, 'a string', what, scope, sink);
    case 'enum': {
      if (v.kind === 'sym' && ty.values.includes(v.name)) return v;
      if (v.kind === 'sym') {
        sink.report(
          Diag.UnknownName,
          {
            role: 'value',
            name: v.name,
            context: ` for ${what}: expected one of ${ty.values.join(', ')}`,
            suggestion: didYouMean(v.name, [...ty.values, ...scope.lets.keys()]),
          },
          v.span,
        );
        return null;
      }
      return mismatch(v, `one of ${ty.values.join(', ')}`, what, scope, sink);
    }
    case 'list': {
      if (v.kind !== 'list') return mismatch(v, 'a list', what, scope, sink);
      if (ty.min !== undefined && v.items.length < ty.min) {
        if (ty.min === 1 && v.items.length === 0) sink.report(Diag.EmptyList, { what }, v.span);
        else
          sink.report(
            Diag.WrongListLength,
            { what, count: countItems(v.items.length), expected: `at least ${ty.min} ${ty.min === 1 ? 'is' : 'are'} needed` },
            v.span,
          );
        return null;
      }
      if (ty.max !== undefined && v.items.length > ty.max) {
        sink.report(Diag.WrongListLength, { what, count: countItems(v.items.length), expected: `at most ${ty.max} are allowed` }, v.span);
        return null;
      }
      const items: Value[] = [];
      const itemExprs = expr?.kind === 'list' ? expr.items : [];
      let ok = true;
      v.items.forEach((it, i) => {
        const c = checkType(it, ty.of, scope, sink, `${what}[${i}]`, itemExprs[i]);
        if (c) items.push(c);
        else ok = false;
      });
      return ok ? { ...v, items } : null;
    }
    case 'union': {
      // Lists of lists pick the nested list type; other lists the flat one; scalars a scalar type.
      const nested = v.kind === 'list' && v.items.length > 0 && v.items[0].kind === 'list';
      const pick = ty.of.find((t) => (v.kind === 'list' ? t.t === 'list' && (t.of.t === 'list') === nested : t.t !== 'list'));
      return pick ? checkType(v, pick, scope, sink, what, expr) : mismatch(v, 'a value of another kind', what, scope, sink);
    }
    case 'width': {
      if (v.kind === 'num') {
        if (!Number.isInteger(v.v) || v.v < 1) {
          sink.report(Diag.BadWidth, { what, value: v.v, context: '', max: LIMITS.channels }, v.span);
          return null;
        }
        return v;
      }
      if (!expr) return v;
      // Validate the names now; the value itself depends on the block and is computed later.
      if (!checkWidthNames(expr, scope, sink)) return null;
      return { kind: 'deferred', expr, span: v.span };
    }
    case 'call': {
      if (ty.list && v.kind === 'list') {
        const items: Value[] = [];
        let ok = true;
        v.items.forEach((it, i) => {
          const c = checkType(it, { ...ty, list: false }, scope, sink, `${what}[${i}]`, expr?.kind === 'list' ? expr.items[i] : undefined);
          if (c) items.push(c);
          else ok = false;
        });
        return ok ? { ...v, items } : null;
      }
      let call: CallV;
      if (v.kind === 'sym') call = { kind: 'call', name: v.name, nameSpan: v.span, args: new Map(), span: v.span };
      else if (v.kind === 'call') call = v;
      else return mismatch(v, `one of ${Object.keys(ty.kinds).join(', ')}`, what, scope, sink);
      const schema = ty.kinds[call.name];
      if (!schema) {
        sink.report(
          Diag.UnknownKind,
          { name: call.name, what, kinds: Object.keys(ty.kinds).join(', '), suggestion: didYouMean(call.name, Object.keys(ty.kinds)) },
          call.nameSpan,
        );
        return null;
      }
      const args = new Map<string, Value>();
      let ok = true;
      const argExprs = expr?.kind === 'call' ? expr.args : [];
      for (const [name, av] of call.args) {
        const spec = schema[name];
        if (!spec) {
          const a = argExprs.find((x) => x.name === name);
          sink.report(
            Diag.UnknownArgument,
            {
              callee: call.name,
              name,
              options: Object.keys(schema).length ? `; its options are ${Object.keys(schema).join(', ')}` : '',
              suggestion: suggestName(name, Object.keys(schema)),
            },
            a?.nameSpan ?? av.span,
          );
          ok = false;
          continue;
        }
        const c = checkType(av, spec.ty, scope, sink, `${call.name}.${name}`, argExprs.find((x) => x.name === name)?.value);
        if (c) args.set(name, c);
        else ok = false;
      }
      for (const [name, spec] of Object.entries(schema)) {
        if (spec.required && !call.args.has(name)) {
          sink.report(Diag.MissingArgument, { callee: call.name, name, doc: spec.doc ? ` (${spec.doc})` : '' }, call.span);
          ok = false;
        }
      }
      return ok ? { ...call, args } : null;
    }
  }
}

function rangeText(o: { min?: number; max?: number; gt?: number; lt?: number }): string {
  const parts: string[] = [];
  if (o.min !== undefined) parts.push(`>= ${o.min}`);
  if (o.gt !== undefined) parts.push(`> ${o.gt}`);
  if (o.max !== undefined) parts.push(`<= ${o.max}`);
  if (o.lt !== undefined) parts.push(`< ${o.lt}`);
  return parts.join(' and ');
}

function mismatch(v: Value, expected: string, what: string, scope: Scope, sink: DiagnosticSink): null {
  if (v.kind === 'sym' && !expected.startsWith('one of')) {
    sink.report(
      Diag.UnknownName,
      { role: 'name', name: v.name, context: ` (${what} expects ${expected})`, suggestion: didYouMean(v.name, scope.lets.keys()) },
      v.span,
    );
  } else {
    sink.report(Diag.TypeMismatch, { what, expected, got: describeValue(v) }, v.span);
  }
  return null;
}

const WIDTH_LOCALS = BLOCK_LOCALS;

function checkWidthNames(e: Expr, scope: Scope, sink: DiagnosticSink): boolean {
  switch (e.kind) {
    case 'number':
      return true;
    case 'ref':
      if (WIDTH_LOCALS.includes(e.name) || scope.has(e.name)) return true;
      sink.report(
        Diag.UnknownName,
        {
          role: 'name',
          name: e.name,
          context: ' in a width (use in, out or a constant)',
          suggestion: didYouMean(e.name, [...WIDTH_LOCALS, ...scope.lets.keys()]),
        },
        e.span,
      );
      return false;
    case 'binary':
      return checkWidthNames(e.left, scope, sink) && checkWidthNames(e.right, scope, sink);
    case 'neg':
      return checkWidthNames(e.operand, scope, sink);
    default:
      sink.report(
        Diag.WidthNotInteger,
        { got: e.kind === 'string' ? 'a string' : e.kind === 'bool' ? 'a boolean' : e.kind === 'list' ? 'a list' : 'a call' },
        e.span,
      );
      return false;
  }
}

const countItems = (n: number) => `${n} item${n === 1 ? '' : 's'}`;
