/**
 * `unetc train SPEC --engine torch [--nproc N] [--prepare-only]`: trains with the PyTorch target.
 * The run folder is checked, locked and written as for the TypeScript engine (model/ with the
 * TypeScript and the PyTorch modules, ir.json, run.json), then N local processes of
 * model/train.py run with the torch.distributed environment set by hand (RANK, WORLD_SIZE,
 * LOCAL_RANK, MASTER_ADDR, MASTER_PORT): no torchrun, whose Debian build (torch 1.13) crashes
 * under Python 3.11. `--prepare-only` writes the folder and prints the command for torchrun / SLURM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { cpus } from 'node:os';
import { join, relative } from 'node:path';
import { compileSpec } from '../emit/compile.ts';
import { writeFileAtomic } from '../runtime/io/atomicWrite.ts';
import { mnistDataDir } from '../runtime/data/mnist.ts';
import {
  acquireRunLock,
  checkNotLocked,
  makeRunDirs,
  refuseExistingRun,
  RunFolderError,
  writeRunRecord,
} from '../runtime/train/runFolder.ts';
import { floatOption, intOption, reportDiagnostics, threadsOption } from './io.ts';
import { toJavaScript } from '../emit/javascript.ts';
import { packageRoot } from './runtimeLoader.ts';
import { findTorchPython } from './torchPython.ts';
import { carryOverRecord, runRecord, writeModelFolder, type TrainSpecOptions } from './train.ts';

export interface TorchTrainOptions extends TrainSpecOptions {
  /** Local processes (default 1). */
  nproc: number;
  /** Write the run folder and print the launch command; train nothing. */
  prepareOnly?: boolean;
  json?: boolean;
}

/** A path as the user would type it: relative below the working directory, else absolute. */
function shownPath(p: string): string {
  const r = relative(process.cwd(), p);
  return r && !r.startsWith('..') ? r : p;
}

/** A free TCP port on this machine for MASTER_PORT. */
function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? res(a.port) : rej(new Error('no port'))));
    });
  });
}

/** train.py's options for this run. */
function trainPyArgs(o: TorchTrainOptions): string[] {
  const a = ['--data', o.data, '--steps', String(o.steps), '--out', o.outDir, '--seed', String(o.run.seed ?? 0)];
  const opt = (k: string, v: number | undefined) => (v === undefined ? [] : [k, String(v)]);
  a.push(
    ...opt('--batch', o.run.batch),
    ...opt('--lr', o.run.lr),
    ...opt('--limit', o.limit),
    ...opt('--checkpoint-every', o.run.checkpointEvery),
    ...opt('--keep', o.run.keep),
  );
  if (o.run.resume) a.push('--resume');
  if (o.json) a.push('--json');
  return a;
}

