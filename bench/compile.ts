/**
 * Compiler timings per spec (formerly bench/front-end.ts, folded in here): parse, check (load +
 * extends + validation + rules + elaboration to IR), stats, fmt (parse + print), and emit
 * (emitModel: the ts-morph build of model.ts and prettier), with the ts-morph build and prettier
 * also timed separately. Medians of repeated runs in one process after a warm-up; the ratios are
 * against the parse time. The one-off cost of loading ts-morph and prettier (paid by the first
 * `unetc compile` of a process) is reported separately. Writes bench/results/compile.json.
 *
 *   npm run bench:compile [-- --reps N --emit-reps N]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Project } from 'ts-morph';
import { computeStats } from '../src/analysis/stats.ts';
import { checkSpec } from '../src/pipeline.ts';
import { emitModel, modelSourceFile } from '../src/emit/emitModel.ts';
import { parseSpec } from '../src/syntax/parse.ts';
import { printSpec } from '../src/syntax/printer.ts';
import { argValue, loadAvg, machineInfo, median, ROOT, table, writeResult } from './common.ts';

const SPECS = join(ROOT, 'specs');
const reps = Number(argValue('--reps') ?? 30);
const emitReps = Number(argValue('--emit-reps') ?? 5);

function time(f: () => void, n: number): number {
  f(); // warm-up
  const ts: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    f();
    ts.push(performance.now() - t);
  }
  return median(ts);
}

async function timeAsync(f: () => Promise<unknown>, n: number): Promise<number> {
  await f();
  const ts: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await f();
    ts.push(performance.now() - t);
  }
  return median(ts);
}

const machine = machineInfo();
console.log(
  `machine: ${machine.cpu}, ${machine.cores} cores, node ${machine.node}; load average ${(machine.loadavg_start as number[]).join(' ')}`,
);

// One-off module loads (what the first compile in a process pays on top).
let t0 = performance.now();
const { Project: ProjectCtor } = await import('ts-morph');
const tsMorphLoadMs = performance.now() - t0;
t0 = performance.now();
const prettier = await import('prettier');
const prettierLoadMs = performance.now() - t0;
const PRETTIER_OPTS = { parser: 'typescript', printWidth: 120, singleQuote: true } as const;

const files = readdirSync(SPECS)
  .filter((f) => f.endsWith('.unet'))
  .sort();
interface Row {
  spec: string;
  source_bytes: number;
  chain_files: number;
  chain_bytes: number;
  modules: number;
  blocks: number;
  generated_lines: number;
  parse_ms: number;
  parse_file_ms: number;
  check_ms: number;
  stats_ms: number;
  fmt_ms: number;
  emit_ms: number;
  tsmorph_ms: number;
  prettier_ms: number;
  total_ms: number;
}
const rows: Row[] = [];
for (const f of files) {
  const path = join(SPECS, f);
  const text = readFileSync(path, 'utf8');
  // check reads the whole `extends` chain, so parse is timed over the same files (every source check loaded).
  const checked = checkSpec(path);
  const ir = checked.ir!;
  const chain = [...checked.sources];
  const parse = time(() => chain.forEach(([file, src]) => parseSpec(src, file)), reps);
  const parseFile = time(() => parseSpec(text, path), reps);
  const check = time(() => checkSpec(path), reps);
  const stats = time(() => computeStats(ir), reps);
  const fmt = time(() => printSpec(parseSpec(text, path).ast!), reps);
  const o = { specFile: `specs/${f}`, root: ROOT };
  let built = '';
  const tsMorph = time(() => {
    const project: Project = new ProjectCtor({ useInMemoryFileSystem: true });
    built = modelSourceFile(project, ir, o).getFullText();
  }, emitReps);
  let formatted = '';
  const pretty = await timeAsync(async () => {
    formatted = await prettier.format(built, PRETTIER_OPTS);
  }, emitReps);
  const emit = await timeAsync(() => emitModel(ir, o), emitReps);
  rows.push({
    spec: f,
    source_bytes: text.length,
    chain_files: chain.length,
    chain_bytes: chain.reduce((a, [, src]) => a + src.length, 0),
    modules: ir.modules.length,
    blocks: ir.blocks.length,
    generated_lines: formatted.split('\n').length,
    parse_ms: parse,
    parse_file_ms: parseFile,
    check_ms: check,
    stats_ms: stats,
    fmt_ms: fmt,
    emit_ms: emit,
    tsmorph_ms: tsMorph,
    prettier_ms: pretty,
    total_ms: check + stats + emit,
  });
  process.stderr.write(`  ${f}: check ${check.toFixed(1)} ms, emit ${emit.toFixed(0)} ms\n`);
}

const r2 = (x: number) => x.toFixed(2);
const ratio = (x: number, p: number) => `${(x / p).toFixed(x / p < 10 ? 1 : 0)}x`;
console.log(
  `\ncompile-pipeline timings per spec (ms; parse/check/stats/fmt median of ${reps}, emit median of ${emitReps}); (x) = ratio to parse.\n` +
    `parse covers the spec and every file it extends (what check loads); fmt is parse + print of the spec file alone.`,
);
console.log(
  table(
    ['spec', 'files', 'modules', 'parse', 'check', '(x)', 'stats', '(x)', 'fmt', 'emit', '(x)', 'ts-morph', 'prettier', 'gen lines'],
    rows.map((r) => [
      r.spec.replace(/\.unet$/, ''),
      r.chain_files,
      r.modules,
      r2(r.parse_ms),
      r2(r.check_ms),
      ratio(r.check_ms, r.parse_ms),
      r2(r.stats_ms),
      ratio(r.stats_ms, r.parse_ms),
      r2(r.fmt_ms),
      r.emit_ms.toFixed(0),
      ratio(r.emit_ms, r.parse_ms),
      r.tsmorph_ms.toFixed(0),
      r.prettier_ms.toFixed(0),
      r.generated_lines,
    ]),
  ),
);
const largest = rows.reduce((a, b) => (b.modules > a.modules ? b : a));
const sum = (k: 'parse_ms' | 'check_ms' | 'stats_ms' | 'emit_ms') => rows.reduce((a, r) => a + r[k], 0);
console.log(
  `\nall ${rows.length} specs: parse ${sum('parse_ms').toFixed(1)}, check ${sum('check_ms').toFixed(1)} (${(sum('check_ms') / sum('parse_ms')).toFixed(1)}x parse), stats ${sum('stats_ms').toFixed(1)}, emit ${sum('emit_ms').toFixed(0)} ms`,
);
console.log(`\none-off loads: ts-morph ${tsMorphLoadMs.toFixed(0)} ms, prettier ${prettierLoadMs.toFixed(0)} ms`);
console.log(
  `largest spec (${largest.spec}, ${largest.modules} modules, ${largest.generated_lines} generated lines): parse ${r2(largest.parse_ms)}, check ${r2(largest.check_ms)} (${ratio(largest.check_ms, largest.parse_ms)}), stats ${r2(largest.stats_ms)}, emit ${largest.emit_ms.toFixed(0)} (ts-morph ${largest.tsmorph_ms.toFixed(0)} + prettier ${largest.prettier_ms.toFixed(0)}) ms`,
);
const out = {
  reps,
  emit_reps: emitReps,
  one_off_load_ms: { ts_morph: tsMorphLoadMs, prettier: prettierLoadMs },
  largest: largest.spec,
  specs: rows,
  machine: { ...machine, loadavg_end: loadAvg() },
};
console.log(`\nwrote ${writeResult('compile.json', out)}`);
