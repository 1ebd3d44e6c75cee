/**
 * Training and sampling end to end, in process, on the wasm backend: the loss of nano diffusion
 * falls on real MNIST; a resumed run is bit-identical to an uninterrupted one; a truncated newest
 * checkpoint is skipped; both diffusion processes train and sample finite images.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, readFileSync, truncateSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/runtime/engine/select.ts';
import { loadMnist } from '../src/runtime/data/index.ts';
import type { Dataset } from '../src/runtime/data/common.ts';
import { readSafetensorsFile } from '../src/runtime/io/safetensors.ts';
import { listCheckpoints } from '../src/runtime/train/checkpoint.ts';
import { trainRun, type ModelModule } from '../src/runtime/train/loop.ts';
import { sampleRun } from '../src/runtime/train/sample.ts';
import { compileAndImport, fixture, spec } from './modelHelpers.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'unetc-train-'));
const quiet = () => {};

beforeAll(async () => {
  await selectBackend({ name: 'wasm', log: quiet });
});

/** Random images in [-1, 1] with labels, for the tiny CIFAR-like fixtures. */
function synthetic(n: number, size: number, channels: number, classes: number): Dataset {
  const images = Float32Array.from({ length: n * size * size * channels }, (_, i) => Math.sin(i * 0.37) * 0.9);
  return {
    images,
    labels: Int32Array.from({ length: n }, (_, i) => i % classes),
    n,
    height: size,
    width: size,
    channels,
    classes,
    source: 'synthetic',
  };
}

