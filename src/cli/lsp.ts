/**
 * `unetc lsp --stdio`: the .unet language server over standard input and output (the transport
 * editors use; see editors/vscode/). vscode-languageserver ends the process when the client sends
 * `exit` or closes the input (status 0 after a `shutdown` request, else 1), so this never resolves.
 */
import { createConnection, ProposedFeatures } from 'vscode-languageserver/node';
import { startServer } from '../lsp/server.ts';
import { parse, UsageError } from './io.ts';

export function lspCommand(args: string[]): Promise<number> {
  // Clients may add --clientProcessId=PID (vscode-languageserver watches that process itself).
  const { values } = parse(args, { stdio: { type: 'boolean' }, clientProcessId: { type: 'string' } });
  if (!values.stdio) throw new UsageError('only the stdio transport is supported: unetc lsp --stdio');
  startServer(createConnection(ProposedFeatures.all, process.stdin, process.stdout));
  return new Promise<number>(() => {});
}
