/**
 * The runtime's two halves stay apart: model/ (the math) never branches on the backend or reaches
 * into training, and engine/ (speed and memory) never imports the model.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dir = (d: string) => join(import.meta.dirname, '..', 'src', 'runtime', d);
const sources = (d: string) =>
  readdirSync(dir(d))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => ({ f, text: readFileSync(join(dir(d), f), 'utf8') }));
// Type-only imports of the IR are the contract model code reads (its op types), not a dependency.
const imports = (text: string) => [...text.matchAll(/^import (?!type )[^;]*?from\s+'([^']+)'/gms)].map((m) => m[1]);

describe('runtime layering', () => {
  it('model/ imports only tfjs-core, itself and engine/', () => {
    for (const { f, text } of sources('model')) {
      for (const spec of imports(text)) {
        // ../../ir/ops.ts: the op types and their dependency-free walkers (convsOf, lorasOf).
        const ok = spec === '@tensorflow/tfjs-core' || spec.startsWith('./') || spec.startsWith('../engine/') || spec === '../../ir/ops.ts';
        expect(ok, `${f} imports ${spec}`).toBe(true);
      }
      expect(text.includes('getBackend('), `${f} branches on the backend`).toBe(false);
      expect(
        imports(text).some((s) => s.includes('select.ts')),
        `${f} imports backend selection`,
      ).toBe(false);
    }
  });
  it('engine/ never imports model/, train/ or io/', () => {
    for (const { f, text } of sources('engine')) {
      for (const spec of imports(text)) expect(/^\.\.\/(model|train|io|data|diffusion)\//.test(spec), `${f} imports ${spec}`).toBe(false);
    }
  });
});
