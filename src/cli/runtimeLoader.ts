/**
 * train and sample run model code emitted for the spec: train compiles it into the run folder
 * (TypeScript to read, JavaScript to run), sample and eval import the folder's JavaScript bound to
 * the runtime of this CLI (one copy of the runtime and of tfjs, wherever the folder was moved).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { IR } from '../ir/types.ts';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { UsageError } from './io.ts';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The unetc package folder (works from src/ through tsx and from the dist/ bundle). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj) && (JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'unetc') return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find the unetc package folder');
}

/** This package's version. */
export function unetcVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

export type Runtime = typeof import('../runtime/index.ts');

/** The runtime of this CLI (loaded on first use: it loads tfjs). */
export const loadRuntime = (): Promise<Runtime> => import('../runtime/index.ts');

/** The URL of this CLI's runtime module: dist/src/runtime/index.js (src/runtime/index.ts when run from the sources). */
export function runtimeUrl(): string {
  const here = fileURLToPath(import.meta.url);
  return pathToFileURL(join(dirname(here), '..', 'runtime', `index${extname(here)}`)).href;
}

/** The model code's files, as JavaScript: `.js` as written by train, else the `.ts` transpiled (run folders from before). */
async function modelFiles(dir: string): Promise<Map<string, string>> {
  const names = readdirSync(dir);
  const js = new Map(names.filter((f) => f.endsWith('.js')).map((f) => [f, readFileSync(join(dir, f), 'utf8')] as [string, string]));
  const ts = names.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !js.has(f.replace(/\.ts$/, '.js')));
  if (ts.length === 0) return js;
  const { toJavaScript } = await import('../emit/javascript.ts');
  for (const [f, text] of await toJavaScript(new Map(ts.map((f) => [f, readFileSync(join(dir, f), 'utf8')])))) js.set(f, text);
  return js;
}

/**
 * Imports `entry` of model code given as its JavaScript files, with `unetc/runtime` bound to this
 * CLI's runtime (and, for run folders written before the package was compiled, their absolute
 * path to a checkout's src/runtime/index.ts). The files are imported from a temporary folder,
 * removed once loaded, so the run folder holds no path and is never written to.
 */
export async function importModelFiles<T>(files: ReadonlyMap<string, string>, entry: string): Promise<T> {
  const staging = mkdtempSync(join(tmpdir(), 'unetc-model-'));
  try {
    writeFileSync(join(staging, 'package.json'), '{ "type": "module", "private": true }\n');
    const url = runtimeUrl();
    for (const [f, text] of files) {
      if (!f.endsWith('.js')) continue;
      const bound = text.replace(/(from\s*|import\s*\(\s*)(['"])([^'"]+)\2/g, (m, pre: string, q: string, spec: string) =>
        spec === 'unetc/runtime' || /\/runtime\/index\.[jt]s$/.test(spec) ? `${pre}${q}${url}${q}` : m,
      );
      writeFileSync(join(staging, f), bound);
    }
    return (await import(pathToFileURL(join(staging, entry)).href)) as T;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

const loaded = new Map<string, Promise<unknown>>();

/** Imports a module of a run folder's model code (model/train.ts or model.ts: its JavaScript), once per file. */
export function importModel<T>(file: string): Promise<T> {
  const key = resolve(file);
  let p = loaded.get(key);
  if (!p) {
    p = modelFiles(dirname(key)).then((files) => importModelFiles<T>(files, basename(key).replace(/\.ts$/, '.js')));
    loaded.set(key, p);
  }
  return p as Promise<T>;
}

/**
 * A run folder or one of its checkpoints, as `sample` and `eval` take them: the run folder, the
 * checkpoint to read (the newest one for a folder: a damaged newest file is refused when it is
 * read, never silently replaced by an older one; `older` names the one before it) and the folder
 * of the run's model code.
 */
export function resolveRunTarget(arg: string): { runDir: string; checkpoint: string; modelDir: string; older?: string } {
  const target = resolve(arg);
  if (!existsSync(target)) throw new UsageError(`no such run folder or checkpoint: ${arg}`);
  let runDir = target;
  let checkpoint = target;
  let older: string | undefined;
  if (statSync(target).isDirectory()) {
    const ckDir = join(runDir, 'checkpoints');
    const names = existsSync(ckDir)
      ? readdirSync(ckDir)
          .filter((f) => /^step-\d+\.safetensors$/.test(f))
          .sort()
      : [];
    if (!names.length) throw new UsageError(`${arg} has no checkpoints/`);
    checkpoint = join(ckDir, names[names.length - 1]);
    if (names.length > 1) older = join(ckDir, names[names.length - 2]);
  } else {
    runDir = dirname(dirname(target));
  }
  const modelDir = join(runDir, 'model');
  if (!existsSync(join(modelDir, 'model.ts')) || !existsSync(join(modelDir, 'train.ts')))
    throw new UsageError(`${runDir} has no model/ (was it written by unetc train?)`);
  return { runDir, checkpoint, modelDir, older };
}

/** The IR a run was trained from (its ir.json), for the checks made before any work. */
export function readRunIr(runDir: string): IR {
  const path = join(runDir, 'ir.json');
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as IR;
  } catch (e) {
    throw new UsageError(`${path}: cannot read the run's IR (${(e as Error).message})`);
  }
}

/** The samplers a diffusion process offers (the runtime's samplersFor, without loading tfjs). */
export const samplersOf = (diffusion: Record<string, unknown>): string[] =>
  diffusion.process === 'edm' ? ['heun'] : ['ddim', 'ancestral'];

/** A --sampler the run's model does not have is a usage error naming the ones it has. */
export function checkSampler(ir: IR, sampler: string | undefined): void {
  const choices = samplersOf(ir.diffusion);
  if (sampler !== undefined && !choices.includes(sampler))
    throw new UsageError(`--sampler for ${ir.name} (${String(ir.diffusion.process)}) is one of ${choices.join(', ')}; got '${sampler}'`);
}
