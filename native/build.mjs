#!/usr/bin/env node
// Builds the oneDNN addon (native/build/Release/unetc_native.node) when oneDNN is installed.
// Runs from package.json's `install` script, so `npm ci` builds it; never fails the install:
// without oneDNN (or a compiler, or Node's headers) it prints one line saying how to get native
// speed and exits 0, and the runtime keeps the wasm kernels. No network: node-gyp is npm's own
// (offline, with --nodedir pointing at the system's Node headers); if it is missing or fails, g++
// is called directly. UNETC_NATIVE=0 skips the build.
//
//   node native/build.mjs [--force]   (--force: rebuild even when the addon is up to date)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'build', 'Release', 'unetc_native.node');
const source = join(here, 'unetc_native.cc');
const force = process.argv.includes('--force');
const say = (msg) => process.stdout.write(`unetc: ${msg}\n`);
const HOW = 'for native CPU speed (oneDNN convolutions and matmuls), `apt-get install libdnnl-dev` and run `npm rebuild unetc` (or `node native/build.mjs`)';

function main() {
  if (process.env.UNETC_NATIVE === '0') return say('UNETC_NATIVE=0: native kernels not built; the wasm kernels are used');
  // UNETC_DNNL_INCLUDE (':'-separated) replaces the directories searched for dnnl.hpp (tests use it).
  const includeDirs = process.env.UNETC_DNNL_INCLUDE !== undefined
    ? process.env.UNETC_DNNL_INCLUDE.split(':').filter(Boolean)
    : [process.env.DNNLROOT && join(process.env.DNNLROOT, 'include'), '/usr/include', '/usr/local/include'].filter(Boolean);
  const dnnl = includeDirs.find((d) => existsSync(join(d, 'dnnl.hpp')) || existsSync(join(d, 'oneapi', 'dnnl', 'dnnl.hpp')));
  if (dnnl === undefined) return say(`oneDNN not found (no dnnl.hpp); using the wasm kernels. ${HOW}`);
  const nodeDir = [process.env.npm_config_nodedir, dirname(dirname(process.execPath)), '/usr'].find(
    (d) => d && existsSync(join(d, 'include', 'node', 'node_api.h')),
  );
  if (nodeDir === undefined) return say(`Node's C headers (include/node/node_api.h) not found; using the wasm kernels. Install them (e.g. apt-get install libnode-dev), then ${HOW}`);
  if (!force && existsSync(out) && statSync(out).mtimeMs > statSync(source).mtimeMs && probe() === undefined) return say('native kernels up to date');

  let addonApi;
  try {
    addonApi = createRequire(import.meta.url)('node-addon-api').include_dir.replace(/^"|"$/g, '');
  } catch {
    return say(`node-addon-api is not installed; using the wasm kernels. Run \`npm ci\`, then ${HOW}`);
  }
  const errors = [];
  const gyp = nodeGyp();
  if (gyp !== undefined) {
    const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodeDir}`, '--loglevel=error'], { cwd: here, encoding: 'utf8' });
    if (r.status === 0 && existsSync(out)) return done();
    errors.push(`node-gyp: ${lastLines(r.stderr || r.stdout || String(r.error))}`);
  }
  mkdirSync(dirname(out), { recursive: true });
  const cxx = process.env.CXX || 'g++';
  const r = spawnSync(
    cxx,
    ['-O2', '-std=c++17', '-shared', '-fPIC', '-fexceptions', '-fopenmp', '-DNAPI_VERSION=8', '-DNAPI_CPP_EXCEPTIONS', `-I${join(nodeDir, 'include', 'node')}`, `-I${addonApi}`, source, '-ldnnl', '-lgomp', '-o', out],
    { encoding: 'utf8' },
  );
  if (r.status === 0) return done();
  errors.push(`${cxx}: ${lastLines(r.stderr || String(r.error))}`);
  rmSync(out, { force: true });
  say(`building the native kernels failed (${errors.join('; ')}); using the wasm kernels. ${HOW}`);
}

/** Loads the built addon in a fresh process: undefined when it works, else why not. */
function probe() {
  const r = spawnSync(process.execPath, ['-e', `const a = require(${JSON.stringify(out)}); console.log(a.onednnVersion)`], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: '1' },
  });
  return r.status === 0 ? undefined : lastLines(r.stderr || String(r.error));
}

function done() {
  const why = probe();
  if (why !== undefined) {
    rmSync(out, { force: true });
    return say(`the native kernels built but do not load (${why}); using the wasm kernels. ${HOW}`);
  }
  say(`native kernels built (${out.slice(here.length - 'native'.length)})`);
}

/** npm's bundled node-gyp (npm passes its path to lifecycle scripts), else the one next to npm. */
function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    '/usr/share/nodejs/node-gyp/bin/node-gyp.js',
  ];
  return candidates.find((c) => c && existsSync(c));
}

function lastLines(text) {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('gyp info'))
    .slice(-2)
    .join(' / ')
    .slice(0, 400);
}

try {
  main();
} catch (err) {
  say(`the native build step failed (${err instanceof Error ? err.message : String(err)}); using the wasm kernels. ${HOW}`);
}
