import { Diag, nameOf, render, type ArgsOf, type DiagName, type MessageDef, type Severity } from './catalogue.ts';
import type { Span } from './span.ts';

/** Another place involved in a diagnostic (the earlier of two conflicting options, the base line a child's edit changed). */
export interface Related {
  message: string;
  span: Span;
}

/** One problem found in a spec: a catalogued code, its message, where it is and what else is involved. */
export interface Diagnostic {
  code: string;
  name: DiagName;
  severity: Severity;
  message: string;
  span: Span;
  related?: Related[];
  hint?: string;
}

/** A diagnostic from its catalogue entry and the template's arguments. */
export function diagnostic<S extends string>(def: MessageDef<S>, args: ArgsOf<S>, span: Span, related?: Related[]): Diagnostic {
  return {
    code: def.code,
    name: nameOf(def),
    severity: def.severity,
    message: render(def, args),
    span,
    ...(related && related.length > 0 ? { related } : {}),
    ...(def.hint ? { hint: def.hint } : {}),
  };
}

/** Position order: by file (in the order files were first seen), then offset; the cap note stays last. */
export function sortDiagnostics(ds: readonly Diagnostic[], fileOrder: readonly string[] = []): Diagnostic[] {
  const rank = (f: string) => {
    const i = fileOrder.indexOf(f);
    return i < 0 ? fileOrder.length : i;
  };
  return [...ds].sort(
    (a, b) =>
      rank(a.span.file) - rank(b.span.file) ||
      (a.span.file < b.span.file ? -1 : a.span.file > b.span.file ? 1 : 0) ||
      a.span.offset - b.span.offset,
  );
}

/**
 * Collects diagnostics, capping how many are kept so a broken file cannot flood the output, and
 * keeping one diagnostic per cause: a second report of the same code at the same span is dropped,
 * so a rule that meets the same problem in many blocks reports it once.
 */
export class DiagnosticSink {
  readonly items: Diagnostic[] = [];
  private dropped = 0;
  private readonly seen = new Set<string>();

  constructor(readonly cap = 50) {}

  report<S extends string>(def: MessageDef<S>, args: ArgsOf<S>, span: Span, related?: Related[]): void {
    this.add(diagnostic(def, args, span, related));
  }

  add(d: Diagnostic): void {
    // The cause is the code, the place and the other places involved.
    const at = (x: Span) => `${x.file}:${x.offset}:${x.length}`;
    const key = `${d.code}@${at(d.span)}${(d.related ?? []).map((r) => `+${at(r.span)}`).join('')}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    if (this.errorCount() >= this.cap && d.severity === 'error') {
      this.dropped++;
      return;
    }
    this.items.push(d);
  }

  errorCount(): number {
    return this.items.filter((d) => d.severity === 'error').length;
  }

  hasErrors(): boolean {
    return this.items.some((d) => d.severity === 'error');
  }

  /** The diagnostics in position order, with a final note when some were dropped by the cap. */
  finish(fileOrder: readonly string[] = []): Diagnostic[] {
    const sorted = sortDiagnostics(this.items, fileOrder);
    if (this.dropped > 0 && sorted.length > 0) {
      const last = sorted[sorted.length - 1];
      return [...sorted, diagnostic(Diag.TooManyErrors, { count: this.dropped }, last.span)];
    }
    return sorted;
  }
}

/** Thrown only to abort a stage early; always carries diagnostics, never escapes the API. */
export class DiagnosticsError extends Error {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(diagnostics.map((d) => `${d.code}: ${d.message}`).join('\n'));
  }
}
