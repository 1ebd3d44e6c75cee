/**
 * `unetc ablate BASE.unet --grid TARGET=V1,V2,... [--grid ...] [--zip TARGET=V1,... --zip ...]
 *   --out DIR [--train STEPS --data mnist [--batch B] [--limit N] [--sample-count N] [--sample-steps K]]`
 * Writes one spec per variant and DIR/summary.csv + DIR/summary.md (parameters, deltas, FLOPs;
 * with --train also the final loss and the sample grid of each variant).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { labelledGridPng, stackFirstRows } from '../runtime/images/labelledGrid.ts';
import { join, resolve } from 'node:path';
import { parseAxis, EditError } from '../ablate/edits.ts';
import { buildVariants, combine, type Variant } from '../ablate/variants.ts';
import { computeStats } from '../analysis/stats.ts';
import { checkSpec } from '../pipeline.ts';
import { formatDiagnostics } from '../diagnostics/format.ts';
import { defineCommand, type OptionDef, type Values } from './command.ts';
import { diagnosticJson, intOption, reportDiagnostics, UsageError } from './io.ts';
import { trainSpec } from './train.ts';

interface Row {
  name: string;
  file: string;
  ok: boolean;
  totalParams?: number;
  trainableParams?: number;
  paramDelta?: number;
  forwardFlops?: number;
  flopsDelta?: number;
  finalLoss?: number;
  grid?: string;
  /** Image size of the variant's samples (for the combined figure). */
  imageSize?: number;
  problem?: string;
}

const csvCell = (v: unknown) => (v === undefined ? '' : /[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v));

const options = {
  grid: { arg: 'target=v1,v2', help: 'an axis of the grid (repeatable)', repeat: true },
  zip: { arg: 'target=v1,v2', help: 'an axis advanced together with the other --zip axes (repeatable)', repeat: true },
  out: { arg: 'dir', short: 'o', help: 'the folder of the variants and the summary (required)' },
  train: { arg: 'steps', help: 'also train each variant for this many steps' },
  data: { arg: 'set', help: 'the data of --train (as in unetc train)', default: 'mnist' },
  batch: { arg: 'b', help: 'batch of --train', defaultText: "each spec's" },
  limit: { arg: 'n', help: 'use only the first n images with --train' },
  'sample-count': { arg: 'n', help: 'images per sample grid with --train', default: '64' },
  'sample-steps': { arg: 'k', help: 'sampler steps of the grids with --train', defaultText: "the spec's" },
  json: { help: 'print the summary rows as JSON' },
} as const satisfies Record<string, OptionDef>;

export const ablate = defineCommand({
  name: 'ablate',
  args: '<base>',
  summary: 'variant specs of a base spec from typed edits, with a summary of parameters and FLOPs',
  details:
    'Each --grid axis multiplies the variants (every combination); --zip axes advance together. A TARGET is KIND.OPTION ' +
    '(uc_lora.bases, time_lora.init, ...) or a field path (conditioning.attention, unet.channels, diffusion.T); values are .unet expressions. Writes one spec per variant, DIR/summary.csv and DIR/summary.md; ' +
    'with --train also the final loss and a sample grid of each variant.',
  options,
  examples: [
    'unetc ablate specs/edm-cifar10-with-lora.unet --grid uc_lora.bases=9,18,36 --out ablations/bases',
    "unetc ablate specs/attn-unet-mnist.unet --grid 'conditioning.attention=none,adaln' --out abl --train 200 --limit 2000",
  ],
  run: ([base], values) => ablateRun(base!, values),
});

