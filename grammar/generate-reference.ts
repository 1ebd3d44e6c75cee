/**
 * Generates the tables of the language reference (grammar/README.md) from the code they describe:
 * every section's options with their types, ranges and defaults from the schema
 * (src/check/schema.ts), the arguments of each call kind, and the diagnostic catalogue with its
 * message templates and hints (src/diagnostics/catalogue.ts). The prose around the tables is
 * written by hand; the tables sit between `<!-- BEGIN GENERATED: id -->` and
 * `<!-- END GENERATED: id -->` and are replaced whole.
 *
 *   npm run docs            (node bin/run-ts.mjs grammar/generate-reference.ts)
 *   npm run docs -- --check (exit 1 when grammar/README.md is stale)
 *
 * test/grammarReference.test.ts fails when the committed README differs from what this writes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  conditioningKinds,
  modelSchema,
  normCall,
  type CallSchema,
  type FieldSpec,
  type SectionSpec,
  type Ty,
} from '../src/check/schema.ts';
import { Diag, type MessageDef } from '../src/diagnostics/catalogue.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const REFERENCE_PATH = join(ROOT, 'grammar', 'README.md');

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (s: string) => `\`${s}\``;
const fmtNum = (n: number) => (Math.abs(n) >= 1e6 && Number.isInteger(Math.log10(n)) ? `10^${Math.log10(n)}` : n.toLocaleString('en-US'));

export function typeText(ty: Ty): string {
  switch (ty.t) {
    case 'int':
    case 'num':
    case 'bool':
    case 'enum':
    case 'width':
      return ty.t;
    case 'str':
      return 'string';
    case 'list':
      return `list of ${typeText(ty.of)}`;
    case 'union':
      return ty.of.map(typeText).join(', or ');
    case 'call':
      return ty.list ? 'call or list of calls' : 'call';
  }
}

export function rangeText(ty: Ty): string {
  switch (ty.t) {
    case 'int': {
      if (ty.min !== undefined && ty.max !== undefined) return ty.min === ty.max ? fmtNum(ty.min) : `${fmtNum(ty.min)}–${fmtNum(ty.max)}`;
      if (ty.min !== undefined) return `≥ ${fmtNum(ty.min)}`;
      if (ty.max !== undefined) return `≤ ${fmtNum(ty.max)}`;
      return 'any';
    }
    case 'num': {
      const lo = ty.min !== undefined ? `${fmtNum(ty.min)} ≤ ` : ty.gt !== undefined ? `${fmtNum(ty.gt)} < ` : '';
      const hi = ty.max !== undefined ? ` ≤ ${fmtNum(ty.max)}` : ty.lt !== undefined ? ` < ${fmtNum(ty.lt)}` : '';
      if (!lo && !hi) return 'any';
      if (lo && hi) return `${lo}x${hi}`;
      return lo
        ? `${lo.startsWith('0 ≤') ? '≥ 0' : `${ty.min !== undefined ? '≥' : '>'} ${fmtNum(ty.min ?? ty.gt!)}`}`
        : `${ty.max !== undefined ? '≤' : '<'} ${fmtNum(ty.max ?? ty.lt!)}`;
    }
    case 'bool':
    case 'str':
    case 'width':
      return '';
    case 'enum':
      return ty.values.map(code).join(', ');
    case 'list': {
      const n =
        ty.min !== undefined && ty.max !== undefined
          ? `${ty.min}–${ty.max} items`
          : ty.min !== undefined
            ? `≥ ${ty.min} items`
            : ty.max !== undefined
              ? `≤ ${ty.max} items`
              : 'any length';
      const each = rangeText(ty.of);
      return each && ty.of.t !== 'call' ? `${n}, each ${each}` : ty.of.t === 'call' ? `${n} of ${each}` : n;
    }
    case 'union':
      return ty.of.map(rangeText).filter(Boolean).join('; or ');
    case 'call':
      return Object.entries(ty.kinds)
        .map(([k, args]) => (Object.keys(args).length ? `${code(k)}(${Object.keys(args).join(', ')})` : code(k)))
        .join(', ');
  }
}

function defaultText(f: { required?: boolean; default?: string }): string {
  if (f.required) return 'required';
  if (f.default === undefined) return 'unset';
  // Values and calls in code font; descriptions of a rule as text.
  return /^[\w.\-+]+$|^[\w]+\(.*\)$|^\[.*\]$/.test(f.default) ? code(f.default) : f.default;
}

function optionRows(fields: Record<string, FieldSpec>): string[] {
  return Object.entries(fields).map(
    ([k, f]) => `| ${code(k)} | ${cell(typeText(f.ty))} | ${cell(rangeText(f.ty))} | ${cell(defaultText(f))} | ${cell(f.doc ?? '')} |`,
  );
}

function sectionTable(sec: SectionSpec): string {
  const rows = optionRows(sec.fields);
  if (sec.selectors)
    rows.push(
      `| ${code('"PATTERN"')} | ${cell(typeText(sec.selectors))} | ${cell(rangeText(sec.selectors))} | unset | conditioning of the blocks whose path matches (§6), instead of residual / attention |`,
    );
  return ['| option | type | range | default | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}

/** The arguments of the kinds of one or more call-typed options: `label: kind | argument | ...`. */
function kindsTable(calls: { label: string; ty: Ty }[]): string {
  const rows: string[] = [];
  for (const { label, ty } of calls) {
    if (ty.t !== 'call') continue;
    for (const [kind, args] of Object.entries(ty.kinds as Record<string, CallSchema>)) {
      const name = label ? `${label}: ${kind}` : kind;
      const what = ty.docs?.[kind] ?? '';
      const entries = Object.entries(args);
      if (entries.length === 0) {
        rows.push(`| ${code(name)} | | | | | ${cell(what)} |`);
        continue;
      }
      entries.forEach(([a, spec], i) => {
        const meaning = [i === 0 && what ? `${what}.` : '', spec.doc ?? ''].filter(Boolean).join(' ');
        rows.push(
          `| ${i === 0 ? code(name) : ''} | ${code(a)} | ${cell(typeText(spec.ty))} | ${cell(rangeText(spec.ty))} | ${cell(defaultText(spec))} | ${cell(meaning)} |`,
        );
      });
    }
  }
  return ['| kind | argument | type | range | default | meaning |', '|---|---|---|---|---|---|', ...rows].join('\n');
}

