/**
 * `unetc train SPEC [--data mnist | cifar10:PATH | folder:PATH] [--steps N] [--batch B] [--out RUN_DIR]
 *   [--resume] [--seed S] [--backend NAME] [--threads N] [--init-from CKPT] [--sample-every K] [--sample-count N]
 *   [--sample-steps K] [--checkpoint-every K] [--keep K] [--limit N] [--lr X] [--force] [--allow-spec-change] [--json]`
 */
import { existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { computeStats } from '../analysis/stats.ts';
import { compileSpec } from '../emit/compile.ts';
import { writeFileAtomic } from '../runtime/io/atomicWrite.ts';
import {
  checkNotLocked,
  existingRun,
  readRunRecord,
  refuseExistingRun,
  RunFolderError,
  RUN_FORMAT,
  runChanges,
  specHash,
  writeRunRecord,
  type RunRecord,
} from '../runtime/train/runFolder.ts';
import { toJavaScript } from '../emit/javascript.ts';
import { defineCommand, type OptionDef } from './command.ts';
import { backendOption, floatOption, intOption, reportDiagnostics, threadsOption, UsageError, type BackendName } from './io.ts';
import { memoryBudget, trainingMemoryProblem } from './memory.ts';
import { importModelFiles, loadRuntime, packageRoot } from './runtimeLoader.ts';

/** What `unetc train` and `unetc ablate --train` pass to a training run. */
export interface TrainSpecOptions {
  outDir: string;
  data: string;
  steps: number;
  limit?: number;
  backend?: BackendName;
  /** wasm threads (undefined: UNETC_WASM_THREADS, else 1). */
  threads?: number;
  /** Move a run already in outDir aside (to outDir.old-TIME) instead of refusing. */
  force?: boolean;
  /** Resume although the spec or an option changed (recorded in run.json). */
  allowSpecChange?: boolean;
  /** Everything the runtime's training loop takes besides data, output folder and steps. */
  run: Omit<import('../runtime/index.ts').TrainOptions, 'data' | 'outDir' | 'steps' | 'stop'>;
  /** Every option as given on the command line (recorded in run.json). */
  given?: Record<string, unknown>;
}

/**
 * On --resume, what carries over from the run.json already in `outDir` to this session's `record`:
 * its creation time and the history of accepted spec changes. Any other difference (the engine
 * aside: a run moves between engines) is refused unless `allowSpecChange`, and then recorded.
 */
export function carryOverRecord(outDir: string, record: RunRecord, allowSpecChange: boolean): void {
  const old = readRunRecord(outDir);
  if (!old) return;
  const withoutEngine = (r: RunRecord): RunRecord => ({
    ...r,
    options: Object.fromEntries(Object.entries(r.options).filter(([k]) => k !== 'engine')),
  });
  const changes = runChanges(withoutEngine(old), withoutEngine(record));
  if (changes.length && !allowSpecChange) {
    throw new RunFolderError(
      `${outDir} was trained with another spec or options; nothing was changed. What differs from its run.json:\n  ${changes.join('\n  ')}\nResume with the same spec and options, or pass --allow-spec-change to accept the change (it is recorded in run.json)`,
    );
  }
  record.created = old.created;
  record.specChanges = [...(old.specChanges ?? []), ...(changes.length ? [{ at: new Date().toISOString(), changes }] : [])];
  if (!record.specChanges.length) delete record.specChanges;
}

/** Writes the model code a run folder keeps (model/), leaving files that are already as given untouched. */
export function writeModelFolder(modelDir: string, files: Iterable<[string, string]>): void {
  mkdirSync(modelDir, { recursive: true });
  for (const [f, text] of files) {
    const path = join(modelDir, f);
    if (!existsSync(path) || readFileSync(path, 'utf8') !== text) writeFileAtomic(path, Buffer.from(text));
  }
}

/** Signals that stop training after the current step, with the exit status each one gives. */
const STOP_SIGNALS = { SIGINT: 130, SIGTERM: 143 } as const;

/** A data set's path must exist before any work (mnist comes from a package). */
function checkDataPath(data: string): void {
  const colon = data.indexOf(':');
  if (colon < 0) return;
  const path = data.slice(colon + 1);
  if (path !== '' && !existsSync(path)) throw new RunFolderError(`dataset "${data}": ${resolve(path)} does not exist`);
}

/** The folder must be a folder, or creatable; checked before anything is compiled or loaded. */
function checkOutDir(dir: string): void {
  let at = dir;
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
  if (!statSync(at).isDirectory()) throw new RunFolderError(`cannot use ${dir} as the run folder: ${at} is a file`);
}

const sourcesOf = (spec: string, sources: Map<string, string>) =>
  Object.fromEntries([...sources].map(([f, t]) => [relative(dirname(resolve(spec)), resolve(f)) || basename(f), t]));

/** A path option as run.json keeps it: relative to the run folder (a run folder holds no absolute path). */
const portablePath = (outDir: string, path: string) => (isAbsolute(path) ? relative(outDir, path) : path);

/**
 * The record of what produces this run: spec texts and hash, the options that decide the weights
 * (compared on --resume), every option given, the versions, and when this session started.
 */
export function runRecord(spec: string, sources: Map<string, string>, o: TrainSpecOptions): RunRecord {
  const texts = sourcesOf(spec, sources);
  const data = o.data.replace(/^(\w+):(.+)$/, (_m, scheme: string, path: string) => `${scheme}:${portablePath(o.outDir, path)}`);
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  const given = Object.fromEntries(
    Object.entries(o.given ?? {})
      // --out is the run folder itself; other paths are kept relative to it.
      .filter(([k, v]) => v !== undefined && k !== 'out')
      .map(([k, v]) => [k, k === 'data' ? data : k === 'init-from' && typeof v === 'string' ? portablePath(o.outDir, resolve(v)) : v]),
  );
  const now = new Date().toISOString();
  return {
    format: RUN_FORMAT,
    spec: { file: basename(spec), sha256: specHash(texts), sources: texts },
    options: {
      data,
      limit: o.limit ?? null,
      batch: o.run.batch ?? null,
      seed: o.run.seed ?? 0,
      lr: o.run.lr ?? null,
      'init-from': o.run.initFrom ? basename(o.run.initFrom) : null,
    },
    given,
    seed: o.run.seed ?? 0,
    versions: { unetc: pkg.version, node: process.version },
    created: now,
    started: now,
    finished: null,
  };
}

/**
 * Trains a spec in a run folder. Every input and the folder are checked before anything is
 * compiled, loaded or written; the folder's model/, ir.json and run.json are written only once the
 * run starts (the runtime's checks passed and the folder is locked). Problems are reported on
 * stderr; the status is 0 (done), 1 (a problem), 130 (SIGINT) or 143 (SIGTERM).
 */
export async function trainSpec(
  spec: string,
  o: TrainSpecOptions,
): Promise<{ status: number; result?: import('../runtime/index.ts').TrainResult }> {
  const fail = (m: string) => {
    process.stderr.write(`unetc train: ${m}\n`);
    return { status: 1 };
  };
  const stop = { requested: false, signal: undefined as keyof typeof STOP_SIGNALS | undefined };
  const handlers = Object.keys(STOP_SIGNALS).map((sig) => {
    const signal = sig as keyof typeof STOP_SIGNALS;
    const h = () => {
      if (stop.requested) process.exit(STOP_SIGNALS[stop.signal ?? signal]);
      stop.requested = true;
      stop.signal = signal;
      process.stderr.write(
        `\n${signal === 'SIGINT' ? 'interrupted' : 'terminated (SIGTERM)'}: finishing this step and writing a checkpoint (${signal === 'SIGINT' ? 'Ctrl-C' : 'the signal'} again to quit now)\n`,
      );
    };
    process.on(signal, h);
    return [signal, h] as const;
  });
  let rt: import('./runtimeLoader.ts').Runtime | undefined;
  try {
    // Inputs and the run folder first: nothing is compiled, loaded or written for a start that cannot run.
    checkDataPath(o.data);
    if (o.run.initFrom && !existsSync(o.run.initFrom)) throw new RunFolderError(`--init-from ${o.run.initFrom}: no such checkpoint`);
    checkOutDir(o.outDir);
    // A folder in use, or holding a run that this start would overwrite: refused at once.
    checkNotLocked(o.outDir);
    let moveAside: string | undefined;
    if (!o.run.resume) {
      if (o.force && existingRun(o.outDir).length) moveAside = `${o.outDir}.old-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      else refuseExistingRun(o.outDir);
    }
    const { result, compiled } = await compileSpec(spec, o.outDir);
    if (reportDiagnostics(result) || !compiled) return { status: 1 };
    const record = runRecord(spec, result.sources, o);
    // A run trained with the torch engine resumes here too.
    if (o.run.resume) carryOverRecord(o.outDir, record, o.allowSpecChange === true);
    // Will it fit? Before loading a backend or any data.
    const stats = computeStats(result.ir!);
    const batch = o.run.batch ?? (typeof result.ir!.training.batch === 'number' ? result.ir!.training.batch : 64);
    if (o.backend) {
      const problem = trainingMemoryProblem(stats, batch, memoryBudget(o.backend));
      if (problem) return fail(problem);
    }

    rt = await loadRuntime();
    const selected = await rt.selectBackend({ name: o.backend, threads: o.threads });
    record.versions = {
      ...record.versions,
      tfjs: rt.tf.version_core,
      backend: selected.name,
      ...(selected.native ? { onednn: selected.native.onednn } : {}),
    };
    if (!o.backend) {
      const problem = trainingMemoryProblem(stats, batch, memoryBudget(selected.name));
      if (problem) return fail(problem);
    }
    const data = rt.loadDataset(o.data, { limit: o.limit, size: result.ir!.input.size });
    // The run folder keeps the model code it trained: TypeScript to read and JavaScript to run,
    // importing 'unetc/runtime' by name (sample binds that to the runtime of the unetc that runs it).
    // It is imported now from a staging folder, so that the run folder is written only once the
    // runtime's checks (resume, data, lock) have passed.
    const js = await toJavaScript(compiled.files);
    const files = new Map([...compiled.files, ...js, ['package.json', '{ "type": "module", "private": true }\n']]);
    const trainer = await importModelFiles<{
      train: (t: import('../runtime/index.ts').TrainOptions) => Promise<import('../runtime/index.ts').TrainResult>;
    }>(js, 'train.js');
    if (moveAside) {
      renameSync(o.outDir, moveAside);
      process.stderr.write(`moved the run that was in ${o.outDir} to ${moveAside}\n`);
    }
    const onFolderReady = () => {
      // The run folder holds the code it trained (model/: model.ts, train.ts), the IR and its record.
      writeModelFolder(join(o.outDir, 'model'), files);
      writeFileAtomic(join(o.outDir, 'ir.json'), Buffer.from(JSON.stringify(result.ir) + '\n'));
      writeRunRecord(o.outDir, record);
    };
    const r = await trainer.train({ ...o.run, data, outDir: o.outDir, steps: o.steps, stop, onFolderReady });
    if (!r.complete) {
      record.finished = new Date().toISOString();
      record.steps = r.steps;
      writeRunRecord(o.outDir, record);
    }
    return { status: r.stoppedEarly ? STOP_SIGNALS[stop.signal ?? 'SIGINT'] : 0, result: r };
  } catch (e) {
    if (
      e instanceof RunFolderError ||
      (rt && (e instanceof rt.TrainingError || e instanceof rt.DataError || e instanceof rt.RunFolderError)) ||
      (e as Error).name === 'SafetensorsError'
    )
      return fail((e as Error).message);
    throw e;
  } finally {
    for (const [sig, h] of handlers) process.off(sig, h);
  }
}

const BACKENDS = ['tensorflow', 'wasm', 'cpu'] as const;

const options = {
  data: {
    arg: 'set',
    help: "mnist (28x28, or padded to 32x32, as the spec's size asks), cifar10:PATH, or folder:PATH (PNG files of the spec's size)",
    default: 'mnist',
  },
  steps: { arg: 'n', help: 'train until this many steps are done', default: '1000' },
  batch: { arg: 'b', help: 'images per step', defaultText: "the spec's training batch, else 64" },
  lr: { arg: 'x', help: 'learning rate', defaultText: "the spec's lr" },
  out: { arg: 'dir', short: 'o', help: 'the run folder', defaultText: 'runs/<spec name>' },
  resume: { help: 'continue the run in the folder from its last checkpoint (same data order and RNG state)' },
  force: { help: 'move a run already in the folder aside (to DIR.old-TIME) and start anew' },
  'allow-spec-change': { help: 'resume although the spec or an option changed (recorded in run.json)' },
  seed: { arg: 's', help: 'seed of the initialisation, data order and noise', default: '0' },
  limit: { arg: 'n', help: 'use only the first n images of the data set' },
  'init-from': { arg: 'ckpt', help: 'start from the weights of a checkpoint (e.g. a base model for LoRA)' },
  'checkpoint-every': { arg: 'k', help: 'write a checkpoint every k steps', defaultText: '--sample-every' },
  keep: { arg: 'k', help: 'checkpoints kept (the oldest are removed)', default: '3' },
  'sample-every': { arg: 'k', help: 'draw a sample grid every k steps', defaultText: 'steps / 4' },
  'sample-count': { arg: 'n', help: 'images per sample grid', default: '64' },
  'sample-steps': { arg: 'k', help: 'sampler steps for the grids', defaultText: "the spec's sampler steps" },
  backend: { arg: 'name', help: 'tfjs backend', choices: BACKENDS, defaultText: 'the best one installed' },
  threads: { arg: 'n', help: 'kernel threads, 1 to 8 (see unetc --help)' },
  json: { help: 'print the result (steps, losses, checkpoint, s/step, sampling time) as JSON' },
  engine: {
    arg: 'name',
    help: 'tfjs: the TypeScript runtime in this process; torch: the emitted PyTorch model.py/train.py (torch.distributed)',
    default: 'tfjs',
    choices: ['tfjs', 'torch'],
  },
  nproc: { arg: 'n', help: 'with --engine torch: local processes (gloo on CPU, NCCL on CUDA)', defaultText: '1' },
  'prepare-only': { help: 'with --engine torch: write the run folder and print the launch command (torchrun, SLURM); train nothing' },
} as const satisfies Record<string, OptionDef>;

export const train = defineCommand({
  name: 'train',
  args: '<spec>',
  summary: 'train a spec in a run folder (checkpoints, loss log, sample grids)',
  details:
    'The run folder holds what produced the run (run.json: spec text and hash, options, versions, start and end), the ' +
    'model code it trained (model/), its IR, checkpoints (safetensors), the loss log and curve, and sample grids. It holds ' +
    'no absolute path: move or copy it and `unetc sample` still reads it. A folder with a run is never overwritten: ' +
    'continue it with --resume, or move it aside with --force.',
  options,
  examples: [
    'unetc train specs/nano-mnist.unet --steps 2000 --out runs/nano',
    'unetc train specs/nano-mnist.unet --steps 4000 --out runs/nano --resume',
    'unetc train specs/attn-unet-mnist.unet --data folder:./my-digits --batch 32',
    'unetc train specs/nano-mnist.unet --engine torch --nproc 2 --steps 200 --out runs/nano-torch',
  ],
  run: ([spec], values) => trainRun(spec!, values),
});

async function trainRun(spec: string, values: import('./command.ts').Values<typeof options>): Promise<number> {
  const engine = values.engine ?? 'tfjs';
  if (engine !== 'torch' && (values.nproc !== undefined || values['prepare-only']))
    throw new UsageError('--nproc and --prepare-only need --engine torch');
  const lr = floatOption(values.lr, 'lr', { positive: true });
  if (values.force && values.resume) throw new UsageError('--force starts a new run and --resume continues one: give one of them');
  const name = spec.replace(/^.*\//, '').replace(/\.unet$/, '');
  const outDir = resolve(values.out ?? join('runs', name));
  if (engine === 'torch') return (await import('./trainTorch.ts')).trainTorchCommand(spec, outDir, values);
  const { status, result: r } = await trainSpec(spec, {
    outDir,
    data: values.data ?? 'mnist',
    steps: intOption(values.steps, 'steps') ?? 1000,
    limit: intOption(values.limit, 'limit'),
    backend: backendOption(values.backend),
    threads: threadsOption(values.threads),
    force: values.force === true,
    allowSpecChange: values['allow-spec-change'] === true,
    given: values,
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
  else if (r.complete)
    process.stdout.write(
      `${name} is complete: ${r.steps} of ${r.steps} steps done (final loss ${r.finalLoss.toFixed(4)}); nothing trained. Give a larger --steps to train further\n  checkpoint  ${r.checkpoint}\n`,
    );
  else {
    const timing =
      r.secondsPerStep !== undefined
        ? `  time        ${r.secondsPerStep.toFixed(3)} s/step${r.sampling?.grids ? `; sampling apart: ${r.sampling.grids} grid${r.sampling.grids === 1 ? '' : 's'} in ${r.sampling.seconds.toFixed(1)} s` : ''}\n`
        : '';
    process.stdout.write(
      `${r.stoppedEarly ? 'stopped' : 'trained'} ${name}: ${r.steps} steps${r.resumedFrom !== undefined ? ` (resumed at ${r.resumedFrom})` : ''}, loss ${r.firstLoss.toFixed(4)} -> ${r.finalLoss.toFixed(4)}\n` +
        `  checkpoint  ${r.checkpoint}\n` +
        (r.grid ? `  samples     ${r.grid}\n` : '') +
        timing +
        `  loss log    ${join(outDir, 'loss.jsonl')} (curve: ${join(outDir, 'loss.png')})\n`,
    );
  }
  return status;
}
