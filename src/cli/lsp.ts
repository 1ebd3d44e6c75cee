/**
 * `unetc lsp --stdio`: the .unet language server over standard input and output (the transport
 * editors use; see editors/vscode/). vscode-languageserver ends the process when the client sends
 * `exit` or closes the input (status 0 after a `shutdown` request, else 1), so this never resolves.
 */
import { defineCommand } from './command.ts';
import { UsageError } from './io.ts';

export const lsp = defineCommand({
  name: 'lsp',
  args: '',
  summary: 'the .unet language server (for editors)',
  options: {
    stdio: { help: 'talk over standard input and output (the only transport)' },
    // Clients may add --clientProcessId=PID (vscode-languageserver watches that process itself).
    clientProcessId: { arg: 'pid', help: 'the editor process (added by language clients)' },
  },
  examples: ['unetc lsp --stdio'],
  async run(_args, values) {
    if (!values.stdio) throw new UsageError('only the stdio transport is supported: unetc lsp --stdio');
    // Loaded only here: the language server libraries are not needed by any other command.
    const { createConnection, ProposedFeatures } = await import('vscode-languageserver/node');
    const { startServer } = await import('../lsp/server.ts');
    startServer(createConnection(ProposedFeatures.all, process.stdin, process.stdout));
    return new Promise<number>(() => {});
  },
});
