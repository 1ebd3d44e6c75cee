/**
 * unetc plot omega on a TimeLoRA model whose omega table has the linear-interpolation init:
 * the similarity structure that init implies, derived by hand below.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileSpec } from '../src/emit/compile.ts';
import { cosineMatrix, evaluateOmegas, noiseGrid, resolveOmegaRun, similarityTo, summarize, type OmegaRun } from '../src/plot/omega.ts';
import * as rt from '../src/runtime/index.ts';
import { restoreInto, saveCheckpoint } from '../src/runtime/train/checkpoint.ts';
import { expectWellFormedXml } from './svgHelpers.ts';

const ROOT = join(import.meta.dirname, '..');
const RUN = join(ROOT, 'test', '.tmp', 'omega-time-lora');

/*
 * Hand derivation. nano-mnist-time-lora: T = 1000, m = 11 bases. The knots are evenly spaced from
 * t = 1 to t = T, (T - 1)/(m - 1) = 99.9 apart; the network reads timestep index k = t - 1, so
 * index k sits at position p = k / 99.9 between knot i = floor(p) and i + 1 (0-based), with
 * f = p - i:  omega(k) = (1 - f) e_i + f e_{i+1}.
 * For two indices with (i, f) and (j, g):
 *   same segment (i = j):  cos = ((1-f)(1-g) + f g) / (|(1-f, f)| |(1-g, g)|)
 *   next segment (j = i+1): the vectors share only e_{i+1}: cos = f (1-g) / (|(1-f, f)| |(1-g, g)|)
 *   two or more apart:      disjoint supports: cos = 0
 * So: a knot (k = 0, e_0) against k = 50 (f = 50/99.9) is (1-f)/sqrt((1-f)^2+f^2); any pair at
 * least 2 segments apart is exactly 0, in particular every pair with |k1 - k2| >= 500 (that
 * spans at least 5 segment widths), so the "far" summary is exactly 0.
 */
const norm = (f: number) => Math.hypot(1 - f, f);
const seg = (k: number) => {
  const p = k / 99.9;
  const i = Math.min(Math.floor(p), 9);
  return { i, f: p - i };
};
function expectedCos(k1: number, k2: number): number {
  const a = seg(k1);
  const b = seg(k2);
  if (a.i === b.i) return ((1 - a.f) * (1 - b.f) + a.f * b.f) / (norm(a.f) * norm(b.f));
  const [lo, hi] = a.i < b.i ? [a, b] : [b, a];
  if (hi.i === lo.i + 1) return (lo.f * (1 - hi.f)) / (norm(lo.f) * norm(hi.f));
  return 0;
}

let run: OmegaRun;

beforeAll(async () => {
  await rt.selectBackend({ name: 'cpu' });
  // A run folder as `unetc train` leaves it (model code, ir.json, a checkpoint), without training:
  // the checkpoint holds the initial weights, so omega is the interpolation table.
  rmSync(RUN, { recursive: true, force: true });
  const { result, compiled } = await compileSpec(join(ROOT, 'specs', 'nano-mnist-time-lora.unet'), RUN, {
    runtime: join(ROOT, 'src', 'runtime', 'index.ts'),
  });
  if (!compiled) throw new Error(result.diagnostics.map((d) => d.message).join('\n'));
  const modelDir = join(RUN, 'model');
  mkdirSync(modelDir, { recursive: true });
  for (const [f, text] of compiled.files) writeFileSync(join(modelDir, f), text);
  writeFileSync(join(modelDir, 'package.json'), '{ "type": "module", "private": true }\n');
  writeFileSync(join(RUN, 'ir.json'), JSON.stringify(result.ir));
  const mod = (await import(pathToFileURL(join(modelDir, 'model.ts')).href)) as { params: readonly rt.ParamRow[] };
  const specs = rt.paramSpecsFromRows(mod.params);
  const store = new rt.ParamStore(specs, 3);
  saveCheckpoint(
    join(RUN, 'checkpoints'),
    { step: 0, seed: 3, batch: 8, dataPosition: 0, adamStep: 0, spec: result.ir!.name },
    { specs, params: store.vars, ema: store.vars },
  );
  store.dispose();
  run = await resolveOmegaRun(RUN, rt, async () => mod.params);
}, 120_000);