describe('nano diffusion on real MNIST', () => {
  it('the loss falls clearly on 1,024 training images', async () => {
    // At initialisation the network outputs about 0, so the epsilon-MSE starts near Var(eps) = 1;
    // learning to denoise at all moves it well below. Demand the last five steps average under
    // 60% of the first five: far outside step-to-step noise (about +-10% at batch 32).
    const mod = (await compileAndImport(spec('nano-mnist.unet'))) as unknown as ModelModule;
    const data = loadMnist({ limit: 1024 });
    const out = tmp();
    const r = await trainRun(mod, {
      data,
      outDir: out,
      steps: 40,
      batch: 32,
      seed: 1,
      sampleEvery: 1000,
      sampleCount: 4,
      sampleSteps: 2,
      log: quiet,
      progress: false,
    });
    const losses = readFileSync(join(out, 'loss.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).loss as number);
    expect(losses).toHaveLength(40);
    const avg = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    expect(avg(losses.slice(0, 5))).toBeGreaterThan(0.8);
    expect(avg(losses.slice(-5))).toBeLessThan(0.6 * avg(losses.slice(0, 5)));
    expect(r.grid && statSync(r.grid).size > 0).toBe(true);
    expect(statSync(join(out, 'loss.png')).size).toBeGreaterThan(0);
  }, 300_000);
});

describe('checkpoints', () => {
  it('N steps + a resumed N steps give exactly the tensors of 2N steps in one run', async () => {
    const mod = (await compileAndImport(spec('nano-mnist-uc-lora.unet'))) as unknown as ModelModule;
    const data = loadMnist({ limit: 64 });
    const common = { data, batch: 8, seed: 5, sampleEvery: 1000, sampleCount: 1, sampleSteps: 1, log: quiet, progress: false };
    const a = tmp();
    await trainRun(mod, { ...common, outDir: a, steps: 6 });
    const b = tmp();
    await trainRun(mod, { ...common, outDir: b, steps: 3 });
    const r = await trainRun(mod, { ...common, outDir: b, steps: 6, resume: true });
    expect(r.resumedFrom).toBe(3);
    const ta = readSafetensorsFile(join(a, 'checkpoints', 'step-0000006.safetensors'));
    const tb = readSafetensorsFile(join(b, 'checkpoints', 'step-0000006.safetensors'));
    expect([...tb.tensors.keys()]).toEqual([...ta.tensors.keys()]);
    // model, ema, adam_m, adam_v: every byte equal.
    expect(ta.tensors.size).toBe(4 * mod.params.filter((p) => p[3]).length + 2 * mod.params.filter((p) => !p[3]).length);
    for (const [k, t] of ta.tensors) expect(Buffer.from(tb.tensors.get(k)!.data.buffer).equals(Buffer.from(t.data.buffer)), k).toBe(true);
    // The loss logs agree step for step too.
    expect(readFileSync(join(b, 'loss.jsonl'), 'utf8')).toBe(readFileSync(join(a, 'loss.jsonl'), 'utf8'));
  }, 300_000);

  it('a truncated newest checkpoint is detected and training resumes from the previous one', async () => {
    const mod = (await compileAndImport(spec('nano-mnist.unet'))) as unknown as ModelModule;
    const data = loadMnist({ limit: 32 });
    const out = tmp();
    const common = {
      data,
      outDir: out,
      batch: 4,
      seed: 2,
      sampleEvery: 1000,
      checkpointEvery: 2,
      sampleCount: 1,
      sampleSteps: 1,
      progress: false,
    };
    await trainRun(mod, { ...common, steps: 4, log: quiet });
    expect(listCheckpoints(join(out, 'checkpoints'))).toEqual(['step-0000002.safetensors', 'step-0000004.safetensors']);
    const newest = join(out, 'checkpoints', 'step-0000004.safetensors');
    truncateSync(newest, Math.floor(statSync(newest).size / 2));
    const lines: string[] = [];
    const r = await trainRun(mod, { ...common, steps: 5, resume: true, log: (s) => lines.push(s) });
    expect(r.resumedFrom).toBe(2);
    expect(lines.join('\n')).toMatch(/skipping unreadable checkpoint step-0000004\.safetensors/);
  }, 300_000);

  it('a checkpoint of another model is refused, naming the first tensors that do not match', async () => {
    const nano = (await compileAndImport(spec('nano-mnist.unet'))) as unknown as ModelModule;
    const lora = (await compileAndImport(spec('nano-mnist-uc-lora.unet'))) as unknown as ModelModule;
    const out = tmp();
    await trainRun(nano, {
      data: loadMnist({ limit: 8 }),
      outDir: out,
      steps: 1,
      batch: 4,
      sampleEvery: 1000,
      sampleCount: 1,
      sampleSteps: 1,
      log: quiet,
      progress: false,
    });
    await expect(
      trainRun(lora, { data: loadMnist({ limit: 8 }), outDir: out, steps: 2, batch: 4, resume: true, log: quiet, progress: false }),
    ).rejects.toThrow(/another model \(nano_mnist\): nano_mnist_uc_lora has no dec\.16x16\.block0\.emb0\.bias/);
  }, 300_000);
});

describe('--init-from', () => {
  it('starts a LoRA model from a baseline checkpoint: base weights matched by path, LoRA layers fresh and listed', async () => {
    const base = (await compileAndImport(spec('nano-mnist.unet'))) as unknown as ModelModule;
    const lora = (await compileAndImport(spec('nano-mnist-uc-lora.unet'))) as unknown as ModelModule;
    const a = tmp();
    const r = await trainRun(base, {
      data: loadMnist({ limit: 8 }),
      outDir: a,
      steps: 1,
      batch: 4,
      sampleEvery: 1000,
      sampleCount: 1,
      sampleSteps: 1,
      log: quiet,
      progress: false,
    });
    const lines: string[] = [];
    await trainRun(lora, {
      data: loadMnist({ limit: 8 }),
      outDir: tmp(),
      steps: 1,
      batch: 4,
      initFrom: r.checkpoint,
      sampleEvery: 1000,
      sampleCount: 1,
      sampleSteps: 1,
      log: (l) => lines.push(l),
      progress: false,
    });
    const msg = lines.find((l) => l.startsWith('init-from'))!;
    // Shared by path: the frozen table and every conv/norm of the stages; the shift MLPs (emb*) of
    // the baseline are not in the UC-LoRA model, whose uc_lora layers start fresh.
    const shared = lora.params.filter((p) => base.params.some((q) => q[0] === p[0])).length;
    expect(msg).toContain(`${shared} tensors restored`);
    const fresh = lora.params.length - shared;
    expect(msg).toContain(`${fresh} left freshly initialised`);
    expect(msg).toMatch(/enc\.32x32\.block0\.conv0\.uc_lora\.down/);
  }, 300_000);
});

describe('both diffusion processes', () => {
  for (const [name, file] of [
    ['IDDPM-style (learned sigma, hybrid loss, cosine schedule)', 'iddpm-tiny-with-lora.unet'],
    ['EDM-style (vp preconditioning, Heun sampler)', 'edm-tiny-with-lora.unet'],
  ] as const) {
    it(`${name}: trains two steps and samples finite images of the right shape`, async () => {
      const mod = (await compileAndImport(fixture(file))) as unknown as ModelModule;
      const out = tmp();
      const data = synthetic(16, mod.config.imageSize, mod.config.channels, mod.config.classes);
      const r = await trainRun(mod, {
        data,
        outDir: out,
        steps: 2,
        batch: 4,
        sampleEvery: 1000,
        sampleCount: 2,
        sampleSteps: 2,
        log: quiet,
        progress: false,
      });
      expect(Number.isFinite(r.finalLoss)).toBe(true);
      const s = sampleRun(mod, {
        checkpoint: r.checkpoint,
        out: join(out, 's.png'),
        n: 3,
        steps: 2,
        classVector: Array.from({ length: mod.config.classes }, (_, i) => (i === 1 ? 0.5 : i === 2 ? 0.5 : 0)),
      });
      expect(s.shape).toEqual([3, mod.config.imageSize, mod.config.imageSize, mod.config.channels]);
      expect(s.finite).toBe(true);
      const sweep = sampleRun(mod, {
        checkpoint: r.checkpoint,
        out: join(out, 'sweep.png'),
        n: 2,
        steps: 2,
        sweep: { kind: 'scale', i: 3, values: [-1, 0, 2] },
      });
      expect(sweep.shape[0]).toBe(6);
      expect(tf.memory().numTensors).toBeLessThan(10_000);
    }, 300_000);
  }
});
