/** Document symbols: the model, its sections (nested), options, selectors and constants. */
import { SymbolKind, type DocumentSymbol } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { Member, SpecFile } from '../syntax/ast.ts';
import { printExpr } from '../syntax/printer.ts';
import { rangeOf } from './documents.ts';

const MAX_DETAIL = 60;

function short(s: string): string {
  return s.length > MAX_DETAIL ? s.slice(0, MAX_DETAIL - 3) + '...' : s;
}

export function documentSymbols(doc: TextDocument, ast: SpecFile | undefined): DocumentSymbol[] {
  if (!ast) return [];
  const member = (m: Member): DocumentSymbol => {
    if (m.kind === 'let') {
      return {
        name: m.name,
        detail: short(`= ${printExpr(m.value)}`),
        kind: SymbolKind.Constant,
        range: rangeOf(doc, m.span),
        selectionRange: rangeOf(doc, m.nameSpan),
      };
    }
    const name = m.quoted ? `"${m.key}"` : m.key;
    if (m.kind === 'field') {
      return {
        name,
        detail: short(printExpr(m.value)),
        kind: m.quoted ? SymbolKind.Key : SymbolKind.Field,
        range: rangeOf(doc, m.span),
        selectionRange: rangeOf(doc, m.keySpan),
      };
    }
    if (m.kind === 'unset')
      return { name: `unset ${name}`, kind: SymbolKind.Null, range: rangeOf(doc, m.span), selectionRange: rangeOf(doc, m.keySpan) };
    return {
      name,
      kind: SymbolKind.Namespace,
      range: rangeOf(doc, m.span),
      selectionRange: rangeOf(doc, m.keySpan),
      children: m.members.map(member),
    };
  };
  const model: DocumentSymbol = {
    name: ast.model.name,
    detail: ast.model.extends ? `extends "${ast.model.extends.value}"` : 'model',
    kind: SymbolKind.Class,
    range: rangeOf(doc, ast.model.span),
    selectionRange: rangeOf(doc, ast.model.nameSpan),
    children: ast.model.members.map(member),
  };
  return [...ast.lets.map(member), model];
}
