/**
 * Expressions -> values: resolves `let` constants (lazily, with cycle detection), folds arithmetic,
 * and leaves bare names that are not constants as symbols for the schema to interpret.
 */
import { Diag } from '../diagnostics/catalogue.ts';
import type { DiagnosticSink } from '../diagnostics/diagnostic.ts';
import { didYouMean } from '../diagnostics/suggest.ts';
import type { Expr, LetDecl } from '../syntax/ast.ts';
import { describeValue, type Value } from './values.ts';

export class Scope {
  private readonly cache = new Map<string, Value | null>();
  private readonly active = new Set<string>();

  constructor(
    readonly lets: Map<string, LetDecl>,
    private readonly sink: DiagnosticSink,
  ) {}

  has(name: string): boolean {
    return this.lets.has(name);
  }

  /** Value of a constant, or null when it failed (already reported). */
  lookup(name: string): Value | null {
    if (this.cache.has(name)) return this.cache.get(name)!;
    const decl = this.lets.get(name)!;
    if (this.active.has(name)) {
      this.sink.report(Diag.SelfReferentialLet, { name }, decl.nameSpan);
      this.cache.set(name, null);
      return null;
    }
    this.active.add(name);
    const v = evaluate(decl.value, this, this.sink);
    this.active.delete(name);
    this.cache.set(name, v);
    return v;
  }
}

/** Evaluates an expression; returns null after reporting when it is ill-formed. */
export function evaluate(e: Expr, scope: Scope, sink: DiagnosticSink, locals?: Map<string, number>): Value | null {
  switch (e.kind) {
    case 'number':
      return { kind: 'num', v: e.value, span: e.span };
    case 'string':
      return { kind: 'str', v: e.value, span: e.span };
    case 'bool':
      return { kind: 'bool', v: e.value, span: e.span };
    case 'ref': {
      if (locals?.has(e.name)) return { kind: 'num', v: locals.get(e.name)!, span: e.span };
      if (scope.has(e.name)) {
        const v = scope.lookup(e.name);
        return v && { ...v, span: e.span };
      }
      return { kind: 'sym', name: e.name, span: e.span };
    }
    case 'list': {
      const items: Value[] = [];
      let ok = true;
      for (const it of e.items) {
        const v = evaluate(it, scope, sink, locals);
        if (v) items.push(v);
        else ok = false;
      }
      return ok ? { kind: 'list', items, span: e.span } : null;
    }
    case 'call': {
      const args = new Map<string, Value>();
      let ok = true;
      for (const a of e.args) {
        if (a.name === undefined) {
          sink.report(Diag.PositionalArgument, { callee: e.callee }, a.value.span);
          ok = false;
          continue;
        }
        if (args.has(a.name)) {
          sink.report(Diag.DuplicateArgument, { name: a.name }, a.nameSpan ?? a.value.span);
          ok = false;
          continue;
        }
        const v = evaluate(a.value, scope, sink, locals);
        if (v) args.set(a.name, v);
        else ok = false;
      }
      // Argument spans are kept through nameSpan on the value map's side table.
      return ok ? { kind: 'call', name: e.callee, nameSpan: e.calleeSpan, args, span: e.span } : null;
    }
    case 'neg': {
      const v = evaluate(e.operand, scope, sink, locals);
      if (!v) return null;
      if (isBlockLocal(v)) return { kind: 'deferred', expr: e, span: e.span };
      if (v.kind !== 'num') {
        sink.report(Diag.NegateNonNumber, { what: describeValue(v) }, e.span);
        return null;
      }
      return { kind: 'num', v: -v.v, span: e.span };
    }
    case 'binary': {
      const l = evaluate(e.left, scope, sink, locals);
      const r = evaluate(e.right, scope, sink, locals);
      if (!l || !r) return null;
      if (isBlockLocal(l) || isBlockLocal(r)) return { kind: 'deferred', expr: e, span: e.span };
      for (const side of [l, r]) {
        if (side.kind !== 'num') {
          if (side.kind === 'sym') {
            sink.report(
              Diag.UnknownName,
              {
                role: 'name',
                name: side.name,
                context: '',
                suggestion: didYouMean(side.name, [...scope.lets.keys(), ...(locals?.keys() ?? [])]),
              },
              side.span,
            );
          } else sink.report(Diag.ArithmeticOnNonNumber, { what: describeValue(side) }, side.span);
          return null;
        }
      }
      const a = (l as { v: number }).v;
      const b = (r as { v: number }).v;
      if (e.op === '/' && b === 0) {
        sink.report(Diag.DivisionByZero, {}, e.span);
        return null;
      }
      const v = e.op === '+' ? a + b : e.op === '-' ? a - b : e.op === '*' ? a * b : a / b;
      if (!Number.isFinite(v)) {
        sink.report(Diag.NotFinite, {}, e.span);
        return null;
      }
      return { kind: 'num', v, span: e.span };
    }
  }
}

/** Names bound per block (`in`, `out`): expressions over them are evaluated during elaboration. */
export const BLOCK_LOCALS = ['in', 'out'];

function isBlockLocal(v: Value): boolean {
  return v.kind === 'deferred' || (v.kind === 'sym' && BLOCK_LOCALS.includes(v.name));
}
