/**
 * The fallback stays honest: with the native addon disabled (UNETC_NATIVE=0) or broken (a file
 * that is no addon), the wasm backend runs its own kernels (no native kernel registered), says so
 * once, and still computes convolutions, their gradients and matmuls equal to the cpu backend's.
 * Each case runs in a fresh process (test/fixtures/native-child.ts): the addon loads once per
 * process.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadNative } from '../src/runtime/engine/native.ts';

const ROOT = join(import.meta.dirname, '..');

function child(env: Record<string, string>): { backend: string; nativeInfo: unknown; log: string[]; native: string[]; worst: number } {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'run-ts.mjs'), join(ROOT, 'test', 'fixtures', 'native-child.ts')], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 120_000,
  });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

describe('without the native addon', () => {
  it('UNETC_NATIVE=0: the wasm kernels, one line saying so, results equal to the cpu backend', () => {
    const out = child({ UNETC_NATIVE: '0' });
    expect(out.backend).toBe('wasm');
    expect(out.nativeInfo).toBeNull();
    expect(out.native).toEqual([]);
    expect(out.log.filter((l) => l.includes('native'))).toEqual([
      'backend: native oneDNN kernels unavailable (disabled by UNETC_NATIVE=0)',
    ]);
    expect(out.log.at(-1)).toMatch(/^backend: wasm \(XNNPACK, 1 thread/);
    expect(out.worst).toBeLessThan(1e-4);
  });

  it('a present but broken addon counts as absent, once, with the reason', () => {
    const dir = mkdtempSync(join(tmpdir(), 'unetc-native-'));
    const bogus = join(dir, 'unetc_native.node');
    writeFileSync(bogus, 'not a shared object');
    const out = child({ UNETC_NATIVE_ADDON: bogus });
    expect(out.native).toEqual([]);
    const lines = out.log.filter((l) => l.includes('native'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^backend: native oneDNN kernels unavailable \(present but failed to load: .*(invalid ELF header|file too short).*\); for native speed: apt-get install libdnnl-dev/,
    );
    expect(out.worst).toBeLessThan(1e-4);
  });

  it.skipIf(!loadNative(1).ok)('with the addon: the native kernels, and the backend line names oneDNN and the threads', () => {
    const out = child({ UNETC_WASM_THREADS: '2' });
    expect(out.native).toContain('Conv2D');
    expect(out.native).toContain('BatchMatMul');
    expect(out.log.at(-1)).toMatch(/^backend: wasm \+ oneDNN \d+\.\d+\.\d+, 2 threads/);
    expect(out.worst).toBeLessThan(1e-4);
  });
});
