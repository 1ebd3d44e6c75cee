/**
 * The torch engine draws what the TypeScript loop draws: python/unetc_torch/rng.py against
 * src/runtime/train/rng.ts for the per-step seeds, the epoch permutations (the data order), the
 * batch indices across an epoch boundary, and the host uniforms / normals (timesteps, EDM sigmas).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findTorchPython } from '../src/cli/torchPython.ts';
import { batchIndices, epochPermutation, normals, Stream, stepSeed, uniforms } from '../src/runtime/train/rng.ts';

const ROOT = join(import.meta.dirname, '..');
const python = findTorchPython();

describe('torch engine RNG = TypeScript RNG', () => {
  it.skipIf('error' in python)('step seeds, data order, uniforms and normals agree exactly', () => {
    const code = `
import json, sys
sys.path.insert(0, ${JSON.stringify(join(ROOT, 'python'))})
from unetc_torch.rng import BatchOrder, epoch_permutation, normals, step_seed, uniforms
seeds = [[s, step, stream] for s in (0, 1, 12345, 2**31 - 1) for step in (0, 1, 999, 123456) for stream in (1, 2, 3, 6)]
print(json.dumps({
  "seeds": [step_seed(*x) for x in seeds],
  "perm": epoch_permutation(37, 5, 3).tolist(),
  "batch": BatchOrder(37, 5).indices(16, 30).tolist(),
  "u": uniforms(9, step_seed(7, 4, 2)).tolist(),
  "n": normals(9, step_seed(7, 4, 2)).tolist(),
}))`;
    const r = spawnSync('error' in python ? '' : python.path, ['-c', code], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const py = JSON.parse(r.stdout) as { seeds: number[]; perm: number[]; batch: number[]; u: number[]; n: number[] };
    const seeds: number[] = [];
    for (const s of [0, 1, 12345, 2 ** 31 - 1])
      for (const step of [0, 1, 999, 123456]) for (const stream of [1, 2, 3, 6]) seeds.push(stepSeed(s, step, stream));
    expect(py.seeds).toEqual(seeds);
    expect(py.perm).toEqual(Array.from(epochPermutation(37, 5, 3)));
    expect(py.batch).toEqual(Array.from(batchIndices(37, 16, 30, 5, new Map())));
    expect(py.u).toEqual(Array.from(uniforms(9, stepSeed(7, 4, Stream.timestep))));
    expect(py.n).toEqual(Array.from(normals(9, stepSeed(7, 4, Stream.timestep))));
  });
});
