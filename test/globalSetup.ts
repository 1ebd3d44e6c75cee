/**
 * Builds dist/ once before the tests: the CLI tests run bin/unetc.mjs, which runs dist/ (and in a
 * checkout would rebuild a stale dist/ itself, once per process, racing when test files run in parallel).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export default function setup(): void {
  execFileSync(process.execPath, [join(import.meta.dirname, '..', 'bin', 'build.mjs')], { stdio: 'inherit' });
}
