/**
 * Hostile inputs for the front end: mutations of the real specs (token deletion, duplication,
 * swaps; numbers replaced by 0, -1, 0.5, 1e20, 1e308; huge repeat counts), deep nesting, huge
 * identifiers, control characters, a BOM, bytes that are not UTF-8, and truncations. Used by the
 * fixed-seed sample in the test run and by `npm run fuzz`.
 */
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkSpec } from '../../src/pipeline.ts';

const SPECS = join(import.meta.dirname, '..', '..', 'specs');
export const specTexts: { file: string; text: string }[] = readdirSync(SPECS)
  .filter((f) => f.endsWith('.unet'))
  .sort()
  .map((f) => ({ file: f, text: readFileSync(join(SPECS, f), 'utf8') }));

/** Crude tokens: enough to delete, duplicate and swap meaningful pieces. */
export function tokens(text: string): string[] {
  return text.match(/\s+|\/\/[^\n]*|"[^"\n]*"|[A-Za-z_][A-Za-z0-9_]*|\d[\d_.eE+-]*|./g) ?? [];
}

const NUMBERS = ['0', '-1', '0.5', '1e20', '1e308', '100000000000000000000', '1000000000', '65536', '4096', '-0'];

export type Mutation =
  | { kind: 'delete'; at: number }
  | { kind: 'duplicate'; at: number; times: number }
  | { kind: 'swap'; a: number; b: number }
  | { kind: 'number'; at: number; value: string }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; piece: string };

export const mutationArb = (ntok: number): fc.Arbitrary<Mutation> =>
  fc.oneof(
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(ntok - 1) }),
    fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(ntok - 1), times: fc.integer({ min: 1, max: 4 }) }),
    fc.record({ kind: fc.constant('swap' as const), a: fc.nat(ntok - 1), b: fc.nat(ntok - 1) }),
    fc.record({ kind: fc.constant('number' as const), at: fc.nat(ntok - 1), value: fc.constantFrom(...NUMBERS) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(ntok - 1) }),
    fc.record({
      kind: fc.constant('insert' as const),
      at: fc.nat(ntok - 1),
      piece: fc.oneof(
        fc.constantFrom(
          '{',
          '}',
          '[',
          ']',
          '(',
          ')',
          ':',
          ',',
          '=',
          '"',
          '/*',
          'let',
          'model',
          'extends "./x.unet"',
          '\u0000',
          '\u0007',
          '\ufeff',
          '\ud800',
          '\u202e',
          '\r',
          '\t',
        ),
        fc.constantFrom('[[[[[[[[[[', '(((((((((((', '{'.repeat(200)),
        fc.string({ maxLength: 8 }),
      ),
    }),
  );

export function applyMutations(text: string, ms: Mutation[]): string {
  let t = tokens(text);
  for (const m of ms) {
    const n = t.length;
    if (n === 0) break;
    const at = (i: number) => Math.min(i, n - 1);
    if (m.kind === 'delete') t.splice(at(m.at), 1);
    else if (m.kind === 'duplicate') t.splice(at(m.at), 0, ...Array(m.times).fill(t[at(m.at)]));
    else if (m.kind === 'swap') [t[at(m.a)], t[at(m.b)]] = [t[at(m.b)], t[at(m.a)]];
    else if (m.kind === 'number') {
      const nums = t.map((x, i) => (/^\d/.test(x) ? i : -1)).filter((i) => i >= 0);
      if (nums.length) t[nums[m.at % nums.length]] = m.value;
    } else if (m.kind === 'truncate') t = t.slice(0, at(m.at));
    else t.splice(at(m.at), 0, m.piece);
  }
  return t.join('');
}

/** Extreme inputs that are not mutations of a spec. */
export const extremes = (): { name: string; text: string }[] => [
  { name: 'nesting 5000 deep', text: `model m { unet { mult: ${'['.repeat(5000)}1${']'.repeat(5000)} } }` },
  { name: 'braces 5000 deep', text: `model m ${'{ a '.repeat(5000)}` },
  { name: 'identifier of 100k characters', text: `model ${'a'.repeat(100_000)} { }` },
  { name: 'repeat count 10^9', text: specTexts[0].text.replace(/blocks: \d+/, 'blocks: 1000000000') },
  { name: 'channels 10^12', text: specTexts[0].text.replace(/channels: \w+\n/, 'channels: 1000000000000\n') },
  { name: 'BOM', text: '\ufeff' + specTexts[0].text },
  { name: 'NUL bytes', text: specTexts[0].text.replace(/\n/g, '\n\u0000') },
  {
    name: 'invalid UTF-8 decoded',
    text: new TextDecoder('utf-8').decode(Uint8Array.from([0x6d, 0x6f, 0x64, 0x65, 0x6c, 0x20, 0xff, 0xfe, 0xc3, 0x28, 0x20, 0x7b, 0x7d])),
  },
  { name: 'empty', text: '' },
  { name: 'only a comment', text: '// nothing' },
  { name: 'string of 1 MB', text: `model m { x: "${'x'.repeat(1_000_000)}" }` },
  { name: 'number 1e999', text: 'model m { unet { channels: 1e999 } }' },
  { name: '10^20 levels', text: specTexts[0].text.replace(/mult: \[[^\]]*\]/, `mult: [${Array(2000).fill(1).join(', ')}]`) },
];

export interface Outcome {
  ms: number;
  ok: boolean;
  problem?: string;
}

/** Runs the front end on one text; returns a problem description when the outcome is not acceptable. */
export function runCase(text: string, file = 'specs/fuzz.unet'): Outcome {
  const t0 = performance.now();
  let r;
  try {
    r = checkSpec(file, { text });
  } catch (e) {
    return {
      ms: performance.now() - t0,
      ok: false,
      problem: `uncaught ${(e as Error).name}: ${(e as Error).message}\n${(e as Error).stack}`,
    };
  }
  const ms = performance.now() - t0;
  for (const d of r.diagnostics) {
    const src = r.sources.get(d.span.file);
    const lines = src?.split('\n').length ?? 1;
    const valid =
      /^[EW]\d{4}$/.test(d.code) &&
      d.message.length > 0 &&
      Number.isInteger(d.span.line) &&
      d.span.line >= 1 &&
      d.span.line <= lines + 1 &&
      d.span.column >= 1 &&
      d.span.offset >= 0 &&
      d.span.offset <= (src?.length ?? 0) + 1;
    if (!valid) return { ms, ok: false, problem: `bad diagnostic ${JSON.stringify(d)}` };
  }
  if (!r.ok && !r.diagnostics.some((d) => d.severity === 'error')) return { ms, ok: false, problem: 'failed without an error diagnostic' };
  if (ms > 1000) return { ms, ok: false, problem: `took ${ms.toFixed(0)} ms` };
  return { ms, ok: true };
}