const RANGES: [prefix: string, title: string][] = [
  ['E01', 'E01xx syntax'],
  ['E02', 'E02xx names and structure'],
  ['E03', 'E03xx types and values'],
  ['E04', 'E04xx topology and shapes'],
  ['E05', 'E05xx conditioning'],
  ['E06', 'E06xx diffusion and training'],
  ['W07', 'W07xx warnings'],
  ['E09', "E09xx the compiler's own consistency"],
];

function catalogueTables(): string {
  const entries = Object.entries(Diag) as [string, MessageDef][];
  const out: string[] = [];
  for (const [prefix, title] of RANGES) {
    const rows = entries.filter(([, d]) => d.code.startsWith(prefix)).sort(([, a], [, b]) => (a.code < b.code ? -1 : 1));
    if (rows.length === 0) continue;
    out.push(`**${title}**`, '', '| code | name | message | help |', '|---|---|---|---|');
    // Arguments show as ‹name›: the catalogue's template is the message, word for word.
    for (const [name, d] of rows)
      out.push(`| ${d.code} | ${name} | ${cell(d.template.replace(/\{([A-Za-z_]\w*)\}/g, '‹$1›'))} | ${cell(d.hint ?? '')} |`);
    out.push('');
  }
  return out.join('\n').trimEnd();
}

const sections = modelSchema.sections!;
const unet = sections.unet;

/** Every generated block of the reference, by id. */
export function generatedBlocks(): Record<string, string> {
  return {
    'section:input': sectionTable(sections.input),
    'section:diffusion': sectionTable(sections.diffusion),
    'section:embedding': sectionTable(sections.embedding),
    'kinds:embedding': kindsTable(['noise', 'label', 'augment'].map((k) => ({ label: k, ty: sections.embedding.fields[k].ty }))),
    'section:unet': sectionTable(unet),
    'kinds:unet': kindsTable(
      ['stem', 'down', 'up', 'middle', 'head'].map((k) => ({
        label: k,
        ty: unet.fields[k].ty.t === 'list' ? unet.fields[k].ty.of : unet.fields[k].ty,
      })),
    ),
    'section:unet.block': sectionTable(unet.sections!.block),
    'kinds:norm': kindsTable([{ label: '', ty: normCall }]),
    'section:unet.attention': sectionTable(unet.sections!.attention),
    'section:conditioning': sectionTable(sections.conditioning),
    'kinds:conditioning': kindsTable([{ label: '', ty: { t: 'call', kinds: conditioningKinds } }]),
    'section:training': sectionTable(sections.training),
    catalogue: catalogueTables(),
  };
}

/** The README with every generated block replaced; throws when a block's markers are missing. */
export function renderReference(text: string): string {
  let out = text;
  for (const [id, body] of Object.entries(generatedBlocks())) {
    const begin = `<!-- BEGIN GENERATED: ${id} (npm run docs; do not edit) -->`;
    const end = `<!-- END GENERATED: ${id} -->`;
    const i = out.indexOf(begin);
    const j = out.indexOf(end);
    if (i < 0 || j < i) throw new Error(`grammar/README.md has no generated block '${id}'`);
    out = `${out.slice(0, i + begin.length)}\n${body}\n${out.slice(j)}`;
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = readFileSync(REFERENCE_PATH, 'utf8');
  const next = renderReference(text);
  if (process.argv.includes('--check')) {
    if (next !== text) {
      process.stderr.write('grammar/README.md is stale: run npm run docs\n');
      process.exit(1);
    }
  } else if (next !== text) {
    writeFileSync(REFERENCE_PATH, next);
    process.stderr.write('wrote grammar/README.md\n');
  }
}
