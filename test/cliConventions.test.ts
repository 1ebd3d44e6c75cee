/**
 * The command line's conventions, as a user meets them: --version, `help CMD` and `CMD --help`
 * with every option, its default and an example; suggestions for mistyped commands and flags;
 * usage errors on stderr with exit 2; --json where a script reads the output; `fmt -` and
 * `fmt --stdout`; colour that honours NO_COLOR / FORCE_COLOR; `export` of inference weights.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../src/cli/main.ts';
import { useColour } from '../src/cli/colour.ts';
import { decodeSafetensors, floatToHalf } from '../src/runtime/io/safetensors.ts';

const ROOT = join(import.meta.dirname, '..');
const PLAIN = { NO_COLOR: '1', FORCE_COLOR: '0' };
/**
 * Runs the CLI without blocking the test worker (a long spawnSync starves vitest's own messages):
 * resolves with the exit status and the outputs.
 */
function unetc(
  args: string[],
  o: { input?: string; env?: Record<string, string | undefined> } = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const env = Object.fromEntries(Object.entries({ ...process.env, ...PLAIN, ...o.env }).filter(([, v]) => v !== undefined));
    const child = spawn(process.execPath, [join(ROOT, 'bin/unetc.mjs'), ...args], { cwd: ROOT, env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', fail);
    child.on('close', (status) => done({ status, stdout, stderr }));
    child.stdin.end(o.input ?? '');
  });
}
const ESC = '\u001b[';

