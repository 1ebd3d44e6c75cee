/**
 * Generates grammar/diagrams.html: railroad (syntax) diagrams of every rule of the .unet parser,
 * drawn by chevrotain's diagram renderer from the parser's serialized grammar.
 *
 *   npm run diagrams        (node bin/run-ts.mjs grammar/generate-diagrams.ts)
 *
 * The page works offline: its scripts and stylesheet are loaded from the locally installed
 * chevrotain package (node_modules/chevrotain/diagrams/, which ships its own copy of
 * railroad-diagrams.js), never from a CDN. Open it from a checkout where `npm install` has run.
 *
 * Importing this module only computes the HTML (test/diagrams.test.ts compares it with the
 * committed file); the file is written only when this script is run directly.
 */
import { createSyntaxDiagramsCode } from 'chevrotain';
import { existsSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parserInstance } from './parser.ts';

const GRAMMAR_DIR = dirname(fileURLToPath(import.meta.url));

/** Where the page is written. */
export const DIAGRAMS_PATH = join(GRAMMAR_DIR, 'diagrams.html');

/**
 * chevrotain's diagram resources, relative to grammar/ (the page's own folder), with `/`
 * separators on every platform so the generated file is the same everywhere.
 */
export const RESOURCE_BASE = '../node_modules/chevrotain/diagrams/';
export const CSS_PATH = `${RESOURCE_BASE}diagrams.css`;

/** The files chevrotain's page template loads from RESOURCE_BASE. */
export const RESOURCE_FILES = ['vendor/railroad-diagrams.js', 'src/diagrams_builder.js', 'src/diagrams_behavior.js', 'src/main.js', 'diagrams.css'];

const TITLE = 'unetc: syntax diagrams of the .unet grammar';

/** Fails clearly when the local chevrotain copy lacks a file the page needs. */
function checkResources(): void {
  const missing = RESOURCE_FILES.filter((f) => !existsSync(resolve(GRAMMAR_DIR, RESOURCE_BASE, f)));
  if (missing.length > 0) {
    throw new Error(
      `generate-diagrams: the local chevrotain diagram resources are missing (${missing.map((f) => RESOURCE_BASE + f).join(', ')}, relative to grammar/); ` +
        'run npm install. The page is meant to work offline, so no CDN is used instead.',
    );
  }
}

/** Every `src`/`href` attribute value of the page. */
export function referencedUrls(html: string): string[] {
  return [...html.matchAll(/\b(?:src|href)\s*=\s*(?:'([^']*)'|"([^"]*)")/gi)].map((m) => m[1] ?? m[2]);
}

/** The HTML of the diagrams page (deterministic: the same parser always gives the same text). */
export function generateDiagramsHtml(): string {
  checkResources();
  const grammar = parserInstance.getSerializedGastProductions();
  let html = createSyntaxDiagramsCode(grammar, { resourceBase: RESOURCE_BASE, css: CSS_PATH });
  const remote = referencedUrls(html).filter((u) => /^\s*(?:[a-z][a-z0-9+.-]*:|\/\/)/i.test(u));
  if (remote.length > 0) {
    throw new Error(`generate-diagrams: chevrotain's page template references remote resources (${remote.join(', ')}); the page must work offline`);
  }
  const charset = '<meta charset="utf-8">';
  if (html.includes(charset)) {
    html = html.replace(
      charset,
      `${charset}\n<title>${TITLE}</title>\n<!-- Generated from grammar/parser.ts by grammar/generate-diagrams.ts (npm run diagrams); do not edit. -->`,
    );
  }
  return html.endsWith('\n') ? html : html + '\n';
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
