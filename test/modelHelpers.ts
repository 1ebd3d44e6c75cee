/** Compiling a spec to a model module and importing it, for tests that run models. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { compileSpec } from '../src/emit/compile.ts';

const ROOT = join(import.meta.dirname, '..');
const TMP = join(ROOT, 'test', '.tmp');

export interface CompiledModel {
  // The generated module's exports (typed loosely: each spec's module has its own Config type).
  createModel: (seed?: number) => import('../generated/nano-mnist/model.ts').Model;
  paramCount: number;
  trainableParamCount: number;
  config: {
    name: string;
    imageSize: number;
    channels: number;
    outChannels: number;
    classes: number;
    augment: number;
    embedDim: number;
    diffusion: Record<string, unknown>;
  };
}

/** Compiles a spec into test/.tmp/<name>/ and imports it. */
export async function compileAndImport(specPath: string, target: 'ts' | 'all' = 'ts'): Promise<CompiledModel> {
  const { result, compiled } = await compileSpec(specPath, TMP, { runtime: 'RUNTIME', target });
  if (!compiled) throw new Error(result.diagnostics.map((d) => `${d.code} ${d.message}`).join('\n'));
  mkdirSync(compiled.dir, { recursive: true });
  const runtime = relative(compiled.dir, join(ROOT, 'src', 'runtime', 'index.ts'));
  for (const [file, text] of compiled.files) writeFileSync(join(compiled.dir, file), text.replace("from 'RUNTIME'", `from '${runtime}'`));
  return (await import(pathToFileURL(join(compiled.dir, 'model.ts')).href)) as CompiledModel;
}

/** The folder compileAndImport writes a spec's modules to (model.py there with target 'all'). */
export const compiledDir = (name: string) => join(TMP, name);

export const fixture = (name: string) => join(ROOT, 'test', 'fixtures', name);
export const spec = (name: string) => join(ROOT, 'specs', name);
