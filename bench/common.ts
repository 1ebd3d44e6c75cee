/**
 * Shared pieces of the benchmarks: loading a compiled model (generated/<name>/ for specs/, a
 * compile into $TMPDIR/unetc-bench/ for test fixtures), one training step exactly as the training loop
 * does it (src/runtime/train/loop.ts: the process's loss under variableGradsEager, then our Adam),
 * machine information, load averages, medians, the emitted PyTorch model's step as a subprocess.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { compileSpec } from '../src/emit/compile.ts';
import type { Cond } from '../src/runtime/model/embedding.ts';
import type { ParamStore } from '../src/runtime/model/params.ts';
import { variableGradsEager } from '../src/runtime/engine/eagerGradients.ts';
import { Adam } from '../src/runtime/train/optimizer.ts';
import { makeProcess, type NetFn } from '../src/runtime/train/process.ts';
import { batchCond, type ModelModule } from '../src/runtime/train/loop.ts';

export const ROOT = join(import.meta.dirname, '..');
export const BENCH = join(ROOT, 'bench');
export const RESULTS = join(BENCH, 'results');
// Compiled fixtures and IR files go outside the repository (and outside tsconfig's include).
const TMP = join(tmpdir(), 'unetc-bench');
export const PYTHON = process.env.UNETC_BENCH_PYTHON ?? '/usr/bin/python3';

export interface LoadedModel extends ModelModule {
  createModel: (seed?: number) => { params: ParamStore; forward: (x: tf.Tensor4D, cond: Cond, training?: boolean) => tf.Tensor4D };
  paramCount: number;
  trainableParamCount: number;
}

/**
 * The model module of a spec: generated/<name>/index.ts when the spec is in specs/ and its
 * generated module exists (what users run), else compiled now into $TMPDIR/unetc-bench/<name>/.
 */
export async function loadModel(specPath: string): Promise<{ mod: LoadedModel; from: string }> {
  const name = basename(specPath).replace(/\.unet$/, '');
  const gen = join(ROOT, 'generated', name, 'index.ts');
  if (relative(join(ROOT, 'specs'), specPath).split('/').length === 1 && existsSync(gen)) {
    return { mod: (await import(pathToFileURL(gen).href)) as LoadedModel, from: relative(ROOT, gen) };
  }
  const { result, compiled } = await compileSpec(specPath, TMP, { runtime: 'RUNTIME' });
  if (!compiled) throw new Error(`${specPath}: ${result.diagnostics.map((d) => `${d.code} ${d.message}`).join('; ')}`);
  mkdirSync(compiled.dir, { recursive: true });
  // Outside the repository, .ts files are ES modules only with a package.json saying so.
  writeFileSync(join(TMP, 'package.json'), '{ "type": "module", "private": true }\n');
  const runtime = relative(compiled.dir, join(ROOT, 'src', 'runtime', 'index.ts'));
  for (const [file, text] of compiled.files) writeFileSync(join(compiled.dir, file), text.replace("from 'RUNTIME'", `from '${runtime}'`));
  return {
    mod: (await import(pathToFileURL(join(compiled.dir, 'index.ts')).href)) as LoadedModel,
    from: relative(ROOT, join(compiled.dir, 'index.ts')),
  };
}

/** Writes the spec's IR with the CLI (`unetc check SPEC --emit-ir OUT.json`); returns OUT. */
export function emitIr(specPath: string): string {
  mkdirSync(join(TMP, 'ir'), { recursive: true });
  const out = join(TMP, 'ir', basename(specPath).replace(/\.unet$/, '.json'));
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'unetc.mjs'), 'check', specPath, '--emit-ir', out], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`unetc check ${specPath} failed:\n${r.stdout}${r.stderr}`);
  return out;
}

/** One training step of the real loop (loss, gradients, Adam with its gradient norm), no EMA. */
export class Trainer {
  readonly adam: Adam;
  readonly x0: tf.Tensor4D;
  private readonly process_;
  private readonly varList: tf.Variable[];
  private readonly nameOf: Map<string, string>;
  private readonly labels: Int32Array;
  step = 0;

