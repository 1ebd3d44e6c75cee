/**
 * CST (chevrotain) -> AST. Also attaches comments to members: a comment on the line where a member
 * ends is its trailing comment; other comments belong to the next member as leading comments, or
 * to the enclosing block's end when no member follows.
 */
import type { CstNode, CstElement, IToken } from 'chevrotain';
import { Diag } from '../diagnostics/catalogue.ts';
import { diagnostic, type Diagnostic } from '../diagnostics/diagnostic.ts';
import type { Span } from '../diagnostics/span.ts';
import type * as A from './ast.ts';

type Children = Record<string, CstElement[] | undefined>;

function isToken(e: CstElement): e is IToken {
  return (e as IToken).image !== undefined;
}

class Builder {
  private ci = 0;
  private lastEnded: { endLine: number; comments: A.Comments } | undefined;
  readonly diagnostics: Diagnostic[] = [];

  constructor(
    private readonly file: string,
    private readonly comments: IToken[],
  ) {}

  span(node: CstNode | IToken): Span {
    if (isToken(node)) {
      return {
        file: this.file,
        offset: node.startOffset,
        length: Math.max(1, node.endOffset! - node.startOffset + 1),
        line: node.startLine!,
        column: node.startColumn!,
      };
    }
    const loc = node.location!;
    return {
      file: this.file,
      offset: loc.startOffset,
      length: Math.max(1, (loc.endOffset ?? loc.startOffset) - loc.startOffset + 1),
      line: loc.startLine!,
      column: loc.startColumn!,
    };
  }

  private endLine(node: CstNode): number {
    return node.location!.endLine ?? node.location!.startLine!;
  }

  /** Takes every comment before `offset`: trailing for the member just ended, else leading. */
  private takeComments(offset: number): string[] {
    const leading: string[] = [];
    while (this.ci < this.comments.length && this.comments[this.ci].startOffset < offset) {
      const c = this.comments[this.ci++];
      const last = this.lastEnded;
      if (leading.length === 0 && last && last.comments.trailing === undefined && c.startLine === last.endLine && !c.image.includes('\n')) {
        last.comments.trailing = c.image;
      } else {
        leading.push(c.image);
      }
    }
    return leading;
  }

  specFile(cst: CstNode): A.SpecFile {
    const ch = cst.children as Children;
    const lets = (ch.letDecl ?? []).map((n) => {
      const leading = this.takeComments((n as CstNode).location!.startOffset);
      const l = this.letDecl(n as CstNode, leading);
      this.lastEnded = { endLine: this.endLine(n as CstNode), comments: l.comments };
      return l;
    });
    const modelNode = (ch.modelDecl as CstNode[])[0];
    const model = this.modelDecl(modelNode);
    const trailing = this.takeComments(Infinity);
    return { file: this.file, lets, model, trailingComments: trailing };
  }

  modelDecl(n: CstNode): A.ModelDecl {
    const ch = n.children as Children;
    const leading = this.takeComments(n.location!.startOffset);
    const nameTok = (ch.Identifier as IToken[])[0];
    const extTok = (ch.StringLiteral as IToken[] | undefined)?.[0];
    const comments: A.Comments = { leading };
    this.lastEnded = undefined;
    const { members, closing } = this.block((ch.block as CstNode[])[0]);
    this.lastEnded = { endLine: this.endLine(n), comments };
    return {
      name: nameTok.image,
      nameSpan: this.span(nameTok),
      extends: extTok ? { kind: 'string', value: this.unquote(extTok), span: this.span(extTok) } : undefined,
      members,
      span: this.span(n),
      comments,
      closingComments: closing,
    };
  }

  block(n: CstNode): { members: A.Member[]; closing: string[] } {
    const ch = n.children as Children;
    const members: A.Member[] = [];
    for (const m of (ch.member ?? []) as CstNode[]) {
      const leading = this.takeComments(m.location!.startOffset);
      const member = this.member(m, leading);
      members.push(member);
      this.lastEnded = { endLine: this.endLine(m), comments: member.comments };
    }
    const close = (ch.RCurly as IToken[])[0];
    const closing = this.takeComments(close.startOffset);
    return { members, closing };
  }

  member(n: CstNode, leading: string[]): A.Member {
    const ch = n.children as Children;
    if (ch.letDecl) return this.letDecl(ch.letDecl[0] as CstNode, leading);
    const keyNode = (ch.key as CstNode[])[0];
    if (ch.Unset) {
      const tok = Object.values(keyNode.children).flat()[0] as IToken;
      const q = tok.tokenType.name === 'StringLiteral';
      return {
        kind: 'unset',
        key: q ? this.unquote(tok) : tok.image,
        quoted: q,
        keySpan: this.span(tok),
        span: this.span(n),
        comments: { leading },
      };
    }
    const keyTok = Object.values(keyNode.children).flat()[0] as IToken;
    const quoted = keyTok.tokenType.name === 'StringLiteral';
    const key = quoted ? this.unquote(keyTok) : keyTok.image;
    const comments: A.Comments = { leading };
    if (ch.block) {
      this.lastEnded = undefined;
      const { members, closing } = this.block(ch.block[0] as CstNode);
      return {
        kind: 'section',
        key,
        quoted,
        keySpan: this.span(keyTok),
        members,
        span: this.span(n),
        comments,
        closingComments: closing,
        ...(ch.Equals ? { replace: true } : {}),
      };
    }
    return {
      kind: 'field',
      key,
      quoted,
      keySpan: this.span(keyTok),
      value: this.expression((ch.expression as CstNode[])[0]),
      span: this.span(n),
      comments,
    };
  }

