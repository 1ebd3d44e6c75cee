/**
 * Completion from the checker's schema: section and option names valid where the cursor is, call
 * kinds (with their required arguments as a snippet) and argument names, enumerated values,
 * `true`/`false`, `in`/`out` in widths, and the `let` constants in scope. Works on text that does
 * not parse: the position is read from the tokens (context.ts).
 */
import { CompletionItemKind, InsertTextFormat, type CompletionItem, type Range } from 'vscode-languageserver';
import type { Ty } from '../check/schema.ts';
import { constantsOf } from './constants.ts';
import { callTyOf, firstTokenFrom, operandTy, tokenAt, walk, type Frame } from './context.ts';
import { rangeOf, type Analysis, type SpecDocuments } from './documents.ts';
import { callKinds, describeTy, enumValues, kindDocs, kindSchema, sectionAt } from './schemaInfo.ts';

const inside = (t: { start: number; end: number }, offset: number) => t.start < offset && offset < t.end;

export function completion(uri: string, a: Analysis, docs: SpecDocuments, offset: number): CompletionItem[] {
  const doc = docs.get(uri);
  if (!doc) return [];
  // Nothing to offer inside a comment or a string.
  if (a.comments.some((c) => inside(c, offset) || (c.type === 'LineComment' && c.start < offset && offset === c.end))) return [];
  const at = tokenAt(a.tokens, offset - 1);
  const prefixTok =
    at >= 0 && a.tokens[at].end >= offset && a.tokens[at].type !== 'StringLiteral' && /^[A-Za-z_]/.test(a.tokens[at].image)
      ? a.tokens[at]
      : undefined;
  const str = at >= 0 ? a.tokens[at] : undefined;
  if (str && ((str.type === 'StringLiteral' && inside(str, offset)) || (str.type === 'UnterminatedString' && str.start < offset)))
    return [];
  const stop = prefixTok ? at : firstTokenFrom(a.tokens, offset);
  const { stack } = walk(a.tokens, stop);
  const range: Range = rangeOf(doc, { offset: prefixTok?.start ?? offset, length: offset - (prefixTok?.start ?? offset) });
  let top: Frame | undefined = stack[stack.length - 1];
  if (top?.f === 'value' && top.done) {
    stack.pop();
    top = stack[stack.length - 1];
  }
  const items: CompletionItem[] = [];
  const add = (label: string, kind: CompletionItemKind, insert?: string, detail?: string, doc?: string) =>
    items.push({
      label,
      kind,
      detail,
      documentation: doc ? { kind: 'markdown', value: doc } : undefined,
      textEdit: { range, newText: insert ?? label },
      insertTextFormat: insert && insert.includes('$') ? InsertTextFormat.Snippet : InsertTextFormat.PlainText,
    });
  if (!top) {
    add('let', CompletionItemKind.Keyword, 'let ${1:NAME} = ${0}');
    add('model', CompletionItemKind.Keyword, 'model ${1:name} {\n\t$0\n}');
    return items;
  }
  if (top.f === 'block') {
    const s = sectionAt(top.path);
    if (!s) return items;
    for (const [k, sub] of Object.entries(s.sections ?? {})) add(k, CompletionItemKind.Module, `${k} {\n\t$0\n}`, 'section', sub.doc);
    for (const [k, f] of Object.entries(s.fields)) add(k, CompletionItemKind.Field, `${k}: `, describeTy(f.ty), f.doc);
    add('let', CompletionItemKind.Keyword, 'let ${1:NAME} = ${0}');
    return items;
  }
  if (top.f === 'call' && !top.done && top.arg === undefined) {
    const schema = kindSchema(top.ty, top.callee);
    for (const [k, s] of Object.entries(schema ?? {})) {
      if (top.given.includes(k)) continue;
      add(k, CompletionItemKind.Property, `${k}: `, describeTy(s.ty), s.doc);
    }
    return items;
  }
  if (top.done) return items;
  const ty = operandTy(top);
  if (ty) valuesOf(ty, add);
  // The chain's constants when the spec loads; while it does not parse, those declared in this text.
  const names = new Set(constantsOf(uri, docs)?.lets.keys() ?? []);
  a.tokens.forEach((t, i) => {
    if (t.type === 'Let' && a.tokens[i + 1]?.type === 'Identifier' && a.tokens[i + 2]?.type === 'Equals') names.add(a.tokens[i + 1].image);
  });
  for (const name of names) add(name, CompletionItemKind.Constant, undefined, 'constant');
  return items;
}

function valuesOf(ty: Ty, add: (label: string, kind: CompletionItemKind, insert?: string, detail?: string, doc?: string) => void): void {
  for (const v of enumValues(ty)) add(v, CompletionItemKind.EnumMember);
  const hasBool = ty.t === 'bool' || (ty.t === 'union' && ty.of.some((t) => t.t === 'bool'));
  if (hasBool) {
    add('true', CompletionItemKind.Keyword);
    add('false', CompletionItemKind.Keyword);
  }
  if (ty.t === 'width' || (ty.t === 'union' && ty.of.some((t) => t.t === 'width'))) {
    add('in', CompletionItemKind.Variable, undefined, 'the channels entering the block');
    add('out', CompletionItemKind.Variable, undefined, "the block's nominal output channels");
  }
  const callTy = callTyOf(ty);
  const kinds = callTy && callKinds(callTy);
  if (callTy && kinds) {
    const docs = kindDocs(callTy);
    for (const [k, schema] of Object.entries(kinds)) {
      const req = Object.entries(schema).filter(([, s]) => s.required);
      const insert = req.length ? `${k}(${req.map(([n], i) => `${n}: \${${i + 1}}`).join(', ')})` : k;
      add(
        k,
        CompletionItemKind.Function,
        insert,
        Object.keys(schema).length ? `${k}(${Object.keys(schema).join(', ')})` : 'no arguments',
        docs[k],
      );
    }
  }
}