export async function trainTorch(spec: string, o: TorchTrainOptions): Promise<number> {
  const fail = (m: string) => {
    process.stderr.write(`unetc train: ${m}\n`);
    return 1;
  };
  if (o.run.initFrom) return fail('--init-from is not supported with --engine torch yet');
  const py = findTorchPython();
  if ('error' in py) return fail(py.error);
  let lock: { release(): void } | undefined;
  try {
    checkNotLocked(o.outDir);
    if (!o.run.resume) refuseExistingRun(o.outDir);
    const { result, compiled } = await compileSpec(spec, o.outDir, { target: 'all' });
    if (reportDiagnostics(result) || !compiled) return 1;
    const record = runRecord(spec, result.sources, o);
    record.options.engine = 'torch';
    // The engine may change on resume (a run moves between engines); everything else may not.
    if (o.run.resume) carryOverRecord(o.outDir, record, o.allowSpecChange === true);
    makeRunDirs(o.outDir, ['checkpoints']);
    lock = acquireRunLock(o.outDir);
    const modelDir = join(o.outDir, 'model');
    // As the TypeScript engine keeps it: TypeScript to read, JavaScript to run (importing 'unetc/runtime'
    // by name), so `unetc sample` and a TypeScript --resume read a torch run as their own.
    const js = await toJavaScript(compiled.files);
    writeModelFolder(modelDir, [...compiled.files, ...js, ['package.json', '{ "type": "module", "private": true }\n']]);
    // Where model.py finds python/unetc_torch when a launcher other than unetc starts it (relative: the folder holds no absolute path).
    writeFileAtomic(join(modelDir, '.unetc-runtime'), Buffer.from(relative(modelDir, join(packageRoot(), 'python')) + '\n'));
    writeFileAtomic(join(o.outDir, 'ir.json'), Buffer.from(JSON.stringify(result.ir) + '\n'));
    writeRunRecord(o.outDir, record);
    const trainPy = join(modelDir, 'train.py');
    const args = trainPyArgs(o);
    if (o.prepareOnly) {
      const rel = shownPath(trainPy);
      process.stdout.write(
        `prepared ${o.outDir} for the torch engine; on each node run (with the run folder on a shared file system):\n` +
          `  torchrun --nnodes NODES --nproc_per_node GPUS --rdzv_backend c10d --rdzv_endpoint HOST:29500 ${rel} ${args.join(' ')}\n`,
      );
      return 0;
    }
    const n = o.nproc;
    const threads = o.threads ?? Math.max(1, Math.floor(cpus().length / n));
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      WORLD_SIZE: String(n),
      MASTER_ADDR: '127.0.0.1',
      MASTER_PORT: String(port),
      UNETC_RUN_LOCKED: '1',
      UNETC_TORCH_RUNTIME: join(packageRoot(), 'python'),
      OMP_NUM_THREADS: String(threads),
      OPENBLAS_NUM_THREADS: '1',
    };
    if (o.data === 'mnist' && !process.env.UNETC_MNIST_DIR) env.UNETC_MNIST_DIR = mnistDataDir();
    process.stderr.write(
      `training ${result.ir!.name} with torch ${py.torch} (${py.path}): ${n} process${n > 1 ? 'es' : ''}, gloo on CPU unless CUDA is present, ${threads} thread${threads > 1 ? 's' : ''} each\n`,
    );
    const children: ChildProcess[] = [];
    const exits = await new Promise<(number | null)[]>((resolve) => {
      const codes: (number | null)[] = new Array(n).fill(undefined);
      let left = n;
      for (let r = 0; r < n; r++) {
        const child = spawn(py.path, [trainPy, ...args, '--threads', String(threads)], {
          env: { ...env, RANK: String(r), LOCAL_RANK: String(r) },
          stdio: ['ignore', r === 0 ? 'inherit' : 'ignore', 'inherit'],
        });
        children.push(child);
        child.on('exit', (code, signal) => {
          codes[r] = code ?? (signal ? 128 : 1);
          // One process failing leaves the others waiting in a collective: stop them.
          if (codes[r] !== 0) for (const c of children) if (c !== child && c.exitCode === null) c.kill('SIGTERM');
          if (--left === 0) resolve(codes);
        });
      }
    });
    const bad = exits.findIndex((c) => c !== 0);
    if (bad >= 0) return fail(`process ${bad} of ${n} exited with status ${exits[bad]}`);
    if (!o.json) process.stdout.write(`  sample it with: unetc sample ${shownPath(o.outDir)}\n`);
    return 0;
  } catch (e) {
    if (e instanceof RunFolderError || (e as Error).name === 'SafetensorsError') return fail((e as Error).message);
    throw e;
  } finally {
    lock?.release();
  }
}

/** The `--engine torch` branch of `unetc train` (train.ts parses the options). */
export function trainTorchCommand(spec: string, outDir: string, values: Record<string, string | boolean | undefined>): Promise<number> {
  const s = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  return trainTorch(spec, {
    outDir,
    data: s('data') ?? 'mnist',
    steps: intOption(s('steps'), 'steps') ?? 1000,
    limit: intOption(s('limit'), 'limit'),
    threads: threadsOption(s('threads')),
    allowSpecChange: values['allow-spec-change'] === true,
    nproc: intOption(s('nproc'), 'nproc', 1) ?? 1,
    prepareOnly: values['prepare-only'] === true,
    json: values.json === true,
    run: {
      batch: intOption(s('batch'), 'batch'),
      seed: intOption(s('seed'), 'seed', 0),
      resume: values.resume === true,
      initFrom: s('init-from'),
      checkpointEvery: intOption(s('checkpoint-every'), 'checkpoint-every'),
      keep: intOption(s('keep'), 'keep'),
      lr: floatOption(s('lr'), 'lr', { positive: true }),
    },
  });
}
