/**
 * The `unetc` command line. Each subcommand lives in its own module; this file dispatches and turns
 * anything unexpected into one clear line (stack traces only with UNETC_DEBUG=1).
 */
import { ablateCommand } from './ablate.ts';
import { checkCommand } from './check.ts';
import { diffCommand } from './diff.ts';
import { drawCommand } from './draw.ts';
import { plotCommand } from './plot.ts';
import { evalCommand } from './eval.ts';
import { compileCommand } from './compile.ts';
import { fmtCommand } from './fmt.ts';
import { statsCommand } from './stats.ts';
import { trainCommand } from './train.ts';
import { sampleCommand } from './sample.ts';
import { UsageError } from './io.ts';
import { describeFsError } from '../runtime/train/runFolder.ts';

/** One line for an unexpected failure: the file and the cause for file-system errors, what ran out for memory. */
export function describeFailure(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (typeof err?.code === 'string' && /^E[A-Z]+$/.test(err.code)) return describeFsError(err);
  const msg = String(err?.message ?? e).split('\n')[0];
  if (err instanceof RangeError && /allocation failed|Array buffer|out of memory|Invalid array length|Invalid typed array length/i.test(msg)) return `out of memory (${msg}); try a smaller --batch or --n`;
  if (err?.name === 'RuntimeError' && /memory access out of bounds|table index is out of bounds|out of memory|unreachable/.test(msg)) return `the wasm backend ran out of its 4 GiB heap (${msg}); try a smaller --batch or --n`;
  return msg;
}

const COMMANDS: Record<string, { run: (args: string[]) => Promise<number> | number; help: string }> = {
  check: { run: checkCommand, help: 'check FILE... [--emit-ir OUT.json]   type-check specs; report every problem' },
  compile: { run: compileCommand, help: 'compile FILE... [--out DIR] [--check] [--target ts|torch|all]  emit model modules: TypeScript, PyTorch (model.py, train.py) or both' },
  diff: { run: diffCommand, help: 'diff A.unet B.unet [--json] [--source] [--draw FILE]   compare two models module by module' },
  draw: { run: drawCommand, help: 'draw SPEC [--out FILE.svg|FILE.png] [--scale S]   the U-Net as a diagram with its conditioning' },
  plot: { run: plotCommand, help: 'plot omega RUN_DIR|CKPT [--layer PATH|--all] [--against T] [--init] [--out FILE] [--json]  similarity of the LoRA omegas' },
  ablate: { run: ablateCommand, help: 'ablate BASE --grid T=V1,V2 [--zip ...] --out DIR [--train STEPS --data mnist]  variant specs + summary' },
  stats: { run: statsCommand, help: 'stats FILE [--json]                  parameters, FLOPs and memory of a model' },
  train: { run: trainCommand, help: 'train SPEC [--data mnist] [--steps N] [--batch B] [--out RUN_DIR] [--resume] [--seed S] [--backend NAME] [--threads N] [--init-from CKPT] [--engine tfjs|torch [--nproc N] [--prepare-only]]' },
  sample: { run: sampleCommand, help: 'sample RUN_DIR|CKPT [--n 64] [--steps K] [--class C | --class-vector W,...] [--sweep interp:I,J|scale:I] [--out grid.png]' },
  eval: { run: evalCommand, help: 'eval RUN_DIR|CKPT [--n 10000] [--steps K] [--json]   MNIST Frechet distance and class histogram' },
  fmt: { run: fmtCommand, help: 'fmt FILE... [--check]                print specs in canonical form (in place)' },
  lsp: { run: (a) => import('./lsp.ts').then((m) => m.lspCommand(a)), help: 'lsp --stdio                          the .unet language server (for editors)' },
};

export function usage(): string {
  return [
    'usage: unetc <command> [options]',
    '',
    'commands:',
    ...Object.values(COMMANDS).map((c) => `  ${c.help}`),
    '',
    'train, sample and eval take --backend NAME (tensorflow, wasm or cpu) and --threads N, 1 to 8 (or',
    '  UNETC_WASM_THREADS): with the native oneDNN kernels the threads of those kernels (default: all cores;',
    '  wasm stays at 1 thread); without them wasm threads (default 1; more is experimental: a watchdog kills a',
    '  process hung in the wasm threads after UNETC_WASM_WATCHDOG_SECONDS, default 300, 0 turns it off).',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(usage() + '\n');
    return cmd ? 0 : 2;
  }
  const c = COMMANDS[cmd];
  if (!c) {
    process.stderr.write(`unetc: unknown command '${cmd}'\n${usage()}\n`);
    return 2;
  }
  try {
    return await c.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`unetc ${cmd}: ${e.message}\n`);
      return 2;
    }
    if (process.env.UNETC_DEBUG) throw e;
    // 2 is for usage errors (above); a run that fails is 1.
    process.stderr.write(`unetc ${cmd}: ${describeFailure(e)}\n`);
    return 1;
  }
}
