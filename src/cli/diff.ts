/**
 * `unetc diff A.unet B.unet [--json] [--source] [--context N] [--draw FILE.svg|FILE.png]`: compares the elaborated models by
 * meaning (modules, the ops' resolved conditioning and computation, settings with their defaults: spelling out a default
 * is no change), or with --source the canonical printed specs; --draw also draws B with what changed from A marked.
 * Exit status as diff(1): 0 equal, 1 different, 2 error.
 */
import { readFileSync } from 'node:fs';
import { diffModels, formatModelDiff, align } from '../analysis/diff.ts';
import { literalDefaults } from '../check/schema.ts';
import { checkSpec } from '../pipeline.ts';
import { parseSpec } from '../syntax/parse.ts';
import { printSpec } from '../syntax/printer.ts';
import { formatDiagnostics } from '../diagnostics/format.ts';
import { reportDiagnostics, UsageError } from './io.ts';
import { defineCommand } from './command.ts';
import { diagramChanges, diagramModel } from '../draw/model.ts';
import { diagramSvg } from '../draw/diagramSvg.ts';
import { writeFigure } from './draw.ts';

export const diff = defineCommand({
  name: 'diff',
  args: '<a> <b>',
  summary: 'compare two models module by module (exit 0 equal, 1 different, 2 error)',
  options: {
    source: { help: 'compare the canonical printed specs instead of the elaborated models' },
    context: { arg: 'n', help: 'unchanged lines shown around each change', default: '2' },
    draw: { arg: 'file', help: 'draw B with what changed from A marked (.svg or .png)' },
    json: { help: 'print the difference as JSON' },
  },
  examples: [
    'unetc diff specs/edm-cifar10.unet specs/edm-cifar10-with-lora.unet',
    'unetc diff a.unet b.unet --source',
    'unetc diff a.unet b.unet --draw changes.svg',
  ],
  run: (files, values) => diffRun(files[0]!, files[1]!, values),
});

function diffRun(fa: string, fb: string, values: { json?: boolean; source?: boolean; context?: string; draw?: string }): number {
  if (values.source) {
    const printed = [fa, fb].map((f) => {
      const text = readFileSync(f, 'utf8');
      const r = parseSpec(text, f);
      if (!r.ast) {
        process.stderr.write(formatDiagnostics(r.diagnostics, new Map([[f, text]])) + '\n');
        return undefined;
      }
      return printSpec(r.ast).split('\n');
    });
    if (!printed[0] || !printed[1]) return 2;
    const [a, b] = printed as [string[], string[]];
    const lines = align(a, b).map(([i, j]) => (i >= 0 && j >= 0 ? `  ${a[i]}` : i >= 0 ? `- ${a[i]}` : `+ ${b[j]}`));
    const differs = lines.some((l) => !l.startsWith('  '));
    if (values.json) process.stdout.write(JSON.stringify({ equal: !differs, lines }) + '\n');
    else if (differs) process.stdout.write(`--- ${fa}\n+++ ${fb}\n${lines.join('\n')}\n`);
    return differs ? 1 : 0;
  }
  const ra = checkSpec(fa);
  const rb = checkSpec(fb);
  const bad = [reportDiagnostics(ra), reportDiagnostics(rb)].some(Boolean);
  if (bad || !ra.ir || !rb.ir) return 2;
  const d = diffModels(ra.ir, rb.ir, { defaults: { diffusion: literalDefaults('diffusion'), training: literalDefaults('training') } });
  if (values.draw) {
    // B's diagram with what changed from A marked.
    const ma = diagramModel(ra.ir);
    const mb = diagramModel(rb.ir);
    const delta = mb.totalParams - ma.totalParams;
    writeFigure(
      values.draw,
      diagramSvg(mb, {
        changes: diagramChanges(ma, mb),
        subtitle: `diff ${fa} -> ${fb}: ${delta >= 0 ? '+' : ''}${delta.toLocaleString('en-US')} parameters`,
      }),
    );
    if (!values.json) process.stderr.write(`wrote ${values.draw}\n`);
  }
  if (values.json) {
    const { ops, ...rest } = d;
    process.stdout.write(
      JSON.stringify({ ...rest, lines: ops.filter((o) => o.op !== ' ').map((o) => `${o.op} ${o.text}`) }, null, 1) + '\n',
    );
  } else if (!d.equal) {
    const context = values.context === undefined ? 2 : Number(values.context);
    if (!Number.isSafeInteger(context) || context < 0) throw new UsageError(`--context takes a whole number, got '${values.context}'`);
    process.stdout.write(formatModelDiff(d, fa, fb, context) + '\n');
  }
  return d.equal ? 0 : 1;
}