describe('help and version', () => {
  it('--version and -v print the package version', async () => {
    const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
    for (const flag of ['--version', '-v']) {
      const r = await unetc([flag]);
      expect(r.status).toBe(0);
      expect(r.stdout.trim()).toBe(version);
    }
  });

  it('unetc --help lists every command; unetc alone prints the usage on stderr with exit 2', async () => {
    const r = await unetc(['--help']);
    expect(r.status).toBe(0);
    for (const c of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^  ${c.name} `, 'm'));
    const bare = await unetc([]);
    expect(bare.status).toBe(2);
    expect(bare.stdout).toBe('');
    expect(bare.stderr).toContain('Usage: unetc');
  });

  it.each(COMMANDS.map((c) => [c.name, c] as const))(
    '`%s --help` and `help CMD` show each declared option, its default and an example',
    async (_name, c) => {
      {
        const r = await unetc([c.name, '--help']);
        expect(r.status, c.name).toBe(0);
        expect((await unetc(['help', c.name])).stdout).toBe(r.stdout);
        for (const [name, o] of Object.entries(c.options)) {
          expect(r.stdout, `${c.name} --${name}`).toContain(`--${name}${o.arg ? ` <${o.arg}>` : ''}`);
          const dflt = o.default ?? o.defaultText;
          if (dflt !== undefined) expect(r.stdout.replace(/\s+/g, ' '), `${c.name} --${name} default`).toContain(`default: ${dflt})`);
        }
        expect(r.stdout, c.name).toMatch(new RegExp(`Examples:\\n  \\$ unetc ${c.name} `));
      }
    },
  );

  it('has every command', async () => {
    expect(COMMANDS.map((c) => c.name).sort()).toEqual([
      'ablate',
      'check',
      'compile',
      'diff',
      'draw',
      'eval',
      'export',
      'fmt',
      'lsp',
      'plot',
      'sample',
      'stats',
      'train',
    ]);
  });
});

describe('usage errors', () => {
  it('a mistyped command gets a suggestion, on stderr, exit 2', async () => {
    const r = await unetc(['chek', 'specs/nano-mnist.unet']);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain("unknown command 'chek'");
    expect(r.stderr).toContain('Did you mean check?');
  });

  it('a mistyped flag gets a suggestion, on stderr, exit 2', async () => {
    const r = await unetc(['train', 'specs/nano-mnist.unet', '--sample-evry', '3']);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('Did you mean --sample-every?');
  });

  it('a missing argument, a value outside the choices, and a bad number: exit 2, one line each, no stack trace', async () => {
    for (const args of [
      ['stats'],
      ['export', 'runs/x', '--dtype', 'f8', '--out', 'w.safetensors'],
      ['train', 'specs/nano-mnist.unet', '--steps', '1e3'],
    ]) {
      const r = await unetc(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    expect((await unetc(['train', 'specs/nano-mnist.unet', '--steps', '1e3'])).stderr).toContain(
      "--steps takes a whole number >= 1, got '1e3'",
    );
  });
});

describe('--json', () => {
  it('check --json: per spec, ok and the diagnostics with code and span', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unetc-json-'));
    const bad = join(dir, 'bad.unet');
    writeFileSync(bad, 'model m extends "./nope.unet" {\n}\n');
    const r = await unetc(['check', 'specs/nano-mnist.unet', bad, '--json']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('');
    const j = JSON.parse(r.stdout);
    expect(j.ok).toBe(false);
    expect(j.specs.map((s: { file: string; ok: boolean }) => [s.file, s.ok])).toEqual([
      ['specs/nano-mnist.unet', true],
      [bad, false],
    ]);
    // 'model m extends ' is 16 characters: the path string starts at column 17.
    expect(j.specs[1].diagnostics[0]).toMatchObject({ code: 'E0210', severity: 'error', span: { file: bad, line: 1, column: 17 } });
  });

  it('compile --json lists the folder and files; --check --json the stale ones', async () => {
    const out = mkdtempSync(join(tmpdir(), 'unetc-compile-'));
    const r = await unetc(['compile', 'specs/nano-mnist.unet', '--out', out, '--json']);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.specs[0]).toMatchObject({
      spec: 'specs/nano-mnist.unet',
      ok: true,
      dir: join(out, 'nano-mnist'),
      files: ['model.ts', 'params.ts', 'train.ts', 'index.ts'],
    });
    writeFileSync(join(out, 'nano-mnist', 'params.ts'), '// edited\n');
    const c = await unetc(['compile', 'specs/nano-mnist.unet', '--out', out, '--check', '--json']);
    expect(c.status).toBe(1);
    expect(JSON.parse(c.stdout).specs[0].stale).toEqual([join(out, 'nano-mnist', 'params.ts')]);
  });

  it('fmt --json says what was done to each file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unetc-fmt-'));
    const ugly = join(dir, 'ugly.unet');
    writeFileSync(ugly, 'model   m{input{size:32 channels:1}}');
    const broken = join(dir, 'broken.unet');
    writeFileSync(broken, 'model m {');
    const r = await unetc(['fmt', '--check', '--json', ugly, broken, 'specs/nano-mnist.unet']);
    expect(r.status).toBe(2);
    expect(JSON.parse(r.stdout).files.map((f: { outcome: string }) => f.outcome)).toEqual(['not canonical', 'does not parse', 'unchanged']);
  });
});

describe('fmt on standard input and output', () => {
  const ugly = 'model   m{input{size:32 channels:1}}';
  const canonical = 'model m {\n  input {\n    size: 32\n    channels: 1\n  }\n}\n';

  it('fmt - reads a spec on stdin and prints its canonical form', async () => {
    const r = await unetc(['fmt', '-'], { input: ugly });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(canonical);
  });

  it('fmt --stdout prints and leaves the file alone; fmt - --check exits 1 for a non-canonical spec', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unetc-fmt-'));
    const f = join(dir, 'ugly.unet');
    writeFileSync(f, ugly);
    const r = await unetc(['fmt', '--stdout', f]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(canonical);
    expect(readFileSync(f, 'utf8')).toBe(ugly);
    expect((await unetc(['fmt', '-', '--check'], { input: ugly })).status).toBe(1);
    expect((await unetc(['fmt', '-', '--check'], { input: canonical })).status).toBe(0);
  });
});

describe('colour', () => {
  const bad = () => {
    const dir = mkdtempSync(join(tmpdir(), 'unetc-colour-'));
    const f = join(dir, 'bad.unet');
    writeFileSync(f, 'model m {\n  foo: 3\n}\n');
    return f;
  };

  it('FORCE_COLOR=1 colours the severity and the caret even when piped; NO_COLOR wins; plain by default when piped', async () => {
    const f = bad();
    const forced = await unetc(['check', f], { env: { NO_COLOR: undefined, FORCE_COLOR: '1' } });
    expect(forced.stderr).toContain(`${ESC}31m`);
    expect(forced.stderr).toContain(`${ESC}31m^`); // the caret, red
    expect((await unetc(['check', f], { env: { NO_COLOR: '1', FORCE_COLOR: '1' } })).stderr).not.toContain(ESC);
    expect((await unetc(['check', f], { env: { NO_COLOR: undefined, FORCE_COLOR: undefined } })).stderr).not.toContain(ESC);
  });

  it('useColour: a terminal with colours gets them unless NO_COLOR; FORCE_COLOR=0 turns them off', async () => {
    const tty = { isTTY: true, hasColors: () => true } as unknown as NodeJS.WriteStream;
    const pipe = { isTTY: false } as unknown as NodeJS.WriteStream;
    expect(useColour(tty, {})).toBe(true);
    expect(useColour(tty, { NO_COLOR: '1' })).toBe(false);
    expect(useColour(tty, { FORCE_COLOR: '0' })).toBe(false);
    expect(useColour(pipe, {})).toBe(false);
    expect(useColour(pipe, { FORCE_COLOR: '1' })).toBe(true);
    expect(useColour(pipe, { FORCE_COLOR: '' })).toBe(true);
  });
});

describe('half precision', () => {
  it('floatToHalf gives the IEEE 754 binary16 bit patterns (hand-derived), rounding to nearest even', async () => {
    // 1 = 0 01111 0000000000; -2 = 1 10000 0000000000; 65504 = largest finite (0 11110 1111111111).
    expect(floatToHalf(1)).toBe(0x3c00);
    expect(floatToHalf(-2)).toBe(0xc000);
    expect(floatToHalf(65504)).toBe(0x7bff);
    expect(floatToHalf(65520)).toBe(0x7c00); // halfway to 2^16 rounds to even: Infinity
    expect(floatToHalf(0.5)).toBe(0x3800);
    // 1/3 = 1.0101...b x 2^-2: significand bits 0101010101|01... round down -> 0x3555.
    expect(floatToHalf(1 / 3)).toBe(0x3555);
    // 2^-24 is the smallest subnormal (0x0001); 2^-25 is the tie between 0 and it: even, 0.
    expect(floatToHalf(2 ** -24)).toBe(0x0001);
    expect(floatToHalf(2 ** -25)).toBe(0x0000);
    expect(floatToHalf(3 * 2 ** -25)).toBe(0x0002); // 1.5 x 2^-24 ties to even 2
    expect(floatToHalf(2 ** -14)).toBe(0x0400); // smallest normal
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00); // tie between 1 and 1 + 2^-10: even
    expect(floatToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie between 1 + 2^-10 and 1 + 2^-9: even
    expect(floatToHalf(-0)).toBe(0x8000);
    expect(floatToHalf(NaN) & 0x7c00).toBe(0x7c00);
    expect(floatToHalf(NaN) & 0x3ff).not.toBe(0);
  });
});

describe('unetc export', () => {
  it('writes only the inference weights (about a quarter of a checkpoint; f16 half of that) with the config in the metadata', async () => {
    const out = mkdtempSync(join(tmpdir(), 'unetc-export-'));
    const run = join(out, 'run');
    const t = await unetc([
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
      run,
      '--json',
    ]);
    expect(t.status, t.stderr).toBe(0);
    const trained = JSON.parse(t.stdout.trim().split('\n').pop()!);
    // Timing: the training step apart from the sample grids (one at the end of this run).
    expect(trained.secondsPerStep).toBeGreaterThan(0);
    expect(trained.sampling.grids).toBe(1);
    const ckpt = trained.checkpoint as string;
    const f32 = join(out, 'w32.safetensors');
    const f16 = join(out, 'w16.safetensors');
    expect((await unetc(['export', run, '--out', f32])).status).toBe(0);
    const e = await unetc(['export', ckpt, '--weights', 'model', '--dtype', 'f16', '--out', f16, '--json']);
    expect(e.status, e.stderr).toBe(0);
    expect(JSON.parse(e.stdout)).toMatchObject({ weights: 'model', dtype: 'f16', step: 1 });
    const ck = decodeSafetensors(readFileSync(ckpt));
    const w = decodeSafetensors(readFileSync(f32));
    const h = decodeSafetensors(readFileSync(f16));
    // Same names as the checkpoint's ema.* tensors, same values.
    const emaNames = [...ck.tensors.keys()]
      .filter((k) => k.startsWith('ema.'))
      .map((k) => k.slice(4))
      .sort();
    expect([...w.tensors.keys()].sort()).toEqual(emaNames);
    for (const name of emaNames.slice(0, 5)) expect(w.tensors.get(name)!.data).toEqual(ck.tensors.get(`ema.${name}`)!.data);
    // The checkpoint holds model and EMA (537,532 values each) and Adam's two moments of the
    // 437,532 trainable ones: (2 x 537,532 + 2 x 437,532) / 537,532 = 3.63 times the export.
    expect(statSync(ckpt).size / statSync(f32).size).toBeCloseTo((2 * 537_532 + 2 * 437_532) / 537_532, 1);
    expect(statSync(f32).size / statSync(f16).size).toBeGreaterThan(1.9);
    const name = emaNames.find((n) => n.endsWith('.weight'))!;
    expect(h.tensors.get(name)!.storedDtype).toBe('F16');
    const a = ck.tensors.get(`model.${name}`)!.data as Float32Array;
    const b = h.tensors.get(name)!.data as Float32Array;
    // binary16 has an 11-bit significand: relative error at most 2^-11 for normal values.
    for (let i = 0; i < a.length; i++)
      if (Math.abs(a[i]!) > 2 ** -14) expect(Math.abs(b[i]! - a[i]!)).toBeLessThanOrEqual(Math.abs(a[i]!) * 2 ** -11);
    expect(w.metadata).toMatchObject({ format: 'unetc-weights-1', spec: 'nano-mnist.unet', step: '1', weights: 'ema', dtype: 'f32' });
    expect(JSON.parse(w.metadata.config!)).toMatchObject({ name: 'nano_mnist', imageSize: 32, channels: 1, outChannels: 1 });
    expect(w.metadata.spec_sha256).toMatch(/^[0-9a-f]{64}$/);

    // A run folder from before the package was compiled: model/*.ts only, importing the runtime by
    // an absolute path into a checkout and each other as './model.ts'. sample still reads it.
    const legacy = join(out, 'legacy');
    cpSync(run, legacy, { recursive: true });
    for (const f of readdirSync(join(legacy, 'model'))) {
      const path = join(legacy, 'model', f);
      if (f.endsWith('.js')) rmSync(path);
      else if (f.endsWith('.ts'))
        writeFileSync(
          path,
          readFileSync(path, 'utf8')
            .replaceAll("'unetc/runtime'", `'${join(ROOT, 'src', 'runtime', 'index.ts')}'`)
            .replace(/'\.\/(\w+)\.js'/g, "'./$1.ts'"),
        );
    }
    expect(readFileSync(join(legacy, 'model', 'train.ts'), 'utf8')).toContain("from './model.ts'");
    const s = await unetc(['sample', legacy, '--n', '1', '--steps', '1', '--backend', 'cpu', '--json']);
    expect(s.status, s.stderr).toBe(0);
    expect(JSON.parse(s.stdout.trim().split('\n').pop()!).shape).toEqual([1, 32, 32, 1]);
  }, 180_000);
});

describe('--data mnist follows the spec', () => {
  it('a 28x28 spec trains on MNIST as it is; a 16x16 one is refused, naming the sizes MNIST offers', async () => {
    const out = mkdtempSync(join(tmpdir(), 'unetc-mnist28-'));
    const t = await unetc([
      'train',
      'test/fixtures/iddpm-tiny-mnist28.unet',
      '--limit',
      '4',
      '--batch',
      '2',
      '--steps',
      '1',
      '--sample-count',
      '1',
      '--sample-steps',
      '1',
      '--out',
      join(out, 'r28'),
      '--json',
    ]);
    expect(t.status, t.stderr).toBe(0);
    const s = await unetc(['sample', join(out, 'r28'), '--n', '1', '--steps', '1', '--json']);
    expect(s.status, s.stderr).toBe(0);
    expect(JSON.parse(s.stdout.trim().split('\n').pop()!).shape).toEqual([1, 28, 28, 1]);
    const spec16 = join(out, 'tiny16.unet');
    writeFileSync(
      spec16,
      `model tiny16 extends "${join(ROOT, 'test', 'fixtures', 'iddpm-tiny-mnist28.unet')}" {\n  input {\n    size: 16\n  }\n\n  unet {\n    attention {\n      at: [8]\n    }\n  }\n}\n`,
    );
    const bad = await unetc(['train', spec16, '--limit', '4', '--batch', '2', '--steps', '1', '--out', join(out, 'r16')]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/mnist offers 28x28 .*32x32 .*takes 16x16; .*--data folder:PATH/);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
  }, 180_000);
});
