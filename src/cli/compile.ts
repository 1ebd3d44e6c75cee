/** `unetc compile FILE... [--out DIR] [--check] [--target ts|torch|all]`: emit model modules for specs (TypeScript; PyTorch model.py/train.py). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileSpec, writeCompiled } from '../emit/compile.ts';
import { parse, reportDiagnostics, UsageError } from './io.ts';

export async function compileCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { out: { type: 'string' }, check: { type: 'boolean' }, target: { type: 'string' } });
  if (positionals.length === 0) throw new UsageError('needs at least one spec file');
  const target = values.target ?? 'ts';
  if (target !== 'ts' && target !== 'torch' && target !== 'all') throw new UsageError(`--target is ts, torch or all; got '${target}'`);
  const out = values.out ?? 'generated';
  let status = 0;
  for (const spec of positionals) {
    const { result, compiled } = await compileSpec(spec, out, { target });
    if (reportDiagnostics(result) || !compiled) {
      status = 1;
      continue;
    }
    if (values.check) {
      // CI: the committed output must equal what the compiler produces today.
      for (const [file, text] of compiled.files) {
        const path = join(compiled.dir, file);
        let have: string | undefined;
        try {
          have = readFileSync(path, 'utf8');
        } catch {
          have = undefined;
        }
        if (have !== text) {
          process.stdout.write(`${path}: stale (run unetc compile ${spec})\n`);
          status = 1;
        }
      }
      continue;
    }
    const written = writeCompiled(compiled);
    process.stdout.write(`${spec} -> ${compiled.dir}${written.length ? '' : ' (unchanged)'}\n`);
  }
  return status;
}
