/**
 * The .unet language server: wires the LSP requests to the modules that answer them (documents and
 * diagnostics, hover, completion, definition, symbols, formatting). Every handler is guarded: an
 * exception is logged to the connection and answered with an empty result, never a crash.
 *
 * Diagnostics are published when a spec opens and, debounced, after it changes; a change also
 * re-checks the other open specs, which may extend it.
 */
import { TextDocumentSyncKind, type Connection, type Diagnostic as LspDiagnostic, type InitializeResult } from 'vscode-languageserver';
import { completion } from './completion.ts';
import { definition } from './definition.ts';
import { lspDiagnostics, SpecDocuments } from './documents.ts';
import { formatting } from './formatting.ts';
import { hover } from './hover.ts';
import { documentSymbols } from './symbols.ts';

export interface ServerOptions {
  /** Delay between the last change and the check, in ms (default 150). */
  debounceMs?: number;
}

export function startServer(connection: Connection, opts: ServerOptions = {}): SpecDocuments {
  const docs = new SpecDocuments();
  let debounceMs = opts.debounceMs ?? 150;
  const timers = new Map<string, NodeJS.Timeout>();
  /** Diagnostics found in a base spec that is not open, by base URI, then by the child that found them. */
  const fromChildren = new Map<string, Map<string, LspDiagnostic[]>>();

  const log = (what: string, e: unknown) =>
    connection.console.error(`unetc lsp: ${what} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);

  function guard<A extends unknown[], R>(what: string, fallback: R, fn: (...args: A) => R): (...args: A) => R {
    return (...args: A) => {
      try {
        return fn(...args);
      } catch (e) {
        log(what, e);
        return fallback;
      }
    };
  }

  const publishBase = (baseUri: string) => {
    if (docs.isOpen(baseUri)) return;
    const all = [...(fromChildren.get(baseUri)?.values() ?? [])].flat();
    void connection.sendDiagnostics({ uri: baseUri, diagnostics: all });
  };

  const validate = guard('diagnostics', undefined, (uri: string) => {
    timers.delete(uri);
    const doc = docs.get(uri);
    const a = docs.analyse(uri);
    if (!doc || !a) return;
    const { own, bases } = lspDiagnostics(uri, a, docs);
    void connection.sendDiagnostics({ uri, version: doc.version, diagnostics: own });
    // Replace what this child said about its bases.
    for (const [baseUri, byChild] of fromChildren) {
      if (byChild.delete(uri) && !bases.has(baseUri)) publishBase(baseUri);
    }
    for (const [baseUri, list] of bases) {
      if (!fromChildren.has(baseUri)) fromChildren.set(baseUri, new Map());
      fromChildren.get(baseUri)!.set(uri, list);
      publishBase(baseUri);
    }
  });

  const schedule = (uri: string, delay: number) => {
    clearTimeout(timers.get(uri));
    timers.set(
      uri,
      setTimeout(() => validate(uri), delay),
    );
  };

  connection.onInitialize((params): InitializeResult => {
    const o = params.initializationOptions as { debounceMs?: unknown } | undefined;
    if (typeof o?.debounceMs === 'number' && o.debounceMs >= 0) debounceMs = o.debounceMs;
    return {
      capabilities: {
        textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental },
        hoverProvider: true,
        completionProvider: { triggerCharacters: [':', '(', ',', '[', ' '] },
        definitionProvider: true,
        documentSymbolProvider: true,
        documentFormattingProvider: true,
      },
      serverInfo: { name: 'unetc', version: '0.1.0' },
    };
  });

  connection.onDidOpenTextDocument(
    guard('didOpen', undefined, (p) => {
      docs.open(p.textDocument.uri, p.textDocument.text, p.textDocument.version);
      docs.invalidateOthers(p.textDocument.uri);
      validate(p.textDocument.uri);
      for (const u of docs.uris()) if (u !== p.textDocument.uri) schedule(u, debounceMs);
    }),
  );
  connection.onDidChangeTextDocument(
    guard('didChange', undefined, (p) => {
      docs.change(p.textDocument.uri, p.contentChanges, p.textDocument.version);
      docs.invalidateOthers(p.textDocument.uri);
      for (const u of docs.uris()) schedule(u, debounceMs);
    }),
  );
  connection.onDidCloseTextDocument(
    guard('didClose', undefined, (p) => {
      const uri = p.textDocument.uri;
      clearTimeout(timers.get(uri));
      timers.delete(uri);
      docs.close(uri);
      docs.invalidateOthers(uri);
      void connection.sendDiagnostics({ uri, diagnostics: [] });
      for (const [baseUri, byChild] of fromChildren) if (byChild.delete(uri)) publishBase(baseUri);
      for (const u of docs.uris()) schedule(u, debounceMs);
    }),
  );

  // A spec changed on disk (the client watches **/*.unet): open specs may extend it.
  connection.onDidChangeWatchedFiles(
    guard('didChangeWatchedFiles', undefined, () => {
      docs.invalidateAll();
      for (const u of docs.uris()) schedule(u, debounceMs);
    }),
  );

  const offsetOf = (uri: string, pos: { line: number; character: number }) => docs.get(uri)?.offsetAt(pos);

  connection.onHover(
    guard('hover', null, (p) => {
      const a = docs.analyse(p.textDocument.uri);
      const off = offsetOf(p.textDocument.uri, p.position);
      return a && off !== undefined ? hover(p.textDocument.uri, a, docs, off) : null;
    }),
  );
  connection.onCompletion(
    guard('completion', [], (p) => {
      const a = docs.analyse(p.textDocument.uri);
      const off = offsetOf(p.textDocument.uri, p.position);
      return a && off !== undefined ? completion(p.textDocument.uri, a, docs, off) : [];
    }),
  );
  connection.onDefinition(
    guard('definition', null, (p) => {
      const a = docs.analyse(p.textDocument.uri);
      const off = offsetOf(p.textDocument.uri, p.position);
      return a && off !== undefined ? definition(p.textDocument.uri, a, docs, off) : null;
    }),
  );
  connection.onDocumentSymbol(
    guard('documentSymbol', [], (p) => {
      const doc = docs.get(p.textDocument.uri);
      const a = docs.analyse(p.textDocument.uri);
      return doc && a ? documentSymbols(doc, a.ast ?? a.lastAst) : [];
    }),
  );
  connection.onDocumentFormatting(
    guard('formatting', [], (p) => {
      const doc = docs.get(p.textDocument.uri);
      return doc ? formatting(doc) : [];
    }),
  );
  connection.onShutdown(() => {
    for (const t of timers.values()) clearTimeout(t);
    timers.clear();
  });
  connection.listen();
  return docs;
}
