/**
 * train and sample run model code emitted for the spec: they compile it into the run folder and
 * import it through tsx, together with the runtime it imports (one copy of the runtime, shared).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
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
 * checkpoint to read (the newest readable one for a folder) and the folder of the run's model code.
 */
export function resolveRunTarget(arg: string, rt: Runtime): { runDir: string; checkpoint: string; modelDir: string } {
  const target = resolve(arg);
  if (!existsSync(target)) throw new UsageError(`no such run folder or checkpoint: ${arg}`);
  let runDir = target;
  let checkpoint = target;
  if (statSync(target).isDirectory()) {
    const ck = rt.latestCheckpoint(join(runDir, 'checkpoints'));
    if (!ck) throw new UsageError(`${arg} has no checkpoints/`);
    for (const s of ck.skipped) process.stderr.write(`skipping unreadable checkpoint ${s}\n`);
    checkpoint = ck.path;
  } else {
    runDir = dirname(dirname(target));
  }
  const modelDir = join(runDir, 'model');
  if (!existsSync(join(modelDir, 'model.ts')) || !existsSync(join(modelDir, 'train.ts'))) throw new UsageError(`${runDir} has no model/ (was it written by unetc train?)`);
  return { runDir, checkpoint, modelDir };
}
