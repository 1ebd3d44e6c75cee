/**
 * Run folders through the CLI, as a hostile user runs it (issue 16): a second `train` into a run
 * is refused and changes nothing (--force moves the old run aside); a concurrent `train` on the
 * same folder refuses at once; SIGTERM checkpoints and exits 143; a resume with another spec or
 * options is refused with a diff (--allow-spec-change records it); a refused resume leaves model/
 * and ir.json untouched; inputs, outputs, samplers and numbers are checked before any work; run
 * failures (a full disk, a size that cannot fit) exit 1 with one line; check --emit-ir leaves no
 * temp file. Slow on a loaded machine (each CLI start loads the compiled CLI in dist/).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin/unetc.mjs');
const tmp = () => mkdtempSync(join(tmpdir(), 'unetc-runcli-'));
/** Runs the CLI without blocking the test worker (spawnSync for minutes starves vitest's RPC). */
function unetc(args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const c = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    c.on('close', (status) => res({ status, stdout, stderr }));
  });
}
const small = [
  '--limit',
  '16',
  '--batch',
  '4',
  '--sample-every',
  '1000',
  '--sample-count',
  '1',
  '--sample-steps',
  '1',
  '--backend',
  'wasm',
];
const train = (specFile: string, out: string, ...more: string[]) => unetc(['train', specFile, '--out', out, ...small, ...more]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lossLines = (out: string) =>
  existsSync(join(out, 'loss.jsonl')) ? readFileSync(join(out, 'loss.jsonl'), 'utf8').split('\n').filter(Boolean).length : 0;

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

describe('train into a folder that holds a run', () => {
  it('without --resume: exit 1 naming the folder and the ways on, nothing changes; --force moves it aside', async () => {
    const out = join(tmp(), 'run');
    expect((await train('specs/nano-mnist.unet', out, '--steps', '3', '--checkpoint-every', '1')).status).toBe(0);
    const before = snapshot(out);
    const r = await train('specs/nano-mnist.unet', out, '--steps', '2', '--checkpoint-every', '1');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`unetc train: ${out} already holds a run (3 checkpoints, loss.jsonl, run.json); nothing was changed`);
    expect(r.stderr).toMatch(/--resume.*--out.*--force/);
    expect(r.stdout).toBe('');
    expect(snapshot(out)).toEqual(before);
    const f = await train('specs/nano-mnist.unet', out, '--steps', '1', '--force');
    expect(f.status, f.stderr).toBe(0);
    const moved = /moved the run that was in .* to (\S+)/.exec(f.stderr)![1];
    expect(snapshot(moved)).toEqual(before);
    expect(readdirSync(join(out, 'checkpoints'))).toEqual(['step-0000001.safetensors']);
  }, 600_000);
});

