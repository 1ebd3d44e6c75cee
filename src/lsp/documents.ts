/**
 * The open specs and what the server knows about each: tokens, the last AST that parsed, and the
 * checker's result (checkSpec over the open texts, so an edited base spec is seen by its children
 * before it is saved). Diagnostics map to LSP ranges here, including those found in a base spec:
 * shown on the child's `extends` line, with the base location as related information, and in the
 * base file itself when the base is not open.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { DiagnosticSeverity, type Diagnostic as LspDiagnostic, type Range } from 'vscode-languageserver';
import { checkSpec, type CheckResult } from '../pipeline.ts';
import type { SourceHost } from '../check/load.ts';
import type { Diagnostic } from '../diagnostics/diagnostic.ts';
import type { Span } from '../diagnostics/span.ts';
import type { SpecFile } from '../syntax/ast.ts';
import { parseSpec } from '../syntax/parse.ts';
import { lexTokens, type Tok } from './context.ts';

/** A file path for a document URI (`file:` URIs; anything else is used as it is). */
export function uriToPath(uri: string): string {
  if (uri.startsWith('file:')) {
    try {
      return fileURLToPath(uri);
    } catch {
      return uri;
    }
  }
  return uri;
}

export function pathToUri(path: string): string {
  return path.includes(':') && !path.startsWith('/') && !/^[A-Za-z]:[\\/]/.test(path) ? path : pathToFileURL(resolve(path)).href;
}

export function rangeOf(doc: TextDocument, span: { offset: number; length: number }): Range {
  const start = Math.max(0, Math.min(span.offset, doc.getText().length));
  return { start: doc.positionAt(start), end: doc.positionAt(start + Math.max(0, span.length)) };
}

export interface Analysis {
  version: number;
  tokens: Tok[];
  comments: Tok[];
  /** The AST of this version, when it parses. */
  ast?: SpecFile;
  /** The last AST that parsed (this version's or an earlier one). */
  lastAst?: SpecFile;
  check: CheckResult;
  /** Block paths of the last check that reached the IR (for path selectors while the spec is broken). */
  lastBlocks?: { path: string; attention: boolean }[];
}

export class SpecDocuments {
  private readonly docs = new Map<string, TextDocument>();
  private readonly analyses = new Map<string, Analysis>();
  /** Analyses to recompute (a spec they may extend changed), kept for their last good AST and blocks. */
  private readonly stale = new Set<string>();

  open(uri: string, text: string, version: number): void {
    this.docs.set(uri, TextDocument.create(uri, 'unet', version, text));
  }

  change(uri: string, changes: { text: string; range?: Range }[], version: number): void {
    const doc = this.docs.get(uri);
    if (!doc) return;
    this.docs.set(uri, TextDocument.update(doc, changes as Parameters<typeof TextDocument.update>[1], version));
  }

  close(uri: string): void {
    this.docs.delete(uri);
    this.analyses.delete(uri);
    this.stale.delete(uri);
  }

  get(uri: string): TextDocument | undefined {
    return this.docs.get(uri);
  }

  uris(): string[] {
    return [...this.docs.keys()];
  }

  isOpen(uri: string): boolean {
    return this.docs.has(uri);
  }

  /** Reads open documents from memory, everything else from disk. */
  readonly host: SourceHost = {
    read: (path) => {
      const doc = this.docs.get(pathToUri(path));
      if (doc) return doc.getText();
      try {
        return readFileSync(path, 'utf8');
      } catch {
        return undefined;
      }
    },
  };

  /** The analysis of the document's current version (computed on demand, then cached). */
  analyse(uri: string): Analysis | undefined {
    const doc = this.docs.get(uri);
    if (!doc) return undefined;
    const prev = this.analyses.get(uri);
    if (prev && prev.version === doc.version && !this.stale.has(uri)) return prev;
    this.stale.delete(uri);
    const text = doc.getText();
    const { tokens, comments } = lexTokens(text);
    const ast = parseSpec(text, uriToPath(uri)).ast;
    const check = checkSpec(uriToPath(uri), { text, host: this.host });
    const blocks = check.ir?.blocks.map((b) => ({ path: b.path, attention: b.attention }));
    const a: Analysis = {
      version: doc.version,
      tokens,
      comments,
      ast,
      lastAst: ast ?? prev?.lastAst,
      check,
      lastBlocks: blocks ?? prev?.lastBlocks,
    };
    this.analyses.set(uri, a);
    return a;
  }

  /** Drops every cached analysis (a file changed on disk). */
  invalidateAll(): void {
    for (const u of this.analyses.keys()) this.stale.add(u);
  }

  /** Drops cached analyses of other documents, which may extend the one that changed. */
  invalidateOthers(uri: string): void {
    for (const u of this.analyses.keys()) if (u !== uri) this.stale.add(u);
  }
}

function severity(d: Diagnostic): DiagnosticSeverity {
  return d.severity === 'warning' ? DiagnosticSeverity.Warning : DiagnosticSeverity.Error;
}

/** A TextDocument for a file the checker read (the open one, or its text as read). */
function docFor(file: string, check: CheckResult, docs: SpecDocuments): TextDocument | undefined {
  const uri = pathToUri(file);
  const open = docs.get(uri);
  if (open) return open;
  const text = check.sources.get(file);
  return text === undefined ? undefined : TextDocument.create(uri, 'unet', 0, text);
}

/** LSP diagnostics of one document, and those it found in base specs (by the base's URI). */
export function lspDiagnostics(
  uri: string,
  a: Analysis,
  docs: SpecDocuments,
): { own: LspDiagnostic[]; bases: Map<string, LspDiagnostic[]> } {
  const doc = docs.get(uri)!;
  const self = uriToPath(uri);
  const own: LspDiagnostic[] = [];
  const bases = new Map<string, LspDiagnostic[]>();
  const extendsSpan = a.ast?.model.extends?.span;
  for (const d of a.check.diagnostics) {
    const base: LspDiagnostic = { range: rangeOf(doc, d.span), severity: severity(d), code: d.code, source: 'unetc', message: d.message };
    if (resolve(d.span.file) === resolve(self)) {
      own.push(base);
      continue;
    }
    const other = docFor(d.span.file, a.check, docs);
    if (!other) {
      own.push({ ...base, range: extendsSpan ? rangeOf(doc, extendsSpan) : rangeOf(doc, { offset: 0, length: 0 }) });
      continue;
    }
    const where = { uri: other.uri, range: rangeOf(other, d.span) };
    const at = where.range.start;
    own.push({
      ...base,
      range: extendsSpan ? rangeOf(doc, extendsSpan) : rangeOf(doc, { offset: 0, length: 0 }),
      message: `in the extended spec ${relName(self, d.span.file)}:${at.line + 1}:${at.character + 1}: ${d.message}`,
      relatedInformation: [{ location: where, message: d.message }],
    });
    const list = bases.get(other.uri) ?? [];
    list.push({
      ...base,
      range: where.range,
      relatedInformation: [
        {
          location: { uri, range: extendsSpan ? rangeOf(doc, extendsSpan) : rangeOf(doc, { offset: 0, length: 0 }) },
          message: `reported when checking ${basename(self)}`,
        },
      ],
    });
    bases.set(other.uri, list);
  }
  return { own, bases };
}

function relName(fromFile: string, file: string): string {
  const dir = dirname(resolve(fromFile));
  const abs = resolve(file);
  return abs.startsWith(dir + '/') ? abs.slice(dir.length + 1) : abs;
}

export type { Span };
