/**
 * Training with the torch engine: a 2-process DDP run (gloo, processes launched by `unetc train
 * --engine torch --nproc 2` with the torch.distributed environment set by hand) of a small spec on
 * MNIST keeps the replicas identical, its loss falls, and `unetc sample` reads its run folder; a
 * run resumes across engines in both directions (tfjs -> torch -> tfjs) from the same checkpoint
 * format; and a torch run resumed from its checkpoint continues exactly as an uninterrupted one.
 * Skipped when no Python has torch.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findTorchPython } from '../src/cli/torchPython.ts';
import { readCheckpoint } from '../src/runtime/train/checkpoint.ts';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin/unetc.mjs');
const python = findTorchPython();
const torchMissing = 'error' in python;
if (torchMissing) console.warn(`the torch engine training tests are skipped: ${python.error}`);
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'unetc-torch-train-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function unetc(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const c = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, OPENBLAS_NUM_THREADS: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    c.on('close', (status) => res({ status, stdout, stderr }));
  });
}
const losses = (out: string) =>
  readFileSync(join(out, 'loss.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { step: number; loss: number });
const SMALL = ['--batch', '32', '--limit', '512', '--threads', '1'];
const TS_SMALL = [
  '--batch',
  '32',
  '--limit',
  '512',
  '--backend',
  'wasm',
  '--sample-every',
  '1000',
  '--sample-count',
  '1',
  '--sample-steps',
  '1',
];

describe('unetc train --engine torch', () => {
  it.skipIf(torchMissing)(
    '2-process DDP on MNIST: replicas identical, loss falling, sampled by unetc sample',
    async () => {
      const out = join(tmp(), 'run');
      const r = await unetc([
        'train',
        'specs/nano-mnist.unet',
        '--engine',
        'torch',
        '--nproc',
        '2',
        '--steps',
        '12',
        '--out',
        out,
        '--json',
        ...SMALL,
      ]);
      expect(r.status, r.stderr).toBe(0);
      const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
        steps: number;
        world: number;
        replicaMaxDiff: number;
        checkpoint: string;
      };
      expect(res.world).toBe(2);
      expect(res.steps).toBe(12);
      expect(res.replicaMaxDiff).toBe(0);
      const l = losses(out);
      expect(l.map((x) => x.step)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
      const mean = (a: { loss: number }[]) => a.reduce((s, x) => s + x.loss, 0) / a.length;
      expect(mean(l.slice(-3))).toBeLessThan(0.9 * mean(l.slice(0, 3)));
      // The checkpoint is a unetc checkpoint (checksums verified on read) with the run state.
      const ck = readCheckpoint(res.checkpoint);
      expect(ck.state).toMatchObject({ step: 12, batch: 32, seed: 0, dataPosition: 12 * 32, adamStep: 12, spec: 'nano_mnist' });
      const s = await unetc(['sample', out, '--n', '4', '--steps', '2', '--backend', 'wasm']);
      expect(s.status, s.stderr).toBe(0);
      expect(existsSync(join(out, 'sample.png'))).toBe(true);
    },
    600_000,
  );

  it.skipIf(torchMissing)(
    'a run resumes across engines: tfjs -> torch -> tfjs',
    async () => {
      const out = join(tmp(), 'run');
      let r = await unetc(['train', 'specs/nano-mnist-time-lora.unet', '--steps', '2', '--out', out, ...TS_SMALL]);
      expect(r.status, r.stderr).toBe(0);
      r = await unetc([
        'train',
        'specs/nano-mnist-time-lora.unet',
        '--engine',
        'torch',
        '--resume',
        '--steps',
        '4',
        '--out',
        out,
        ...SMALL,
      ]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/resumed from .*step-0000002\.safetensors at step 2/);
      const mid = readCheckpoint(join(out, 'checkpoints', 'step-0000004.safetensors'));
      expect(mid.state).toMatchObject({ step: 4, adamStep: 4, dataPosition: 4 * 32 });
      r = await unetc(['train', 'specs/nano-mnist-time-lora.unet', '--resume', '--steps', '5', '--out', out, ...TS_SMALL]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/5 steps \(resumed at 4\)/);
      expect(losses(out).map((x) => x.step)).toEqual([1, 2, 3, 4, 5]);
      expect(readCheckpoint(join(out, 'checkpoints', 'step-0000005.safetensors')).state.adamStep).toBe(5);
    },
    600_000,
  );

  it.skipIf(torchMissing)(
    'a torch run resumed from its checkpoint ends with the weights of an uninterrupted run',
    async () => {
      const a = join(tmp(), 'a');
      const b = join(tmp(), 'b');
      let r = await unetc(['train', 'specs/nano-mnist.unet', '--engine', 'torch', '--steps', '4', '--out', a, ...SMALL]);
      expect(r.status, r.stderr).toBe(0);
      r = await unetc(['train', 'specs/nano-mnist.unet', '--engine', 'torch', '--steps', '2', '--out', b, ...SMALL]);
      expect(r.status, r.stderr).toBe(0);
      r = await unetc(['train', 'specs/nano-mnist.unet', '--engine', 'torch', '--resume', '--steps', '4', '--out', b, ...SMALL]);
      expect(r.status, r.stderr).toBe(0);
      const x = readCheckpoint(join(a, 'checkpoints', 'step-0000004.safetensors'));
      const y = readCheckpoint(join(b, 'checkpoints', 'step-0000004.safetensors'));
      expect([...y.tensors.keys()].sort()).toEqual([...x.tensors.keys()].sort());
      for (const [k, t] of x.tensors) expect(Buffer.from(y.tensors.get(k)!.buffer).equals(Buffer.from(t.buffer)), k).toBe(true);
      expect(losses(b)).toEqual(losses(a));
    },
    600_000,
  );
});