describe('concurrent runs, signals, resume rules', () => {
  it('a second train on a folder in use refuses at once; SIGTERM checkpoints and exits 143; a changed spec is refused with a diff', async () => {
    const out = join(tmp(), 'run');
    const child = spawn(
      process.execPath,
      [BIN, 'train', 'specs/nano-mnist.unet', '--out', out, ...small, '--steps', '1000', '--checkpoint-every', '1000'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    const t0 = Date.now();
    while (lossLines(out) < 2 && Date.now() - t0 < 120_000 && child.exitCode === null) await sleep(50);
    expect(lossLines(out)).toBeGreaterThanOrEqual(2);
    // The second process: with and without --resume, refused before it compiles anything.
    for (const extra of [[], ['--resume']]) {
      const t = Date.now();
      const second = await train('specs/nano-mnist.unet', out, '--steps', '1000', ...extra);
      expect(second.status).toBe(1);
      expect(second.stderr).toMatch(new RegExp(`is in use by process ${child.pid} `));
      expect(second.stderr).not.toContain('backend:');
      expect(Date.now() - t).toBeLessThan(60_000); // a CLI start on a loaded 2-core machine; no compile, no backend
    }
    child.kill('SIGTERM');
    expect(await exited).toBe(143);
    expect(stderr).toMatch(/terminated \(SIGTERM\): finishing this step and writing a checkpoint/);
    const cks = readdirSync(join(out, 'checkpoints')).filter((f) => f.endsWith('.safetensors'));
    expect(cks).toHaveLength(1);
    expect(Number(/step-(\d+)/.exec(cks[0])![1])).toBe(lossLines(out));
    expect(existsSync(join(out, '.lock'))).toBe(false);

    // Another spec of the same shape (the schedule changed): refused with the changed line.
    const dir = tmp();
    const changed = join(dir, 'nano-mnist.unet');
    writeFileSync(changed, readFileSync(join(ROOT, 'specs/nano-mnist.unet'), 'utf8').replace('schedule: linear', 'schedule: cosine'));
    const before = snapshot(out);
    const steps = String(lossLines(out) + 1);
    const r = await train(changed, out, '--steps', steps, '--resume');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('was trained with another spec or options; nothing was changed');
    expect(r.stderr).toMatch(/- \d+:\s+schedule: linear\n\s+\+ \d+:\s+schedule: cosine/);
    // An option that decides the weights (--lr) is a change too.
    const lr = await train('specs/nano-mnist.unet', out, '--steps', steps, '--resume', '--lr', '0.01');
    expect(lr.status).toBe(1);
    expect(lr.stderr).toContain('--lr: (not given) -> 0.01');
    expect(snapshot(out)).toEqual(before);
    // Accepted when asked for, and recorded in run.json.
    const ok = await train(changed, out, '--steps', steps, '--resume', '--allow-spec-change');
    expect(ok.status, ok.stderr).toBe(0);
    const rec = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    expect(rec.specChanges).toHaveLength(1);
    expect(rec.specChanges[0].changes[0]).toContain('schedule: cosine');
    expect(JSON.stringify(rec)).not.toContain(tmpdir()); // no absolute path
  }, 900_000);

  it('a refused --resume (a checkpoint of another model) leaves ir.json and model/ untouched; nothing to resume says so', async () => {
    const out = join(tmp(), 'run');
    expect((await train('specs/nano-mnist.unet', out, '--steps', '1')).status).toBe(0);
    const before = snapshot(out);
    const r = await train('specs/nano-mnist-uc-lora.unet', out, '--steps', '2', '--resume', '--allow-spec-change');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/is a checkpoint of another model \(nano_mnist\)/);
    expect(snapshot(out)).toEqual(before);
    // Still sampleable.
    const s = await unetc(['sample', out, '--n', '1', '--steps', '1', '--out', join(out, '..', 's.png'), '--backend', 'wasm']);
    expect(s.status, s.stderr).toBe(0);
    const fresh = join(tmp(), 'new');
    const n = await train('specs/nano-mnist.unet', fresh, '--steps', '1', '--resume');
    expect(n.status).toBe(0);
    expect(n.stderr).toMatch(/nothing to resume in .*new: it has no checkpoint; starting from step 0/);
  }, 600_000);
});

describe('checks before any work', () => {
  it('numbers, samplers, data and output paths; no run folder is left by a failed start', async () => {
    const out = join(tmp(), 'never');
    const cases = [
      ['--steps', '1e3'],
      ['--steps', '0x10'],
      ['--batch', '4.0'],
      ['--lr', 'Infinity'],
      ['--lr', 'NaN'],
      ['--lr', '0x1'],
    ];
    const results = await Promise.all(cases.map(([opt, v]) => unetc(['train', 'specs/nano-mnist.unet', '--out', out, opt, v])));
    for (const [k, r] of results.entries()) {
      expect(r.status, cases[k].join(' ')).toBe(2);
      expect(r.stderr).toContain(`got '${cases[k][1]}'`);
    }
    const data = await unetc(['train', 'specs/nano-mnist.unet', '--out', out, '--data', 'folder:/no/such/folder']);
    expect(data.status).toBe(1);
    expect(data.stderr).toBe('unetc train: dataset "folder:/no/such/folder": /no/such/folder does not exist\n');
    // Batches that cannot fit: refused before a backend is loaded, with the largest that fits.
    const big = await unetc(['train', 'specs/nano-mnist.unet', '--out', out, '--batch', '100000', '--backend', 'wasm']);
    expect(big.status).toBe(1);
    expect(big.stderr).toMatch(
      /^unetc train: training nano_mnist at batch 100000 needs about [0-9.]+ GiB .*; the largest batch that fits is \d+\n$/,
    );
    expect(existsSync(out)).toBe(false);
  }, 600_000);

  it('sample: --sampler validated for the model (exit 2), --out checked first, a damaged checkpoint refused (exit 1)', async () => {
    const out = join(tmp(), 'run');
    expect((await train('specs/nano-mnist.unet', out, '--steps', '1')).status).toBe(0);
    for (const s of ['bogus', 'heun']) {
      const r = await unetc(['sample', out, '--sampler', s]);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`--sampler for nano_mnist (ddpm) is one of ddim, ancestral; got '${s}'`);
    }
    const badOut = await unetc(['sample', out, '--out', join(out, 'no', 'such', 'dir', 'g.png')]);
    expect(badOut.status).toBe(2);
    expect(badOut.stderr).toMatch(/the folder .*no\/such\/dir does not exist/);
    expect(badOut.stderr).not.toContain('backend:');
    // Flip one byte in the data of the newest checkpoint.
    const ck = join(out, 'checkpoints', 'step-0000001.safetensors');
    const buf = readFileSync(ck);
    buf[buf.length - 3] ^= 0x40;
    writeFileSync(ck, buf);
    const r = await unetc(['sample', out, '--n', '1', '--steps', '1', '--backend', 'wasm']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/unetc sample: .*step-0000001\.safetensors: tensor "[^"]+" fails its checksum/);
    expect(existsSync(join(out, 'sample.png'))).toBe(false);
  }, 600_000);
});

describe('run failures exit 1 with one line', () => {
  it('a full disk while training: exit 1, the file and the cause, once', async () => {
    const out = join(tmp(), 'run');
    const r = await unetc(['train', 'specs/nano-mnist.unet', '--out', out, ...small, '--steps', '2'], {
      UNETC_INJECT_FAULT: 'ENOSPC:append:loss.jsonl',
    });
    expect(r.status).toBe(1);
    const last = r.stderr.trim().split('\n').pop()!;
    expect(last).toBe(`unetc train: ${join(out, 'loss.jsonl')}: the disk is full (ENOSPC in append)`);
    expect(r.stderr).not.toMatch(/ENOSPC: ENOSPC/);
  }, 600_000);

  it('check --emit-ir onto a folder: exit 1, one line, no temp file left', async () => {
    const dir = tmp();
    const target = join(dir, 'existing');
    mkdirSync(target);
    const r = await unetc(['check', 'specs/nano-mnist.unet', '--emit-ir', target]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(readdirSync(dir)).toEqual(['existing']);
  }, 300_000);
});
