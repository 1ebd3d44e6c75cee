/**
 * What a rule sees and how it reports. A rule is `(ctx) => void`: it reads the settings (and, in
 * the later phases, the shape plan or the built IR) and calls `ctx.report(Diag.X, args, at)`,
 * where `at` names the place: a path into the spec (`'unet.mult'`, `'unet.attention.at[1]'`,
 * `'key:diffusion.loss'` for the option's name rather than its value, `'unet'` for a section), a
 * conditioning argument (`{ of: cond, arg: 'rank' }`, the call itself when the argument is
 * omitted), or anything that carries a span (a value, a conditioning). The context resolves the
 * span; the sink keeps one diagnostic per code and place, so a rule cannot report one cause twice.
 */
import type { ArgsOf, MessageDef } from '../../diagnostics/catalogue.ts';
import type { Diagnostic, DiagnosticSink, Related } from '../../diagnostics/diagnostic.ts';
import type { Span } from '../../diagnostics/span.ts';
import type { IR } from '../../ir/types.ts';
import type { Plan } from '../plan.ts';
import type { Settings } from '../settings.ts';
import type { Config, SectionValues } from '../validate.ts';
import type { Value } from '../values.ts';

export type At = string | { span: Span } | { of: { args: Map<string, Value>; span: Span }; arg: string };

export interface SettingsContext {
  readonly settings: Settings;
  readonly config: Config;
  report<S extends string>(def: MessageDef<S>, args: ArgsOf<S>, at: At, related?: { message: string; at: At }[]): void;
  /**
   * Reports a problem between two settings, `at` and the `cause` that makes it one (`T` and
   * `process: edm`). When the cause was written in a spec that extends the one `at` comes from, the
   * child's line is where the user acted: the diagnostic points there, and `at`'s line in the base
   * is the related location (`note`). Otherwise it points at `at`, with the cause related when
   * `causeNote` is given.
   */
  reportEdit<S extends string>(def: MessageDef<S>, args: ArgsOf<S>, at: At, cause: At, note: string, causeNote?: string): void;
  /** Passes on a diagnostic another stage made (e.g. evaluating a width for the plan). */
  relay(d: Diagnostic): void;
  /** The span a place resolves to (for rules that compare places). */
  span(at: At): Span;
}
export interface PlanContext extends SettingsContext {
  readonly plan: Plan;
}
export interface IrContext extends PlanContext {
  readonly ir: IR;
}

export type SettingsRule = (ctx: SettingsContext) => void;
export type PlanRule = (ctx: PlanContext) => void;
export type IrRule = (ctx: IrContext) => void;

/** Resolves `at` against the validated config: the value's span, else the section's. */
export function resolveAt(config: Config, at: At): Span {
  if (typeof at !== 'string') {
    if ('of' in at) return at.of.args.get(at.arg)?.span ?? at.of.span;
    return at.span;
  }
  const keyOnly = at.startsWith('key:');
  const path = keyOnly ? at.slice(4) : at;
  if (path === 'model') return config.nameSpan;
  const m = /^(.*?)(?:\[(\d+)\])?$/.exec(path)!;
  const parts = m[1].split('.');
  let sec: SectionValues = config.root;
  let i = 0;
  for (; i < parts.length; i++) {
    const next = sec.sections.get(parts[i]);
    if (!next) break;
    sec = next;
  }
  if (i === parts.length) return sec.span;
  const key = parts.slice(i).join('.');
  if (keyOnly) return sec.keySpans.get(key) ?? sec.span;
  const v = sec.values.get(key);
  if (!v) return sec.span;
  if (m[2] !== undefined && v.kind === 'list') return v.items[Number(m[2])]?.span ?? v.span;
  return v.span;
}

export function makeContext(settings: Settings, config: Config, sink: DiagnosticSink): SettingsContext {
  const span = (at: At) => resolveAt(config, at);
  return {
    settings,
    config,
    span,
    report(def, args, at, related) {
      const rel: Related[] | undefined = related?.map((r) => ({ message: r.message, span: span(r.at) }));
      sink.report(def, args, span(at), rel);
    },
    relay: (d) => sink.add(d),
    reportEdit(def, args, at, cause, note, causeNote) {
      const a = span(at);
      const c = span(cause);
      const depth = (s: Span) => config.files.indexOf(s.file);
      if (depth(c) > depth(a)) sink.report(def, args, c, [{ message: note, span: a }]);
      else sink.report(def, args, a, causeNote ? [{ message: causeNote, span: c }] : undefined);
    },
  };
}
