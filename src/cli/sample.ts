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
import { backendOption, checkOutputFile, intOption, parse, parseDecimal, threadsOption, UsageError } from './io.ts';
import { maxSampleBatch, memoryBudget } from './memory.ts';
import { importTs, loadRuntime, readRunIr, resolveRunTarget, samplersOf } from './runtimeLoader.ts';

const nums = (s: string, what: string): number[] => {
  const v = s.split(',').map((x) => parseDecimal(x.trim()));
  if (v.length === 0 || v.some((x) => x === undefined)) throw new UsageError(`${what} takes comma-separated numbers, got '${s}'`);
  return v as number[];
};

export async function sampleCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    n: { type: 'string' },
    steps: { type: 'string' },
    sampler: { type: 'string' },
    class: { type: 'string' },
    'class-vector': { type: 'string' },
    sweep: { type: 'string' },
    values: { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
    raw: { type: 'boolean' },
    backend: { type: 'string' },
    threads: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (positionals.length !== 1) throw new UsageError('takes a run folder or a checkpoint file');
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
      ? { kind: 'interp', i: Number(m[2]), j: Number(m[3]), values: values.values ? nums(values.values, '--values') : [0, 0.25, 0.5, 0.75, 1] }
      : { kind: 'scale', i: Number(m[5]), values: values.values ? nums(values.values, '--values') : [-1, 0, 1, 2, 3, 4, 5] };
  }
  const { runDir, checkpoint, modelDir, older } = resolveRunTarget(positionals[0]);
  const out = resolve(values.out ?? join(runDir, 'sample.png'));
  checkOutputFile(out, '--out');
  const ir = readRunIr(runDir);
  const choices = samplersOf(ir.diffusion);
  if (values.sampler !== undefined && !choices.includes(values.sampler)) throw new UsageError(`--sampler for ${ir.name} (${String(ir.diffusion.process)}) is one of ${choices.join(', ')}; got '${values.sampler}'`);

  const rt = await loadRuntime();
  const selected = await rt.selectBackend({ name: backend, threads });
  const maxBatch = maxSampleBatch(computeStats(ir), memoryBudget(selected.name));
  const mod = await importTs<{ sample: (o: import('../runtime/index.ts').SampleOptions) => { out: string; shape: number[]; finite: boolean } }>(join(modelDir, 'train.ts'));
  try {
    const r = mod.sample({ checkpoint, out, n, steps, sampler: values.sampler as 'ddim' | 'ancestral' | 'heun' | undefined, classIndex, classVector, sweep, seed, raw: values.raw === true, maxBatch });
    if (sweep && r.finite !== undefined) labelSweepRows(out, sweep, r.shape, checkpoint);
    process.stdout.write(values.json ? JSON.stringify({ ...r, checkpoint }) + '\n' : `wrote ${r.out} (${r.shape.join('x')}) from ${checkpoint}\n`);
    if (!r.finite) process.stderr.write(`unetc sample: ${checkpoint} produced non-finite pixel values\n`);
    return r.finite ? 0 : 1;
  } catch (e) {
    if (e instanceof rt.SampleError || (e as Error).name === 'SafetensorsError') {
      process.stderr.write(`unetc sample: ${(e as Error).message}${older ? `\n  an older checkpoint of this run: ${older} (give it instead of the folder to sample from it)` : ''}\n`);
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
