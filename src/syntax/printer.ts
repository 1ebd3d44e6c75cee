/**
 * AST -> canonical .unet text. One form for every spec: two-space indent, `key: value` fields,
 * a blank line between top-level sections, comments kept where they were attached.
 * parse(print(ast)) equals ast (spans aside) for every AST the parser can produce.
 */
import type * as A from './ast.ts';

const MAX_WIDTH = 100;

export function printSpec(file: A.SpecFile): string {
  const out: string[] = [];
  for (const l of file.lets) {
    out.push(...l.comments.leading);
    out.push(withTrailing(`let ${l.name} = ${printExpr(l.value)}`, l.comments));
  }
  if (file.lets.length > 0) out.push('');
  const m = file.model;
  out.push(...m.comments.leading);
  const head = `model ${m.name}${m.extends ? ` extends ${printString(m.extends.value)}` : ''}`;
  out.push(...printBlock(head, m.members, m.closingComments, '', true, m.comments.trailing));
  out.push(...file.trailingComments);
  return out.join('\n') + '\n';
}

function withTrailing(line: string, c: A.Comments): string {
  return c.trailing ? `${line} ${c.trailing}` : line;
}

function printBlock(head: string, members: A.Member[], closing: string[], indent: string, topLevel: boolean, trailing?: string): string[] {
  if (members.length === 0 && closing.length === 0) return [withTrailing(`${indent}${head} {}`, { leading: [], trailing })];
  const inner = indent + '  ';
  const out = [`${indent}${head} {`];
  members.forEach((mem, i) => {
    if (i > 0 && (mem.kind === 'section' || members[i - 1].kind === 'section')) out.push('');
    out.push(...printMember(mem, inner, topLevel));
  });
  out.push(...closing.map((c) => inner + c));
  out.push(withTrailing(`${indent}}`, { leading: [], trailing }));
  return out;
}

function printKey(key: string, quoted: boolean): string {
  return quoted ? printString(key) : key;
}

function printMember(m: A.Member, indent: string, _topLevel: boolean): string[] {
  const lead = m.comments.leading.map((c) => indent + c);
  if (m.kind === 'let') return [...lead, withTrailing(`${indent}let ${m.name} = ${printExpr(m.value)}`, m.comments)];
  if (m.kind === 'field') {
    const prefix = `${indent}${printKey(m.key, m.quoted)}: `;
    const inline = prefix + printExpr(m.value);
    if (inline.length <= MAX_WIDTH || (m.value.kind !== 'call' && m.value.kind !== 'list')) {
      return [...lead, withTrailing(inline, m.comments)];
    }
    return [...lead, ...printBroken(prefix, m.value, indent, m.comments)];
  }
  if (m.kind === 'unset') return [...lead, withTrailing(`${indent}unset ${printKey(m.key, m.quoted)}`, m.comments)];
  return [
    ...lead,
    ...printBlock(`${printKey(m.key, m.quoted)}${m.replace ? ' =' : ''}`, m.members, m.closingComments, indent, false, m.comments.trailing),
  ];
}

/** A long call or list, one argument per line with a trailing comma. */
function printBroken(prefix: string, e: A.CallExpr | A.ListExpr, indent: string, c: A.Comments): string[] {
  const inner = indent + '  ';
  if (e.kind === 'call') {
    const args = e.args.map((a) => `${inner}${a.name !== undefined ? `${a.name}: ` : ''}${printExpr(a.value)},`);
    return [`${prefix}${e.callee}(`, ...args, withTrailing(`${indent})`, c)];
  }
  return [`${prefix}[`, ...e.items.map((i) => `${inner}${printExpr(i)},`), withTrailing(`${indent}]`, c)];
}

export function printString(s: string): string {
  return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\t/g, '\\t') + '"';
}

/** Numbers print in JavaScript's shortest round-tripping form (small ones as 1e-6), which the lexer reads back. */
export function printNumber(v: number): string {
  if (v !== 0 && Math.abs(v) < 1e-3) return v.toExponential();
  return String(v);
}

const PREC: Record<A.BinaryOp, number> = { '+': 1, '-': 1, '*': 2, '/': 2 };

function precOf(e: A.Expr): number {
  if (e.kind === 'binary') return PREC[e.op];
  if (e.kind === 'neg') return 3;
  return 4;
}

export function printExpr(e: A.Expr): string {
  switch (e.kind) {
    case 'number':
      return printNumber(e.value);
    case 'string':
      return printString(e.value);
    case 'bool':
      return e.value ? 'true' : 'false';
    case 'ref':
      return e.name;
    case 'list':
      return `[${e.items.map(printExpr).join(', ')}]`;
    case 'call':
      return `${e.callee}(${e.args.map((a) => (a.name !== undefined ? `${a.name}: ` : '') + printExpr(a.value)).join(', ')})`;
    case 'neg': {
      const inner = printExpr(e.operand);
      return precOf(e.operand) < 3 ? `-(${inner})` : `-${inner}`;
    }
    case 'binary': {
      const p = PREC[e.op];
      const l = precOf(e.left) < p ? `(${printExpr(e.left)})` : printExpr(e.left);
      const r = precOf(e.right) <= p ? `(${printExpr(e.right)})` : printExpr(e.right);
      return `${l} ${e.op} ${r}`;
    }
  }
}
