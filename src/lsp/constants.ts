/**
 * `let` constants as the checker sees them: the merged chain's declarations (a child's `let`
 * overrides its base's everywhere) and their evaluated values, for hover and go to definition.
 */
import { DiagnosticSink } from '../diagnostics/diagnostic.ts';
import { Scope } from '../check/evaluate.ts';
import { loadSpec } from '../check/load.ts';
import type { Value } from '../check/values.ts';
import type { LetDecl } from '../syntax/ast.ts';
import { printExpr } from '../syntax/printer.ts';
import { uriToPath, type SpecDocuments } from './documents.ts';

export interface Constants {
  lets: Map<string, LetDecl>;
  /** The value of a constant, or undefined when it does not evaluate. */
  value(name: string): Value | undefined;
}

/** The constants visible in a document: its own and those of the specs it extends. */
export function constantsOf(uri: string, docs: SpecDocuments): Constants | undefined {
  const doc = docs.get(uri);
  if (!doc) return undefined;
  const sink = new DiagnosticSink(1000);
  const { model } = loadSpec(uriToPath(uri), docs.host, sink, doc.getText());
  if (!model) return undefined;
  const scope = new Scope(model.lets, new DiagnosticSink(1000));
  return {
    lets: model.lets,
    value: (name) => (model.lets.has(name) ? (scope.lookup(name) ?? undefined) : undefined),
  };
}

/** A value as .unet text: `128`, `[256, 256]`, `group(groups: 32)`. */
export function formatValue(v: Value): string {
  switch (v.kind) {
    case 'num':
      return String(v.v);
    case 'str':
      return JSON.stringify(v.v);
    case 'bool':
      return String(v.v);
    case 'sym':
      return v.name;
    case 'list':
      return `[${v.items.map(formatValue).join(', ')}]`;
    case 'call':
      return `${v.name}(${[...v.args].map(([k, a]) => `${k}: ${formatValue(a)}`).join(', ')})`;
    case 'deferred':
      return printExpr(v.expr);
  }
}
