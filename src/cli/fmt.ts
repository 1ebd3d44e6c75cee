/**
 * `unetc fmt FILE... [--check] [--stdout] [--json]`, `unetc fmt -`: print specs in canonical form.
 * Files are rewritten in place (or only listed with --check, or printed with --stdout); `-` reads
 * a spec on standard input and prints it.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { parseSpec } from '../syntax/parse.ts';
import { printSpec } from '../syntax/printer.ts';
import { defineCommand } from './command.ts';
import { diagnosticJson, reportDiagnostics, UsageError } from './io.ts';

type Outcome = 'formatted' | 'unchanged' | 'not canonical' | 'printed' | 'does not parse';

export const fmt = defineCommand({
  name: 'fmt',
  args: '<file...>',
  summary: 'print specs in canonical form (in place)',
  details:
    'A spec that does not parse is left alone and reported (exit 2). With `-` as the file, the spec is read from standard input and printed.',
  options: {
    check: { help: 'write nothing; list the files that are not in canonical form (exit 1 if any)' },
    stdout: { help: 'print the canonical form to standard output instead of rewriting the files' },
    json: { help: 'print, per file, what was done (formatted, unchanged, not canonical, does not parse) as JSON' },
  },
  examples: [
    'unetc fmt specs/*.unet',
    'unetc fmt --check specs/*.unet',
    'cat my.unet | unetc fmt -',
    'unetc fmt --stdout specs/nano-mnist.unet',
  ],
  run(files, values) {
    if (files.includes('-') && files.length > 1) throw new UsageError("'-' (standard input) is the only file when given");
    if (values.stdout && values.check) throw new UsageError('--stdout prints and --check only lists: give one of them');
    let status = 0;
    const report: { file: string; outcome: Outcome; diagnostics?: unknown[] }[] = [];
    for (const file of files) {
      const stdin = file === '-';
      const name = stdin ? '<stdin>' : file;
      const text = readFileSync(stdin ? 0 : file, 'utf8');
      const r = parseSpec(text, name);
      if (!r.ast) {
        if (!values.json) reportDiagnostics({ diagnostics: r.diagnostics, sources: new Map([[name, text]]) });
        report.push({ file: name, outcome: 'does not parse', diagnostics: r.diagnostics.map(diagnosticJson) });
        status = Math.max(status, 2);
        continue;
      }
      const printed = printSpec(r.ast);
      if (values.check) {
        const ok = printed === text;
        report.push({ file: name, outcome: ok ? 'unchanged' : 'not canonical' });
        if (!ok) {
          if (!values.json) process.stdout.write(`${name}: not in canonical form\n`);
          status = Math.max(status, 1);
        }
      } else if (stdin || values.stdout) {
        report.push({ file: name, outcome: 'printed' });
        if (!values.json) process.stdout.write(printed);
      } else if (printed === text) {
        report.push({ file: name, outcome: 'unchanged' });
      } else {
        // Write beside the file and rename, so an interrupted run never leaves half a spec.
        const tmp = `${file}.unetc-fmt.tmp`;
        writeFileSync(tmp, printed);
        renameSync(tmp, file);
        report.push({ file: name, outcome: 'formatted' });
        if (!values.json) process.stdout.write(`${file}: formatted\n`);
      }
    }
    if (values.json) process.stdout.write(JSON.stringify({ ok: status === 0, files: report }) + '\n');
    return status;
  },
});
