/**
 * train and sample run model code emitted for the spec: they compile it into the run folder and
 * import it through tsx, together with the runtime it imports (one copy of the runtime, shared).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import type { IR } from '../ir/types.ts';
import { dirname, join, resolve } from 'node:path';
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

export const runtimeEntry = () => join(packageRoot(), 'src', 'runtime', 'index.ts');

let registered = false;

/** Imports a TypeScript module (registering tsx once). */
export async function importTs<T>(path: string): Promise<T> {
  if (!registered) {
    const { register } = await import('tsx/esm/api');
    register();
    registered = true;
  }
  return (await import(pathToFileURL(path).href)) as T;
}

export type Runtime = typeof import('../runtime/index.ts');

export const loadRuntime = () => importTs<Runtime>(runtimeEntry());

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
    const names = existsSync(ckDir) ? readdirSync(ckDir).filter((f) => /^step-\d+\.safetensors$/.test(f)).sort() : [];
    if (!names.length) throw new UsageError(`${arg} has no checkpoints/`);
    checkpoint = join(ckDir, names[names.length - 1]);
    if (names.length > 1) older = join(ckDir, names[names.length - 2]);
  } else {
    runDir = dirname(dirname(target));
  }
  const modelDir = join(runDir, 'model');
  if (!existsSync(join(modelDir, 'model.ts')) || !existsSync(join(modelDir, 'train.ts'))) throw new UsageError(`${runDir} has no model/ (was it written by unetc train?)`);
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
export const samplersOf = (diffusion: Record<string, unknown>): string[] => (diffusion.process === 'edm' ? ['heun'] : ['ddim', 'ancestral']);
