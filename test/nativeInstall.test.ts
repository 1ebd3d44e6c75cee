/**
 * The install step (native/build.mjs, package.json's `install` script) never fails `npm ci`:
 * without oneDNN it prints one line saying how to get native speed and exits 0; with
 * UNETC_NATIVE=0 it skips the build. (That it builds a loadable addon where oneDNN is installed
 * is what test/native.test.ts checks under UNETC_REQUIRE_NATIVE=1, as .ci/run runs it.)
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const BUILD = join(import.meta.dirname, '..', 'native', 'build.mjs');
const run = (env: Record<string, string>) =>
  spawnSync(process.execPath, [BUILD], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });

describe('native/build.mjs', () => {
  it('without oneDNN: exit 0 and one line saying how to get native speed', () => {
    const r = run({ UNETC_DNNL_INCLUDE: '/nonexistent-unetc' });
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^unetc: oneDNN not found .*apt-get install libdnnl-dev.*npm rebuild unetc/);
    expect(r.stderr).toBe('');
  });

  it('UNETC_NATIVE=0: exit 0, no build', () => {
    const r = run({ UNETC_NATIVE: '0' });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('unetc: UNETC_NATIVE=0: native kernels not built; the wasm kernels are used');
  });
});
