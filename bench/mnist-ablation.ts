/**
 * `npm run bench:mnist-ablation [-- --steps N --n M --sample-steps K]`: the paper's MNIST comparison
 * (Figure 3). Trains the nano-diffusion variants for the same budget on real MNIST, samples each
 * from its EMA weights, and measures the MNIST Frechet distance (src/eval) and class histogram.
 * Writes bench/results/mnist-ablation.{json,md} and a figure with one labelled sample row per
 * variant (`-- --relabel` redraws the figure of the last run from its results, without training).
 * The default budget (500 steps at batch 64 per variant, 1,000 samples with 20 DDIM steps) takes
 * about an hour on 2 cores.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildVariants } from '../src/ablate/variants.ts';
import { parseEdit } from '../src/ablate/edits.ts';
import { compileSpec } from '../src/emit/compile.ts';
import { computeStats } from '../src/analysis/stats.ts';
import { selectBackend } from '../src/runtime/engine/select.ts';
import { loadMnist } from '../src/runtime/data/index.ts';
import { trainRun, type ModelModule } from '../src/runtime/train/loop.ts';
import { encodePngGrid } from '../src/runtime/images/pngGrid.ts';
import { writePngAtomic } from '../src/runtime/images/png.ts';
import { labelledGridPng } from '../src/runtime/images/labelledGrid.ts';
import { generateSamples, sampleQuality, Classifier } from '../src/eval/index.ts';

const ROOT = join(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    steps: { type: 'string' },
    n: { type: 'string' },
    'sample-steps': { type: 'string' },
    batch: { type: 'string' },
    out: { type: 'string' },
    relabel: { type: 'boolean' },
  },
});
const steps = Number(values.steps ?? 500);
const n = Number(values.n ?? 1000);
const sampleSteps = Number(values['sample-steps'] ?? 20);
const batch = Number(values.batch ?? 64);
const work = join(ROOT, 'bench', '.tmp', 'mnist-ablation');
const results = values.out ?? join(ROOT, 'bench', 'results');
mkdirSync(work, { recursive: true });
mkdirSync(results, { recursive: true });

type Row = { label: string; spec: string; params: number; finalLoss: number; fd: number; histogram: number[]; trainSeconds: number };

/**
 * The figure: the unlabelled grid (one sample row per variant) is kept as mnist-ablation-grid.png;
 * mnist-ablation.png is that grid with each row's variant, loss and Frechet distance beside it.
 */
function writeFigure(
  grid: Uint8Array,
  rows: Row[],
  o: { steps: number; batch: number; n: number; sampleSteps: number; date: string },
): void {
  writePngAtomic(join(results, 'mnist-ablation-grid.png'), grid);
  const png = labelledGridPng(grid, {
    rowLabels: rows.map((r) => `${r.label}: FD ${r.fd.toFixed(0)}, loss ${r.finalLoss.toFixed(4)}`),
    tileH: 32,
    title: "nano diffusion on MNIST: one row of samples per conditioning (the paper's Figure 3)",
    subtitle: `${o.steps} steps at batch ${o.batch}, seed 1; EMA weights, ${o.sampleSteps} DDIM steps; FD over ${o.n} samples (${o.date})`,
    labelHeading: 'variant',
  });
  writePngAtomic(join(results, 'mnist-ablation.png'), png);
}

// --relabel: redraw the figure of the last run from its results (no training).
if (values.relabel) {
  const last = JSON.parse(readFileSync(join(results, 'mnist-ablation.json'), 'utf8')) as {
    date: string;
    steps: number;
    batch: number;
    n: number;
    sampleSteps: number;
    rows: Row[];
  };
  const rawPath = join(results, 'mnist-ablation-grid.png');
  // Before the labelled figure existed, mnist-ablation.png was the unlabelled grid itself.
  const grid = readFileSync(existsSync(rawPath) ? rawPath : join(results, 'mnist-ablation.png'));
  writeFigure(grid, last.rows, last);
  console.log(`relabelled ${join(results, 'mnist-ablation.png')} (${last.rows.length} rows)`);
  process.exit(0);
}

