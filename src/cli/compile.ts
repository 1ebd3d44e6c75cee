/** `unetc compile SPEC... [--out DIR] [--target ts|torch|all] [--js] [--check] [--json]`: emit the model modules of specs (TypeScript; PyTorch model.py/train.py). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileSpec, writeCompiled } from '../emit/compile.ts';
import { toJavaScript } from '../emit/javascript.ts';
import { defineCommand } from './command.ts';
import { diagnosticJson, reportDiagnostics, UsageError } from './io.ts';

export const compile = defineCommand({
  name: 'compile',
  args: '<spec...>',
  summary: 'emit the model modules of each spec (TypeScript, PyTorch or both) into DIR/<spec name>/',
  details:
    'Each spec gives model.ts (the network), params.ts (its parameter table), train.ts (training and sampling) and index.ts. ' +
    "They import the runtime as 'unetc/runtime' and each other as './model.js', so a project with unetc as a dependency " +
    'compiles them with a stock `nodenext` tsconfig. --target torch writes model.py (an nn.Module whose state_dict() keys are the checkpoint names) ' +
    'and train.py (torch.distributed training), which import the PyTorch runtime shipped in python/unetc_torch.',
  options: {
    out: { arg: 'dir', short: 'o', help: 'the folder that gets one folder per spec', default: 'generated' },
    target: {
      arg: 'target',
      help: 'ts: the TypeScript modules; torch: model.py and train.py; all: both',
      default: 'ts',
      choices: ['ts', 'torch', 'all'],
    },
    js: { help: 'emit ES modules (.js) with declarations (.d.ts) instead of TypeScript' },
    check: { help: 'write nothing; exit 1 when a file in DIR differs from what would be written (for CI)' },
    json: { help: 'print, per spec, the folder and the files written, or its diagnostics, as JSON' },
  },
  examples: [
    'unetc compile specs/nano-mnist.unet --out src/models',
    'unetc compile specs/*.unet --check',
    'unetc compile specs/nano-mnist.unet --js --out models',
    'unetc compile specs/nano-mnist.unet --target torch --out models',
  ],
  async run(specs, values) {
    if (values.check && values.js) throw new UsageError('--check compares the TypeScript output; give it without --js');
    const out = values.out ?? 'generated';
    let status = 0;
    const report: unknown[] = [];
    for (const spec of specs) {
      const { result, compiled } = await compileSpec(spec, out, { target: (values.target ?? 'ts') as 'ts' | 'torch' | 'all' });
      const bad = values.json
        ? result.diagnostics.some((d) => d.severity === 'error') || !compiled
        : reportDiagnostics(result) || !compiled;
      if (bad || !compiled) {
        status = 1;
        report.push({ spec, ok: false, diagnostics: result.diagnostics.map(diagnosticJson) });
        continue;
      }
      if (values.js) compiled.files = await toJavaScript(compiled.files, { declarations: true });
      if (values.check) {
        // CI: the committed output must equal what the compiler produces today.
        const stale: string[] = [];
        for (const [file, text] of compiled.files) {
          const path = join(compiled.dir, file);
          let have: string | undefined;
          try {
            have = readFileSync(path, 'utf8');
          } catch {
            have = undefined;
          }
          if (have !== text) stale.push(path);
        }
        if (!values.json) for (const path of stale) process.stdout.write(`${path}: stale (run unetc compile ${spec})\n`);
        if (stale.length) status = 1;
        report.push({ spec, ok: stale.length === 0, dir: compiled.dir, stale, diagnostics: result.diagnostics.map(diagnosticJson) });
        continue;
      }
      const written = writeCompiled(compiled);
      report.push({
        spec,
        ok: true,
        dir: compiled.dir,
        files: [...compiled.files.keys()],
        written,
        diagnostics: result.diagnostics.map(diagnosticJson),
      });
      if (!values.json) process.stdout.write(`${spec} -> ${compiled.dir}${written.length ? '' : ' (unchanged)'}\n`);
    }
    if (values.json) process.stdout.write(JSON.stringify({ ok: status === 0, specs: report }) + '\n');
    return status;
  },
});
