/**
 * The PyTorch target against the TypeScript target on the same weights, for every spec in specs/:
 * the emitted generated/<spec>/model.py (on python/unetc_torch) and generated/<spec>/model.ts (on
 * the tfjs runtime) get one set of weights: the TypeScript model's random initial values, with
 * noise on the deterministically initialised trainable tensors (LoRA `up` / `bias`, biases, norm
 * gains, TimeLoRA tables), so that every term of every op counts. (Noise of each tensor's own scale on top of everything, as the twin's test did,
 * makes the large models so ill-conditioned that float32 rounding alone moves their outputs by
 * more than 1e-5: the test prints torch's float32-against-float64 difference as that floor.) Written in PyTorch's layout with the
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
import { compileAndImport, compiledDir, fixture, type CompiledModel } from './modelHelpers.ts';

const ROOT = join(import.meta.dirname, '..');
const python = findTorchPython();
const torchMissing = 'error' in python;
if (torchMissing) console.warn(`the torch target parity tests are skipped: ${python.error}`);
const PY = 'error' in python ? '' : python.path;
const env = { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' };
let dir = '';

/** Specs small enough to compare gradients as well (a forward and a backward pass on both targets). */
const GRADIENTS = new Set([
  'edm-tiny-fir',
  'edm-tiny-with-lora',
  'iddpm-tiny-with-lora',
  'nano-mnist',
  'nano-mnist-scale-shift',
  'nano-mnist-time-lora',
  'nano-mnist-uc-lora',
  'attn-unet-mnist',
  'attn-unet-mnist-uc-lora',
]);

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
const nchw = (t: tf.Tensor4D): SafeTensor =>
  f32(
    [t.shape[0], t.shape[3], t.shape[1], t.shape[2]],
    tf.tidy(() => tf.transpose(t, [0, 3, 1, 2]).dataSync()),
  );

/**
 * Every spec (its committed generated/ modules), and the tiny test models that cover ops no spec
 * uses (a [1, 3, 3, 1] FIR resampling filter), compiled for both targets here.
 */
const FIXTURES = ['edm-tiny-fir', 'edm-tiny-with-lora', 'iddpm-tiny-with-lora'];
const CASES: { name: string; load: () => Promise<{ mod: CompiledModel; modelPy: string }> }[] = [
  ...specFiles().map((file) => {
    const name = file.replace(/\.unet$/, '');
    return {
      name,
      load: async () => ({
        mod: await import(join(ROOT, 'generated', name, 'index.ts')),
        modelPy: join(ROOT, 'generated', name, 'model.py'),
      }),
    };
  }),
  ...FIXTURES.map((name) => ({
    name,
    load: async () => {
      const mod = await compileAndImport(fixture(`${name}.unet`), 'all');
      return { mod, modelPy: join(compiledDir(name), 'model.py') };
    },
  })),
];