  constructor(
    readonly mod: LoadedModel,
    readonly params: ParamStore,
    readonly batch: number,
    readonly seed = 0,
    /** How gradients are taken (default: as the training loop takes them). */
    private readonly variableGrads: (
      f: () => tf.Scalar,
      vars: tf.Variable[],
    ) => { value: tf.Scalar; grads: tf.NamedTensorMap } = variableGradsEager,
  ) {
    const cfg = mod.config;
    const tr = cfg.training as Record<string, unknown>;
    const num = (k: string) => (typeof tr[k] === 'number' ? (tr[k] as number) : undefined);
    this.adam = new Adam(
      { lr: num('lr') ?? 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, warmup: num('warmup') ?? 0, gradClip: num('grad_clip') },
      params.vars,
    );
    this.process_ = makeProcess(cfg.diffusion);
    const trainable = new Map([...params.vars].filter(([, v]) => v.trainable));
    this.varList = [...trainable.values()];
    this.nameOf = new Map([...trainable].map(([k, v]) => [v.name, k]));
    // Images in [-1, 1] (the data loaders' range); the content does not change the work.
    this.x0 = tf.tidy(() =>
      tf.sub(tf.mul(tf.randomUniform([batch, cfg.imageSize, cfg.imageSize, cfg.channels], 0, 1, 'float32', 7), 2), 1),
    ) as tf.Tensor4D;
    this.labels = Int32Array.from({ length: batch }, (_, i) => i % Math.max(1, cfg.classes));
  }

  /**
   * The loss and the gradients (to be disposed by the caller) of micro-batch j of k (rows j*B/k ..
   * (j+1)*B/k - 1 of the batch; k = 1: the whole batch, as the training loop does it).
   */
  grads(j = 0, k = 1): { value: tf.Scalar; grads: tf.NamedTensorMap } {
    const mod = this.mod;
    const step = this.step;
    const m = this.batch / k;
    const labels = mod.config.classes > 0 ? this.labels.subarray(j * m, (j + 1) * m) : undefined;
    return this.variableGrads(() => {
      const x0 = k === 1 ? this.x0 : (tf.slice(this.x0, [j * m, 0, 0, 0], [m, -1, -1, -1]) as tf.Tensor4D);
      const net: NetFn = (xt, noise) => mod.forward(this.params, xt, batchCond(mod, labels, noise), true, this.seed + step * k + j);
      return this.process_.loss(net, x0, this.seed, step * k + j);
    }, this.varList);
  }

  /**
   * One full step (returns the loss): gradients of the batch, then Adam. With micro > 1 the batch is
   * split into `micro` equal parts whose gradients are averaged (the same gradient as the whole
   * batch's mean loss) before the one Adam update: gradient accumulation, for when a batch does
   * not fit in memory.
   */
  run(micro = 1): number {
    if (this.batch % micro !== 0) throw new Error(`batch ${this.batch} does not split into ${micro} micro-batches`);
    let loss = 0;
    let acc: Map<string, tf.Tensor> | undefined;
    for (let j = 0; j < micro; j++) {
      const { value, grads } = this.grads(j, micro);
      loss += value.dataSync()[0] / micro;
      const named = new Map<string, tf.Tensor>(Object.entries(grads).map(([k, g]) => [this.nameOf.get(k)!, g]));
      if (!acc) acc = named;
      else {
        for (const [k, g] of named) {
          const prev = acc.get(k)!;
          acc.set(k, tf.add(prev, g));
          prev.dispose();
          g.dispose();
        }
      }
      value.dispose();
    }
    if (micro > 1) {
      for (const [k, g] of acc!) {
        acc!.set(k, tf.div(g, micro));
        g.dispose();
      }
    }
    this.adam.apply(this.params.vars, acc!);
    tf.dispose([...acc!.values()]);
    this.step++;
    return loss;
  }

