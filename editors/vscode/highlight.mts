/**
 * The TextMate grammar through VS Code's own engine (vscode-textmate + vscode-oniguruma), for tests
 * and for the README's screenshot: `node bin/run-ts.mjs editors/vscode/highlight.mts SPEC OUT.html`
 * writes the spec as HTML coloured by its scopes (a light theme like VS Code's Light+); headless
 * Chromium turns that page into editors/vscode/images/highlighting.png.
 */
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
// Both are CommonJS packages: Node's ESM sees only their default export.
import oniguruma from 'vscode-oniguruma';
import vsctm, { type IGrammar } from 'vscode-textmate';

const { INITIAL, parseRawGrammar, Registry } = vsctm;

export const GRAMMAR_PATH = join(dirname(fileURLToPath(import.meta.url)), 'syntaxes', 'unet.tmLanguage.json');

export interface ScopedToken {
  line: number;
  text: string;
  start: number;
  scopes: string[];
}

let loaded: Promise<IGrammar> | undefined;

export function loadGrammar(): Promise<IGrammar> {
  loaded ??= (async () => {
    const wasm = readFileSync(createRequire(import.meta.url).resolve('vscode-oniguruma/release/onig.wasm'));
    await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) as ArrayBuffer);
    const registry = new Registry({
      onigLib: Promise.resolve({ createOnigScanner: (p: string[]) => new oniguruma.OnigScanner(p), createOnigString: (s: string) => new oniguruma.OnigString(s) }),
      loadGrammar: async (scope) => (scope === 'source.unet' ? parseRawGrammar(readFileSync(GRAMMAR_PATH, 'utf8'), GRAMMAR_PATH) : null),
    });
    const g = await registry.loadGrammar('source.unet');
    if (!g) throw new Error('the source.unet grammar did not load');
    return g;
  })();
  return loaded;
}

export function tokenize(g: IGrammar, text: string): ScopedToken[] {
  const out: ScopedToken[] = [];
  let stack = INITIAL;
  text.split('\n').forEach((line, i) => {
    const r = g.tokenizeLine(line, stack);
    for (const t of r.tokens) out.push({ line: i, text: line.slice(t.startIndex, t.endIndex), start: t.startIndex, scopes: t.scopes });
    stack = r.ruleStack;
  });
  return out;
}

/** Scope prefix -> CSS, most specific first (colours of VS Code's Light+ theme). */
const THEME: [string, string][] = [
  ['comment', 'color:#008000'],
  ['entity.name.tag.selector', 'color:#800000'],
  ['constant.character.escape', 'color:#ee0000'],
  ['string', 'color:#a31515'],
  ['constant.numeric', 'color:#098658'],
  ['constant.language', 'color:#0000ff'],
  ['keyword.other', 'color:#0000ff'],
  ['storage.type', 'color:#0000ff'],
  ['entity.name.type', 'color:#267f99'],
  ['entity.name.section', 'color:#795e26;font-weight:bold'],
  ['entity.name.function', 'color:#795e26'],
  ['support.function', 'color:#795e26'],
  ['variable.parameter', 'color:#001080;font-style:italic'],
  ['variable.other.property', 'color:#001080'],
  ['support.constant', 'color:#0070c1'],
  ['variable.other.constant', 'color:#0070c1'],
  ['variable.language', 'color:#af00db'],
  ['variable.other', 'color:#0070c1'],
  ['keyword.operator', 'color:#000000'],
  ['invalid', 'color:#cd3131;text-decoration:underline wavy'],
];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function styleOf(scopes: string[]): string | undefined {
  for (const [prefix, css] of THEME) if (scopes.some((s) => s === prefix || s.startsWith(prefix + '.'))) return css;
  return undefined;
}

export async function highlightHtml(text: string, title: string): Promise<string> {
  const g = await loadGrammar();
  const lines: string[][] = text.split('\n').map(() => []);
  for (const t of tokenize(g, text)) {
    const css = styleOf(t.scopes);
    lines[t.line].push(css ? `<span style="${css}">${esc(t.text)}</span>` : esc(t.text));
  }
  const body = lines.map((l, i) => `<span class="ln">${i + 1}</span>${l.join('')}`).join('\n');
  return `<!DOCTYPE html>
<meta charset="utf-8">
<title>${esc(title)}</title>
<style>
body { margin: 0; background: #ffffff; }
.bar { font: 13px sans-serif; background: #f3f3f3; border-bottom: 1px solid #ddd; padding: 6px 12px; color: #333; }
pre { margin: 0; padding: 10px 16px; font: 14px/1.45 "DejaVu Sans Mono", monospace; color: #000; }
.ln { display: inline-block; width: 2.5em; color: #999; text-align: right; margin-right: 1.2em; user-select: none; }
</style>
<div class="bar">${esc(title)} (source.unet, highlighted by vscode-textmate with the extension's grammar)</div>
<pre>${body}</pre>
`;
}

function isMain(): boolean {
  try {
    return realpathSync(resolve(process.argv[1] ?? '')) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  const [spec, out] = process.argv.slice(2);
  if (!spec || !out) {
    process.stderr.write('usage: node bin/run-ts.mjs editors/vscode/highlight.mts SPEC.unet OUT.html\n');
    process.exitCode = 2;
  } else {
    writeFileSync(out, await highlightHtml(readFileSync(spec, 'utf8'), spec.split('/').pop()!));
    process.stdout.write(`wrote ${out}\n`);
  }
}
