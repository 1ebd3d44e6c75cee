/** `unetc check FILE... [--emit-ir OUT.json]` */
import { checkSpec } from '../check/check.ts';
import { assertValidIr } from '../ir/validate.ts';
import { writeFileAtomic } from '../runtime/io/atomicWrite.ts';
import { parse, reportDiagnostics, UsageError } from './io.ts';

export function checkCommand(args: string[]): number {
  const { values, positionals } = parse(args, { 'emit-ir': { type: 'string' } });
  if (positionals.length === 0) throw new UsageError('needs at least one spec file');
  if (values['emit-ir'] && positionals.length > 1) throw new UsageError('--emit-ir takes a single spec');
  let failed = false;
  for (const file of positionals) {
    const r = checkSpec(file);
    if (reportDiagnostics(r) || !r.ir) {
      failed = true;
      continue;
    }
    if (values['emit-ir']) {
      // Validated as on every IR write; atomic, and the temp file is removed if the write fails.
      assertValidIr(r.ir);
      writeFileAtomic(values['emit-ir'], Buffer.from(JSON.stringify(r.ir, null, 1) + '\n'));
    }
    process.stdout.write(`${file}: ok\n`);
  }
  return failed ? 1 : 0;
}
