/**
 * Generates grammar/diagrams.html: railroad (syntax) diagrams of every rule of the .unet parser,
 * then of every section, option, call kind and argument the checker accepts, with the option
 * tables (type, range, default, meaning), all from the same sources the compiler uses: the
 * parser's serialized grammar (grammar/parser.ts) and the schema (src/check/schema.ts).
 *
 *   npm run diagrams        (node bin/run-ts.mjs grammar/generate-diagrams.ts)
 *
 * The page is self-contained: chevrotain's diagram renderer (its scripts and stylesheet, and the
 * railroad-diagrams library it ships) is inlined, so the file renders offline from anywhere (an
 * installed package, a copy on another machine); it references no other file and no network.
 *
 * Importing this module only computes the HTML (test/diagrams.test.ts compares it with the
 * committed file); the file is written only when this script is run directly.
 */
import { createRequire } from 'node:module';
import { existsSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { conditioningKindDocs, conditioningKinds, modelSchema, type CallSchema, type SectionSpec, type Ty } from '../src/check/schema.ts';
import { describeTy, kindDocs } from '../src/lsp/schemaInfo.ts';
import { parserInstance } from './parser.ts';

const GRAMMAR_DIR = dirname(fileURLToPath(import.meta.url));

/** Where the page is written. */
export const DIAGRAMS_PATH = join(GRAMMAR_DIR, 'diagrams.html');

/** chevrotain's diagram resources, in the order the page needs them (inlined). */
export const RESOURCE_FILES = ['vendor/railroad-diagrams.js', 'src/diagrams_builder.js', 'src/diagrams_behavior.js', 'src/main.js'];
const CSS_FILE = 'diagrams.css';

const TITLE = 'unetc: syntax diagrams of the .unet language';

/** The folder of chevrotain's diagram resources, wherever npm put the package. */
export function resourceDir(): string {
  // The package's entry point is lib/src/api.js; walk up to the folder with its package.json.
  let dir = dirname(createRequire(import.meta.url).resolve('chevrotain'));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return join(dir, 'diagrams');
}

function resource(f: string): string {
  const p = join(resourceDir(), f);
  if (!existsSync(p)) throw new Error(`generate-diagrams: chevrotain's diagram resource ${p} is missing; run npm install`);
  return readFileSync(p, 'utf8');
}

/** Every `src`/`href` attribute value of the page. */
export function referencedUrls(html: string): string[] {
  return [...html.matchAll(/<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*(?:'([^']*)'|"([^"]*)"|([^\s>]+))/gi)].map(
    (m) => m[1] ?? m[2] ?? m[3],
  );
}

// ---- the schema as serialized chevrotain productions (the format diagrams_builder.js draws) ----

type Gast =
  | { type: 'Rule'; name: string; orgText: ''; definition: Gast[] }
  | { type: 'Terminal'; name: string; label: string; idx: 0; pattern?: string }
  | { type: 'NonTerminal'; name: string; idx: 0 }
  | { type: 'Alternative'; definition: Gast[] }
  | { type: 'Alternation' | 'Option' | 'Repetition'; idx: 0; definition: Gast[] };

const term = (label: string): Gast => ({ type: 'Terminal', name: label, label, idx: 0 });
const ref = (name: string): Gast => ({ type: 'NonTerminal', name, idx: 0 });
const seq = (...definition: Gast[]): Gast => ({ type: 'Alternative', definition });
const choice = (alts: Gast[][]): Gast => ({ type: 'Alternation', idx: 0, definition: alts.map((a) => seq(...a)) });
/**
 * `{ x [","] }`: a comma-separated run. (chevrotain's RepetitionWithSeparator draws x twice, which
 * doubles the drawing's size at every nesting level; this draws it once.)
 */
const sepBy = (sep: string, ...definition: Gast[]): Gast => ({
  type: 'Repetition',
  idx: 0,
  definition: [...definition, { type: 'Option', idx: 0, definition: [term(sep)] }],
});

export const CONDITIONING_RULE = 'conditioning kind';

/** A railroad picture of a value of type `ty`; call types become rules of their own, named `name`. */
function valueDiagram(ty: Ty, name: string, rules: Gast[]): Gast {
  switch (ty.t) {
    case 'enum':
      // Long enumerations (qkv, proj, conv0 ... conv15) as one box: railroad's layout of a wide
      // choice nested in repetitions takes far too long.
      return ty.values.length > 6
        ? term(`one of ${ty.values.slice(0, 3).join(', ')} ... ${ty.values[ty.values.length - 1]}`)
        : choice(ty.values.map((v) => [term(v)]));
    case 'list':
      return seq(term('['), sepBy(',', valueDiagram(ty.of, name, rules)), term(']'));
    case 'union':
      return choice(ty.of.map((t) => [valueDiagram(t, name, rules)]));
    case 'call': {
      if (ty.kinds === conditioningKinds) {
        const one = ref(CONDITIONING_RULE);
        return ty.list ? choice([[one], [term('['), sepBy(',', one), term(']')]]) : one;
      }
      if (!rules.some((r) => r.type === 'Rule' && r.name === name)) rules.push(callRule(name, ty.kinds, rules));
      return ref(name);
    }
    default:
      return term(describeTy(ty).replace(/`/g, ''));
  }
}

/** The rule of a call-typed option; with `ruleEach`, each kind with arguments is a rule of its own. */
function callRule(name: string, kinds: Record<string, CallSchema>, rules: Gast[], ruleEach = false): Gast {
  const alts = Object.entries(kinds).map(([k, args]) => {
    const names = Object.entries(args);
    if (names.length === 0) return [term(k)];
    const arg = choice(names.map(([a, s]) => [term(a), term(':'), valueDiagram(s.ty, `${name}.${k}.${a}`, rules)]));
    const body = [term(k), { type: 'Option', idx: 0, definition: [term('('), sepBy(',', arg), term(')')] } as Gast];
    if (!ruleEach) return body;
    rules.push({ type: 'Rule', name: k, orgText: '', definition: body });
    return [ref(k)];
  });
  return { type: 'Rule', name, orgText: '', definition: [choice(alts)] };
}

/** One rule per section, one per call-typed option, and the conditioning kinds. */
export function schemaProductions(): Gast[] {
  const rules: Gast[] = [];
  const section = (path: string[], s: SectionSpec): void => {
    const name = path.length ? path.join('.') : 'model sections';
    // The section's rule comes before the rules of its call-typed options.
    const at = rules.length;
    const alts: Gast[][] = [];
    for (const [k, f] of Object.entries(s.fields)) alts.push([term(k), term(':'), valueDiagram(f.ty, [...path, k].join('.'), rules)]);
    if (s.selectors) alts.push([term('"path selector"'), term(':'), valueDiagram(s.selectors, `${name} selector`, rules)]);
    for (const k of Object.keys(s.sections ?? {})) alts.push([ref([...path, k].join('.'))]);
    alts.push([ref('letDecl')]);
    const head = path.length
      ? [term(path[path.length - 1]), term('{')]
      : [term('model'), term('Identifier'), { type: 'Option', idx: 0, definition: [term('extends'), term('String')] } as Gast, term('{')];
    rules.splice(at, 0, {
      type: 'Rule',
      name,
      orgText: '',
      definition: [...head, { type: 'Repetition', idx: 0, definition: [choice(alts)] }, term('}')],
    });
    for (const [k, sub] of Object.entries(s.sections ?? {})) section([...path, k], sub);
  };
  section([], modelSchema);
  const kindRules: Gast[] = [];
  rules.push(callRule(CONDITIONING_RULE, conditioningKinds, kindRules, true), ...kindRules);
  return rules;
}

// ---- the option tables ----

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const code = (s: string) => `<code>${esc(s)}</code>`;
/** Backtick spans of the schema's docs as code. */
const md = (s: string) => esc(s).replace(/`([^`]+)`/g, '<code>$1</code>');

function dflt(s: { required?: boolean; default?: string }): string {
  return s.required ? 'required' : s.default !== undefined ? code(s.default) : 'unset';
}

function callTables(name: string, ty: Ty, out: string[]): void {
  if (ty.t === 'list') return callTables(name, ty.of, out);
  if (ty.t === 'union') return ty.of.forEach((t) => callTables(name, t, out));
  if (ty.t !== 'call' || ty.kinds === conditioningKinds) return;
  const kinds = ty.kinds;
  const docs = kindDocs(ty);
  const rows: string[] = [];
  for (const [k, args] of Object.entries(kinds)) {
    const entries = Object.entries(args);
    if (entries.length === 0) rows.push(`<tr><td>${code(k)}</td><td></td><td></td><td></td><td>${md(docs[k] ?? '')}</td></tr>`);
    entries.forEach(([a, s], i) =>
      rows.push(
        `<tr><td>${i === 0 ? code(k) : ''}</td><td>${code(a)}</td><td>${md(describeTy(s.ty))}</td><td>${dflt(s)}</td><td>${md([i === 0 ? docs[k] : undefined, s.doc].filter(Boolean).join(': '))}</td></tr>`,
      ),
    );
  }
  out.push(
    `<h4>${code(name)} kinds</h4>`,
    '<table><tr><th>kind</th><th>argument</th><th>type</th><th>default</th><th>meaning</th></tr>',
    ...rows,
    '</table>',
  );
}

export function schemaTables(): string {
  const out: string[] = [];
  const section = (path: string[], s: SectionSpec): void => {
    if (path.length) {
      out.push(`<h3 id="section-${esc(path.join('.'))}">${code(path.join('.'))}</h3>`, `<p>${md(s.doc)}</p>`);
      out.push('<table><tr><th>option</th><th>type</th><th>default</th><th>meaning</th></tr>');
      for (const [k, f] of Object.entries(s.fields))
        out.push(`<tr><td>${code(k)}</td><td>${md(describeTy(f.ty))}</td><td>${dflt(f)}</td><td>${md(f.doc ?? '')}</td></tr>`);
      if (s.selectors)
        out.push(
          `<tr><td>${code('"PATTERN"')}</td><td>${md(describeTy(s.selectors))}</td><td></td><td>conditioning of the blocks whose path matches</td></tr>`,
        );
      out.push('</table>');
      for (const [k, f] of Object.entries(s.fields)) callTables(`${path.join('.')}.${k}`, f.ty, out);
    }
    for (const [k, sub] of Object.entries(s.sections ?? {})) section([...path, k], sub);
  };
  section([], modelSchema);
  const docs = conditioningKindDocs;
  out.push(
    `<h3 id="conditioning-kinds">Conditioning kinds</h3>`,
    '<table><tr><th>kind</th><th>argument</th><th>type</th><th>default</th><th>meaning</th></tr>',
  );
  for (const [k, args] of Object.entries(conditioningKinds)) {
    const entries = Object.entries(args);
    if (entries.length === 0) out.push(`<tr><td>${code(k)}</td><td></td><td></td><td></td><td>${md(docs[k] ?? '')}</td></tr>`);
    entries.forEach(([a, s], i) =>
      out.push(
        `<tr><td>${i === 0 ? code(k) : ''}</td><td>${code(a)}</td><td>${md(describeTy(s.ty))}</td><td>${dflt(s)}</td><td>${md([i === 0 ? docs[k] : undefined, s.doc].filter(Boolean).join(': '))}</td></tr>`,
      ),
    );
  }
  out.push('</table>');
  return out.join('\n');
}

/** A script body safe inside <script>: no `</script` can end it early. */
const inlineScript = (js: string) => js.replace(/<\/(script)/gi, '<\\/$1');

/** The HTML of the diagrams page (deterministic: the same parser and schema always give the same text). */
export function generateDiagramsHtml(): string {
  const grammar = parserInstance.getSerializedGastProductions();
  const schema = schemaProductions();
  const scripts = RESOURCE_FILES.map(
    (f) =>
      `<script>\n/* inlined from chevrotain/diagrams/${f} (chevrotain ${chevrotainVersion()}) */\n${inlineScript(resource(f))}\n</script>`,
  );
  const json = (x: unknown) => inlineScript(JSON.stringify(x, null, 1));
  const html = `<!DOCTYPE html>
<html lang="en">
<meta charset="utf-8">
<title>${TITLE}</title>
<!-- Generated from grammar/parser.ts and src/check/schema.ts by grammar/generate-diagrams.ts (npm run diagrams); do not edit. -->
<!-- Self-contained: chevrotain's diagram renderer and stylesheet are inlined below. -->
<style>
body { background-color: hsl(30, 20%, 95%); font-family: sans-serif; margin: 1em 2em; }
h1 { margin-top: 1.5em; }
nav a { margin-right: 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #bbb; padding: 2px 6px; text-align: left; vertical-align: top; }
th { background: #e8e2da; }
code { font-family: monospace; }
${resource(CSS_FILE)}
</style>
${scripts.join('\n')}
<h1>${TITLE}</h1>
<nav><a href="#grammar">Grammar</a><a href="#sections">Sections and options</a><a href="#tables">Option tables</a></nav>
<p>The language reference is grammar/README.md. Click a rule name to highlight its uses; click a box that names another rule to jump to it.</p>
<h1 id="grammar">The grammar (grammar/parser.ts)</h1>
<div id="diagrams" align="center"></div>
<h1 id="sections">Sections and options (src/check/schema.ts)</h1>
<p>What the checker accepts inside a model: each section with its options and subsections, each call-typed option with its kinds and their arguments. A member may also be a <code>letDecl</code>; a value may be any expression of the right type (a constant, arithmetic).</p>
<div id="schema-diagrams" align="center"></div>
<h1 id="tables">Option tables</h1>
${schemaTables()}
<script>
window.serializedGrammar = ${json(grammar)};
window.schemaGrammar = ${json(schema)};
</script>
<script>
document.getElementById("diagrams").innerHTML = diagrams_builder.buildSyntaxDiagramsText(serializedGrammar);
document.getElementById("schema-diagrams").innerHTML = diagrams_builder.buildSyntaxDiagramsText(schemaGrammar);
diagrams_behavior.initDiagramsBehavior();
</script>
</html>
`;
  const external = referencedUrls(html);
  if (external.length > 0)
    throw new Error(`generate-diagrams: the page references files (${external.join(', ')}); it must be self-contained`);
  return html;
}

function chevrotainVersion(): string {
  return (JSON.parse(readFileSync(join(resourceDir(), '..', 'package.json'), 'utf8')) as { version: string }).version;
}

/** Writes the page atomically (temporary file, then rename); returns whether it changed. */
export function writeDiagrams(path = DIAGRAMS_PATH): boolean {
  const html = generateDiagramsHtml();
  if (existsSync(path) && readFileSync(path, 'utf8') === html) return false;
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, html, 'utf8');
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  return true;
}

function isMain(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  const self = fileURLToPath(import.meta.url);
  try {
    return realpathSync(resolve(script)) === realpathSync(self);
  } catch {
    return resolve(script) === self;
  }
}

if (isMain()) {
  try {
    const changed = writeDiagrams();
    process.stdout.write(`${changed ? 'wrote' : 'up to date:'} ${DIAGRAMS_PATH}\n`);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}
