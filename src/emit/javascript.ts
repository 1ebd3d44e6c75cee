/**
 * The emitted TypeScript modules as ES modules plus declarations, for `unetc compile --js` and for
 * the code a run folder runs (so that neither needs a TypeScript toolchain at run time). Each file
 * is transpiled on its own (the modules annotate every export, so declarations need no type
 * checking); specifiers are kept (`unetc/runtime`, `./model.js`).
 */
/** model.ts -> model.js (and, with `declarations`, model.d.ts); other files are kept as they are. */
export async function toJavaScript(files: ReadonlyMap<string, string>, o: { declarations?: boolean } = {}): Promise<Map<string, string>> {
  // TypeScript (through ts-morph, a dependency) is loaded only here: it takes most of a second.
  const { ts } = await import('ts-morph');
  const OPTIONS = {
    module: ts.ModuleKind.ESNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    // Older run folders import each other as './model.ts'.
    rewriteRelativeImportExtensions: true,
  };
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
      if (d.diagnostics?.length)
        throw new Error(`${name}: cannot write its declarations: ${ts.flattenDiagnosticMessageText(d.diagnostics[0]!.messageText, ' ')}`);
      out.set(`${base}.d.ts`, d.outputText);
    }
  }
  return out;
}
