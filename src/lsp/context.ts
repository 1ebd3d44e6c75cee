/**
 * Where a position is in a spec, from the tokens alone, so that hover and completion work on text
 * that does not parse (the usual state of a file being typed). A walk over the tokens keeps a stack
 * of what is open: the model and its sections, a field's value, calls, lists and parentheses; each
 * frame knows the schema type expected there (src/check/schema.ts).
 *
 * Members are not separated by commas (`size: 32 channels: 3`), so a field's value ends where an
 * operand follows a complete operand: the second operand starts the next member.
 */
import type { IToken } from 'chevrotain';
import { UnetLexer } from '../../grammar/tokens.ts';
import type { Ty } from '../check/schema.ts';
import { callKinds, elementTy, fieldAt, sectionAt, selectorTy } from './schemaInfo.ts';

export interface Tok {
  type: string;
  image: string;
  /** Offset of the first character. */
  start: number;
  /** Offset just after the last character. */
  end: number;
}

const toTok = (t: IToken): Tok => ({ type: t.tokenType.name, image: t.image, start: t.startOffset, end: t.startOffset + t.image.length });

/** The tokens of `text` (comments and white space apart), and its comments; never throws. */
export function lexTokens(text: string): { tokens: Tok[]; comments: Tok[] } {
  const r = UnetLexer.tokenize(text);
  return { tokens: r.tokens.map(toTok), comments: ((r.groups['comments'] ?? []) as IToken[]).map(toTok) };
}

export type Frame =
  /** Inside `{ }` of the model (path []) or of a section. */
  | { f: 'block'; path: string[] }
  /** The value of `key: ...` (or of `let NAME = ...`, with key undefined and isLet). */
  | { f: 'value'; path: string[]; key?: string; quoted: boolean; isLet: boolean; ty?: Ty; done: boolean }
  /** Inside `kind( ... )`; `arg` is the argument whose value is being written. */
  | { f: 'call'; callee: string; ty?: Ty; arg?: string; argTy?: Ty; given: string[]; done: boolean }
  | { f: 'list'; ty?: Ty; done: boolean }
  | { f: 'paren'; ty?: Ty; done: boolean };

type ExprFrame = Exclude<Frame, { f: 'block' }>;

const MAX_FRAMES = 256;
const OPERATORS = new Set(['Plus', 'Minus', 'Star', 'Slash']);

export interface Walk {
  stack: Frame[];
}

const isExpr = (f: Frame | undefined): f is ExprFrame => f !== undefined && f.f !== 'block';

/** Tokens that, after a complete value, start the next member. */
const MEMBER_START = new Set(['Identifier', 'StringLiteral', 'NumberLiteral', 'True', 'False', 'Let', 'Model']);

/** Whether `t` ends the field value `f` (a complete operand followed by the start of a member). */
const endsValue = (f: ExprFrame, t: Tok, next: Tok | undefined): boolean =>
  f.f === 'value' &&
  ((f.done && MEMBER_START.has(t.type)) ||
    // `key:` or `key {` cannot be part of a value: the value is missing and a member starts.
    ((t.type === 'Identifier' || t.type === 'StringLiteral') && (next?.type === 'Colon' || next?.type === 'LCurly')));

/** The type expected for a new operand in the innermost expression frame. */
export function operandTy(f: ExprFrame): Ty | undefined {
  switch (f.f) {
    case 'value':
    case 'list':
    case 'paren':
      return f.ty;
    case 'call':
      return f.argTy;
  }
}

/** The path of the innermost block on the stack ([] for the model, undefined outside it). */
export function blockPath(stack: Frame[]): string[] | undefined {
  for (let i = stack.length - 1; i >= 0; i--) {
    const f = stack[i];
    if (f.f === 'block') return f.path;
  }
  return undefined;
}

/**
 * Walks tokens[0 .. stop) and returns the open frames. A member's head (`key :`, `key {`,
 * `let NAME =`) and a call's head (`kind (`) are consumed together, so `stop` should be the index
 * of the token of interest (it is never consumed).
 */
