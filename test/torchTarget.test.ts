/**
 * The PyTorch target against the TypeScript target on the same weights, for every spec in specs/:
 * the emitted generated/<spec>/model.py (on python/unetc_torch) and generated/<spec>/model.ts (on
 * the tfjs runtime) get one set of weights: the TypeScript model's initial values with noise of
 * each tensor's own scale added (at least 0.1), so that the zero-initialised LoRA `up` / `bias`
 * tensors are non-zero and every term of every op counts. Written in PyTorch's layout with the
 * project's safetensors writer, they must load into Model() by state_dict() name; the eval-mode
 * outputs must agree to a relative L2 error of 1e-5, and for the small specs the gradients of
 * sum(output * cotangent) over every trainable parameter too. Skipped when no Python has torch.
 */
import * as tf from '@tensorflow/tfjs-core';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/runtime/engine/select.ts';
import { decodeSafetensors, encodeSafetensors, type SafeTensor } from '../src/runtime/io/safetensors.ts';
import type { ParamSpec } from '../src/runtime/model/params.ts';
import { toTorch } from '../src/runtime/train/checkpoint.ts';
import { findTorchPython } from '../src/cli/torchPython.ts';
import { specFiles } from './helpers.ts';

const ROOT = join(import.meta.dirname, '..');
const python = findTorchPython();
const torchMissing = 'error' in python;
if (torchMissing) console.warn(`the torch target parity tests are skipped: ${python.error}`);
const PY = 'error' in python ? '' : python.path;
const env = { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' };
let dir = '';

/** Specs small enough to compare gradients as well (a forward and a backward pass on both targets). */
const GRADIENTS = new Set(['nano-mnist', 'nano-mnist-scale-shift', 'nano-mnist-time-lora', 'nano-mnist-uc-lora', 'attn-unet-mnist', 'attn-unet-mnist-uc-lora']);

beforeAll(async () => {
  if (torchMissing) return;
  await selectBackend({ name: 'wasm', log: () => {} });
  dir = mkdtempSync(join(tmpdir(), 'unetc-torch-target-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** ||a - b|| / ||b||. */
function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

/** Deterministic uniforms in [-1, 1) (xorshift32). */
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

const f32 = (shape: number[], data: ArrayLike<number>): SafeTensor => ({ dtype: 'F32', shape, data: Float32Array.from(data) });
const nchw = (t: tf.Tensor4D): SafeTensor => f32([t.shape[0], t.shape[3], t.shape[1], t.shape[2]], tf.tidy(() => tf.transpose(t, [0, 3, 1, 2]).dataSync()));

describe('torch target = TypeScript target on the same weights, every spec', () => {
  for (const file of specFiles()) {
    const name = file.replace(/\.unet$/, '');
    const grads = GRADIENTS.has(name);
    it.skipIf(torchMissing)(`${name}: forward${grads ? ' and gradients' : ''} agree (relative L2 <= 1e-5)`, async () => {
      const mod = await import(join(ROOT, 'generated', name, 'index.ts'));
      const m = mod.createModel(0);
      try {
        const specs: readonly ParamSpec[] = m.params.specs;
        specs.forEach((spec, i) => {
          const v: tf.Variable = m.params.get(spec.name);
          tf.tidy(() => {
            const rms = Math.sqrt(tf.mean(tf.square(v)).dataSync()[0]);
            v.assign(tf.add(v, tf.mul(tf.tensor(uniforms(v.size, 1000 + i), v.shape), Math.max(rms, 0.1))));
          });
        });
        const weights = new Map<string, SafeTensor>();
        for (const spec of specs) weights.set(spec.name, { dtype: 'F32', shape: [...spec.shape], data: toTorch(spec, m.params.get(spec.name)) });
        // Non-zero everywhere but for the odd element that the noise cancels exactly.
        for (const spec of specs) expect(Array.from(weights.get(spec.name)!.data).filter((x) => x === 0).length, spec.name).toBeLessThanOrEqual(weights.get(spec.name)!.data.length / 1e4);
        const weightsPath = join(dir, `${name}.weights.safetensors`);
        writeFileSync(weightsPath, encodeSafetensors(weights));

        // Batch 2 (1 for the 64x64 models): two timesteps or noise labels, random class and augment vectors.
        const S: number = mod.config.imageSize;
        const C: number = mod.config.channels;
        const n = S >= 64 ? 1 : 2;
        const x = tf.tensor4d(uniforms(n * S * S * C, 7), [n, S, S, C]);
        const ddpm = mod.config.diffusion.process === 'ddpm';
        const noise = (ddpm ? [517, 3] : [0.37, -1.25]).slice(0, n);
        const cond: { noise: tf.Tensor1D; classes?: tf.Tensor2D; augment?: tf.Tensor2D } = { noise: tf.tensor1d(noise, ddpm ? 'int32' : 'float32') };
        const inputs = new Map<string, SafeTensor>([['x', nchw(x)], ['noise', f32([n], noise)]]);
        if (mod.config.classes) {
          cond.classes = tf.tensor2d(uniforms(n * mod.config.classes, 11), [n, mod.config.classes]);
          inputs.set('classes', f32([n, mod.config.classes], cond.classes.dataSync()));
        }
        if (mod.config.augment) {
          cond.augment = tf.tensor2d(uniforms(n * mod.config.augment, 13), [n, mod.config.augment]);
          inputs.set('augment', f32([n, mod.config.augment], cond.augment.dataSync()));
        }
        const y = m.forward(x, cond, false) as tf.Tensor4D;
        let cot: tf.Tensor4D | undefined;
        let tsGrads: Record<string, tf.Tensor> = {};
        const trainable = specs.filter((s) => s.trainable);
        if (grads) {
          cot = tf.tensor4d(uniforms(y.size, 17), y.shape);
          inputs.set('cotangent', nchw(cot));
          tsGrads = tf.variableGrads(() => tf.sum(tf.mul(m.forward(x, cond, false), cot!)) as tf.Scalar, trainable.map((s) => m.params.get(s.name))).grads;
        }
        const inputsPath = join(dir, `${name}.inputs.safetensors`);
        writeFileSync(inputsPath, encodeSafetensors(inputs));

        const outPath = join(dir, `${name}.out.safetensors`);
        const run = spawnSync(PY, [join(ROOT, 'test', 'torchForward.py'), join(ROOT, 'generated', name, 'model.py'), weightsPath, inputsPath, outPath], { encoding: 'utf8', env, cwd: tmpdir() });
        expect(run.status, run.stderr).toBe(0);
        const out = decodeSafetensors(readFileSync(outPath), outPath).tensors;
        const torchY = out.get('output')!;
        expect(torchY.shape).toEqual([n, y.shape[3], S, S]);
        const outErr = relError(torchY.data, nchw(y).data);
        let gradNote = '';
        if (grads) {
          expect(new Set([...out.keys()].filter((k) => k.startsWith('grad.')))).toEqual(new Set(trainable.map((s) => `grad.${s.name}`)));
          let num = 0;
          let den = 0;
          for (const spec of trainable) {
            const theirs = out.get(`grad.${spec.name}`)!;
            expect(theirs.shape, spec.name).toEqual([...spec.shape]);
            const ours = toTorch(spec, tsGrads[m.params.get(spec.name).name]);
            for (let i = 0; i < ours.length; i++) {
              num += (theirs.data[i] - ours[i]) ** 2;
              den += ours[i] ** 2;
            }
          }
          const gradErr = Math.sqrt(num / den);
          gradNote = `, gradients ${gradErr.toExponential(2)} over ${trainable.length} tensors`;
          expect(gradErr, 'gradients').toBeLessThanOrEqual(1e-5);
        }
        console.log(`${name}: output relative L2 ${outErr.toExponential(2)}${gradNote}`);
        expect(outErr, 'output').toBeLessThanOrEqual(1e-5);
        tf.dispose([x, y, cond.noise, ...(cot ? [cot] : []), ...(cond.classes ? [cond.classes] : []), ...(cond.augment ? [cond.augment] : []), ...Object.values(tsGrads)]);
      } finally {
        m.params.dispose();
      }
    }, 900_000);
  }
});
