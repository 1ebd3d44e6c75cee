/**
 * The PyTorch twin (bench/torch_twin.py, built from the IR's typed ops) against the TypeScript
 * runtime on the same weights: every parameter randomised (non-zero everywhere, the zero-initialised
 * LoRA `up` and `bias` included, so every term of every op matters), written in PyTorch's layout
 * with the project's safetensors writer, and the same inputs. The eval-mode outputs, and the
 * gradients of sum(output * cotangent) for every trainable parameter, must agree to a relative
 * error below 1e-4. Skipped when /usr/bin/python3 cannot import torch (PyTorch is never a
 * dependency of unetc).
 */
import * as tf from '@tensorflow/tfjs-core';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSpec } from '../src/check/check.ts';
import { writeIr } from '../src/ir/io.ts';
import { selectBackend } from '../src/runtime/engine/select.ts';
import { decodeSafetensors, encodeSafetensors, type SafeTensor } from '../src/runtime/io/safetensors.ts';
import type { ParamSpec } from '../src/runtime/model/params.ts';
import { toTorch } from '../src/runtime/train/checkpoint.ts';
import { compileAndImport, fixture, spec } from './modelHelpers.ts';

const ROOT = join(import.meta.dirname, '..');
const PYTHON = '/usr/bin/python3';
const TWIN = join(ROOT, 'bench', 'torch_twin.py');
const torchMissing = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status !== 0;
const SKIP_REASON = `${PYTHON} cannot import torch: the PyTorch twin cross-check is skipped (PyTorch is optional, benchmarks only)`;
if (torchMissing) console.warn(SKIP_REASON);