export function walk(tokens: Tok[], stop: number): Walk {
  const stack: Frame[] = [];
  const top = () => stack[stack.length - 1];
  let i = 0;
  const closeExpr = (): void => {
    // An operand finished: the frame that contains it now holds a complete operand.
    const t = top();
    if (isExpr(t)) t.done = true;
  };
  // The parser rejects nesting deeper than 64 (E0106); past that, stop rather than copy deep paths.
  while (i < stop && stack.length <= MAX_FRAMES) {
    const t = tokens[i];
    const next = tokens[i + 1];
    const nextIn = i + 1 < stop ? next : undefined;
    const cur = top();
    // Block level (or the file's top level): member heads.
    if (!isExpr(cur) || endsValue(cur, t, nextIn)) {
      if (isExpr(cur)) {
        // A complete value followed by an operand: the value ended, this token starts a member.
        stack.pop();
        continue;
      }
      const path = cur?.path;
      if (t.type === 'Model') {
        // model NAME [extends "PATH"] {
        let j = i + 1;
        while (j < stop && tokens[j].type !== 'LCurly') j++;
        if (j < stop) {
          stack.push({ f: 'block', path: [] });
          i = j + 1;
        } else i = j;
        continue;
      }
      if (t.type === 'Let') {
        if (nextIn?.type === 'Identifier' && i + 2 < stop && tokens[i + 2].type === 'Equals') {
          stack.push({ f: 'value', path: path ?? [], quoted: false, isLet: true, done: false });
          i += 3;
        } else i++;
        continue;
      }
      if ((t.type === 'Identifier' || t.type === 'StringLiteral') && path && nextIn) {
        const quoted = t.type === 'StringLiteral';
        const key = quoted ? unquote(t.image) : t.image;
        if (nextIn.type === 'Colon') {
          const ty = quoted ? selectorTy(path) : fieldAt(path, key)?.ty;
          stack.push({ f: 'value', path, key, quoted, isLet: false, ty, done: false });
          i += 2;
          continue;
        }
        if (nextIn.type === 'LCurly') {
          stack.push({ f: 'block', path: [...path, key] });
          i += 2;
          continue;
        }
      }
      if (t.type === 'RCurly' && cur) {
        stack.pop();
        i++;
        continue;
      }
      i++;
      continue;
    }
    // Inside an expression.
    switch (t.type) {
      case 'Identifier': {
        if (cur.f === 'call' && !cur.done && cur.arg === undefined && nextIn?.type === 'Colon') {
          cur.arg = t.image;
          cur.given.push(t.image);
          const schema = cur.ty ? callKinds(cur.ty)?.[cur.callee] : undefined;
          cur.argTy = schema?.[t.image]?.ty;
          i += 2;
          continue;
        }
        if (nextIn?.type === 'LParen') {
          const ty = operandTy(cur);
          const kindsTy = ty && callTyOf(ty);
          stack.push({ f: 'call', callee: t.image, ty: kindsTy, given: [], done: false });
          i += 2;
          continue;
        }
        cur.done = true;
        i++;
        continue;
      }
      case 'NumberLiteral':
      case 'StringLiteral':
      case 'True':
      case 'False':
        cur.done = true;
        i++;
        continue;
      case 'LBracket': {
        const ty = operandTy(cur);
        stack.push({ f: 'list', ty: ty && elementTy(ty), done: false });
        i++;
        continue;
      }
      case 'LParen':
        stack.push({ f: 'paren', ty: operandTy(cur), done: false });
        i++;
        continue;
      case 'RBracket':
      case 'RParen': {
        const want = t.type === 'RBracket' ? ['list'] : ['call', 'paren'];
        if (want.includes(cur.f)) {
          stack.pop();
          closeExpr();
        }
        i++;
        continue;
      }
      case 'Comma':
        if (cur.f === 'call') {
          cur.arg = undefined;
          cur.argTy = undefined;
          cur.done = false;
        } else if (cur.f === 'list') cur.done = false;
        i++;
        continue;
      case 'RCurly':
        // Ends the value (and anything left open in it), then closes the block.
        while (isExpr(top())) stack.pop();
        continue;
      default:
        if (OPERATORS.has(t.type)) cur.done = false;
        i++;
        continue;
    }
  }
  return { stack };
}

