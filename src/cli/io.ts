/** Shared CLI helpers: option values, usage errors and diagnostic printing (in colour on a terminal). */
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { formatDiagnostic } from '../diagnostics/format.ts';
import type { Diagnostic } from '../diagnostics/index.ts';
import type { CheckResult } from '../pipeline.ts';
import { paint, useColour } from './colour.ts';
// Type only: the CLI must not load tfjs (select.ts) just to parse options.
import type { BackendName } from '../runtime/engine/select.ts';

export type { BackendName };

/** A problem with the command line itself: printed as one line on stderr, exit status 2. */
export class UsageError extends Error {}

/**
 * Diagnostics as tsc or rustc print them (src/diagnostics/format.ts), with the severity and code
 * and the caret in colour when `colour` is on.
 */
export function formatForTerminal(ds: readonly Diagnostic[], sources: ReadonlyMap<string, string>, colour: boolean): string {
  return ds
    .map((d) => {
      const text = formatDiagnostic(d, sources);
      if (!colour) return text;
      const tone = d.severity === 'error' ? 'red' : 'yellow';
      const lines = text.split('\n');
      lines[0] = lines[0]!.replace(`${d.severity} ${d.code}:`, paint(`${d.severity} ${d.code}:`, tone, 'bold'));
      const last = lines.length - 1;
      if (last > 0) lines[last] = lines[last]!.replace(/\^+$/, (c) => paint(c, tone, 'bold'));
      return lines.join('\n');
    })
    .join('\n\n');
}

/** Prints diagnostics to stderr; returns true when there were errors. */
export function reportDiagnostics(r: Pick<CheckResult, 'diagnostics' | 'sources'>): boolean {
  const colour = useColour(process.stderr);
  if (r.diagnostics.length > 0) process.stderr.write(formatForTerminal(r.diagnostics, r.sources, colour) + '\n');
  const errors = r.diagnostics.filter((d) => d.severity === 'error').length;
  if (errors > 0) process.stderr.write(`${errors} error${errors === 1 ? '' : 's'}\n`);
  return errors > 0;
}

/** A diagnostic for --json output: every field of it (code, name, severity, message, span, ...). */
export const diagnosticJson = (d: Diagnostic): Diagnostic => ({ ...d });

/**
 * A whole-number option (`--steps 100`), or undefined when absent: decimal digits only (no
 * `1e3`, `0x10`, `+5`, ` 7` or `10.0`); anything else is a usage error.
 */
export function intOption(v: string | undefined, name: string, min = 1): number | undefined {
  if (v === undefined) return undefined;
  const n = /^[0-9]+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name} takes a whole number >= ${min}, got '${v}'`);
  return n;
}

/** A finite decimal number, optionally with an exponent (`3e-4`, `-0.5`); no Infinity, NaN, hex or blanks. */
export const DECIMAL = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;

export function parseDecimal(v: string): number | undefined {
  if (!DECIMAL.test(v)) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** A float option (`--lr 3e-4`), or undefined when absent; `positive` refuses 0 and below. */
export function floatOption(v: string | undefined, name: string, o: { positive?: boolean } = {}): number | undefined {
  if (v === undefined) return undefined;
  const n = parseDecimal(v);
  if (n === undefined || (o.positive && !(n > 0)))
    throw new UsageError(`--${name} takes a finite ${o.positive ? 'positive ' : ''}decimal number (as in 0.001 or 1e-3), got '${v}'`);
  return n;
}

/** An output file: its folder must exist and the path must not be a folder; checked before any work. */
export function checkOutputFile(path: string, what: string): void {
  if (existsSync(path) && statSync(path).isDirectory()) throw new UsageError(`${what} ${path} is a folder; give a file name`);
  const dir = dirname(path);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`${what} ${path}: the folder ${dir} does not exist`);
}

/** `--backend NAME`, validated; undefined picks the best available backend. */
export function backendOption(v: string | undefined): BackendName | undefined {
  if (v === undefined) return undefined;
  if (!['tensorflow', 'wasm', 'cpu'].includes(v)) throw new UsageError(`--backend is one of tensorflow, wasm, cpu; got '${v}'`);
  return v as BackendName;
}

/** `--threads N` (wasm threads, 1 to 8); undefined leaves it to UNETC_WASM_THREADS, else 1. */
export function threadsOption(v: string | undefined): number | undefined {
  const n = intOption(v, 'threads');
  if (n !== undefined && n > 8) throw new UsageError(`--threads takes a whole number from 1 to 8, got '${v}'`);
  return n;
}