describe('plot omega of TimeLoRA with the interpolation init', () => {
  it('has the similarity structure of the interpolation', () => {
    const grid = noiseGrid(run.ir, undefined);
    expect(grid.values.length).toBe(1000);
    const { layers } = evaluateOmegas(rt, restoreInto, run, grid);
    expect(layers.map((l) => l.site.block)).toEqual([
      'enc.32x32.block0',
      'enc.16x16.block0',
      'enc.8x8.block0',
      'mid.block0',
      'dec.8x8.block0',
      'dec.16x16.block0',
      'dec.32x32.block0',
    ]);
    for (const l of layers) {
      expect(l.site.kind).toBe('time_lora');
      expect(l.site.bases).toBe(11);
      const S = cosineMatrix(l.values, 1000, 11);
      const at = (a: number, b: number) => S[a * 1000 + b]!;
      expect(at(0, 0)).toBeCloseTo(1, 6);
      expect(at(0, 999)).toBe(0); // e_0 and e_10
      const f = 50 / 99.9;
      expect(at(0, 50)).toBeCloseTo((1 - f) / Math.hypot(1 - f, f), 5);
      for (const [a, b] of [
        [50, 150],
        [120, 180],
        [99, 100],
        [100, 199],
        [430, 520],
        [950, 999],
        [50, 250],
        [0, 300],
        [640, 700],
      ] as const) {
        expect(at(a, b), `${a}, ${b}`).toBeCloseTo(expectedCos(a, b), 5);
      }
      const s = summarize(S, 1000);
      expect(s.far).toBe(0);
      // Nearby pairs (|k1 - k2| <= 50, at most one segment apart) are all positive.
      expect(s.near).toBeGreaterThan(0.5);
      // Against index 500 (position 5.005, segment 5): index 400 (4.004, segment 4) shares e_5 with
      // it; index 300 (3.003, segment 3) shares nothing.
      const c = similarityTo(l.values, 1000, 11, 500);
      expect(c[500]).toBeCloseTo(1, 6);
      expect(c[300]).toBe(0);
      expect(c[400]!).toBeCloseTo(expectedCos(400, 500), 5);
      expect(c[400]!).toBeGreaterThan(0);
    }
  });

  it('draws both figures from the command line and prints the summary as JSON', () => {
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, [join(ROOT, 'bin/unetc.mjs'), 'plot', 'omega', RUN, ...args], { cwd: ROOT, encoding: 'utf8' });
    const heat = cli('--layer', 'mid.block0', '--init', '--json', '--out', join(RUN, 'heat.png'));
    expect(heat.status, heat.stderr).toBe(0);
    const j = JSON.parse(heat.stdout) as {
      mean: { near: number; far: number; init: { far: number } };
      layers: { path: string; far: number; init: { near: number } }[];
    };
    expect(j.layers.map((l) => l.path)).toEqual(['mid.block0.conv0.time_lora']);
    // The saved weights are the initial ones, so "trained" and "--init" agree, and far is 0.
    expect(j.mean.far).toBe(0);
    expect(j.mean.init.far).toBe(0);
    expect(j.layers[0]!.init.near).toBeCloseTo(j.mean.near, 9);
    const png = PNG.sync.read(readFileSync(join(RUN, 'heat.png')));
    expect(png.width).toBeGreaterThan(600);
    const all = cli('--all', '--out', join(RUN, 'all.svg'));
    expect(all.status, all.stderr).toBe(0);
    const svg = readFileSync(join(RUN, 'all.svg'), 'utf8');
    expectWellFormedXml(svg);
    expect(svg).toContain('t = 500');
    expect(cli('--layer', 'nope').status).toBe(2);
  }, 240_000);
});
