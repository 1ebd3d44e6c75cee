/**
 * Go to definition: the spec an `extends` path names (its model name), and the declaration of a
 * `let` constant (the one the checker uses: a child's overrides its base's).
 */
import { dirname, resolve } from 'node:path';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { Location } from 'vscode-languageserver';
import { parseSpec } from '../syntax/parse.ts';
import { constantsOf } from './constants.ts';
import { roleOf } from './context.ts';
import { pathToUri, rangeOf, uriToPath, type Analysis, type SpecDocuments } from './documents.ts';
import { tokenIndexAt } from './hover.ts';

export function definition(uri: string, a: Analysis, docs: SpecDocuments, offset: number): Location | null {
  const i = tokenIndexAt(a.tokens, offset);
  if (i < 0) return null;
  const r = roleOf(a.tokens, i);
  if (r.role === 'extends') {
    const target = resolve(dirname(uriToPath(uri)), r.path);
    const text = docs.host.read(target);
    if (text === undefined) return null;
    const targetUri = pathToUri(target);
    const name = parseSpec(text, target).ast?.model.nameSpan;
    const doc = docs.get(targetUri) ?? TextDocument.create(targetUri, 'unet', 0, text);
    return { uri: targetUri, range: rangeOf(doc, name ?? { offset: 0, length: 0 }) };
  }
  if (r.role === 'name' || r.role === 'letDecl') {
    const decl = constantsOf(uri, docs)?.lets.get(r.name);
    if (!decl) return null;
    const declUri = pathToUri(decl.nameSpan.file);
    const text = docs.get(declUri)?.getText() ?? docs.host.read(decl.nameSpan.file);
    if (text === undefined) return null;
    const doc = docs.get(declUri) ?? TextDocument.create(declUri, 'unet', 0, text);
    return { uri: declUri, range: rangeOf(doc, decl.nameSpan) };
  }
  return null;
}
