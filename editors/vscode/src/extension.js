// The VS Code client of the unetc language server: starts `unetc lsp --stdio` for .unet files.
// Bundled with esbuild into dist/extension.js (npm run build); `vscode` is provided by the editor.
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

let client;

/** The command that runs unetc: the setting, else the workspace's node_modules/.bin/unetc, else PATH. */
function serverCommand() {
  const configured = vscode.workspace.getConfiguration('unetc').get('server.command', []);
  if (Array.isArray(configured) && configured.length > 0) return { command: configured[0], args: configured.slice(1) };
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    const local = join(folder.uri.fsPath, 'node_modules', '.bin', process.platform === 'win32' ? 'unetc.cmd' : 'unetc');
    if (existsSync(local)) return { command: local, args: [] };
    // A checkout of unetc itself.
    const bin = join(folder.uri.fsPath, 'bin', 'unetc.mjs');
    if (existsSync(bin)) return { command: 'node', args: [bin] };
  }
  return { command: 'unetc', args: [] };
}

function activate(context) {
  const { command, args } = serverCommand();
  // No `transport`: the client then speaks over stdio without appending its own --stdio.
  const run = { command, args: [...args, 'lsp', '--stdio'], options: { shell: process.platform === 'win32' } };
  client = new LanguageClient(
    'unetc',
    'unetc',
    { run, debug: run },
    {
      documentSelector: [{ language: 'unet' }],
      synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher('**/*.unet') },
    },
  );
  context.subscriptions.push({ dispose: () => client && client.stop() });
  return client.start().catch((e) => {
    vscode.window.showErrorMessage(`unetc: could not start the language server (${command} lsp --stdio): ${e.message}. Set "unetc.server.command".`);
  });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
