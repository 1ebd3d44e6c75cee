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
import { checkSpec } from '../check/check.ts';
import { formatDiagnostics } from '../diagnostics/format.ts';
import { intOption, parse, reportDiagnostics, UsageError } from './io.ts';
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

export async function ablateCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    grid: { type: 'string', multiple: true },
    zip: { type: 'string', multiple: true },
    out: { type: 'string' },
    train: { type: 'string' },
    data: { type: 'string' },
    batch: { type: 'string' },
    limit: { type: 'string' },
    'sample-count': { type: 'string' },
    'sample-steps': { type: 'string' },
    json: { type: 'boolean' },
  });
  if (positionals.length !== 1) throw new UsageError('takes one base spec');
  if (!values.out) throw new UsageError('needs --out DIR');
  const base = positionals[0];
  const baseCheck = checkSpec(base);
  if (reportDiagnostics(baseCheck) || !baseCheck.ir) return 2;
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
      process.stderr.write(`${v.fileName}: invalid combination\n${formatDiagnostics(v.result.diagnostics, v.result.sources)}\n`);
    }
  }
  const cols: (keyof Row)[] = ['name', 'file', 'ok', 'totalParams', 'trainableParams', 'paramDelta', 'forwardFlops', 'flopsDelta', ...(values.train ? (['finalLoss', 'grid'] as (keyof Row)[]) : []), 'problem'];
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
    const grid = stackFirstRows(trained.map((r) => readFileSync(r.grid!)), size);
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
  if (values.json) process.stdout.write(JSON.stringify(rows, null, 1) + '\n');
  else process.stdout.write(`${variants.length} variants (${failed} invalid) -> ${out}/summary.csv, summary.md\n`);
  return failed > 0 ? 1 : 0;
}

async function summarize(v: Variant, out: string, base: ReturnType<typeof computeStats>, o: { train?: string; data?: string; batch?: string; limit?: string; 'sample-count'?: string; 'sample-steps'?: string }): Promise<Row> {
  const row: Row = { name: v.name, file: v.fileName, ok: v.result.ok && !!v.result.ir };
  if (!row.ok) {
    row.problem = v.result.diagnostics.find((d) => d.severity === 'error')?.message;
    return row;
  }
  const specPath = join(out, v.fileName);
  writeFileSync(specPath, v.text);
  const s = computeStats(v.result.ir!);
  Object.assign(row, { totalParams: s.totalParams, trainableParams: s.trainableParams, paramDelta: s.totalParams - base.totalParams, forwardFlops: s.forwardFlops, flopsDelta: s.forwardFlops - base.forwardFlops });
  if (o.train) {
    const { status, result } = await trainSpec(specPath, {
      outDir: join(out, 'runs', v.fileName.replace(/\.unet$/, '')),
      data: o.data ?? 'mnist',
      steps: intOption(o.train, 'train')!,
      limit: intOption(o.limit, 'limit'),
      run: { batch: intOption(o.batch, 'batch'), sampleCount: intOption(o['sample-count'], 'sample-count'), sampleSteps: intOption(o['sample-steps'], 'sample-steps') },
    });
    if (status === 0 && result) {
      row.finalLoss = result.finalLoss;
      row.grid = result.grid;
      row.imageSize = v.result.ir!.input.size;
    } else row.problem = `training exited with status ${status}`;
  }
  return row;
}