  dispose(): void {
    this.adam.dispose();
    this.x0.dispose();
  }
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The wasm heap size (it only grows, so this is its high-water mark), or undefined off wasm. */
export function wasmHeapBytes(): number | undefined {
  const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return b.wasm?.HEAPU8?.length;
}

export const mib = (b: number | undefined) => (b === undefined ? 'n/a' : `${(b / 2 ** 20).toFixed(0)} MiB`);
export const gib = (b: number | undefined) => (b === undefined ? 'n/a' : `${(b / 2 ** 30).toFixed(2)} GiB`);

export function loadAvg(): number[] {
  return loadavg().map((x) => Math.round(x * 100) / 100);
}

function pkgVersion(name: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return undefined;
  }
}

export function machineInfo(): Record<string, unknown> {
  const c = cpus();
  return {
    date: new Date().toISOString(),
    cpu: c[0]?.model ?? 'unknown',
    cores: c.length,
    memory_gib: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    tfjs: pkgVersion('@tensorflow/tfjs-core'),
    tfjs_backend_wasm: pkgVersion('@tensorflow/tfjs-backend-wasm'),
    loadavg_start: loadAvg(),
  };
}

/** Whether the reference PyTorch can be imported; the reason when not. */
export function torchStatus(): { ok: true; version: string; config: string; python: string } | { ok: false; why: string } {
  const r = spawnSync(PYTHON, [join(BENCH, 'torch_step.py'), '--show-config'], { encoding: 'utf8', env: torchEnv() });
  if (r.error) return { ok: false, why: `${PYTHON} not runnable (${r.error.message})` };
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    const j = JSON.parse(line) as { error?: string; torch_version: string; torch_config: string; python: string };
    if (j.error) return { ok: false, why: j.error };
    return { ok: true, version: j.torch_version, config: j.torch_config, python: j.python };
  } catch {
    return {
      ok: false,
      why: `${PYTHON} bench/torch_step.py --show-config failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ')}`,
    };
  }
}

/**
 * Which BLAS the reference PyTorch actually loads, and whether a ratio against it is fair. Debian's
 * python3-torch links libblas.so.3, which is the reference (unoptimised) BLAS unless an optimised one
 * (libopenblas0-pthread) is installed: with the reference BLAS the attention U-Net's torch step took
 * 11.3 s instead of 3.4 s and the tfjs/torch ratio looked 3.4x better than it is. Torch runs a
 * matmul and a bmm (so that the BLAS is loaded), then the shared objects mapped into the process
 * (/proc/self/maps) are classified; torch.__config__ covers a BLAS linked statically (pip wheels'
 * MKL).
 */
export interface TorchBlas {
  /** openblas, mkl, blis, atlas, flexiblas, reference, or unknown. */
  kind: string;
  /** The BLAS/LAPACK shared objects torch loaded (real paths). */
  libraries: string[];
  /** A ratio against this torch is fair (an optimised BLAS). */
  optimised: boolean;
  /** Why not, and what to install. */
  why?: string;
}

const BLAS_PROBE = `
import json, os, re, torch
a = torch.randn(256, 256); (a @ a).sum().item(); torch.bmm(torch.randn(4, 64, 32), torch.randn(4, 32, 64)).sum().item()
libs = sorted({os.path.realpath(l.split()[-1]) for l in open('/proc/self/maps') if len(l.split()) >= 6 and re.search(r'(blas|lapack|mkl|blis|atlas)[^/]*\\.so', l.split()[-1], re.I)})
print(json.dumps({'libs': libs, 'config': torch.__config__.show()}))
`;

