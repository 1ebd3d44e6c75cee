/** `unetc fmt FILE... [--check]`: rewrite specs in canonical form, or list those that are not. */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { formatDiagnostics } from '../diagnostics/format.ts';
import { parseSpec } from '../syntax/parse.ts';
import { printSpec } from '../syntax/printer.ts';
import { parse, UsageError } from './io.ts';

export function fmtCommand(args: string[]): number {
  const { values, positionals } = parse(args, { check: { type: 'boolean' } });
  if (positionals.length === 0) throw new UsageError('needs at least one spec file');
  let status = 0;
  for (const file of positionals) {
    const text = readFileSync(file, 'utf8');
    const r = parseSpec(text, file);
    if (!r.ast) {
      process.stderr.write(formatDiagnostics(r.diagnostics, new Map([[file, text]])) + '\n');
      status = Math.max(status, 2);
      continue;
    }
    const printed = printSpec(r.ast);
    if (printed === text) continue;
    if (values.check) {
      process.stdout.write(`${file}: not in canonical form\n`);
      status = Math.max(status, 1);
    } else {
      // Write beside the file and rename, so an interrupted run never leaves half a spec.
      const tmp = `${file}.unetc-fmt.tmp`;
      writeFileSync(tmp, printed);
      renameSync(tmp, file);
      process.stdout.write(`${file}: formatted\n`);
    }
  }
  return status;
}
