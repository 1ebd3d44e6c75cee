/**
 * `unetc sample RUN_DIR|CKPT [--n 64] [--steps K] [--sampler ddim|ancestral|heun] [--class C]
 *   [--class-vector w0,w1,...] [--sweep interp:I,J | scale:I] [--values v1,v2,...] [--seed S] [--out grid.png]
 *   [--backend NAME] [--threads N]`
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { labelledGridPng } from '../runtime/images/labelledGrid.ts';
import { writePngAtomic } from '../runtime/images/png.ts';
import { computeStats } from '../analysis/stats.ts';
import { defineCommand, type OptionDef, type Values } from './command.ts';
import { backendOption, checkOutputFile, intOption, parseDecimal, threadsOption, UsageError } from './io.ts';
import { maxSampleBatch, memoryBudget } from './memory.ts';
import { importModel, loadRuntime, readRunIr, resolveRunTarget, checkSampler } from './runtimeLoader.ts';

const nums = (s: string, what: string): number[] => {
  const v = s.split(',').map((x) => parseDecimal(x.trim()));
  if (v.length === 0 || v.some((x) => x === undefined)) throw new UsageError(`${what} takes comma-separated numbers, got '${s}'`);
  return v as number[];
};

const options = {
  n: { arg: 'n', help: 'images (per row with --sweep)', defaultText: '64; 8 per row with --sweep' },
  steps: { arg: 'k', help: 'sampler steps', defaultText: "the spec's (50 for DDIM, 18 for Heun)" },
  sampler: { arg: 'name', help: 'ddim or ancestral (DDPM models), heun (EDM models)', defaultText: "the spec's" },
  class: { arg: 'c', help: 'class index of every image (class-conditional models)', defaultText: 'classes in turn' },
  'class-vector': { arg: 'w0,w1,...', help: 'one real weight per class (interpolate or extrapolate labels)' },
  sweep: { arg: 'interp:I,J|scale:I', help: 'one row per value: classes I and J mixed, or class I scaled' },
  values: { arg: 'v1,v2,...', help: 'the values of --sweep', defaultText: '0,0.25,0.5,0.75,1 (interp); -1,0,...,5 (scale)' },
  seed: { arg: 's', help: 'seed of the noise', default: '1' },
  raw: { help: 'use the raw weights, not the EMA' },
  out: { arg: 'file', short: 'o', help: 'the PNG grid', defaultText: 'RUN/sample.png' },
  backend: { arg: 'name', help: 'tfjs backend', choices: ['tensorflow', 'wasm', 'cpu'], defaultText: 'the best one installed' },
  threads: { arg: 'n', help: 'kernel threads, 1 to 8 (see unetc --help)' },
  json: { help: 'print what was written as JSON' },
} as const satisfies Record<string, OptionDef>;

export const sample = defineCommand({
  name: 'sample',
  args: '<run>',
  summary: 'sample a grid of images from a run folder (its newest checkpoint) or a checkpoint file',
  details: 'The run folder may have been moved or copied: its model code runs on the runtime of this unetc.',
  options,
  examples: [
    'unetc sample runs/nano-mnist --n 16 --out grid.png',
    'unetc sample runs/cond/checkpoints/step-0004000.safetensors --class 3',
    'unetc sample runs/cond --sweep interp:1,7',
  ],
  run: ([target], values) => sampleRun(target!, values),
});

async function sampleRun(target: string, values: Values<typeof options>): Promise<number> {
  // Every option and path is checked before a backend is loaded or anything is sampled.
  const n = intOption(values.n, 'n', 1);
  const steps = intOption(values.steps, 'steps', 1);
  const classIndex = intOption(values.class, 'class', 0);
  const classVector = values['class-vector'] ? nums(values['class-vector'], '--class-vector') : undefined;
  const seed = intOption(values.seed, 'seed', 0);
  const backend = backendOption(values.backend);
  const threads = threadsOption(values.threads);
  let sweep: import('../runtime/index.ts').Sweep | undefined;
  if (values.sweep) {
    const m = /^(interp):(\d+),(\d+)$|^(scale):(\d+)$/.exec(values.sweep);
    if (!m) throw new UsageError(`--sweep is interp:I,J or scale:I, got '${values.sweep}'`);
    sweep = m[1]
      ? {
          kind: 'interp',
          i: Number(m[2]),
          j: Number(m[3]),
          values: values.values ? nums(values.values, '--values') : [0, 0.25, 0.5, 0.75, 1],
        }
      : { kind: 'scale', i: Number(m[5]), values: values.values ? nums(values.values, '--values') : [-1, 0, 1, 2, 3, 4, 5] };
  }
  const { runDir, checkpoint, modelDir, older } = resolveRunTarget(target);
  const out = resolve(values.out ?? join(runDir, 'sample.png'));
  checkOutputFile(out, '--out');
  const ir = readRunIr(runDir);
  checkSampler(ir, values.sampler);

  const rt = await loadRuntime();
  const selected = await rt.selectBackend({ name: backend, threads });
  const maxBatch = maxSampleBatch(computeStats(ir), memoryBudget(selected.name));
  const mod = await importModel<{
    sample: (o: import('../runtime/index.ts').SampleOptions) => { out: string; shape: number[]; finite: boolean };
  }>(join(modelDir, 'train.ts'));
  try {
    const r = mod.sample({
      checkpoint,
      out,
      n,
      steps,
      sampler: values.sampler as 'ddim' | 'ancestral' | 'heun' | undefined,
      classIndex,
      classVector,
      sweep,
      seed,
      raw: values.raw === true,
      maxBatch,
    });
    if (sweep && r.finite !== undefined) labelSweepRows(out, sweep, r.shape, checkpoint);
    process.stdout.write(
      values.json ? JSON.stringify({ ...r, checkpoint }) + '\n' : `wrote ${r.out} (${r.shape.join('x')}) from ${checkpoint}\n`,
    );
    if (!r.finite) process.stderr.write(`unetc sample: ${checkpoint} produced non-finite pixel values\n`);
    return r.finite ? 0 : 1;
  } catch (e) {
    if (e instanceof rt.SampleError || (e as Error).name === 'SafetensorsError') {
      process.stderr.write(
        `unetc sample: ${(e as Error).message}${older ? `\n  an older checkpoint of this run: ${older} (give it instead of the folder to sample from it)` : ''}\n`,
      );
      return 1;
    }
    throw e;
  }
}

/** Rewrites a sweep's grid with the swept value beside each row (one row per value). */
function labelSweepRows(out: string, sweep: import('../runtime/index.ts').Sweep, shape: number[], checkpoint: string): void {
  const heading = sweep.kind === 'interp' ? `α in α·c${sweep.i} + (1−α)·c${sweep.j}` : `β in β·c${sweep.i}`;
  const name = sweep.kind === 'interp' ? 'α' : 'β';
  const png = labelledGridPng(readFileSync(out), {
    rowLabels: sweep.values.map((v) => `${name} = ${v}`),
    tileH: shape[1]!,
    title: sweep.kind === 'interp' ? `class interpolation between ${sweep.i} and ${sweep.j}` : `class ${sweep.i} scaled`,
    subtitle: `${checkpoint.replace(/^.*\/(?=[^/]+\/checkpoints\/)/, '')}; same noise in every row`,
    labelHeading: heading,
  });
  writePngAtomic(out, png);
}
