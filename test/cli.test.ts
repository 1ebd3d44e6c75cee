/** The CLI end to end, as a user runs it: exit codes, stats --json keys, --emit-ir, fmt --check. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { irErrors } from '../src/ir/validate.ts';

const ROOT = join(import.meta.dirname, '..');
const unetc = (...args: string[]) =>
  spawnSync(process.execPath, [join(ROOT, 'bin/unetc.mjs'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
  });

describe('unetc CLI', () => {
  it('stats --json gives integer totalParams and trainableParams', () => {
    const r = unetc('stats', 'specs/nano-mnist.unet', '--json');
    expect(r.status).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.totalParams).toBe(537_532); // dataflowr MyTinyUNet: 437,532 trainable + 100,000 frozen
    expect(s.trainableParams).toBe(437_532);
    expect(Number.isInteger(s.forwardFlops)).toBe(true);
  });

  it('stats prints a readable table', () => {
    const r = unetc('stats', 'specs/iddpm-cifar10.unet');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('52,546,438');
    expect(r.stdout).toContain('enc.16x16.block0');
  });

  it('check --emit-ir writes schema-valid IR', () => {
    const dir = mkdtempSync(join(tmpdir(), 'unetc-'));
    const out = join(dir, 'ir.json');
    const r = unetc('check', 'specs/edm-cifar10.unet', '--emit-ir', out);
    expect(r.status).toBe(0);
    expect(irErrors(JSON.parse(readFileSync(out, 'utf8')))).toEqual([]);
  });

  it('a bad spec: exit 1, file:line:col, code, source line and caret, no stack trace', () => {
    const dir = mkdtempSync(join(tmpdir(), 'unetc-'));
    const f = join(dir, 'bad.unet');
    writeFileSync(f, 'model m extends "../../nonexistent-base.unet" {\n}\n');
    const r = unetc('check', f);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:1:17: error E0210: `));
    expect(r.stderr).toContain('1 | model m extends');
    expect(r.stderr).toMatch(/\^{10,}/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a missing file is one clear line, not a stack trace', () => {
    const r = unetc('stats', 'no/such/file.unet');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('cannot read spec');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('fmt --check passes on specs/ and flags a non-canonical file', () => {
    expect(unetc('fmt', '--check', ...['nano-mnist.unet', 'edm-cifar10.unet'].map((s) => `specs/${s}`)).status).toBe(0);
    const dir = mkdtempSync(join(tmpdir(), 'unetc-'));
    const f = join(dir, 'ugly.unet');
    writeFileSync(f, 'model   m{input{size:32 channels:1}}');
    const r = unetc('fmt', '--check', f);
    expect(r.status).toBe(1);
    expect(unetc('fmt', f).status).toBe(0);
    expect(readFileSync(f, 'utf8')).toBe('model m {\n  input {\n    size: 32\n    channels: 1\n  }\n}\n');
  });

  it('unknown command and bad flags exit 2 with usage', () => {
    expect(unetc('frobnicate').status).toBe(2);
    const r = unetc('stats', '--nope', 'x.unet');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown option '--nope'");
    expect(r.stdout).toBe('');
  });
});

describe('unetc train and sample', () => {
  it('train writes checkpoints, loss log, grids; --resume continues; sample writes a grid; bad data is one clear line', () => {
    const out = mkdtempSync(join(tmpdir(), 'unetc-run-'));
    const common = [
      'specs/nano-mnist.unet',
      '--data',
      'mnist',
      '--limit',
      '16',
      '--batch',
      '4',
      '--out',
      out,
      '--sample-count',
      '4',
      '--sample-steps',
      '2',
      '--sample-every',
      '1000',
    ];
    const r1 = unetc('train', ...common, '--steps', '2', '--json');
    expect(r1.stderr).toContain('backend: wasm');
    expect(r1.status).toBe(0);
    const res1 = JSON.parse(r1.stdout.trim().split('\n').pop()!);
    expect(res1.steps).toBe(2);
    expect(readFileSync(join(out, 'loss.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
    const r2 = unetc('train', ...common, '--steps', '3', '--resume', '--json');
    expect(r2.status).toBe(0);
    expect(JSON.parse(r2.stdout.trim().split('\n').pop()!).resumedFrom).toBe(2);
    const s = unetc('sample', out, '--n', '4', '--steps', '2', '--out', join(out, 'g.png'));
    expect(s.status).toBe(0);
    expect(s.stdout).toContain('4x32x32x1');
    const bad = unetc('train', 'specs/nano-mnist.unet', '--data', 'cifar10:/no/such/dir', '--steps', '1', '--out', join(out, 'x'));
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/unetc train: .*\/no\/such\/dir/);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
  }, 300_000);
});
