/**
 * Run folders are never lost, mixed up or silently damaged (issue 16), in process on the wasm
 * backend with nano-mnist and a few steps: the lock (live, dead and reused pids), a fresh start
 * over a run refused with nothing changed, checkpoints only from finite weights and non-finite
 * ones refused, per-tensor checksums (a flipped byte is skipped on resume and refused by
 * sampling), a torn loss log repaired on resume, a finished run reported as complete, --batch
 * larger than the data, the memory estimate, strict number options, one-line errors for full and
 * read-only disks, and atomic writes that leave no temp file behind.
 */
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { computeStats } from '../src/analysis/stats.ts';
import { checkSpec } from '../src/pipeline.ts';
import { floatOption, intOption, UsageError } from '../src/cli/io.ts';
import { describeFailure } from '../src/cli/main.ts';
import { maxTrainBatch, memoryBudget, trainingMemoryProblem } from '../src/cli/memory.ts';
import { loadMnist } from '../src/runtime/data/index.ts';
import { selectBackend } from '../src/runtime/engine/select.ts';
import { writeFileAtomic } from '../src/runtime/io/atomicWrite.ts';
import { decodeSafetensors, encodeSafetensors, readSafetensorsFile } from '../src/runtime/io/safetensors.ts';
import { latestCheckpoint, listCheckpoints, readCheckpoint } from '../src/runtime/train/checkpoint.ts';
import { trainRun, type ModelModule } from '../src/runtime/train/loop.ts';
import { acquireRunLock, checkNotLocked, makeRunDirs } from '../src/runtime/train/runFolder.ts';
import { sampleRun } from '../src/runtime/train/sample.ts';
import { compileAndImport, spec } from './modelHelpers.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'unetc-runfolder-'));
const quiet = () => {};
let mod: ModelModule;
const common = () => ({
  data: loadMnist({ limit: 16 }),
  batch: 4,
  seed: 3,
  sampleEvery: 1000,
  sampleCount: 1,
  sampleSteps: 1,
  log: quiet,
  progress: false,
});

/** Every file under a folder with its bytes, for "nothing changed". */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[p.slice(dir.length)] = readFileSync(p).toString('base64');
    }
  };
  walk(dir);
  return out;
}

/** Flips one byte inside tensor `name`'s data. */
function flipByte(file: string, name: string): void {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  buf[8 + n + header[name].data_offsets[0] + 1] ^= 0x10;
  writeFileSync(file, buf);
}

beforeAll(async () => {
  await selectBackend({ name: 'wasm', log: quiet });
  mod = (await compileAndImport(spec('nano-mnist.unet'))) as unknown as ModelModule;
}, 120_000);

describe('the run folder lock', () => {
  it('a live process holding the lock is refused; a dead one or a reused pid is recovered', async () => {
    const dir = tmp();
    // A live other process: a child that sleeps, with its real start time.
    const child = spawn('sleep', ['30']);
    await new Promise((r) => setTimeout(r, 100));
    const start = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ')[19];
    try {
      writeFileSync(join(dir, '.lock'), JSON.stringify({ pid: child.pid, start, host: hostname(), since: 'then' }));
      expect(() => checkNotLocked(dir)).toThrow(new RegExp(`is in use by process ${child.pid}`));
      expect(() => acquireRunLock(dir)).toThrow(/is in use by process/);
      // The same pid with another start time: the pid was reused, the lock is stale.
      writeFileSync(join(dir, '.lock'), JSON.stringify({ pid: child.pid, start: '1', host: hostname(), since: 'then' }));
      const notes: string[] = [];
      const l = acquireRunLock(dir, (s) => notes.push(s));
      expect(notes.join()).toMatch(/recovered the stale lock of process \d+/);
      expect(JSON.parse(readFileSync(join(dir, '.lock'), 'utf8')).pid).toBe(process.pid);
      l.release();
      expect(existsSync(join(dir, '.lock'))).toBe(false);
    } finally {
      child.kill();
    }
    // A dead process.
    const dead = spawnSync('true');
    writeFileSync(join(dir, '.lock'), JSON.stringify({ pid: dead.pid, start: '', host: hostname(), since: 'then' }));
    expect(() => checkNotLocked(dir)).not.toThrow();
    const notes: string[] = [];
    acquireRunLock(dir, (s) => notes.push(s)).release();
    expect(notes.join()).toMatch(/no longer running/);
  });

  it('trainRun refuses a folder locked by another live process', async () => {
    const dir = tmp();
    const child = spawn('sleep', ['30']);
    await new Promise((r) => setTimeout(r, 100));
    try {
      writeFileSync(join(dir, '.lock'), JSON.stringify({ pid: child.pid, start: '', host: hostname(), since: 'then' }));
      await expect(trainRun(mod, { ...common(), outDir: dir, steps: 1 })).rejects.toThrow(/is in use by process/);
      expect(readdirSync(dir)).toEqual(['.lock']);
    } finally {
      child.kill();
    }
  });
});