async function ablateRun(base: string, values: Values<typeof options>): Promise<number> {
  if (!values.out) throw new UsageError('needs --out DIR');
  const baseCheck = checkSpec(base);
  if (
    values.json ? baseCheck.diagnostics.some((d) => d.severity === 'error') || !baseCheck.ir : reportDiagnostics(baseCheck) || !baseCheck.ir
  ) {
    if (values.json)
      process.stdout.write(JSON.stringify({ ok: false, base, diagnostics: baseCheck.diagnostics.map(diagnosticJson) }) + '\n');
    return 2;
  }
  if (!baseCheck.ir) return 2;
  let combos;
  try {
    combos = combine((values.grid ?? []).map(parseAxis), (values.zip ?? []).map(parseAxis));
  } catch (e) {
    if (e instanceof EditError) throw new UsageError(e.message);
    throw e;
  }
  const out = resolve(values.out);
  mkdirSync(out, { recursive: true });
  const variants = buildVariants(base, combos, out);
  const baseStats = computeStats(baseCheck.ir);
  const rows: Row[] = [];
  let failed = 0;
  for (const v of variants) rows.push(await summarize(v, out, baseStats, values));
  for (const [i, v] of variants.entries()) {
    if (!rows[i].ok) {
      failed++;
      if (!values.json)
        process.stderr.write(`${v.fileName}: invalid combination\n${formatDiagnostics(v.result.diagnostics, v.result.sources)}\n`);
    }
  }
  const cols: (keyof Row)[] = [
    'name',
    'file',
    'ok',
    'totalParams',
    'trainableParams',
    'paramDelta',
    'forwardFlops',
    'flopsDelta',
    ...(values.train ? (['finalLoss', 'grid'] as (keyof Row)[]) : []),
    'problem',
  ];
  writeFileSync(join(out, 'summary.csv'), [cols.join(','), ...rows.map((r) => cols.map((c) => csvCell(r[c])).join(','))].join('\n') + '\n');
  const fmt = (n?: number) => (n === undefined ? '' : n.toLocaleString('en-US'));
  const md = [
    `# Ablation of ${base}`,
    '',
    `Base: ${baseStats.totalParams.toLocaleString('en-US')} parameters, ${(baseStats.forwardFlops / 1e9).toFixed(3)} GFLOP per forward pass (batch 1).`,
    '',
    `| variant | parameters | Δ parameters | GFLOP | Δ FLOPs |${values.train ? ' final loss | samples |' : ''}`,
    `| --- | ---: | ---: | ---: | ---: |${values.train ? ' ---: | --- |' : ''}`,
    ...rows.map(
      (r) =>
        `| ${r.ok ? r.name : `${r.name} (invalid: ${r.problem})`} | ${fmt(r.totalParams)} | ${r.paramDelta === undefined ? '' : (r.paramDelta >= 0 ? '+' : '') + fmt(r.paramDelta)} | ${r.forwardFlops === undefined ? '' : (r.forwardFlops / 1e9).toFixed(3)} | ${r.flopsDelta === undefined ? '' : ((100 * r.flopsDelta) / baseStats.forwardFlops).toFixed(2) + '%'} |${values.train ? ` ${r.finalLoss?.toFixed(4) ?? ''} | ${r.grid ? `![](${r.grid})` : ''} |` : ''}`,
    ),
  ].join('\n');
  writeFileSync(join(out, 'summary.md'), md + '\n');
  const trained = rows.filter((r) => r.grid && existsSync(r.grid));
  if (trained.length) {
    // One labelled row of samples per variant: the first row of each variant's grid.
    const size = trained[0]!.imageSize ?? 32;
    const grid = stackFirstRows(
      trained.map((r) => readFileSync(r.grid!)),
      size,
    );
    const png = labelledGridPng(grid, {
      rowLabels: trained.map((r) => `${r.name}: loss ${r.finalLoss?.toFixed(4) ?? '-'}`),
      tileH: size,
      title: `ablation of ${base}`,
      subtitle: `${values.train} training steps per variant; the first row of each variant's sample grid`,
      labelHeading: 'variant',
    });
    writeFileSync(join(out, 'samples.png'), png);
    writeFileSync(join(out, 'summary.md'), md + '\n\n![one labelled row of samples per variant](samples.png)\n');
  }
  if (values.json)
    process.stdout.write(
      JSON.stringify(
        rows.map((r, i) => ({ ...r, ...(r.ok ? {} : { diagnostics: variants[i]!.result.diagnostics.map(diagnosticJson) }) })),
        null,
        1,
      ) + '\n',
    );
  else process.stdout.write(`${variants.length} variants (${failed} invalid) -> ${out}/summary.csv, summary.md\n`);
  return failed > 0 ? 1 : 0;
}

async function summarize(
  v: Variant,
  out: string,
  base: ReturnType<typeof computeStats>,
  o: { train?: string; data?: string; batch?: string; limit?: string; 'sample-count'?: string; 'sample-steps'?: string },
): Promise<Row> {
  const row: Row = { name: v.name, file: v.fileName, ok: v.result.ok && !!v.result.ir };
  if (!row.ok) {
    row.problem = v.result.diagnostics.find((d) => d.severity === 'error')?.message;
    return row;
  }
  const specPath = join(out, v.fileName);
  writeFileSync(specPath, v.text);
  const s = computeStats(v.result.ir!);
  Object.assign(row, {
    totalParams: s.totalParams,
    trainableParams: s.trainableParams,
    paramDelta: s.totalParams - base.totalParams,
    forwardFlops: s.forwardFlops,
    flopsDelta: s.forwardFlops - base.forwardFlops,
  });
  if (o.train) {
    const { status, result } = await trainSpec(specPath, {
      outDir: join(out, 'runs', v.fileName.replace(/\.unet$/, '')),
      data: o.data ?? 'mnist',
      steps: intOption(o.train, 'train')!,
      limit: intOption(o.limit, 'limit'),
      run: {
        batch: intOption(o.batch, 'batch'),
        sampleCount: intOption(o['sample-count'], 'sample-count'),
        sampleSteps: intOption(o['sample-steps'], 'sample-steps'),
      },
    });
    if (status === 0 && result) {
      row.finalLoss = result.finalLoss;
      row.grid = result.grid;
      row.imageSize = v.result.ir!.input.size;
    } else row.problem = `training exited with status ${status}`;
  }
  return row;
}
