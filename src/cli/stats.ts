/** `unetc stats FILE [--json]` */
import { computeStats, formatStats } from '../analysis/stats.ts';
import { checkSpec } from '../check/check.ts';
import { parse, reportDiagnostics, UsageError } from './io.ts';

export function statsCommand(args: string[]): number {
  const { values, positionals } = parse(args, { json: { type: 'boolean' } });
  if (positionals.length !== 1) throw new UsageError('takes exactly one spec file');
  const r = checkSpec(positionals[0]);
  if (reportDiagnostics(r) || !r.ir) return 1;
  const s = computeStats(r.ir);
  process.stdout.write(values.json ? JSON.stringify(s, null, 2) + '\n' : formatStats(s, r.ir) + '\n');
  return 0;
}
