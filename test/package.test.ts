/**
 * unetc as a user gets it: the packed tarball installed into a fresh project (test/packageConsumer.ts).
 * (a) plain node imports `unetc` and `unetc/runtime` and checks a spec; (b) the installed
 * `unetc compile` writes a model into the project, the project's own tsc (a stock `tsc --init`
 * nodenext config) compiles it, and node runs one forward pass of it; (d) a run trained by this
 * checkout's CLI in another folder is moved into the project and sampled with the installed unetc.
 * (The installed `unetc check`'s start-up time is measured in bench/installed-check.ts.)
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { consumerEnv, makeConsumer, ROOT, type Consumer } from './packageConsumer.ts';

let c: Consumer;
const run = (cmd: string, args: string[], cwd = c.dir): SpawnSyncReturns<string> =>
  spawnSync(cmd, args, { cwd, encoding: 'utf8', env: consumerEnv() });
const ok = (r: SpawnSyncReturns<string>) => {
  if (r.status !== 0) throw new Error(`exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r;
};
/** The installed command, as `npx unetc` runs it (node_modules/.bin/unetc). */
const unetc = (...args: string[]) => run(process.execPath, [c.bin, ...args]);

beforeAll(() => {
  c = makeConsumer();
  writeFileSync(
    join(c.dir, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { unetc: `file:${c.tarball}` } }, null, 2),
  );
  cpSync(join(ROOT, 'specs', 'nano-mnist.unet'), join(c.dir, 'nano-mnist.unet'));
}, 300_000);

