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

describe('PyTorch twin = TypeScript runtime on the same weights', () => {
  for (const name of ['nano-mnist-uc-lora', 'attn-unet-mnist-uc-lora']) {
    it.skipIf(torchMissing)(`${name}: forward and parameter gradients agree (relative error < 1e-4)`, async () => {
      const mod = await import(join(ROOT, 'generated', name, 'index.ts'));
      const r = checkSpec(join(ROOT, 'specs', `${name}.unet`));
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
        const noise = ddpm ? [3, 517] : [-0.4, 0.9];
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
        const worst: [string, number][] = [];
        let num = 0;
        let den = 0;
        for (const spec of trainable) {
          const ours = toTorch(spec, grads[m.params.get(spec.name).name]);
          const theirs = torchGrads.get(spec.name)!;
          expect(theirs.shape, spec.name).toEqual([...spec.shape]);
          const e = relError(theirs.data, ours);
          worst.push([spec.name, e]);
          for (let i = 0; i < ours.length; i++) {
            num += (theirs.data[i] - ours[i]) ** 2;
            den += ours[i] ** 2;
          }
        }
        worst.sort((a, b) => b[1] - a[1]);
        const gradErr = Math.sqrt(num / den);
        console.log(`${name}: output relative error ${outErr.toExponential(2)}, gradients ${gradErr.toExponential(2)} (worst tensor ${worst[0][0]} ${worst[0][1].toExponential(2)})`);
        expect(gradErr).toBeLessThan(1e-4);
        // Per tensor a little looser: small gradients (e.g. of an early bias) carry more rounding.
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
