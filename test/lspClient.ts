/** A minimal LSP client for tests: starts `unetc lsp --stdio` and speaks JSON-RPC to it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter, type MessageConnection } from 'vscode-jsonrpc/node';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export interface PublishedDiagnostics {
  uri: string;
  version?: number;
  diagnostics: {
    range: { start: { line: number; character: number }; end: { line: number; character: number } };
    severity?: number;
    code?: string;
    message: string;
    relatedInformation?: {
      location: { uri: string; range: { start: { line: number; character: number }; end: { line: number; character: number } } };
      message: string;
    }[];
  }[];
}

export class LspClient {
  readonly proc: ChildProcess;
  readonly conn: MessageConnection;
  readonly published: PublishedDiagnostics[] = [];
  readonly logs: string[] = [];
  private waiters: { pred: (p: PublishedDiagnostics) => boolean; resolve: (p: PublishedDiagnostics) => void }[] = [];
  stderr = '';

  constructor() {
    this.proc = spawn(process.execPath, [join(ROOT, 'bin', 'unetc.mjs'), 'lsp', '--stdio'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stderr!.on('data', (d) => (this.stderr += String(d)));
    this.conn = createMessageConnection(new StreamMessageReader(this.proc.stdout!), new StreamMessageWriter(this.proc.stdin!));
    this.conn.onNotification('textDocument/publishDiagnostics', (p: PublishedDiagnostics) => {
      this.published.push(p);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(p)) return true;
        w.resolve(p);
        return false;
      });
    });
    this.conn.onNotification('window/logMessage', (p: { message: string }) => {
      this.logs.push(p.message);
    });
    this.conn.listen();
  }

  async initialize(): Promise<unknown> {
    const r = await this.conn.sendRequest('initialize', {
      processId: process.pid,
      rootUri: null,
      capabilities: {},
      initializationOptions: { debounceMs: 20 },
    });
    await this.conn.sendNotification('initialized', {});
    return r;
  }

  /** The next publishDiagnostics for `uri` (optionally for a given version) after now. */
  nextDiagnostics(uri: string, pred: (p: PublishedDiagnostics) => boolean = () => true, timeoutMs = 20_000): Promise<PublishedDiagnostics> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no diagnostics for ${uri} within ${timeoutMs} ms; stderr: ${this.stderr}`)),
        timeoutMs,
      );
      this.waiters.push({
        pred: (p) => p.uri === uri && pred(p),
        resolve: (p) => {
          clearTimeout(timer);
          resolve(p);
        },
      });
    });
  }

  open(uri: string, text: string, version = 1): Promise<void> {
    return this.conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'unet', version, text } });
  }

  change(uri: string, version: number, changes: unknown[]): Promise<void> {
    return this.conn.sendNotification('textDocument/didChange', { textDocument: { uri, version }, contentChanges: changes });
  }

  request<R = unknown>(method: string, params: unknown): Promise<R> {
    return this.conn.sendRequest(method, params) as Promise<R>;
  }

  async stop(): Promise<number | null> {
    const exited = new Promise<number | null>((r) => this.proc.on('exit', (code) => r(code)));
    try {
      await this.conn.sendRequest('shutdown');
      await this.conn.sendNotification('exit');
    } catch {
      this.proc.kill();
    }
    const code = await exited;
    this.conn.dispose();
    return code;
  }
}
