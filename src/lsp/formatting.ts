/** Formatting: the canonical printer (the same text as `unetc fmt`); nothing for a spec that does not parse. */
import type { TextEdit } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { parseSpec } from '../syntax/parse.ts';
import { printSpec } from '../syntax/printer.ts';
import { rangeOf } from './documents.ts';

export function formatting(doc: TextDocument): TextEdit[] {
  const text = doc.getText();
  const ast = parseSpec(text, doc.uri).ast;
  if (!ast) return [];
  const printed = printSpec(ast);
  if (printed === text) return [];
  return [{ range: rangeOf(doc, { offset: 0, length: text.length }), newText: printed }];
}
