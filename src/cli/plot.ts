/**
 * `unetc plot omega RUN_DIR|CKPT [--layer PATH | --all] [--against V] [--init] [--raw] [--points N]
 *   [--out FILE.svg|FILE.png] [--json] [--backend NAME]`: what the noise-level conditioning learned.
 * With --layer, the cosine similarity of omega(t1) and omega(t2) of one LoRA layer (the paper's
 * Figure 4; --init draws the untrained model of the same seed beside it); otherwise (--all) every
 * layer's similarity of omega(t) to omega(V), V = T/2 by default (Figure 7). EDM models: over a
 * log grid of sigma (V is then a sigma, default the grid's middle). Prints the summary numbers
 * (mean similarity for |t1 - t2| <= T/20 and >= T/2) per layer; --json for scripts.
 */
import { join } from 'node:path';
import { heatmapFigure, againstFigure, summaryLine } from '../plot/omegaFigures.ts';
import {
  cosineMatrix,
  evaluateOmegas,
  nearestIndex,
  noiseGrid,
  OmegaError,
  resolveOmegaRun,
  similarityTo,
  summarize,
  type OmegaLayer,
  type RestoreInto,
} from '../plot/omega.ts';
import { writeFigure, scaleOption } from './draw.ts';
import { backendOption, intOption, UsageError } from './io.ts';
import { defineCommand } from './command.ts';
import { importModel, loadRuntime } from './runtimeLoader.ts';

type ParamRow = import('../runtime/index.ts').ParamRow;

const layerLabel = (l: OmegaLayer) => `${l.site.block} · ${l.site.layer}`;

export const plot = defineCommand({
  name: 'plot',
  args: '<figure> <run>',
  summary: 'plot omega RUN: how similar the LoRA omegas of a trained run are across noise levels',
  details:
    'The figure is `omega`. RUN is a run folder (its newest checkpoint) or a checkpoint file. With --layer, the cosine ' +
    "similarity of omega(t1) and omega(t2) of one LoRA layer (the paper's Figure 4); otherwise (--all) every layer's " +
    'similarity of omega(t) to omega(V) (Figure 7). EDM models use a log grid of sigma.',
  options: {
    layer: { arg: 'path', help: 'one LoRA layer (its parameter path, or block.layer)' },
    all: { help: 'every LoRA layer against one noise level (the default)' },
    against: { arg: 'v', help: 'the noise level the others are compared with', defaultText: 'T/2, or the middle sigma of the grid' },
    init: { help: 'also draw the untrained model of the same seed' },
    raw: { help: 'use the raw weights, not the EMA' },
    points: { arg: 'n', help: 'points of the noise grid', defaultText: 'T for DDPM, 64 for EDM' },
    out: { arg: 'file', short: 'o', help: 'the figure, .svg or .png', defaultText: 'RUN/omega.svg' },
    scale: { arg: 's', help: 'pixels per SVG unit for .png', defaultText: '1' },
    backend: { arg: 'name', help: 'tfjs backend', choices: ['tensorflow', 'wasm', 'cpu'], defaultText: 'cpu' },
    json: { help: 'print the summary numbers as JSON' },
  },
  examples: [
    'unetc plot omega runs/nano-mnist-uc-lora',
    'unetc plot omega runs/nano-mnist-uc-lora --layer mid.block0.attn.qkv --init --out omega.png',
  ],
  run: ([what, run], values) => {
    if (what !== 'omega') throw new UsageError(`plot takes a figure name: omega (got '${what ?? ''}')`);
    return plotOmega(run!, values);
  },
});

