#!/usr/bin/env node
// Entry point of the `unetc` command: runs the compiled CLI in dist/.
//
// An installed package ships dist/ and runs it as is. A development checkout (it has
// tsconfig.build.json, which the package does not ship) first rebuilds dist/ when a source is
// newer than the last build, so `node bin/unetc.mjs` never runs code older than the sources.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

if (existsSync(join(root, 'tsconfig.build.json'))) {
  const newest = (dir) => {
    let t = 0;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) t = Math.max(t, newest(p));
      else if (e.name.endsWith('.ts')) t = Math.max(t, statSync(p).mtimeMs);
    }
    return t;
  };
  const stamp = join(root, 'dist', '.built');
  const built = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
  if (Math.max(newest(join(root, 'src')), newest(join(root, 'grammar'))) > built) {
    process.stderr.write('unetc: this checkout\'s sources are newer than dist/; rebuilding (npm run build)\n');
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.execPath, [join(root, 'bin', 'build.mjs')], { stdio: ['ignore', 2, 2] });
    if (r.status !== 0) process.exit(1);
  }
}

const { main } = await import(pathToFileURL(join(root, 'dist', 'src', 'cli', 'main.js')).href);
process.exitCode = await main(process.argv.slice(2));