await selectBackend({ name: 'wasm' });
// TimeLoRA with random omega init is an ablation variant of the TimeLoRA spec.
const [randomInit] = buildVariants(join(ROOT, 'specs', 'nano-mnist-time-lora.unet'), [[parseEdit('time_lora.init=random')]], work);
writeFileSync(join(work, randomInit.fileName), randomInit.text);
const variants = [
  { label: 'shift (the notebook)', spec: join(ROOT, 'specs', 'nano-mnist.unet') },
  { label: 'scale-and-shift', spec: join(ROOT, 'specs', 'nano-mnist-scale-shift.unet') },
  { label: 'TimeLoRA, interpolation init', spec: join(ROOT, 'specs', 'nano-mnist-time-lora.unet') },
  { label: 'UC-LoRA', spec: join(ROOT, 'specs', 'nano-mnist-uc-lora.unet') },
  { label: 'TimeLoRA, random init', spec: join(work, randomInit.fileName) },
];

const data = loadMnist();
const classifier = Classifier.load();
const rows: Row[] = [];
const figureRows: Float32Array[] = [];
const perRow = 10;
for (const v of variants) {
  const { compiled, result } = await compileSpec(v.spec, work, { runtime: join(ROOT, 'src', 'runtime', 'index.ts') });
  if (!compiled) throw new Error(result.diagnostics.map((d) => d.message).join('\n'));
  mkdirSync(compiled.dir, { recursive: true });
  for (const [f, text] of compiled.files) writeFileSync(join(compiled.dir, f), text);
  const mod = (await import(join(compiled.dir, 'model.ts'))) as unknown as ModelModule;
  const outDir = join(work, 'runs', compiled.dir.split('/').pop()!);
  const t0 = Date.now();
  const r = await trainRun(mod, {
    data,
    outDir,
    steps,
    batch,
    seed: 1,
    sampleEvery: steps + 1,
    sampleCount: 16,
    sampleSteps: sampleSteps,
    progress: false,
    log: (l) => process.stderr.write(`  ${v.label}: ${l}\n`),
  });
  const trainSeconds = (Date.now() - t0) / 1000;
  const gen = generateSamples(mod, { checkpoint: r.checkpoint, n, steps: sampleSteps, seed: 7 });
  const q = sampleQuality(gen, { classifier });
  figureRows.push(gen.images.slice(0, perRow * 32 * 32));
  rows.push({
    label: v.label,
    spec: v.spec.replace(ROOT + '/', ''),
    params: computeStats(result.ir!).totalParams,
    finalLoss: r.finalLoss,
    fd: q.distance,
    histogram: q.histogram,
    trainSeconds,
  });
  process.stderr.write(
    `${v.label}: loss ${r.finalLoss.toFixed(4)}, Frechet distance ${q.distance.toFixed(2)}, ${trainSeconds.toFixed(0)} s\n`,
  );
}
const figure = new Float32Array(figureRows.length * perRow * 32 * 32);
figureRows.forEach((r, i) => figure.set(r, i * perRow * 32 * 32));
const date = new Date().toISOString().slice(0, 10);
writeFigure(encodePngGrid(figure, figureRows.length * perRow, 32, 32, 1, { cols: perRow }), rows, { steps, batch, n, sampleSteps, date });
const md = [
  `MNIST comparison of nano-diffusion conditionings, ${date}: ${steps} steps at batch ${batch} each on real MNIST (wasm, 2 cores); ${n} samples per variant from the EMA weights with ${sampleSteps} DDIM steps; Frechet distance in the features of the project's LeNet classifier (lower is better; the MNIST training set scores about 0.7 against the test set).`,
  '',
  '| variant | parameters | final loss | Frechet distance | wall time | predicted classes 0..9 (%) |',
  '| --- | ---: | ---: | ---: | ---: | --- |',
  ...rows.map(
    (r) =>
      `| ${r.label} | ${r.params.toLocaleString('en-US')} | ${r.finalLoss.toFixed(4)} | ${r.fd.toFixed(2)} | ${Math.round(r.trainSeconds)} s | ${r.histogram.map((h) => ((100 * h) / n).toFixed(0)).join(' ')} |`,
  ),
  '',
  `![one sample row per variant, in the table's order](mnist-ablation.png)`,
].join('\n');
writeFileSync(join(results, 'mnist-ablation.md'), md + '\n');
writeFileSync(join(results, 'mnist-ablation.json'), JSON.stringify({ date, steps, batch, n, sampleSteps, rows }, null, 1) + '\n');
console.log(md);
