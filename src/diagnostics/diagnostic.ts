import { Diag, type DiagName, type Severity } from './catalogue.ts';
import type { Span } from './span.ts';

/** One problem found in a spec: a catalogued code, a message and where it is. */
export interface Diagnostic {
  code: string;
  name: DiagName;
  severity: Severity;
  message: string;
  span: Span;
}

export function diagnostic(name: DiagName, message: string, span: Span): Diagnostic {
  const def = Diag[name];
  return { code: def.code, name, severity: def.severity, message, span };
}

/** Collects diagnostics, capping how many are kept so a broken file cannot flood the output. */
export class DiagnosticSink {
  readonly items: Diagnostic[] = [];
  private dropped = 0;

  constructor(readonly cap = 50) {}

  report(name: DiagName, message: string, span: Span): void {
    if (this.errorCount() >= this.cap && Diag[name].severity === 'error') {
      this.dropped++;
      return;
    }
    this.items.push(diagnostic(name, message, span));
  }

  add(d: Diagnostic): void {
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

  /** The diagnostics, with a final note when some were dropped by the cap. */
  finish(): Diagnostic[] {
    if (this.dropped > 0 && this.items.length > 0) {
      const last = this.items[this.items.length - 1];
      return [
        ...this.items,
        diagnostic('TooManyErrors', `too many errors: ${this.dropped} more not shown`, last.span),
      ];
    }
    return this.items;
  }
}

/** Thrown only to abort a stage early; always carries diagnostics, never escapes the API. */
export class DiagnosticsError extends Error {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(diagnostics.map((d) => `${d.code}: ${d.message}`).join('\n'));
  }
}
