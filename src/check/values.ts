/** Evaluated values: what an expression means once constants and arithmetic are resolved. */
import type { Span } from '../diagnostics/span.ts';
import type { Expr } from '../syntax/ast.ts';

export type Value = NumV | StrV | BoolV | SymV | ListV | CallV | DeferredV;

export interface NumV {
  kind: 'num';
  v: number;
  span: Span;
}
export interface StrV {
  kind: 'str';
  v: string;
  span: Span;
}
export interface BoolV {
  kind: 'bool';
  v: boolean;
  span: Span;
}
/** A bare name that is not a constant: an enumerated choice such as `cosine`. */
export interface SymV {
  kind: 'sym';
  name: string;
  span: Span;
}
export interface ListV {
  kind: 'list';
  items: Value[];
  span: Span;
}
/** `name(args)`, or a bare name where the schema expects a call (`none`, `block`). */
export interface CallV {
  kind: 'call';
  name: string;
  nameSpan: Span;
  args: Map<string, Value>;
  span: Span;
}
/** An expression over block-local names (`in`, `out`), evaluated per block during elaboration. */
export interface DeferredV {
  kind: 'deferred';
  expr: Expr;
  span: Span;
}

export function describeValue(v: Value): string {
  switch (v.kind) {
    case 'num':
      return Number.isInteger(v.v) ? 'an integer' : 'a number';
    case 'str':
      return 'a string';
    case 'bool':
      return 'a boolean';
    case 'sym':
      return `the name '${v.name}'`;
    case 'list':
      return 'a list';
    case 'call':
      return `'${v.name}(...)'`;
    case 'deferred':
      return 'an expression';
  }
}
