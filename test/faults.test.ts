/**
 * Training survives faults: SIGINT writes a checkpoint and exits cleanly; SIGKILL at random moments
 * (including during checkpoint writes: one is written every step here) never leaves a corrupt
 * latest checkpoint, and --resume continues from the last complete one; a NaN loss stops the run
 * naming the step and keeps the last good checkpoint; an unwritable output folder fails up front.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/runtime/engine/select.ts';
import { loadMnist } from '../src/runtime/data/index.ts';
import { latestCheckpoint, listCheckpoints, readCheckpoint } from '../src/runtime/train/checkpoint.ts';
import { trainRun, type ModelModule } from '../src/runtime/train/loop.ts';
import { compileAndImport, spec } from './modelHelpers.ts';

const ROOT = join(import.meta.dirname, '..');
const tmp = () => mkdtempSync(join(tmpdir(), 'unetc-faults-'));
const trainArgs = (out: string, steps: number) => [
  join(ROOT, 'bin/unetc.mjs'),
  'train',
  'specs/nano-mnist.unet',
  '--limit',
  '32',
  '--batch',
  '4',
  '--steps',
  String(steps),
  '--checkpoint-every',
  '1',
  '--keep',
  '2',
  '--sample-every',
  '100000',
  '--sample-count',
  '2',
  '--sample-steps',
  '1',
  '--out',
  out,
];
const lossLines = (out: string) =>
  existsSync(join(out, 'loss.jsonl')) ? readFileSync(join(out, 'loss.jsonl'), 'utf8').trim().split('\n').filter(Boolean).length : 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts a training child; resolves once it has logged `minSteps` steps, with the child. */
async function startTraining(out: string, steps: number, minSteps: number, resume = false) {
  const child = spawn(process.execPath, [...trainArgs(out, steps), ...(resume ? ['--resume'] : [])], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code, signal) => r(code ?? (signal ? -1 : null))));
  const t0 = Date.now();
  while (lossLines(out) < minSteps && Date.now() - t0 < 60_000 && child.exitCode === null) await sleep(20);
  return { child, exited, stderr: () => stderr };
}

beforeAll(async () => {
  await selectBackend({ name: 'wasm', log: () => {} });
});

describe('faults', () => {
  it('SIGKILL at random moments never corrupts the latest checkpoint; --resume continues from it', async () => {
    const out = tmp();
    let lastStep = 0;
    // Deterministic "random" delays: different points of the step / checkpoint cycle.
    const delays = [0, 37, 91, 143, 211, 263];
    for (const [k, delay] of delays.entries()) {
      const run = await startTraining(out, 1000, lastStep + 2, k > 0);
      await sleep(delay);
      run.child.kill('SIGKILL');
      await run.exited;
      const ck = latestCheckpoint(join(out, 'checkpoints'));
      expect(ck, `after kill ${k}`).toBeDefined();
      // The newest file is complete: every tensor present and the step not behind what we saw.
      expect(ck!.skipped, `after kill ${k}`).toEqual([]);
      expect(ck!.state.step).toBeGreaterThanOrEqual(lastStep);
      lastStep = ck!.state.step;
      if (k > 0) expect(run.stderr()).toMatch(/resumed from .* at step \d+/);
    }
    // A final resumed run completes normally.
    const fin = spawnSync(process.execPath, [...trainArgs(out, lastStep + 2), '--resume', '--json'], { cwd: ROOT, encoding: 'utf8' });
    expect(fin.status).toBe(0);
    expect(JSON.parse(fin.stdout.trim().split('\n').pop()!).resumedFrom).toBe(lastStep);
    // Temp files of writes that a kill interrupted are gone (deleted at the next start).
    expect(readdirSync(join(out, 'checkpoints')).filter((f) => f.includes('.tmp-'))).toEqual([]);
  }, 300_000);

  it('SIGINT writes a checkpoint and exits cleanly (status 130)', async () => {
    const out = tmp();
    const run = await startTraining(out, 1000, 3);
    run.child.kill('SIGINT');
    const code = await run.exited;
    expect(code).toBe(130);
    expect(run.stderr()).toMatch(/interrupted: finishing this step/);
    const names = listCheckpoints(join(out, 'checkpoints'));
    const last = readCheckpoint(join(out, 'checkpoints', names[names.length - 1]));
    // The checkpoint holds every step the loss log recorded.
    expect(last.state.step).toBe(lossLines(out));
  }, 120_000);

  it('a NaN loss stops the run naming the step and keeps the last good checkpoint', async () => {
    const mod = (await compileAndImport(spec('nano-mnist.unet'))) as unknown as ModelModule;
    const out = tmp();
    const data = loadMnist({ limit: 16 });
    await trainRun(mod, {
      data,
      outDir: out,
      steps: 2,
      batch: 4,
      sampleEvery: 1000,
      sampleCount: 1,
      sampleSteps: 1,
      log: () => {},
      progress: false,
    });
    // An absurd learning rate drives the weights, then the loss, to Inf/NaN within a few steps.
    await expect(
      trainRun(mod, {
        data,
        outDir: out,
        steps: 50,
        batch: 4,
        lr: 1e30,
        resume: true,
        checkpointEvery: 1000,
        sampleEvery: 1000,
        log: () => {},
        progress: false,
      }),
    ).rejects.toThrow(/the loss is (NaN|Infinity|-Infinity) at step \d+; stopping without saving\. The last good checkpoint is/);
    expect(listCheckpoints(join(out, 'checkpoints'))).toEqual(['step-0000002.safetensors']);
    expect(latestCheckpoint(join(out, 'checkpoints'))!.state.step).toBe(2);
  }, 120_000);

  it('an unwritable output folder is a clear error before any training', async () => {
    const mod = (await compileAndImport(spec('nano-mnist.unet'))) as unknown as ModelModule;
    const file = join(tmp(), 'a-file');
    writeFileSync(file, 'not a folder');
    await expect(
      trainRun(mod, { data: loadMnist({ limit: 4 }), outDir: join(file, 'run'), steps: 1, batch: 2, log: () => {}, progress: false }),
    ).rejects.toThrow(/cannot write to .*a-file\/run/);
  }, 60_000);
});
