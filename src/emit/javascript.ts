/**
 * The emitted TypeScript modules as ES modules plus declarations, for `unetc compile --js` and for
 * the code a run folder runs (so that neither needs a TypeScript toolchain at run time). Each file
 * is transpiled on its own (the modules annotate every export, so declarations need no type
 * checking); specifiers are kept (`unetc/runtime`, `./model.js`).
 */
import { ts } from 'ts-morph';

const OPTIONS: ts.CompilerOptions = {
  module: ts.ModuleKind.ESNext,
  target: ts.ScriptTarget.ES2022,
  strict: true,
  // Older run folders import each other as './model.ts'.
  rewriteRelativeImportExtensions: true,
};

/** model.ts -> model.js (and, with `declarations`, model.d.ts); other files are kept as they are. */
export function toJavaScript(files: ReadonlyMap<string, string>, o: { declarations?: boolean } = {}): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, text] of files) {
    if (!name.endsWith('.ts') || name.endsWith('.d.ts')) {
      out.set(name, text);
      continue;
    }
    const base = name.slice(0, -3);
    out.set(`${base}.js`, ts.transpileModule(text, { compilerOptions: OPTIONS, fileName: name }).outputText);
    if (o.declarations) {
      const d = ts.transpileDeclaration(text, { compilerOptions: OPTIONS, fileName: name, reportDiagnostics: true });
      if (d.diagnostics?.length) throw new Error(`${name}: cannot write its declarations: ${ts.flattenDiagnosticMessageText(d.diagnostics[0]!.messageText, ' ')}`);
      out.set(`${base}.d.ts`, d.outputText);
    }
  }
  return out;
}