describe('the packed package', () => {
  it('ships compiled JavaScript with declarations and source maps, the native sources, and no TypeScript toolchain', () => {
    for (const f of [
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'dist/src/index.js.map',
      'dist/src/runtime/index.js',
      'dist/src/runtime/index.d.ts',
      'dist/src/prettier/index.js',
      'dist/src/cli/main.js',
      'bin/unetc.mjs',
      'native/build.mjs',
      'native/binding.gyp',
    ])
      expect(c.files).toContain(f);
    expect(c.files.some((f) => f.startsWith('native/') && f.endsWith('.cc'))).toBe(true);
    expect(c.files).not.toContain('tsconfig.json');
    expect(c.files.filter((f) => f.startsWith('test/') || f.startsWith('dist/.'))).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(c.dir, 'node_modules', 'unetc', 'package.json'), 'utf8'));
    for (const entry of ['.', './runtime', './prettier']) expect(Object.keys(pkg.exports[entry])).toEqual(['types', 'default']);
    expect(Object.keys(pkg.dependencies)).not.toContain('tsx');
  });

  it('(a) plain node imports unetc and unetc/runtime and checks a spec', () => {
    writeFileSync(
      join(c.dir, 'use.mjs'),
      [
        "import { checkSpec, computeStats } from 'unetc';",
        "import * as runtime from 'unetc/runtime';",
        "const r = checkSpec('nano-mnist.unet');",
        'const s = computeStats(r.ir);',
        "console.log(JSON.stringify({ ok: r.ok, errors: r.diagnostics.filter((d) => d.severity === 'error').length, totalParams: s.totalParams, tf: typeof runtime.tf.tensor, selectBackend: typeof runtime.selectBackend }));",
      ].join('\n'),
    );
    const r = ok(run(process.execPath, ['use.mjs']));
    // 537,532 parameters: dataflowr's MyTinyUNet (437,532 trainable + the 1000 x 100 frozen table).
    expect(JSON.parse(r.stdout)).toEqual({ ok: true, errors: 0, totalParams: 537_532, tf: 'function', selectBackend: 'function' });
  });

  it('(b) npx unetc compile emits TypeScript that a stock nodenext tsc compiles, and node runs its forward pass', () => {
    ok(unetc('compile', 'nano-mnist.unet', '--out', 'models'));
    const model = readFileSync(join(c.dir, 'models', 'nano-mnist', 'model.ts'), 'utf8');
    expect(model).toContain("from 'unetc/runtime'");
    expect(model).toContain("from './params.js'");
    // The project's TypeScript, configured as `tsc --init` writes it (module nodenext, strict, ...).
    const tsc = createRequire(join(ROOT, 'package.json')).resolve('typescript/bin/tsc');
    ok(run(process.execPath, [tsc, '--init']));
    const init = readFileSync(join(c.dir, 'tsconfig.json'), 'utf8');
    expect(init).toMatch(/"module": "nodenext"/);
    expect(init).toMatch(/"strict": true/);
    ok(run(process.execPath, [tsc, '-p', '.']));
    expect(existsSync(join(c.dir, 'models', 'nano-mnist', 'model.js'))).toBe(true);
    writeFileSync(
      join(c.dir, 'forward.mjs'),
      [
        "import { selectBackend, tf } from 'unetc/runtime';",
        "import { createModel, paramCount } from './models/nano-mnist/index.js';",
        "await selectBackend({ name: 'cpu', log: () => {} });",
        'const m = createModel(0);',
        'const x = tf.randomNormal([2, 32, 32, 1], 0, 1, "float32", 1);',
        'const y = m.forward(x, { noise: tf.tensor1d([10, 500], "float32") }, false);',
        'const v = y.dataSync();',
        'console.log(JSON.stringify({ shape: y.shape, finite: v.every(Number.isFinite), nonzero: v.some((a) => a !== 0), paramCount }));',
      ].join('\n'),
    );
    const r = ok(run(process.execPath, ['forward.mjs']));
    expect(JSON.parse(r.stdout)).toEqual({ shape: [2, 32, 32, 1], finite: true, nonzero: true, paramCount: 537_532 });
  }, 180_000);

  it('(b) compile --js emits ES modules with declarations that plain node runs', () => {
    ok(unetc('compile', 'nano-mnist.unet', '--js', '--out', 'js-models'));
    expect(readdirSync(join(c.dir, 'js-models', 'nano-mnist')).sort()).toEqual([
      'index.d.ts',
      'index.js',
      'model.d.ts',
      'model.js',
      'params.d.ts',
      'params.js',
      'train.d.ts',
      'train.js',
    ]);
    const r = ok(
      run(process.execPath, [
        '--input-type=module',
        '-e',
        "const m = await import('./js-models/nano-mnist/index.js'); console.log(m.paramCount, typeof m.createModel, typeof m.train)",
      ]),
    );
    expect(r.stdout.trim()).toBe('537532 function function');
  });

  it('(d) a run trained elsewhere is moved into the project and sampled by the installed unetc', () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'unetc-trained-'));
    const trainedAt = join(elsewhere, 'run');
    // Trained by this checkout's CLI (another install of unetc), in a folder that then goes away.
    const t = spawnSync(
      process.execPath,
      [
        join(ROOT, 'bin', 'unetc.mjs'),
        'train',
        'specs/nano-mnist.unet',
        '--limit',
        '8',
        '--batch',
        '2',
        '--steps',
        '1',
        '--sample-count',
        '1',
        '--sample-steps',
        '1',
        '--out',
        trainedAt,
      ],
      { cwd: ROOT, encoding: 'utf8', env: consumerEnv() },
    );
    ok(t);
    const record = JSON.parse(readFileSync(join(trainedAt, 'run.json'), 'utf8'));
    expect(record.spec.file).toBe('nano-mnist.unet');
    expect(record.versions.unetc).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
    expect(typeof record.versions.tfjs).toBe('string');
    expect(typeof record.finished).toBe('string');
    // No file of the run names the folder it was trained in or the checkout that trained it.
    for (const f of ['run.json', 'ir.json', 'loss.jsonl', ...readdirSync(join(trainedAt, 'model')).map((m) => join('model', m))]) {
      const text = readFileSync(join(trainedAt, f), 'utf8');
      expect(text.includes(elsewhere) || text.includes(ROOT), f).toBe(false);
    }
    const moved = join(c.dir, 'runs', 'nano');
    cpSync(join(elsewhere), join(c.dir, 'runs'), { recursive: true });
    renameSync(join(c.dir, 'runs', 'run'), moved);
    const s = unetc('sample', 'runs/nano', '--n', '2', '--steps', '1', '--backend', 'cpu', '--json');
    ok(s);
    expect(JSON.parse(s.stdout.trim().split('\n').pop()!)).toMatchObject({ shape: [2, 32, 32, 1], finite: true });
    expect(existsSync(join(moved, 'sample.png'))).toBe(true);
    // One copy of the runtime and of tfjs: no kernel registered twice.
    expect(s.stderr).not.toMatch(/already registered/);
  }, 300_000);
});
