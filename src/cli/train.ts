/**
 * `unetc train SPEC [--data mnist | cifar10:PATH | folder:PATH] [--steps N] [--batch B] [--out RUN_DIR]
 *   [--resume] [--seed S] [--backend NAME] [--threads N] [--init-from CKPT] [--sample-every K] [--sample-count N]
 *   [--sample-steps K] [--checkpoint-every K] [--keep K] [--limit N] [--lr X] [--json]`
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { compileSpec, writeCompiled } from '../emit/compile.ts';
import { backendOption, intOption, parse, reportDiagnostics, threadsOption, UsageError, type BackendName } from './io.ts';
import { importTs, loadRuntime, runtimeEntry } from './runtimeLoader.ts';

/** What `unetc train` and `unetc ablate --train` pass to a training run. */
export interface TrainSpecOptions {
  outDir: string;
  data: string;
  steps: number;
  limit?: number;
  backend?: BackendName;
  /** wasm threads (undefined: UNETC_WASM_THREADS, else 1). */
  threads?: number;
  /** Everything the runtime's training loop takes besides data, output folder and steps. */
  run: Omit<import('../runtime/index.ts').TrainOptions, 'data' | 'outDir' | 'steps' | 'stop'>;
}

/**
 * Compiles a spec into `outDir/model/`, loads the data and trains. Problems in the spec, the data
 * or the run are reported on stderr; the status is 0 (done), 1 (a problem) or 130 (interrupted).
 */
export async function trainSpec(spec: string, o: TrainSpecOptions): Promise<{ status: number; result?: import('../runtime/index.ts').TrainResult }> {
  const { result, compiled } = await compileSpec(spec, o.outDir, { runtime: runtimeEntry() });
  if (reportDiagnostics(result) || !compiled) return { status: 1 };
  // The run folder holds the code it trained: model/ (model.ts, train.ts) and the IR.
  compiled.dir = join(o.outDir, 'model');
  mkdirSync(o.outDir, { recursive: true });
  // An ES module scope of its own, wherever the run folder is.
  compiled.files.set('package.json', '{ "type": "module", "private": true }\n');
  writeCompiled(compiled);
  writeFileSync(join(o.outDir, 'ir.json'), JSON.stringify(result.ir) + '\n');

  const rt = await loadRuntime();
  await rt.selectBackend({ name: o.backend, threads: o.threads });
  const stop = { requested: false };
  const onSigint = () => {
    if (stop.requested) process.exit(130);
    stop.requested = true;
    process.stderr.write('\ninterrupted: finishing this step and writing a checkpoint (Ctrl-C again to quit now)\n');
  };
  process.on('SIGINT', onSigint);
  try {
    const data = rt.loadDataset(o.data, { limit: o.limit });
    const trainer = await importTs<{ train: (t: import('../runtime/index.ts').TrainOptions) => Promise<import('../runtime/index.ts').TrainResult> }>(join(compiled.dir, 'train.ts'));
    const r = await trainer.train({ ...o.run, data, outDir: o.outDir, steps: o.steps, stop });
    return { status: r.stoppedEarly ? 130 : 0, result: r };
  } catch (e) {
    if (e instanceof rt.TrainingError || e instanceof rt.DataError || (e as Error).name === 'SafetensorsError') {
      process.stderr.write(`unetc train: ${(e as Error).message}\n`);
      return { status: 1 };
    }
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

export async function trainCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    data: { type: 'string' },
    steps: { type: 'string' },
    batch: { type: 'string' },
    out: { type: 'string' },
    resume: { type: 'boolean' },
    seed: { type: 'string' },
    backend: { type: 'string' },
    threads: { type: 'string' },
    'init-from': { type: 'string' },
    'sample-every': { type: 'string' },
    'sample-count': { type: 'string' },
    'checkpoint-every': { type: 'string' },
    keep: { type: 'string' },
    'sample-steps': { type: 'string' },
    limit: { type: 'string' },
    lr: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (positionals.length !== 1) throw new UsageError('takes exactly one spec file');
  const spec = positionals[0];
  const lr = values.lr === undefined ? undefined : Number(values.lr);
  if (lr !== undefined && !(lr > 0)) throw new UsageError(`--lr takes a positive number, got '${values.lr}'`);
  const name = spec.replace(/^.*\//, '').replace(/\.unet$/, '');
  const outDir = resolve(values.out ?? join('runs', name));
  const { status, result: r } = await trainSpec(spec, {
    outDir,
    data: values.data ?? 'mnist',
    steps: intOption(values.steps, 'steps') ?? 1000,
    limit: intOption(values.limit, 'limit'),
    backend: backendOption(values.backend),
    threads: threadsOption(values.threads),
    run: {
      batch: intOption(values.batch, 'batch'),
      seed: intOption(values.seed, 'seed', 0),
      resume: values.resume === true,
      initFrom: values['init-from'],
      sampleEvery: intOption(values['sample-every'], 'sample-every'),
      sampleCount: intOption(values['sample-count'], 'sample-count'),
      checkpointEvery: intOption(values['checkpoint-every'], 'checkpoint-every'),
      keep: intOption(values.keep, 'keep'),
      sampleSteps: intOption(values['sample-steps'], 'sample-steps'),
      lr,
    },
  });
  if (!r) return status;
  if (values.json) process.stdout.write(JSON.stringify(r) + '\n');
  else {
    process.stdout.write(
      `${r.stoppedEarly ? 'stopped' : 'trained'} ${name}: ${r.steps} steps${r.resumedFrom !== undefined ? ` (resumed at ${r.resumedFrom})` : ''}, loss ${r.firstLoss.toFixed(4)} -> ${r.finalLoss.toFixed(4)}\n` +
        `  checkpoint  ${r.checkpoint}\n` +
        (r.grid ? `  samples     ${r.grid}\n` : '') +
        `  loss log    ${join(outDir, 'loss.jsonl')} (curve: ${join(outDir, 'loss.png')})\n`,
    );
  }
  return status;
}
