/**
 * The front half of the compiler as one call, stage by stage:
 *
 *   parse + load (with extends)  src/syntax/, src/check/load.ts
 *   validate against the schema  src/check/validate.ts       -> Config (values with spans)
 *   settings with defaults       src/check/settings.ts       -> Settings
 *   rules over the settings      src/check/rules/
 *   shape plan                   src/check/plan.ts           -> Plan (levels, blocks, channels, conditioning)
 *   rules over the plan          src/check/rules/
 *   build                        src/elaborate/build.ts      -> IR
 *   rules over the IR            src/check/rules/            (limits, invariants)
 *
 * Returns whatever stage it reached and every diagnostic, in position order; never throws for a
 * user's mistake. Each stage reads only what the one before produced.
 */
import { DiagnosticSink, type Diagnostic } from './diagnostics/diagnostic.ts';
import { fsHost, loadSpec, type SourceHost } from './check/load.ts';
import { planModel, type Plan } from './check/plan.ts';
import { IR_RULES, makeContext, PLAN_RULES, SETTINGS_RULES } from './check/rules/index.ts';
import { readSettings, type Settings } from './check/settings.ts';
import { validateModel, type Config } from './check/validate.ts';
import { buildModel } from './elaborate/build.ts';
import type { IR } from './ir/types.ts';

export interface CheckResult {
  ok: boolean;
  diagnostics: Diagnostic[];
  sources: Map<string, string>;
  config?: Config;
  settings?: Settings;
  plan?: Plan;
  ir?: IR;
}

export interface CheckOptions {
  host?: SourceHost;
  /** Source text of `path` itself (the file need not exist, e.g. for stdin or tests). */
  text?: string;
  maxErrors?: number;
}

export function checkSpec(path: string, opts: CheckOptions = {}): CheckResult {
  const sink = new DiagnosticSink(opts.maxErrors ?? 50);
  const { model, sources } = loadSpec(path, opts.host ?? fsHost, sink, opts.text);
  const done = (extra: Partial<CheckResult>): CheckResult => {
    const diagnostics = sink.finish([...sources.keys()]);
    return { ok: !diagnostics.some((d) => d.severity === 'error'), diagnostics, sources, ...extra };
  };
  if (!model || sink.hasErrors()) return done({});
  const config = validateModel(model, sink);
  if (sink.hasErrors()) return done({ config });
  const settings = readSettings(config);
  const ctx = makeContext(settings, config, sink);
  for (const rule of SETTINGS_RULES) rule(ctx);
  const plan = planModel(settings, config.scope);
  const planCtx = { ...ctx, plan };
  for (const rule of PLAN_RULES) rule(planCtx);
  if (sink.hasErrors()) return done({ config, settings, plan });
  const ir = buildModel(settings, plan);
  for (const rule of IR_RULES) rule({ ...planCtx, ir });
  return done({ config, settings, plan, ir: sink.hasErrors() ? undefined : ir });
}