  letDecl(n: CstNode, leading: string[]): A.LetDecl {
    const ch = n.children as Children;
    const nameTok = (ch.Identifier as IToken[])[0];
    return {
      kind: 'let',
      name: nameTok.image,
      nameSpan: this.span(nameTok),
      value: this.expression((ch.expression as CstNode[])[0]),
      span: this.span(n),
      comments: { leading },
    };
  }

  /** Folds `a op b op c` left-associatively; operands and operators are in source order. */
  private fold(n: CstNode, operandRule: string, ops: string[], sub: (c: CstNode) => A.Expr): A.Expr {
    const ch = n.children as Children;
    const operands = (ch[operandRule] as CstNode[]).map(sub);
    const opToks = ops.flatMap((o) => (ch[o] as IToken[] | undefined) ?? []).sort((a, b) => a.startOffset - b.startOffset);
    let acc = operands[0];
    for (let i = 0; i < opToks.length; i++) {
      const right = operands[i + 1];
      acc = {
        kind: 'binary',
        op: opToks[i].image as A.BinaryOp,
        left: acc,
        right,
        span: this.join(acc.span, right.span),
      };
    }
    return acc;
  }

  private join(a: Span, b: Span): Span {
    return { ...a, length: b.offset + b.length - a.offset };
  }

  expression(n: CstNode): A.Expr {
    return this.fold(n, 'multiplicative', ['Plus', 'Minus'], (c) => this.multiplicative(c));
  }

  multiplicative(n: CstNode): A.Expr {
    return this.fold(n, 'unary', ['Star', 'Slash'], (c) => this.unary(c));
  }

  unary(n: CstNode): A.Expr {
    const ch = n.children as Children;
    if (ch.Minus) return { kind: 'neg', operand: this.unary((ch.unary as CstNode[])[0]), span: this.span(n) };
    return this.primary((ch.primary as CstNode[])[0]);
  }

  primary(n: CstNode): A.Expr {
    const ch = n.children as Children;
    if (ch.NumberLiteral) {
      const t = ch.NumberLiteral[0] as IToken;
      const value = Number(t.image.replace(/_/g, ''));
      if (!Number.isFinite(value)) {
        this.diagnostics.push(diagnostic(Diag.InvalidNumber, { number: t.image.slice(0, 30) }, this.span(t)));
      }
      return { kind: 'number', value: Number.isFinite(value) ? value : 0, span: this.span(t) };
    }
    if (ch.StringLiteral) {
      const t = ch.StringLiteral[0] as IToken;
      return { kind: 'string', value: this.unquote(t), span: this.span(t) };
    }
    if (ch.True) return { kind: 'bool', value: true, span: this.span(ch.True[0] as IToken) };
    if (ch.False) return { kind: 'bool', value: false, span: this.span(ch.False[0] as IToken) };
    if (ch.callOrRef) return this.callOrRef(ch.callOrRef[0] as CstNode);
    if (ch.list) {
      const l = ch.list[0] as CstNode;
      const items = ((l.children as Children).expression ?? []).map((e) => this.expression(e as CstNode));
      return { kind: 'list', items, span: this.span(l) };
    }
    const p = (ch.parenthesized as CstNode[])[0];
    return this.expression(((p.children as Children).expression as CstNode[])[0]);
  }

  callOrRef(n: CstNode): A.Expr {
    const ch = n.children as Children;
    const id = (ch.Identifier as IToken[])[0];
    if (!ch.LParen) return { kind: 'ref', name: id.image, span: this.span(id) };
    const args: A.Arg[] = ((ch.arg ?? []) as CstNode[]).map((a) => {
      const ac = a.children as Children;
      const nameTok = (ac.Identifier as IToken[] | undefined)?.[0];
      const value = this.expression((ac.expression as CstNode[])[0]);
      return nameTok ? { name: nameTok.image, nameSpan: this.span(nameTok), value } : { value };
    });
    return { kind: 'call', callee: id.image, calleeSpan: this.span(id), args, span: this.span(n) };
  }

  unquote(t: IToken): string {
    const body = t.image.slice(1, -1);
    return body.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : c));
  }
}

export function buildAst(cst: CstNode, comments: IToken[], file: string, _text: string): { ast?: A.SpecFile; diagnostics: Diagnostic[] } {
  const sorted = [...comments].sort((a, b) => a.startOffset - b.startOffset);
  const b = new Builder(file, sorted);
  const ast = b.specFile(cst);
  return b.diagnostics.length > 0 ? { diagnostics: b.diagnostics } : { ast, diagnostics: [] };
}