/** The call type an operand of type `ty` may be (a union's call member, a call list's item). */
export function callTyOf(ty: Ty): Ty | undefined {
  if (ty.t === 'call') return { ...ty, list: false };
  if (ty.t === 'union') return ty.of.map(callTyOf).find((x) => x !== undefined);
  return undefined;
}

export function unquote(image: string): string {
  const body = image.startsWith('"') ? image.slice(1, image.endsWith('"') && image.length > 1 ? -1 : undefined) : image;
  return body.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : c));
}

/** Index of the token that contains `offset` (start <= offset < end), or -1. */
export function tokenAt(tokens: Tok[], offset: number): number {
  let lo = 0;
  let hi = tokens.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const t = tokens[mid];
    if (offset < t.start) hi = mid - 1;
    else if (offset >= t.end) lo = mid + 1;
    else return mid;
  }
  return -1;
}

/** Index of the first token that starts at or after `offset`. */
export function firstTokenFrom(tokens: Tok[], offset: number): number {
  let lo = 0;
  let hi = tokens.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (tokens[mid].start < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** What a token is, for hover and definition. */
export type TokenRole =
  | { role: 'section'; path: string[] }
  | { role: 'field'; path: string[]; key: string }
  | { role: 'selector'; path: string[]; pattern: string }
  | { role: 'arg'; callee: string; ty?: Ty; arg: string }
  | { role: 'kind'; kind: string; ty?: Ty; field?: string }
  | { role: 'letDecl'; name: string }
  | { role: 'name'; name: string; ty?: Ty; field?: string }
  | { role: 'extends'; path: string }
  | { role: 'other' };

/** Classifies tokens[index] from the frames open before it. */
export function roleOf(tokens: Tok[], index: number): TokenRole {
  const t = tokens[index];
  if (!t) return { role: 'other' };
  const prev = tokens[index - 1];
  const next = tokens[index + 1];
  if (t.type === 'StringLiteral' && prev?.type === 'Extends') return { role: 'extends', path: unquote(t.image) };
  if (t.type === 'Identifier' && prev?.type === 'Let' && next?.type === 'Equals') return { role: 'letDecl', name: t.image };
  const { stack } = walk(tokens, index);
  let cur = stack[stack.length - 1];
  if (isExpr(cur) && endsValue(cur, t, next)) {
    stack.pop();
    cur = stack[stack.length - 1];
  }
  if (!isExpr(cur)) {
    const path = cur?.path;
    if (!path) return { role: 'other' };
    if (t.type === 'StringLiteral' && (next?.type === 'Colon' || next?.type === 'LCurly'))
      return { role: 'selector', path, pattern: unquote(t.image) };
    if (t.type === 'Identifier' && next?.type === 'LCurly') return { role: 'section', path: [...path, t.image] };
    if (t.type === 'Identifier' && next?.type === 'Colon') {
      if (sectionAt([...path, t.image])) return { role: 'section', path: [...path, t.image] };
      return { role: 'field', path, key: t.image };
    }
    return { role: 'other' };
  }
  if (t.type !== 'Identifier') return { role: 'other' };
  const field = fieldOf(stack);
  if (cur.f === 'call' && !cur.done && cur.arg === undefined && next?.type === 'Colon')
    return { role: 'arg', callee: cur.callee, ty: cur.ty, arg: t.image };
  const ty = operandTy(cur);
  if (next?.type === 'LParen') return { role: 'kind', kind: t.image, ty: ty && callTyOf(ty), field };
  return { role: 'name', name: t.image, ty, field };
}

/** "unet.down" style name of the field whose value the stack is in. */
export function fieldOf(stack: Frame[]): string | undefined {
  for (let i = stack.length - 1; i >= 0; i--) {
    const f = stack[i];
    if (f.f === 'value') return f.isLet ? undefined : f.quoted ? `"${f.key}"` : [...f.path, f.key].join('.');
  }
  return undefined;
}
