/**
 * train and sample run model code emitted for the spec: they compile it into the run folder and
 * import it through tsx, together with the runtime it imports (one copy of the runtime, shared).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
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
