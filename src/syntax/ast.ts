/**
 * The .unet abstract syntax tree. Every node carries the span it was parsed from; comments are
 * attached to members so the printer can keep them.
 */
import type { Span } from '../diagnostics/span.ts';

export type Expr = NumberLit | StringLit | BoolLit | Ref | ListExpr | CallExpr | BinaryExpr | NegExpr;

export interface NumberLit {
  kind: 'number';
  value: number;
  span: Span;
}
export interface StringLit {
  kind: 'string';
  value: string;
  span: Span;
}
export interface BoolLit {
  kind: 'bool';
  value: boolean;
  span: Span;
}
/** A name: a `let` constant, or a symbol such as `cosine` or `silu`. */
export interface Ref {
  kind: 'ref';
  name: string;
  span: Span;
}
export interface ListExpr {
  kind: 'list';
  items: Expr[];
  span: Span;
}
export interface Arg {
  name?: string;
  nameSpan?: Span;
  value: Expr;
}
/** `kind(arg: value, ...)`: a choice among alternatives with its options, e.g. `uc_lora(rank: 4)`. */
export interface CallExpr {
  kind: 'call';
  callee: string;
  calleeSpan: Span;
  args: Arg[];
  span: Span;
}
export type BinaryOp = '+' | '-' | '*' | '/';
export interface BinaryExpr {
  kind: 'binary';
  op: BinaryOp;
  left: Expr;
  right: Expr;
  span: Span;
}
export interface NegExpr {
  kind: 'neg';
  operand: Expr;
  span: Span;
}

export interface Comments {
  /** Whole-line comments directly above the member, in order, text including the comment markers. */
  leading: string[];
  /** A comment on the same line after the member. */
  trailing?: string;
}

export interface LetDecl {
  kind: 'let';
  name: string;
  nameSpan: Span;
  value: Expr;
  span: Span;
  comments: Comments;
}
export interface Field {
  kind: 'field';
  key: string;
  /** A quoted key is a path selector such as "dec.*.attn"; a bare key is an option name. */
  quoted: boolean;
  keySpan: Span;
  value: Expr;
  span: Span;
  comments: Comments;
}
export interface Section {
  kind: 'section';
  key: string;
  quoted: boolean;
  keySpan: Span;
  members: Member[];
  span: Span;
  comments: Comments;
  /** Comments after the last member, before the closing brace. */
  closingComments: string[];
  /** Written `key = { ... }`: replaces the inherited section instead of merging into it. */
  replace?: boolean;
}
/** `unset key`: removes an option or section the extended spec sets. */
export interface Unset {
  kind: 'unset';
  key: string;
  quoted: boolean;
  keySpan: Span;
  span: Span;
  comments: Comments;
}
export type Member = LetDecl | Field | Section | Unset;

export interface ModelDecl {
  name: string;
  nameSpan: Span;
  extends?: StringLit;
  members: Member[];
  span: Span;
  comments: Comments;
  closingComments: string[];
}

export interface SpecFile {
  file: string;
  lets: LetDecl[];
  model: ModelDecl;
  /** Comments after the model's closing brace. */
  trailingComments: string[];
}
