/**
 * The `unetc` command line. Each subcommand is declared in its own module (a CommandDef); commander
 * parses the arguments and writes the help, the version and the usage errors. This file wires them
 * together and turns anything unexpected into one clear line (stack traces only with UNETC_DEBUG=1).
 *
 * Exit status: 0 done, 1 a problem with the input or the run, 2 a usage error (on stderr).
 */
import { Command, CommanderError } from 'commander';
import { addCommand, type CommandDef } from './command.ts';
import { UsageError } from './io.ts';
import { unetcVersion } from './runtimeLoader.ts';
import { describeFsError } from '../runtime/train/runFolder.ts';
import { check } from './check.ts';
import { compile } from './compile.ts';
import { diff } from './diff.ts';
import { draw } from './draw.ts';
import { plot } from './plot.ts';
import { ablate } from './ablate.ts';
import { stats } from './stats.ts';
import { train } from './train.ts';
import { sample } from './sample.ts';
import { exportCmd } from './export.ts';
import { evalCmd } from './eval.ts';
import { fmt } from './fmt.ts';
import { lsp } from './lsp.ts';

/** Every subcommand, in the order the help lists them. */
export const COMMANDS: readonly CommandDef[] = [
  check,
  compile,
  diff,
  draw,
  plot,
  ablate,
  stats,
  train,
  sample,
  exportCmd,
  evalCmd,
  fmt,
  lsp,
] as unknown as CommandDef[];

/** One line for an unexpected failure: the file and the cause for file-system errors, what ran out for memory. */
export function describeFailure(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (typeof err?.code === 'string' && /^E[A-Z]+$/.test(err.code)) return describeFsError(err);
  const msg = String(err?.message ?? e).split('\n')[0];
  if (
    err instanceof RangeError &&
    /allocation failed|Array buffer|out of memory|Invalid array length|Invalid typed array length/i.test(msg)
  )
    return `out of memory (${msg}); try a smaller --batch or --n`;
  if (err?.name === 'RuntimeError' && /memory access out of bounds|table index is out of bounds|out of memory|unreachable/.test(msg))
    return `the wasm backend ran out of its 4 GiB heap (${msg}); try a smaller --batch or --n`;
  return msg;
}

const GLOBAL_HELP = `
Run \`unetc help COMMAND\` or \`unetc COMMAND --help\` for a command's options, defaults and examples.

train, sample and eval take --backend NAME (tensorflow, wasm or cpu) and --threads N, 1 to 8 (or
UNETC_WASM_THREADS): with the native oneDNN kernels the threads of those kernels (default: all cores;
wasm stays at 1 thread); without them wasm threads (default 1; more is experimental: a watchdog kills
a process hung in the wasm threads after UNETC_WASM_WATCHDOG_SECONDS, default 300, 0 turns it off).

Diagnostics are in colour on a terminal; NO_COLOR=1 turns colour off, FORCE_COLOR=1 turns it on when
the output is piped. Exit status: 0 done, 1 a problem with the input or the run, 2 a usage error.`;

/** The commander program; `status` receives each command's exit status. */
export function createProgram(status: { code: number }): Command {
  const program = new Command('unetc')
    .description(
      'A declarative model-spec compiler for diffusion U-Nets: .unet specs in, checked IR, parameter counts and TensorFlow.js modules out.',
    )
    .version(unetcVersion(), '-v, --version', 'print the version of unetc')
    .helpOption('-h, --help', 'show the help')
    .helpCommand('help [command]', 'show the help of a command')
    .exitOverride()
    .showSuggestionAfterError(true)
    .showHelpAfterError('(add --help for usage)')
    .configureHelp({ sortOptions: false, showGlobalOptions: false })
    .addHelpText('after', GLOBAL_HELP);
  for (const def of COMMANDS) {
    addCommand(program, def, async (d, positionals, values) => {
      status.code = await d.run(positionals, values as never);
    })
      .exitOverride()
      .showHelpAfterError(`(run unetc ${def.name} --help for usage)`);
  }
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const status = { code: 0 };
  const program = createProgram(status);
  const cmd = argv.find((a) => !a.startsWith('-')) ?? '';
  try {
    await program.parseAsync(argv, { from: 'user' });
    return status.code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end here with status 0; `unetc` alone prints the help on stderr (2).
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
      return 2;
    }
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
