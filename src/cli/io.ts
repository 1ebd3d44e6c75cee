/** Shared CLI helpers: argument parsing errors and diagnostic printing. */
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { formatDiagnostics } from '../diagnostics/format.ts';
import type { CheckResult } from '../check/check.ts';
// Type only: the CLI must not load tfjs (select.ts) just to parse options.
import type { BackendName } from '../runtime/engine/select.ts';

export type { BackendName };

export class UsageError extends Error {}

export function parse<T extends ParseArgsConfig['options']>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** Prints diagnostics to stderr; returns true when there were errors. */
export function reportDiagnostics(r: CheckResult): boolean {
  if (r.diagnostics.length > 0) process.stderr.write(formatDiagnostics(r.diagnostics, r.sources) + '\n');
  const errors = r.diagnostics.filter((d) => d.severity === 'error').length;
  if (errors > 0) process.stderr.write(`${errors} error${errors === 1 ? '' : 's'}\n`);
  return errors > 0;
}

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
  if (n === undefined || (o.positive && !(n > 0))) throw new UsageError(`--${name} takes a finite ${o.positive ? 'positive ' : ''}decimal number (as in 0.001 or 1e-3), got '${v}'`);
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
