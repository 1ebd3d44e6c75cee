/**
 * The front half of the pipeline as one call: load (with extends), validate against the schema,
 * read settings, run the semantic rules, elaborate to IR. Returns whatever stage it reached and
 * every diagnostic; never throws for a user's mistake.
 */
import { DiagnosticSink, type Diagnostic } from '../diagnostics/diagnostic.ts';
import { Elaborator } from '../elaborate/elaborate.ts';
import { readSettings, type Settings } from '../elaborate/settings.ts';
import type { IR } from '../ir/types.ts';
import { fsHost, loadSpec, type SourceHost } from './load.ts';
import { runRules } from './rules/index.ts';
import { validateModel, type Config } from './validate.ts';

export interface CheckResult {
  ok: boolean;
  diagnostics: Diagnostic[];
  sources: Map<string, string>;
  config?: Config;
  settings?: Settings;
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
    const diagnostics = sink.finish();
    return { ok: !diagnostics.some((d) => d.severity === 'error'), diagnostics, sources, ...extra };
  };
  if (!model || sink.hasErrors()) return done({});
  const config = validateModel(model, sink);
  if (sink.hasErrors()) return done({ config });
  const settings = readSettings(config);
  runRules(settings, sink);
  if (sink.hasErrors()) return done({ config, settings });
  const ir = new Elaborator(settings, config.scope, sink).run();
  return done({ config, settings, ir: sink.hasErrors() ? undefined : ir });
}