async function plotOmega(
  target: string,
  values: {
    layer?: string;
    all?: boolean;
    against?: string;
    init?: boolean;
    raw?: boolean;
    points?: string;
    out?: string;
    scale?: string;
    json?: boolean;
    backend?: string;
  },
): Promise<number> {
  if (values.layer && values.all) throw new UsageError('--layer and --all exclude each other');
  const against = values.against === undefined ? undefined : Number(values.against);
  if (against !== undefined && !Number.isFinite(against)) throw new UsageError(`--against takes a number, got '${values.against}'`);
  const rt = await loadRuntime();
  const { restoreInto } = (await import('../runtime/train/checkpoint.ts')) as { restoreInto: RestoreInto };
  const { Edm } = await import('../runtime/diffusion/edm.ts');
  // omega is a few small MLPs: the cpu backend, quietly, unless asked otherwise.
  const backend = backendOption(values.backend);
  await rt.selectBackend({ name: backend ?? 'cpu', log: backend ? undefined : () => {} });
  try {
    const run = await resolveOmegaRun(target, rt, async (f) => (await importModel<{ params: readonly ParamRow[] }>(f)).params);
    const d = run.ir.diffusion;
    const edm = new Edm({ precond: d.precond === 'vp' ? 'vp' : 'edm', sigmaData: Number(d.sigma_data ?? 0.5) } as ConstructorParameters<
      typeof Edm
    >[0]);
    const grid = noiseGrid(run.ir, (s) => edm.coefficients(s).cNoise, { points: intOption(values.points, 'points', 2) });
    const trained = evaluateOmegas(rt, restoreInto, run, grid, { raw: values.raw === true });
    const init = values.init ? evaluateOmegas(rt, restoreInto, run, grid, { init: true }) : undefined;
    const n = grid.values.length;
    let layers = trained.layers;
    if (values.layer) {
      const q = values.layer;
      const hit = layers.filter((l) => l.site.path === q || `${l.site.block}.${l.site.layer}` === q || l.site.block === q);
      if (hit.length !== 1) {
        throw new UsageError(
          `--layer ${q} matches ${hit.length ? hit.map((l) => l.site.path).join(', ') : 'no layer'}; one of:\n  ${layers.map((l) => l.site.path).join('\n  ')}`,
        );
      }
      layers = hit;
    }
    const initOf = (l: OmegaLayer) => init?.layers.find((x) => x.site.path === l.site.path);
    const isDdpm = grid.axis.process === 'ddpm';
    const refValue = against ?? (isDdpm ? Math.floor(grid.axis.T / 2) : Math.sqrt(grid.values[0]! * grid.values[n - 1]!));
    const ref = nearestIndex(grid, refValue);
    const rows = layers.map((l) => {
      const S = cosineMatrix(l.values, n, l.site.bases);
      const li = initOf(l);
      const Si = li ? cosineMatrix(li.values, n, li.site.bases) : undefined;
      return {
        layer: l,
        S,
        Si,
        summary: summarize(S, n),
        initSummary: Si ? summarize(Si, n) : undefined,
        curve: similarityTo(l.values, n, l.site.bases, ref),
        initCurve: li ? similarityTo(li.values, n, li.site.bases, ref) : undefined,
      };
    });
    const spec = `${run.ir.name}, step ${trained.step}, seed ${trained.seed}${values.raw ? ', raw weights' : ', EMA weights'}`;
    const single = values.layer !== undefined;
    const out = values.out ?? join(run.runDir, single ? 'omega-similarity.svg' : 'omega-against.svg');
    let svg: string;
    if (single) {
      const r = rows[0]!;
      const kind = r.layer.site.kind === 'uc_lora' ? 'UC-LoRA' : 'TimeLoRA';
      svg = heatmapFigure({
        title: `cos(ω(${isDdpm ? 't₁' : 'σ₁'}), ω(${isDdpm ? 't₂' : 'σ₂'})) of ${kind} ${r.layer.site.path}`,
        subtitle: spec,
        grid,
        panels: [
          ...(r.Si ? [{ title: 'at initialisation', S: r.Si, summary: r.initSummary! }] : []),
          { title: `after training (step ${trained.step})`, S: r.S, summary: r.summary },
        ],
      });
    } else {
      svg = againstFigure({
        title: `cos(ω(${isDdpm ? 't' : 'σ'}), ω(${isDdpm ? `t = ${grid.values[ref]}` : `σ = ${grid.values[ref]!.toPrecision(3)}`})) per LoRA layer`,
        subtitle: spec,
        grid,
        ref,
        layers: rows.map((r) => ({ label: layerLabel(r.layer), trained: r.curve, init: r.initCurve })),
      });
    }
    writeFigure(out, svg, scaleOption(values.scale));
    const mean = (k: 'near' | 'far' | 'all', init = false) => {
      const v = rows.map((r) => (init ? r.initSummary?.[k] : r.summary[k])).filter((x): x is number => x !== undefined);
      return v.reduce((a, b) => a + b, 0) / v.length;
    };
    if (values.json) {
      process.stdout.write(
        JSON.stringify({
          checkpoint: run.checkpoint,
          step: trained.step,
          seed: trained.seed,
          axis: isDdpm ? { process: 'ddpm', T: grid.axis.T } : { process: 'edm', sigma: [grid.values[0], grid.values[n - 1]], points: n },
          near: isDdpm ? `|t1 - t2| <= ${Math.floor(n / 20)}` : `grid index distance <= ${Math.floor(n / 20)}`,
          far: isDdpm ? `|t1 - t2| >= ${Math.ceil(n / 2)}` : `grid index distance >= ${Math.ceil(n / 2)}`,
          against: grid.values[ref],
          out,
          mean: {
            near: mean('near'),
            far: mean('far'),
            all: mean('all'),
            ...(init ? { init: { near: mean('near', true), far: mean('far', true), all: mean('all', true) } } : {}),
          },
          layers: rows.map((r) => ({
            path: r.layer.site.path,
            block: r.layer.site.block,
            kind: r.layer.site.kind,
            bases: r.layer.site.bases,
            ...r.summary,
            ...(r.initSummary ? { init: r.initSummary } : {}),
          })),
        }) + '\n',
      );
    } else {
      process.stdout.write(`omega of ${run.ir.name} at step ${trained.step} (${run.checkpoint})\n`);
      for (const r of rows) {
        process.stdout.write(`  ${r.layer.site.path.padEnd(38)} ${summaryLine(r.summary, grid)}\n`);
        if (r.initSummary) process.stdout.write(`  ${'  at initialisation'.padEnd(38)} ${summaryLine(r.initSummary, grid)}\n`);
      }
      process.stdout.write(
        `  mean over ${rows.length} layer${rows.length === 1 ? '' : 's'}: near ${mean('near').toFixed(3)}, far ${mean('far').toFixed(3)}${init ? `; at initialisation near ${mean('near', true).toFixed(3)}, far ${mean('far', true).toFixed(3)}` : ''}\n`,
      );
      process.stdout.write(`wrote ${out}\n`);
    }
    return 0;
  } catch (e) {
    if (e instanceof OmegaError || (e as Error).name === 'SafetensorsError') {
      process.stderr.write(`unetc plot: ${(e as Error).message}\n`);
      return 1;
    }
    throw e;
  }
}