describe('torch target = TypeScript target on the same weights, every spec', () => {
  for (const { name, load } of CASES) {
    const grads = GRADIENTS.has(name);
    it.skipIf(torchMissing)(
      `${name}: forward${grads ? ' and gradients' : ''} agree (relative L2 <= 1e-5)`,
      async () => {
        const { mod, modelPy } = await load();
        const m = mod.createModel(0);
        try {
          const specs: readonly ParamSpec[] = m.params.specs;
          // The spec's own random initialisation; every trainable tensor with a deterministic init
          // (zeros: LoRA `up` and `bias`, biases; ones: norm gains; TimeLoRA's interpolation table)
          // gets uniform noise of scale 0.05, so that every path carries signal.
          const deterministic = new Set(['zeros', 'ones', 'interp']);
          specs.forEach((spec, i) => {
            if (!spec.trainable || !deterministic.has(spec.init.fn)) return;
            const v: tf.Variable = m.params.get(spec.name);
            tf.tidy(() => v.assign(tf.add(v, tf.mul(tf.tensor(uniforms(v.size, 1000 + i), v.shape), 0.05))));
          });
          const weights = new Map<string, SafeTensor>();
          for (const spec of specs)
            weights.set(spec.name, { dtype: 'F32', shape: [...spec.shape], data: toTorch(spec, m.params.get(spec.name)) });
          // No trainable tensor holds zeros (but for the odd uniform draw that is exactly 0).
          for (const spec of specs.filter((x) => x.trainable))
            expect(Array.from(weights.get(spec.name)!.data).filter((x) => x === 0).length, spec.name).toBeLessThanOrEqual(
              weights.get(spec.name)!.data.length / 1e4,
            );
          const weightsPath = join(dir, `${name}.weights.safetensors`);
          writeFileSync(weightsPath, encodeSafetensors(weights));

          // Batch 2 (1 for the 64x64 models): two timesteps or noise labels, random class and augment vectors.
          const S: number = mod.config.imageSize;
          const C: number = mod.config.channels;
          const n = S >= 64 ? 1 : 2;
          const x = tf.tensor4d(uniforms(n * S * S * C, 7), [n, S, S, C]);
          const ddpm = mod.config.diffusion.process === 'ddpm';
          const noise = (ddpm ? [517, 3] : [0.37, -1.25]).slice(0, n);
          const cond: { noise: tf.Tensor1D; classes?: tf.Tensor2D; augment?: tf.Tensor2D } = {
            noise: tf.tensor1d(noise, ddpm ? 'int32' : 'float32'),
          };
          const inputs = new Map<string, SafeTensor>([
            ['x', nchw(x)],
            ['noise', f32([n], noise)],
          ]);
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
            tsGrads = tf.variableGrads(
              () => tf.sum(tf.mul(m.forward(x, cond, false), cot!)) as tf.Scalar,
              trainable.map((s) => m.params.get(s.name)),
            ).grads;
          }
          const inputsPath = join(dir, `${name}.inputs.safetensors`);
          writeFileSync(inputsPath, encodeSafetensors(inputs));

          const outPath = join(dir, `${name}.out.safetensors`);
          const run = spawnSync(PY, [join(ROOT, 'test', 'torchForward.py'), modelPy, weightsPath, inputsPath, outPath], {
            encoding: 'utf8',
            env: { ...env, UNETC_TORCH_RUNTIME: join(ROOT, 'python') },
            cwd: tmpdir(),
          });
          expect(run.status, run.stderr).toBe(0);
          const out = decodeSafetensors(readFileSync(outPath), outPath).tensors;
          const torchY = out.get('output')!;
          expect(torchY.shape).toEqual([n, y.shape[3], S, S]);
          const outErr = relError(torchY.data, nchw(y).data);
          // How far float32 rounding alone moves the output (torch in float32 against float64).
          const floor = relError(torchY.data, out.get('output64')!.data);
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
          console.log(
            `${name}: output relative L2 ${outErr.toExponential(2)} (float32 against float64 in torch: ${floor.toExponential(2)})${gradNote}`,
          );
          expect(outErr, 'output').toBeLessThanOrEqual(1e-5);
          tf.dispose([
            x,
            y,
            cond.noise,
            ...(cot ? [cot] : []),
            ...(cond.classes ? [cond.classes] : []),
            ...(cond.augment ? [cond.augment] : []),
            ...Object.values(tsGrads),
          ]);
        } finally {
          m.params.dispose();
        }
      },
      900_000,
    );
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

describe('torch target: Model() initialises every tensor as params.ts does', () => {
  // Between them: zeros, ones, normal (LoRA down 1x1 and 3x3, the label table), kaiming_uniform,
  // kaiming_normal, xavier_uniform, the interp and sinusoidal tables; plain, conv, linear, chw layouts.
  for (const name of ['nano-mnist-time-lora', 'nano-mnist-uc-lora', 'iddpm-cifar10-cond', 'edm-cifar10-only-lora']) {
    it.skipIf(torchMissing)(
      `${name}: same tables, same distributions (mean, std, bound)`,
      async () => {
        if (tf.getBackend() !== 'wasm') await selectBackend({ name: 'wasm', log: () => {} });
        const mod = await import(join(ROOT, 'generated', name, 'index.ts'));
        const run = spawnSync(PY, [join(ROOT, 'test', 'torchForward.py'), '--init-stats', join(ROOT, 'generated', name, 'model.py')], {
          encoding: 'utf8',
          env,
          maxBuffer: 256 * 2 ** 20,
          cwd: tmpdir(),
        });
        expect(run.status, run.stderr).toBe(0);
        const torchStats = (JSON.parse(run.stdout.trim().split('\n').pop()!) as { params: Record<string, Stats> }).params;
        const m = mod.createModel(0);
        try {
          const specs: readonly ParamSpec[] = m.params.specs;
          expect(new Set(Object.keys(torchStats))).toEqual(new Set(specs.map((s) => s.name)));
          for (const spec of specs) {
            const t = torchStats[spec.name];
            const ours = tf.tidy(() => {
              const v = m.params.get(spec.name);
              const { mean, variance } = tf.moments(v);
              return {
                mean: mean.dataSync()[0],
                std: Math.sqrt(variance.dataSync()[0]),
                min: tf.min(v).dataSync()[0],
                max: tf.max(v).dataSync()[0],
              };
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
      },
      600_000,
    );
  }
});