/** Classifies the BLAS of a torch process from the libraries it mapped and its build config. */
export function classifyBlas(libs: string[], config: string): TorchBlas {
  const has = (re: RegExp) => libs.some((l) => re.test(l));
  const install = 'install an optimised BLAS for it: `apt-get install -y libopenblas0-pthread` (Debian), or use a PyTorch build with MKL';
  let kind = 'unknown';
  if (has(/mkl/i)) kind = 'mkl';
  else if (has(/openblas/i)) kind = 'openblas';
  else if (has(/blis/i)) kind = 'blis';
  else if (has(/atlas/i)) kind = 'atlas';
  else if (has(/flexiblas/i)) kind = 'flexiblas';
  else if (has(/\/blas\/lib(c)?blas\.so/) || has(/libblas\.so/)) kind = 'reference';
  else if (/BLAS_INFO=mkl/i.test(config) || /USE_MKL=ON/i.test(config)) kind = 'mkl';
  if (kind === 'reference')
    return {
      kind,
      libraries: libs,
      optimised: false,
      why: `torch runs on the reference BLAS (${libs.join(', ')}): not a fair baseline; ${install}`,
    };
  if (kind === 'unknown')
    return {
      kind,
      libraries: libs,
      optimised: false,
      why: `could not tell which BLAS torch uses (no BLAS library mapped, none in torch.__config__); ${install}`,
    };
  return { kind, libraries: libs, optimised: true };
}

/** {@link classifyBlas} for the reference PyTorch (with the benchmark's environment). */
export function torchBlas(): TorchBlas {
  const r = spawnSync(PYTHON, ['-c', BLAS_PROBE], { encoding: 'utf8', env: torchEnv() });
  try {
    const j = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as { libs: string[]; config: string };
    return classifyBlas(j.libs, j.config);
  } catch {
    return {
      kind: 'unknown',
      libraries: [],
      optimised: false,
      why: `the BLAS probe failed: ${(r.stderr || String(r.error)).trim().split('\n').slice(-2).join(' / ')}`,
    };
  }
}

export const TORCH_MISSING =
  'PyTorch is not installed for /usr/bin/python3: skipping the PyTorch side. Install it with `apt-get install -y python3-torch libopenblas0-pthread` (benchmarks only; unetc never depends on it).';

export function torchEnv(): NodeJS.ProcessEnv {
  return { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? '2' };
}

export interface TwinResult {
  name: string;
  params: number;
  trainable: number;
  median_ms: number;
  steps_ms: number[];
  threads: number;
  profile: { name: string; self_ms: number; calls: number }[] | null;
}

/**
 * Times training steps of the spec's emitted PyTorch model (generated/<spec>/model.py, the torch
 * target) in bench/torch_step.py; its per-step lines go to our stderr as they come.
 */
export function runTwin(
  modelPy: string,
  o: { batch: number; warmup: number; steps: number; threads: number; profile?: boolean },
): Promise<TwinResult> {
  const args = [
    join(BENCH, 'torch_step.py'),
    modelPy,
    '--batch',
    String(o.batch),
    '--warmup',
    String(o.warmup),
    '--steps',
    String(o.steps),
    '--threads',
    String(o.threads),
  ];
  if (o.profile) args.push('--profile');
  const env = torchEnv();
  env.OMP_NUM_THREADS = String(o.threads);
  return new Promise((resolve, reject) => {
    const p = spawn(PYTHON, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      process.stderr.write(forwardable(d));
    });
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`torch step failed (${code}):\n${err.split('\n').slice(-15).join('\n')}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!) as TwinResult);
      } catch (e) {
        reject(new Error(`torch step output unreadable: ${(e as Error).message}\n${out.slice(-500)}`));
      }
    });
  });
}

/** A child's stderr chunk without stack frames and huge lines (the minified emscripten source a wasm abort quotes). */
export function forwardable(d: Buffer): string {
  return d
    .toString()
    .split('\n')
    .filter((l) => l.length < 400 && !/^\s+at /.test(l))
    .join('\n');
}

/** Writes `data` as JSON to `file` (relative to bench/results/, or absolute); returns its path. */
export function writeResult(file: string, data: unknown): string {
  const path = resolve(RESULTS, file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(data, null, 2) + '\n');
  return relative(ROOT, path);
}

/** A fixed-width text table. */
export function table(head: string[], rows: (string | number)[][], right: boolean[] = head.map((_, i) => i > 0)): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const w = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (right[i] ? c.padStart(w[i]) : c.padEnd(w[i]))).join('  ');
  return [line(head), w.map((x) => '-'.repeat(x)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

export function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

export const hasFlag = (name: string) => process.argv.includes(name);
