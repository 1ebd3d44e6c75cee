/**
 * How a subcommand is declared: its arguments, options (one line each), examples and the function
 * that runs it. program.ts turns every definition into a commander command, which gives `--help`,
 * `unetc help CMD`, suggestions for mistyped flags and usage errors; the command's module keeps
 * only what the command does.
 */
import { Option, type Command } from 'commander';

/** One option: `--name <arg>` takes a value (a string), `--name` alone is a switch (a boolean). */
export interface OptionDef {
  /** The value's name in the help (`--out <dir>`); absent for a switch. */
  arg?: string;
  /** One-letter alias (`-o`). */
  short?: string;
  help: string;
  /** The value used when the option is absent; shown in the help. */
  default?: string;
  /** What the default is when it depends on something else ("the spec's batch"); help text only. */
  defaultText?: string;
  /** The values the option accepts (checked by the parser). */
  choices?: readonly string[];
  /** The option may be given more than once; the values come as a list. */
  repeat?: boolean;
}

type ValueOf<D extends OptionDef> = D['repeat'] extends true ? string[] : D['arg'] extends string ? string : boolean;
/** The parsed options of a command, keyed by their long names as written (`'emit-ir'`). */
export type Values<O extends Record<string, OptionDef>> = { [K in keyof O]?: ValueOf<O[K]> };

export interface CommandDef<O extends Record<string, OptionDef> = Record<string, OptionDef>> {
  name: string;
  /** Positional arguments as commander writes them: `<spec...>`, `<run>`, `<a> <b>`, `[files...]`. */
  args: string;
  summary: string;
  /** A paragraph after the summary in `CMD --help`. */
  details?: string;
  options: O;
  /** Whole command lines, each shown under "Examples:". */
  examples: readonly string[];
  /** Runs the command; returns the exit status. Usage problems throw UsageError (exit 2). */
  run: (positionals: string[], values: Values<O>) => number | Promise<number>;
}

/** Declares a command (an identity function that infers the option value types). */
export function defineCommand<const O extends Record<string, OptionDef>>(def: CommandDef<O>): CommandDef<O> {
  return def;
}

/** The commander option of a definition. */
export function toOption(name: string, d: OptionDef): Option {
  const flags = `${d.short ? `-${d.short}, ` : ''}--${name}${d.arg ? ` <${d.arg}>` : ''}`;
  const o = new Option(flags, d.help + (d.defaultText ? ` (default: ${d.defaultText})` : ''));
  if (d.default !== undefined) o.default(d.default, d.default);
  if (d.choices) o.choices(d.choices);
  if (d.repeat) o.argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
  return o;
}

/**
 * Adds a definition to `parent` as a subcommand. `onRun` receives the positionals and the options
 * keyed by their long names; it is called by commander's action.
 */
export function addCommand(
  parent: Command,
  def: CommandDef,
  onRun: (def: CommandDef, positionals: string[], values: Record<string, unknown>) => Promise<void>,
): Command {
  const cmd = parent
    .command(`${def.name} ${def.args}`.trim())
    .summary(def.summary)
    .description(def.summary + (def.details ? `\n\n${def.details}` : ''));
  const names: [string, string][] = [];
  for (const [name, d] of Object.entries(def.options)) {
    const o = toOption(name, d);
    cmd.addOption(o);
    names.push([name, o.attributeName()]);
  }
  if (def.examples.length) cmd.addHelpText('after', `\nExamples:\n${def.examples.map((e) => `  $ ${e}`).join('\n')}\n`);
  cmd.action(async (...params: unknown[]) => {
    // commander passes the declared arguments (a variadic one as a list), then the options and the command.
    const positional = params.slice(0, -2).flatMap((p) => (p === undefined ? [] : Array.isArray(p) ? (p as string[]) : [p as string]));
    const opts = params[params.length - 2] as Record<string, unknown>;
    await onRun(def, positional, Object.fromEntries(names.map(([name, attr]) => [name, opts[attr]])));
  });
  return cmd;
}
