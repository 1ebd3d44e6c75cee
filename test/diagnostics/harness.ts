/**
 * The shared harness of the diagnostic tests (one file per rule family beside it): a clean BASE
 * spec and its EDM variant, edits that must apply exactly once, and `«`/`»` markers in the edited
 * text for where a diagnostic's span must start (and end). Expected positions are never copied
 * from the compiler's output: `marked()` strips the markers and counts the line and column from
 * the text itself.
 */
import { resolve } from 'node:path';
import { expect } from 'vitest';
import { checkSpec, type CheckOptions, type CheckResult } from '../../src/pipeline.ts';
import type { SourceHost } from '../../src/check/load.ts';
import type { Diagnostic } from '../../src/diagnostics/diagnostic.ts';
export const FILE = 'mem/x.unet';

/** A reduced IDDPM-like model: channels 32, mult [1, 2], one block per level, attention at 16. */
export const BASE = `// A reduced IDDPM-like model: two levels, one block per level, attention at 16x16.
model tiny {
  input {
    size: 32
    channels: 3
  }

  diffusion {
    process: ddpm
    T: 1000
    schedule: cosine
  }

  embedding {
    noise: sinusoidal(dim: 32)
    mlp: [128, 128]
  }

  unet {
    channels: 32
    mult: [1, 2]
    blocks: 1
    middle: [block(attention: true), block]

    block {
      convs: 2
      norm: group(groups: 32)
    }

    attention {
      at: [16]
      heads: 1
    }
  }

  conditioning {
    residual: scale_shift(at: norm1)
    attention: none
  }

  training {
    lr: 1e-4
    ema: 0.9999
  }
}
`;

export const DDPM_DIFFUSION = `  diffusion {
    process: ddpm
    T: 1000
    schedule: cosine
  }
`;

/** The same network with a continuous-noise (EDM) process. */
export const EDM_BASE = edit(BASE, [
  DDPM_DIFFUSION,
  `  diffusion {
    process: edm
    precond: edm
    sigma_data: 0.5
  }
`,
]);

/** The base without diffusion.T (still valid: T is optional). */
export const BASE_NO_T = edit(BASE, ['    T: 1000\n', '']);

export interface Marked {
  text: string;
  offset: number;
  line: number;
  column: number;
  /** Set when the source marks the span's end with `»`. */
  length?: number;
}

/** 1-based line and column of `offset` in `text`, counted directly from the text. */
export function lineCol(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (text[i] === '\n') {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/** Strips the `«` (and optional `»`) markers and returns the clean text and the marked position. */
export function marked(src: string): Marked {
  const start = src.indexOf('«');
  if (start < 0 || src.indexOf('«', start + 1) >= 0) throw new Error('need exactly one « marker');
  const noStart = src.slice(0, start) + src.slice(start + 1);
  const end = noStart.indexOf('»');
  const text = end >= 0 ? noStart.slice(0, end) + noStart.slice(end + 1) : noStart;
  return { text, offset: start, ...lineCol(text, start), length: end >= 0 ? end - start : undefined };
}

/** Applies replacements to a text; each `from` must occur exactly once, so edits are unambiguous. */
export function edit(base: string, ...edits: [from: string, to: string][]): string {
  let out = base;
  for (const [from, to] of edits) {
    const i = out.indexOf(from);
    if (i < 0) throw new Error(`edit: ${JSON.stringify(from)} not found`);
    if (out.indexOf(from, i + 1) >= 0) throw new Error(`edit: ${JSON.stringify(from)} is not unique`);
    out = out.slice(0, i) + to + out.slice(i + from.length);
  }
  return out;
}

/** An in-memory SourceHost; paths are compared after resolving, as the loader resolves extends. */
export function memHost(files: Record<string, string> = {}): SourceHost {
  const m = new Map(Object.entries(files).map(([k, v]) => [resolve(k), v]));
  return { read: (p) => m.get(resolve(p)) };
}

export function check(text: string, opts: CheckOptions = {}): CheckResult {
  return checkSpec(FILE, { text, host: memHost(), ...opts });
}

export function dump(ds: readonly Diagnostic[]): string {
  return ds.map((d) => `  ${d.span.file}:${d.span.line}:${d.span.column} ${d.code} ${d.message}`).join('\n') || '  (none)';
}

/**
 * Asserts that a diagnostic with `code` exists and that the first one is at the marked place (and
 * covers the marked length, when marked), in `file`, with every fragment in its message.
 */
export function expectDiag(r: CheckResult, code: string, m: Marked, fragments: (string | RegExp)[] = [], file = FILE): Diagnostic {
  const d = r.diagnostics.find((x) => x.code === code);
  expect(d, `expected ${code}; got:\n${dump(r.diagnostics)}`).toBeDefined();
  const got = { file: d!.span.file, line: d!.span.line, column: d!.span.column };
  expect(got, `${code} at the wrong place; all diagnostics:\n${dump(r.diagnostics)}`).toEqual({ file, line: m.line, column: m.column });
  if (m.length !== undefined) expect(d!.span.length, `${code} span length`).toBe(m.length);
  for (const f of fragments) {
    if (typeof f === 'string') expect(d!.message).toContain(f);
    else expect(d!.message).toMatch(f);
  }
  if (d!.severity === 'error') expect(r.ok).toBe(false);
  return d!;
}

/** Checks an edited BASE-like text with markers and asserts `code` at the marked place. */
export function expectCase(
  src: string,
  code: string,
  fragments: (string | RegExp)[] = [],
  opts: CheckOptions = {},
): { r: CheckResult; m: Marked; d: Diagnostic } {
  const m = marked(src);
  const r = check(m.text, opts);
  const d = expectDiag(r, code, m, fragments);
  return { r, m, d };
}

export function expectClean(text: string): CheckResult {
  const r = check(text);
  expect(r.diagnostics, dump(r.diagnostics)).toEqual([]);
  expect(r.ok).toBe(true);
  expect(r.ir).toBeDefined();
  return r;
}

export function timed<T>(f: () => T): { value: T; ms: number } {
  const t0 = performance.now();
  const value = f();
  return { value, ms: performance.now() - t0 };
}
