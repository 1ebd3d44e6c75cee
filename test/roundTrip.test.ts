/**
 * parse(print(ast)) equals ast: for every spec in specs/ and for random ASTs (fast-check).
 * print is also idempotent: printing the re-parsed tree gives the same text.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type * as A from '../src/syntax/ast.ts';
import { parseSpec } from '../src/syntax/parse.ts';
import { printSpec } from '../src/syntax/printer.ts';
import { stripSpans } from '../src/syntax/strip.ts';
import { SPECS_DIR, specFiles } from './helpers.ts';

const span = { file: 'x', offset: 0, length: 1, line: 1, column: 1 };

const keywords = new Set(['model', 'extends', 'let', 'true', 'false']);
const ident = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,8}$/).filter((s) => !keywords.has(s));
const comment = fc.oneof(
  fc.stringMatching(/^[ -~]{0,20}$/).map((s) => `// ${s}`.trimEnd()),
  fc.stringMatching(/^[ -)+-~]{0,20}$/).map((s) => `/* ${s} */`),
);
const comments: fc.Arbitrary<A.Comments> = fc
  .record({
    leading: fc.array(comment, { maxLength: 2 }),
    trailing: fc.option(
      comment.filter((c) => c.startsWith('//')),
      { nil: undefined },
    ),
  })
  .map((c) => (c.trailing === undefined ? { leading: c.leading } : c));

const exprArb: fc.Arbitrary<A.Expr> = fc.letrec<{ expr: A.Expr }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc
      .oneof(fc.nat(100000), fc.double({ min: 0, max: 1e6, noNaN: true }), fc.constantFrom(1e-6, 0.5, 1e21, 2.5e-8))
      .map((v) => ({ kind: 'number', value: v, span }) as A.Expr),
    fc.string({ maxLength: 12 }).map((v) => ({ kind: 'string', value: v.replace(/\r/g, ''), span }) as A.Expr),
    fc.boolean().map((v) => ({ kind: 'bool', value: v, span }) as A.Expr),
    ident.map((name) => ({ kind: 'ref', name, span }) as A.Expr),
    fc.array(tie('expr'), { maxLength: 3 }).map((items) => ({ kind: 'list', items, span }) as A.Expr),
    fc
      .record({
        callee: ident,
        args: fc.array(fc.record({ name: fc.option(ident, { nil: undefined }), value: tie('expr') }), { maxLength: 3 }),
      })
      .map(
        ({ callee, args }) =>
          ({
            kind: 'call',
            callee,
            calleeSpan: span,
            args: args.map((a) => (a.name === undefined ? { value: a.value } : { name: a.name, nameSpan: span, value: a.value })),
            span,
          }) as A.Expr,
      ),
    fc
      .record({ op: fc.constantFrom('+', '-', '*', '/'), left: tie('expr'), right: tie('expr') })
      .map((b) => ({ kind: 'binary', ...b, span }) as A.Expr),
    tie('expr').map((operand) => ({ kind: 'neg', operand, span }) as A.Expr),
  ),
})).expr;

const memberArb: fc.Arbitrary<A.Member> = fc.letrec<{ member: A.Member }>((tie) => ({
  member: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc
      .record({ name: ident, value: exprArb, comments })
      .map((l) => ({ kind: 'let', name: l.name, nameSpan: span, value: l.value, span, comments: l.comments }) as A.Member),
    fc
      .record({
        key: fc.oneof(
          ident.map((k) => ({ k, q: false })),
          fc.stringMatching(/^[a-z0-9.*]{1,10}$/).map((k) => ({ k, q: true })),
        ),
        value: exprArb,
        comments,
      })
      .map(
        (f) => ({ kind: 'field', key: f.key.k, quoted: f.key.q, keySpan: span, value: f.value, span, comments: f.comments }) as A.Member,
      ),
    fc
      .record({ key: ident, members: fc.array(tie('member'), { maxLength: 3 }), comments, closing: fc.array(comment, { maxLength: 1 }) })
      .map(
        (s) =>
          ({
            kind: 'section',
            key: s.key,
            quoted: false,
            keySpan: span,
            members: s.members,
            span,
            comments: s.comments,
            closingComments: s.closing,
          }) as A.Member,
      ),
  ),
})).member;

const fileArb: fc.Arbitrary<A.SpecFile> = fc
  .record({
    lets: fc.array(fc.record({ name: ident, value: exprArb, comments }), { maxLength: 2 }),
    name: ident,
    ext: fc.option(fc.stringMatching(/^\.\/[a-z-]{1,8}\.unet$/), { nil: undefined }),
    members: fc.array(memberArb, { maxLength: 4 }),
    modelComments: comments,
    closing: fc.array(comment, { maxLength: 1 }),
    trailing: fc.array(comment, { maxLength: 1 }),
  })
  .map((r) => ({
    file: 'x',
    lets: r.lets.map((l) => ({ kind: 'let', name: l.name, nameSpan: span, value: l.value, span, comments: l.comments }) as A.LetDecl),
    model: {
      name: r.name,
      nameSpan: span,
      extends: r.ext === undefined ? undefined : { kind: 'string', value: r.ext, span },
      members: r.members,
      span,
      comments: r.modelComments,
      closingComments: r.closing,
    },
    trailingComments: r.trailing,
  }));

describe('round trip', () => {
  for (const f of specFiles()) {
    it(`${f}: parse(print(ast)) = ast, and the committed file is canonical`, () => {
      const text = readFileSync(join(SPECS_DIR, f), 'utf8');
      const a = parseSpec(text, f);
      expect(a.diagnostics).toEqual([]);
      const printed = printSpec(a.ast!);
      const b = parseSpec(printed, f);
      expect(stripSpans(b.ast)).toEqual(stripSpans(a.ast));
      expect(printed).toBe(text);
    });
  }

  it('random ASTs survive print then parse', () => {
    fc.assert(
      fc.property(fileArb, (ast) => {
        const printed = printSpec(ast);
        const r = parseSpec(printed, 'x');
        expect(r.diagnostics).toEqual([]);
        expect(stripSpans(r.ast)).toEqual(stripSpans(ast));
        expect(printSpec(r.ast!)).toBe(printed);
      }),
      { numRuns: 500, seed: 20261126 },
    );
  });
});