describe('a fresh start never touches an existing run', () => {
  it('train into a folder holding a run, without resume: refused, nothing in it changes', async () => {
    const out = tmp();
    await trainRun(mod, { ...common(), outDir: out, steps: 4, checkpointEvery: 1, keep: 3 });
    const before = snapshot(out);
    await expect(trainRun(mod, { ...common(), outDir: out, steps: 2, checkpointEvery: 1 })).rejects.toThrow(
      /already holds a run \(3 checkpoints, loss\.jsonl\); nothing was changed\. Continue it with --resume/,
    );
    expect(snapshot(out)).toEqual(before);
  }, 120_000);
});

describe('finite checkpoints', () => {
  it('a diverging run writes no checkpoint from non-finite weights; the one named as last good is finite', async () => {
    const out = tmp();
    await trainRun(mod, { ...common(), outDir: out, steps: 1 });
    // lr 1e30 with a checkpoint every step: the weights blow up at once.
    const err = await trainRun(mod, { ...common(), outDir: out, steps: 20, lr: 1e30, resume: true, checkpointEvery: 1, keep: 100 }).catch(
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(Error);
    const m = /The last good checkpoint is (\S+)$/.exec((err as Error).message);
    expect(m, (err as Error).message).not.toBeNull();
    // Every checkpoint there is finite (readCheckpoint refuses non-finite ones), the named one included.
    for (const f of listCheckpoints(join(out, 'checkpoints'))) expect(() => readCheckpoint(join(out, 'checkpoints', f))).not.toThrow();
    expect(existsSync(m![1])).toBe(true);
    expect(() => readCheckpoint(m![1])).not.toThrow();
  }, 120_000);

  it('sample and --resume refuse a checkpoint with non-finite weights, naming the file and tensor', async () => {
    const out = tmp();
    const r = await trainRun(mod, { ...common(), outDir: out, steps: 1 });
    // Rewrite the checkpoint with one NaN in the EMA weights (as an older writer could have).
    const d = readSafetensorsFile(r.checkpoint);
    const name = [...d.tensors.keys()].find((k) => k.startsWith('ema.'))!;
    (d.tensors.get(name)!.data as Float32Array)[0] = NaN;
    const { crc32: _, ...meta } = d.metadata;
    writeFileSync(r.checkpoint, encodeSafetensors(d.tensors, meta, { checksums: true }));
    expect(() => sampleRun(mod, { checkpoint: r.checkpoint, out: join(out, 's.png'), n: 1, steps: 1 })).toThrow(
      new RegExp(`step-0000001\\.safetensors: tensor "${name.replace(/\./g, '\\.')}" holds 1 non-finite value`),
    );
    expect(existsSync(join(out, 's.png'))).toBe(false);
    await expect(trainRun(mod, { ...common(), outDir: out, steps: 2, resume: true })).rejects.toThrow(
      /non-finite value \(NaN or Inf\): these weights diverged/,
    );
  }, 120_000);
});

describe('checksums', () => {
  it('every tensor has a CRC-32 in the metadata; the header stays plain safetensors', async () => {
    const out = tmp();
    const r = await trainRun(mod, { ...common(), outDir: out, steps: 1 });
    const buf = readFileSync(r.checkpoint);
    const header = JSON.parse(buf.subarray(8, 8 + Number(buf.readBigUInt64LE(0))).toString('utf8'));
    // What other readers see: string metadata, entries of exactly dtype, shape and data_offsets.
    for (const v of Object.values(header.__metadata__)) expect(typeof v).toBe('string');
    for (const [k, e] of Object.entries(header))
      if (k !== '__metadata__') expect(Object.keys(e as object).sort()).toEqual(['data_offsets', 'dtype', 'shape']);
    const sums = JSON.parse(header.__metadata__.crc32);
    expect(Object.keys(sums).sort()).toEqual(
      Object.keys(header)
        .filter((k) => k !== '__metadata__')
        .sort(),
    );
  }, 120_000);

  it('a flipped byte: refused by sample naming file and tensor, skipped on resume with a message', async () => {
    const out = tmp();
    await trainRun(mod, { ...common(), outDir: out, steps: 2, checkpointEvery: 1 });
    const newest = join(out, 'checkpoints', 'step-0000002.safetensors');
    flipByte(newest, 'model.dec.32x32.block0.conv0.weight');
    expect(() => sampleRun(mod, { checkpoint: newest, out: join(out, 's.png'), n: 1, steps: 1 })).toThrow(
      /step-0000002\.safetensors: tensor "model\.dec\.32x32\.block0\.conv0\.weight" fails its checksum/,
    );
    const lines: string[] = [];
    const r = await trainRun(mod, { ...common(), outDir: out, steps: 3, resume: true, log: (s) => lines.push(s) });
    expect(r.resumedFrom).toBe(1);
    expect(lines.join('\n')).toMatch(
      /skipping unreadable checkpoint step-0000002\.safetensors: tensor "model\.dec\.32x32\.block0\.conv0\.weight" fails its checksum/,
    );
    // The damage is not carried on: the new newest checkpoint reads back clean.
    expect(latestCheckpoint(join(out, 'checkpoints'))!.state.step).toBe(3);
  }, 120_000);

  it('a damaged checksum table is an error, and files without one (other writers) still read', () => {
    const t = new Map([['a', { dtype: 'F32' as const, shape: [2], data: new Float32Array([1, 2]) }]]);
    const withSums = encodeSafetensors(t, { x: 'y' }, { checksums: true });
    expect(decodeSafetensors(withSums).tensors.get('a')!.data).toEqual(new Float32Array([1, 2]));
    expect(decodeSafetensors(encodeSafetensors(t, { x: 'y' })).metadata).toEqual({ x: 'y' });
    const bad = Buffer.from(withSums.toString('latin1').replace(/"a\\":\\"[0-9a-f]{8}/, '"a\\":\\"00000000'), 'latin1');
    expect(() => decodeSafetensors(bad, 'f.safetensors')).toThrow(/f\.safetensors: tensor "a" fails its checksum/);
  });
});

describe('resume', () => {
  it('a torn last line and lines past the checkpoint are dropped from loss.jsonl, with a note', async () => {
    const out = tmp();
    await trainRun(mod, { ...common(), outDir: out, steps: 2, checkpointEvery: 2 });
    // A step logged after the checkpoint, then a write cut short by a kill or a full disk.
    appendFileSync(join(out, 'loss.jsonl'), '{"step":3,"loss":0.5,"lr":0.001}\n{"step":4,"lo');
    const lines: string[] = [];
    const r = await trainRun(mod, { ...common(), outDir: out, steps: 3, resume: true, log: (s) => lines.push(s) });
    expect(r.resumedFrom).toBe(2);
    expect(lines.join('\n')).toMatch(/dropped a torn last line/);
    expect(lines.join('\n')).toMatch(/dropped 1 line\(s\) past step 2/);
    const log = readFileSync(join(out, 'loss.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).step);
    expect(log).toEqual([1, 2, 3]);
  }, 120_000);

  it('a bad line in the middle of the log is an error naming the line', async () => {
    const out = tmp();
    await trainRun(mod, { ...common(), outDir: out, steps: 1 });
    writeFileSync(join(out, 'loss.jsonl'), 'garbage\n{"step":1,"loss":1}\n');
    await expect(trainRun(mod, { ...common(), outDir: out, steps: 2, resume: true })).rejects.toThrow(/loss\.jsonl:1: not a loss record/);
  }, 120_000);

  it('resuming a finished run says it is complete and changes nothing; --resume with nothing to resume says so', async () => {
    const out = tmp();
    await trainRun(mod, { ...common(), outDir: out, steps: 1 });
    const before = snapshot(out);
    const lines: string[] = [];
    const r = await trainRun(mod, { ...common(), outDir: out, steps: 1, resume: true, log: (s) => lines.push(s) });
    expect(r.complete).toBe(true);
    expect(r.finalLoss).toBeGreaterThan(0);
    expect(lines.join('\n')).toMatch(/is complete: it has done 1 of 1 steps; nothing to do/);
    expect(snapshot(out)).toEqual(before);
    const fresh = tmp();
    const notes: string[] = [];
    const f = await trainRun(mod, { ...common(), outDir: fresh, steps: 1, resume: true, log: (s) => notes.push(s) });
    expect(f.resumedFrom).toBeUndefined();
    expect(notes.join('\n')).toMatch(/nothing to resume in .*: it has no checkpoint; starting from step 0/);
  }, 120_000);
});

describe('sizes', () => {
  it('--batch larger than the data set is an error', async () => {
    await expect(trainRun(mod, { ...common(), data: loadMnist({ limit: 3 }), outDir: tmp(), steps: 1, batch: 4 })).rejects.toThrow(
      /the batch \(4\) is larger than the data set \(3 images/,
    );
  });

  it('the memory estimate refuses a batch or a model that cannot fit, naming the largest batch that fits', () => {
    const nano = computeStats(checkSpec(spec('nano-mnist.unet')).ir!);
    const wasm = memoryBudget('wasm');
    expect(trainingMemoryProblem(nano, 128, wasm)).toBeUndefined();
    const max = maxTrainBatch(nano, wasm);
    expect(max).toBeGreaterThan(128);
    expect(trainingMemoryProblem(nano, max, wasm)).toBeUndefined();
    expect(trainingMemoryProblem(nano, 100000, wasm)).toMatch(
      new RegExp(`batch 100000 needs about [0-9.]+ GiB .* more than the 4 GiB wasm heap; the largest batch that fits is ${max}$`),
    );
    // The benchmark model at its spec's batch 64 (measured 1.69 GiB) fits.
    const attn = computeStats(checkSpec(spec('attn-unet-mnist-uc-lora.unet')).ir!);
    expect(trainingMemoryProblem(attn, 64, wasm)).toBeUndefined();
    // A model of billions of parameters that passes check: not even the parameters fit.
    const text = readFileSync(spec('nano-mnist.unet'), 'utf8').replace('channels: 10\n', 'channels: 2000\n');
    const big = checkSpec(join(tmpdir(), 'big.unet'), { text });
    expect(big.ir, JSON.stringify(big.diagnostics)).toBeDefined();
    const bigStats = computeStats(big.ir!);
    expect(bigStats.totalParams).toBeGreaterThan(5e9);
    expect(trainingMemoryProblem(bigStats, 1, wasm)).toMatch(
      /parameters: with gradients, Adam's moments and the EMA they need [0-9.]+ GiB, more than the 4 GiB wasm heap/,
    );
  });

  it('sampleRun samples a large n in passes of maxBatch (the first pass equal to a one-pass grid)', async () => {
    const out = tmp();
    const r = await trainRun(mod, { ...common(), outDir: out, steps: 1 });
    const s = sampleRun(mod, { checkpoint: r.checkpoint, out: join(out, 'big.png'), n: 5, steps: 1, maxBatch: 2 });
    expect(s.shape).toEqual([5, 32, 32, 1]);
    expect(s.finite).toBe(true);
  }, 120_000);
});

describe('options and errors', () => {
  it('whole numbers are decimal digits only; floats are finite decimals', () => {
    expect(intOption('1000', 'steps')).toBe(1000);
    for (const bad of ['1e3', '0x10', '+5', ' 7', '10.0', '', '1_000', '0b1', 'Infinity'])
      expect(() => intOption(bad, 'steps'), bad).toThrow(UsageError);
    expect(floatOption('3e-4', 'lr', { positive: true })).toBe(3e-4);
    expect(floatOption('0.001', 'lr', { positive: true })).toBe(0.001);
    for (const bad of ['Infinity', '-Infinity', 'NaN', '0x10', '1e999', '0', '-1', '', ' 1', '1e'])
      expect(() => floatOption(bad, 'lr', { positive: true }), bad).toThrow(UsageError);
  });

  it('full and read-only disks: one line naming the file and the cause', () => {
    const enospc = Object.assign(new Error("ENOSPC: no space left on device, write '/r/loss.jsonl'"), {
      code: 'ENOSPC',
      syscall: 'write',
      path: '/r/loss.jsonl',
    });
    expect(describeFailure(enospc)).toBe('/r/loss.jsonl: the disk is full (ENOSPC in write)');
    const dir = tmp();
    process.env.UNETC_INJECT_FAULT = 'EROFS:mkdir:run';
    try {
      expect(() => makeRunDirs(join(dir, 'run'), ['checkpoints'])).toThrow(
        /cannot write to .*run: cannot create .*: .*run\/checkpoints: the file system is read-only \(EROFS in mkdir\)/,
      );
      process.env.UNETC_INJECT_FAULT = 'ENOSPC:write:x.bin';
      expect(() => writeFileAtomic(join(dir, 'x.bin'), new Uint8Array(4))).toThrow(/ENOSPC/);
    } finally {
      delete process.env.UNETC_INJECT_FAULT;
    }
    expect(readdirSync(dir)).toEqual([]);
    // A real failure of the rename (the target is a folder): no temp file left behind either.
    mkdirSync(join(dir, 'd'));
    expect(() => writeFileAtomic(join(dir, 'd'), new Uint8Array(4))).toThrow();
    expect(readdirSync(dir)).toEqual(['d']);
    expect(statSync(join(dir, 'd')).isDirectory()).toBe(true);
  });
});
