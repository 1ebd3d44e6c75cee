/** `unetc check SPEC... [--emit-ir OUT.json] [--json]` */
import { checkSpec } from '../pipeline.ts';
import { assertValidIr } from '../ir/validate.ts';
import { writeFileAtomic } from '../runtime/io/atomicWrite.ts';
import { defineCommand } from './command.ts';
import { diagnosticJson, reportDiagnostics, UsageError } from './io.ts';

export const check = defineCommand({
  name: 'check',
  args: '<spec...>',
  summary: 'type-check specs; report every problem',
  options: {
    'emit-ir': { arg: 'file', help: 'write the checked IR as JSON (one spec only)' },
    json: { help: 'print one JSON object: per spec, ok and its diagnostics' },
  },
  examples: [
    'unetc check specs/*.unet',
    'unetc check specs/nano-mnist.unet --emit-ir nano.ir.json',
    'unetc check specs/nano-mnist.unet --json',
  ],
  run(specs, values) {
    if (values['emit-ir'] && specs.length > 1) throw new UsageError('--emit-ir takes a single spec');
    let failed = false;
    const report = [];
    for (const file of specs) {
      const r = checkSpec(file);
      const bad = values.json ? r.diagnostics.some((d) => d.severity === 'error') || !r.ir : reportDiagnostics(r) || !r.ir;
      report.push({ file, ok: !bad, diagnostics: r.diagnostics.map(diagnosticJson) });
      if (bad) {
        failed = true;
        continue;
      }
      if (values['emit-ir']) {
        // Validated as on every IR write; atomic, and the temp file is removed if the write fails.
        assertValidIr(r.ir!);
        writeFileAtomic(values['emit-ir'], Buffer.from(JSON.stringify(r.ir, null, 1) + '\n'));
      }
      if (!values.json) process.stdout.write(`${file}: ok\n`);
    }
    if (values.json) process.stdout.write(JSON.stringify({ ok: !failed, specs: report }) + '\n');
    return failed ? 1 : 0;
  },
});