const env = { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' };
let dir = '';

beforeAll(async () => {
  if (torchMissing) return;
  await selectBackend({ name: 'wasm', log: () => {} });
  dir = mkdtempSync(join(tmpdir(), 'unetc-torch-twin-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** ||a - b|| / ||b|| over all elements. */
function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

/** Deterministic uniforms in [-1, 1). */
function uniforms(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 32) * 2 - 1;
  }
  return out;
}

const nchw = (t: tf.Tensor4D) => ({ shape: [t.shape[0], t.shape[3], t.shape[1], t.shape[2]], data: Array.from(tf.tidy(() => tf.transpose(t, [0, 3, 1, 2]).dataSync())) });

/**
 * The models compared: the two of the brief (nano diffusion with UC-LoRA on 3x3 convs, the attention
 * U-Net with UC-LoRA on qkv/proj), and the tiny test models that cover the rest of the ops:
 * improved-diffusion (per_head attention with 4 heads, TimeLoRA + ClassLoRA, a label table at the
 * output, rescaled timesteps, learned sigma) and EDM (positional embedding, label scale, augment,
 * shift at conv0, interleaved attention, output scales, UC-LoRA with a trainable scale), also with a
 * [1, 3, 3, 1] FIR resampling filter.
 */
const CROSS_CHECKED: [name: string, spec: string, generated: boolean, backend: 'wasm' | 'cpu'][] = [
  ['nano-mnist-uc-lora', spec('nano-mnist-uc-lora.unet'), true, 'wasm'],
  ['attn-unet-mnist-uc-lora', spec('attn-unet-mnist-uc-lora.unet'), true, 'wasm'],
  ['iddpm-tiny-with-lora', fixture('iddpm-tiny-with-lora.unet'), false, 'wasm'],
  ['edm-tiny-with-lora', fixture('edm-tiny-with-lora.unet'), false, 'wasm'],
  ['edm-tiny-fir', fixture('edm-tiny-fir.unet'), false, 'wasm'],
];

describe('PyTorch twin = TypeScript runtime on the same weights', () => {
  for (const [name, specPath, generated, backend] of CROSS_CHECKED) {
    it.skipIf(torchMissing)(`${name}: forward and parameter gradients agree (relative error < 1e-4, ${backend})`, async () => {
      if (tf.getBackend() !== backend) await selectBackend({ name: backend, log: () => {} });
      const mod = generated ? await import(join(ROOT, 'generated', name, 'index.ts')) : await compileAndImport(specPath);
      const r = checkSpec(specPath);
      expect(r.ir).toBeDefined();
      const irPath = join(dir, `${name}.ir.json`);
      writeIr(irPath, r.ir!);

      const m = mod.createModel(0);
      try {
        // Every parameter moved off its init by noise of its own scale (at least 0.1): non-zero everywhere.
        const specs: readonly ParamSpec[] = m.params.specs;
        specs.forEach((spec, i) => {
          const v: tf.Variable = m.params.get(spec.name);
          tf.tidy(() => {
            const rms = Math.sqrt(tf.mean(tf.square(v)).dataSync()[0]);
            const noise = tf.tensor(uniforms(v.size, 1000 + i), v.shape);
            v.assign(tf.add(v, tf.mul(noise, Math.max(rms, 0.1))));
          });
        });
        const tensors = new Map<string, SafeTensor>();
        for (const spec of specs) tensors.set(spec.name, { dtype: 'F32', shape: [...spec.shape], data: toTorch(spec, m.params.get(spec.name)) });
        for (const spec of specs) expect(Array.from(tensors.get(spec.name)!.data).every((x) => x !== 0), spec.name).toBe(true);
        const weightsPath = join(dir, `${name}.safetensors`);
        writeFileSync(weightsPath, encodeSafetensors(tensors));

        // Fixed inputs: batch 2, two timesteps (or noise levels), random classes / augment vectors.
        const S: number = mod.config.imageSize;
        const C: number = mod.config.channels;
        const n = 2;
        const x = tf.tensor4d(uniforms(n * S * S * C, 7), [n, S, S, C]);
        const ddpm = mod.config.diffusion.process === 'ddpm';
        const noise = ddpm ? [3, 517] : [3.7, 517.25]; // timesteps, or c_noise (VP: 999 t)
        const cond: { noise: tf.Tensor1D; classes?: tf.Tensor2D; augment?: tf.Tensor2D } = { noise: tf.tensor1d(noise, ddpm ? 'int32' : 'float32') };
        const inputs: Record<string, unknown> = { x: nchw(x), noise };
        if (mod.config.classes) {
          cond.classes = tf.tensor2d(uniforms(n * mod.config.classes, 11), [n, mod.config.classes]);
          inputs.classes = { shape: cond.classes.shape, data: Array.from(cond.classes.dataSync()) };
        }
        if (mod.config.augment) {
          cond.augment = tf.tensor2d(uniforms(n * mod.config.augment, 13), [n, mod.config.augment]);
          inputs.augment = { shape: cond.augment.shape, data: Array.from(cond.augment.dataSync()) };
        }

        // TypeScript: the output, and the gradients of sum(y * cot) for every trainable parameter.
        const y = m.forward(x, cond, false) as tf.Tensor4D;
        const cot = tf.tensor4d(uniforms(y.size, 17), y.shape);
        inputs.cotangent = nchw(cot);
        const trainable = specs.filter((s) => s.trainable);
        const { grads } = tf.variableGrads(() => tf.sum(tf.mul(m.forward(x, cond, false), cot)) as tf.Scalar, trainable.map((s) => m.params.get(s.name)));
        const inputsPath = join(dir, `${name}.inputs.json`);
        writeFileSync(inputsPath, JSON.stringify(inputs));

        // PyTorch.
        const gradsPath = join(dir, `${name}.grads.safetensors`);
        const run = spawnSync(PYTHON, [TWIN, '--ir', irPath, '--forward', weightsPath, '--inputs', inputsPath, '--grad-out', gradsPath, '--threads', '1'], {
          encoding: 'utf8',
          env,
          maxBuffer: 256 * 2 ** 20,
        });
        expect(run.status, run.stderr).toBe(0);
        const out = JSON.parse(run.stdout.trim().split('\n').pop()!) as { shape: number[]; output: number[] };
        expect(out.shape).toEqual([n, y.shape[3], S, S]);
        const outErr = relError(out.output, nchw(y).data);
        expect(outErr).toBeLessThan(1e-4);

        const torchGrads = decodeSafetensors(readFileSync(gradsPath), gradsPath).tensors;
        expect(new Set(torchGrads.keys())).toEqual(new Set(trainable.map((s) => s.name)));
        const pairs = trainable.map((spec) => {
          const theirs = torchGrads.get(spec.name)!;
          expect(theirs.shape, spec.name).toEqual([...spec.shape]);
          return { name: spec.name, ours: toTorch(spec, grads[m.params.get(spec.name).name]), theirs: theirs.data };
        });
        const sq = (a: ArrayLike<number>) => {
          let s = 0;
          for (let i = 0; i < a.length; i++) s += a[i] * a[i];
          return s;
        };
        let num = 0;
        let den = 0;
        for (const { ours, theirs } of pairs) {
          for (let i = 0; i < ours.length; i++) num += (theirs[i] - ours[i]) ** 2;
          den += sq(ours);
        }
        const gradErr = Math.sqrt(num / den);
        // Per tensor a little looser (small gradients carry more rounding), except for gradients that
        // are zero but for rounding on both sides (a conv bias right before a GroupNorm with one
        // channel per group, which removes it): those are only held to being ~0 in both.
        const tiny = 1e-5 * Math.sqrt(den);
        const worst: [string, number][] = [];
        let zero = 0;
        for (const { name: p, ours, theirs } of pairs) {
          if (Math.sqrt(sq(ours)) < tiny) {
            expect(Math.sqrt(sq(theirs)), `${p}: gradient ~0 in the runtime`).toBeLessThan(tiny);
            zero++;
            continue;
          }
          worst.push([p, relError(theirs, ours)]);
        }
        worst.sort((a, b) => b[1] - a[1]);
        console.log(
          `${name} (${backend}): output relative error ${outErr.toExponential(2)}, gradients ${gradErr.toExponential(2)} over ${pairs.length} tensors (worst ${worst[0][0]} ${worst[0][1].toExponential(2)}; ${zero} ~0 on both sides)`,
        );
        expect(gradErr).toBeLessThan(1e-4);
        expect(worst[0][1], worst[0][0]).toBeLessThan(1e-3);
        tf.dispose([x, y, cot, cond.noise, ...(cond.classes ? [cond.classes] : []), ...(cond.augment ? [cond.augment] : [])]);
        tf.dispose(Object.values(grads));
      } finally {
        m.params.dispose();
      }
    }, 600_000);
  }
});

/** The standard deviation an Init draws with (undefined for the deterministic ones), and a uniform's bound. */
function initScale(init: ParamSpec['init']): { std?: number; bound?: number } {
  switch (init.fn) {
    case 'normal':
      return { std: init.std };
    case 'xavier_uniform':
    case 'kaiming_uniform': {
      const bound = init.gain * Math.sqrt(init.fn === 'xavier_uniform' ? 6 / (init.fanIn + init.fanOut) : 3 / Math.max(1, init.fanIn));
      return { std: bound / Math.sqrt(3), bound };
    }
    case 'xavier_normal':
    case 'kaiming_normal':
      return { std: init.gain * Math.sqrt(init.fn === 'xavier_normal' ? 2 / (init.fanIn + init.fanOut) : 1 / Math.max(1, init.fanIn)) };
    default:
      return {};
  }
}

interface Stats {
  mean: number;
  std: number;
  min: number;
  max: number;
  size: number;
}

describe('PyTorch twin initialises every tensor as params.ts does', () => {
  // Between them: zeros, ones, normal (LoRA down 1x1 and 3x3, the label table), kaiming_uniform,
  // kaiming_normal, xavier_uniform, the interp and sinusoidal tables; plain, conv, linear, chw layouts.
  for (const name of ['nano-mnist-time-lora', 'nano-mnist-uc-lora', 'iddpm-cifar10-cond', 'edm-cifar10-only-lora']) {
    it.skipIf(torchMissing)(`${name}: same tables, same distributions (mean, std, bound)`, async () => {
      if (tf.getBackend() !== 'wasm') await selectBackend({ name: 'wasm', log: () => {} });
      const mod = await import(join(ROOT, 'generated', name, 'index.ts'));
      const r = checkSpec(join(ROOT, 'specs', `${name}.unet`));
      const irPath = join(dir, `${name}.ir.json`);
      writeIr(irPath, r.ir!);
      const run = spawnSync(PYTHON, [TWIN, '--ir', irPath, '--init-stats'], { encoding: 'utf8', env, maxBuffer: 256 * 2 ** 20 });
      expect(run.status, run.stderr).toBe(0);
      const twin = (JSON.parse(run.stdout.trim().split('\n').pop()!) as { params: Record<string, Stats> }).params;
      const m = mod.createModel(0);
      try {
        const specs: readonly ParamSpec[] = m.params.specs;
        expect(new Set(Object.keys(twin))).toEqual(new Set(specs.map((s) => s.name)));
        for (const spec of specs) {
          const t = twin[spec.name];
          const ours = tf.tidy(() => {
            const v = m.params.get(spec.name);
            const { mean, variance } = tf.moments(v);
            return { mean: mean.dataSync()[0], std: Math.sqrt(variance.dataSync()[0]), min: tf.min(v).dataSync()[0], max: tf.max(v).dataSync()[0] };
          });
          const { std, bound } = initScale(spec.init);
          const what = `${spec.name} (${spec.init.fn})`;
          if (std === undefined) {
            // zeros, ones, the interp and sinusoidal tables: the same numbers.
            for (const k of ['mean', 'std', 'min', 'max'] as const) expect(Math.abs(t[k] - ours[k]), `${what} ${k}`).toBeLessThan(1e-5);
            continue;
          }
          // Random: both sample the Init's distribution (6 standard errors; the sample std of n draws has relative error ~ 1/sqrt(2n)).
          const n = t.size;
          for (const s of [t, ours]) {
            expect(Math.abs(s.mean), `${what} mean`).toBeLessThan((6 * std) / Math.sqrt(n) + 1e-7);
            expect(Math.abs(s.std / std - 1), `${what} std`).toBeLessThan(6 / Math.sqrt(2 * n));
          }
          if (bound !== undefined) {
            expect(Math.max(-t.min, t.max), `${what} bound`).toBeLessThanOrEqual(bound * (1 + 1e-6));
            if (n >= 1000) expect(Math.max(-t.min, t.max), `${what} bound reached`).toBeGreaterThan(0.99 * bound);
          }
        }
      } finally {
        m.params.dispose();
      }
    }, 600_000);
  }
});
