#!/usr/bin/env node
// Builds dist/ (ESM JavaScript, .d.ts and source maps of src/) with tsc -p tsconfig.build.json,
// incrementally. Runs on `npm ci` / `npm pack` through the prepare script, and from bin/unetc.mjs
// when a development checkout's sources are newer than its build. An installed package ships
// dist/ and no tsconfig, so there this does nothing.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const config = join(root, 'tsconfig.build.json');
if (existsSync(config)) {
  const dist = join(root, 'dist');
  // A dist/ that tsc did not make (an older esbuild bundle) is removed, so the package holds only this build.
  if (existsSync(dist) && !existsSync(join(dist, '.tsbuildinfo'))) rmSync(dist, { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', config], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) {
    process.stderr.write('unetc: building dist/ failed (tsc -p tsconfig.build.json)\n');
    process.exit(r.status ?? 1);
  }
  // What bin/unetc.mjs compares the sources with in a checkout (tsc leaves its own files alone when nothing changed).
  writeFileSync(join(dist, '.built'), new Date().toISOString() + '\n');
}
