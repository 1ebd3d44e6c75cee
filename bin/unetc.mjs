#!/usr/bin/env node
// Entry point of the `unetc` command. Runs the esbuild bundle (dist/cli.mjs, made by `npm ci`
// through the prepare script) when it is at least as new as every source file; otherwise runs the
// TypeScript sources through tsx, so a checkout being edited never runs stale code.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundle = join(root, 'dist', 'cli.mjs');

function newestSource(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function bundleIsFresh() {
  if (!existsSync(bundle) || process.env.UNETC_NO_BUNDLE) return false;
  const built = statSync(bundle).mtimeMs;
  return ['src', 'grammar'].every((d) => !existsSync(join(root, d)) || newestSource(join(root, d)) <= built);
}

let main;
if (bundleIsFresh()) {
  ({ main } = await import(pathToFileURL(bundle).href));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(pathToFileURL(join(root, 'src', 'cli', 'main.ts')).href));
}
process.exitCode = await main(process.argv.slice(2));
