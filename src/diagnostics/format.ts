import type { Diagnostic } from './diagnostic.ts';

/**
 * Renders a diagnostic like tsc or rustc: `file:line:col: error E0xxx: message`, then the source
 * line and a caret under the span. `sources` maps file names to their text.
 */
export function formatDiagnostic(d: Diagnostic, sources: ReadonlyMap<string, string>): string {
  const { file, line, column, length } = d.span;
  const head = `${file}:${line}:${column}: ${d.severity} ${d.code}: ${d.message}`;
  const text = sources.get(file);
  if (text === undefined) return head;
  const lines = text.split(/\r?\n/);
  const src = lines[line - 1];
  if (src === undefined) return head;
  const shown = src.length > 200 ? src.slice(0, 200) + '…' : src;
  const gutter = String(line);
  const pad = ' '.repeat(gutter.length);
  const caretStart = Math.min(column - 1, shown.length);
  const caretLen = Math.max(1, Math.min(length, shown.length - caretStart));
  const printable = shown.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '?');
  const prefix = printable.slice(0, caretStart).replace(/[^\t]/g, ' ');
  return `${head}\n${pad} |\n${gutter} | ${printable}\n${pad} | ${prefix}${'^'.repeat(caretLen)}`;
}

export function formatDiagnostics(ds: readonly Diagnostic[], sources: ReadonlyMap<string, string>): string {
  return ds.map((d) => formatDiagnostic(d, sources)).join('\n\n');
}
