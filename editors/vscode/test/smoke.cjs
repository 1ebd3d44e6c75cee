// Smoke test of the bundled client (dist/extension.js) outside VS Code: a stand-in `vscode`
// module (every API a do-nothing proxy; the classes the client extends; a workspace folder), then
// activate(): the client must spawn `unetc lsp --stdio`, get the server's initialize answer, and
// stop. Usage: node test/smoke.cjs WORKSPACE_DIR EXTENSION_DIR (npm run build first).
// Prints "spawn: ...", "server answered initialize with capabilities", "activate resolved ...".
const Module = require('node:module');
const cp = require('node:child_process');
const origSpawn = cp.spawn;
cp.spawn = function (cmd, args, opts) { console.log('spawn:', cmd, JSON.stringify(args)); const p = origSpawn.call(this, cmd, args, opts); p.stdout.on('data', (d) => { if (String(d).includes('"capabilities"')) console.log('server answered initialize with capabilities'); }); return p; };
const path = require('node:path');
function anything(name) {
  const f = function () { return anything(name + '()'); };
  return new Proxy(f, {
    get(t, p) {
      if (p === Symbol.iterator) return function* () {};
      if (p === 'then') return undefined;
      if (p === Symbol.toPrimitive) return () => name;
      if (p === 'toString') return () => name;
      if (p === 'length') return 0;
      if (p === 'dispose') return () => {};
      return anything(name + '.' + String(p));
    },
    apply() { return anything(name + '()'); },
    construct() { return anything('new ' + name); },
  });
}
const NAMES = ['CallHierarchyIncomingCall', 'CallHierarchyItem', 'CallHierarchyOutgoingCall', 'CancellationError', 'CancellationTokenSource', 'CodeAction', 'CodeActionKind', 'CodeActionTriggerKind', 'CodeLens', 'Color', 'ColorInformation', 'ColorPresentation', 'CompletionItem', 'CompletionItemKind', 'CompletionItemTag', 'CompletionList', 'CompletionTriggerKind', 'Diagnostic', 'DiagnosticRelatedInformation', 'DiagnosticSeverity', 'DiagnosticTag', 'Disposable', 'DocumentHighlight', 'DocumentHighlightKind', 'DocumentLink', 'DocumentSymbol', 'EventEmitter', 'FileType', 'FoldingRange', 'FoldingRangeKind', 'Hover', 'InlayHint', 'InlayHintLabelPart', 'InlineCompletionItem', 'InlineCompletionList', 'InlineCompletionTriggerKind', 'InlineValueEvaluatableExpression', 'InlineValueText', 'InlineValueVariableLookup', 'LinkedEditingRanges', 'Location', 'LogLevel', 'MarkdownString', 'NotebookCellKind', 'ParameterInformation', 'Position', 'ProgressLocation', 'Range', 'RelativePattern', 'SelectionRange', 'SemanticTokens', 'SemanticTokensEdit', 'SemanticTokensEdits', 'SignatureHelp', 'SignatureHelpTriggerKind', 'SignatureInformation', 'SnippetString', 'SnippetTextEdit', 'SymbolInformation', 'SymbolKind', 'SymbolTag', 'TabInputCustom', 'TabInputNotebook', 'TabInputText', 'TabInputTextDiff', 'TextDocumentSaveReason', 'TextEdit', 'TypeHierarchyItem', 'Uri', 'WorkspaceEdit', 'commands', 'env', 'languages'];
const vscode = {};
for (const n of NAMES) vscode[n] = anything('vscode.' + n);
vscode.version = '1.95.0';
vscode.window = new Proxy({}, { get(_, q) { if (q === 'showErrorMessage') return (m) => { console.log('showErrorMessage:', m); return Promise.resolve(); }; return anything('window.' + String(q)); } });
vscode.workspace = new Proxy({}, { get(_, q) {
      if (q === 'workspaceFolders') return [{ uri: { fsPath: process.argv[2] }, name: 'ws', index: 0 }];
      if (q === 'textDocuments') return [];
      if (q === 'getConfiguration') return () => ({ get: (k, d) => d, has: () => false, inspect: () => undefined, update: async () => {} });
      return anything('workspace.' + String(q));
    } });
const origResolve = Module._resolveFilename;
Module._resolveFilename = function (req, ...rest) { return req === 'vscode' ? 'vscode' : origResolve.call(this, req, ...rest); };
require.cache['vscode'] = { id: 'vscode', filename: 'vscode', loaded: true, exports: vscode };
const ext = require(path.join(process.argv[3], 'dist', 'extension.js'));
const ctx = { subscriptions: [], extensionPath: process.argv[3], asAbsolutePath: (p) => path.join(process.argv[3], p) };
const t = Date.now();
Promise.resolve(ext.activate(ctx)).then(async () => {
  console.log('activate resolved after', Date.now() - t, 'ms');
  await ext.deactivate();
  console.log('deactivated');
  process.exit(0);
}, (e) => { console.log('activate failed', e); process.exit(1); });
setTimeout(() => { console.log('timeout'); process.exit(2); }, 60000);
