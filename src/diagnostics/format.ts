import type { Diagnostic } from './diagnostic.ts';

/**
 * Renders a diagnostic like tsc or rustc: `file:line:col: error E0xxx: message`, then the source
 * line and a caret under the span. `sources` maps file names to their text.
 */
export function formatDiagnostic(d: Diagnostic, sources: ReadonlyMap<string, string>): string {
  const { file, line, column } = d.span;
  const head = `${file}:${line}:${column}: ${d.severity} ${d.code}: ${d.message}`;
  const parts = [head + excerpt(d.span, sources)];
  for (const r of d.related ?? [])
    parts.push(`  ${r.span.file}:${r.span.line}:${r.span.column}: note: ${r.message}${excerpt(r.span, sources, '  ')}`);
  if (d.hint) parts.push(`  = help: ${d.hint}`);
  return parts.join('\n');
}

/** The source line of a span with a caret under it ('' when the source is unknown). */
function excerpt(span: Diagnostic['span'], sources: ReadonlyMap<string, string>, indent = ''): string {
  const { file, line, column, length } = span;
  const text = sources.get(file);
  if (text === undefined) return '';
  const lines = text.split(/\r?\n/);
  const src = lines[line - 1];
  if (src === undefined) return '';
  const shown = src.length > 200 ? src.slice(0, 200) + '…' : src;
  const gutter = String(line);
  const pad = ' '.repeat(gutter.length);
  const caretStart = Math.min(column - 1, shown.length);
  const caretLen = Math.max(1, Math.min(length, shown.length - caretStart));
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is replaced
  const printable = shown.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '?');
  const prefix = printable.slice(0, caretStart).replace(/[^\t]/g, ' ');
  return `\n${indent}${pad} |\n${indent}${gutter} | ${printable}\n${indent}${pad} | ${prefix}${'^'.repeat(caretLen)}`;
}

export function formatDiagnostics(ds: readonly Diagnostic[], sources: ReadonlyMap<string, string>): string {
  return ds.map((d) => formatDiagnostic(d, sources)).join('\n\n');
}
