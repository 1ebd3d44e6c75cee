import { existsSync, readFileSync } from 'node:fs';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { DIAGRAMS_PATH, generateDiagramsHtml, referencedUrls, schemaProductions } from '../grammar/generate-diagrams.ts';
import { parserInstance } from '../grammar/parser.ts';
import { conditioningKinds, modelSchema, type SectionSpec } from '../src/check/schema.ts';

const html = generateDiagramsHtml();

/** The rules the EBNF in grammar/parser.ts and grammar/README.md describe. */
const DOCUMENTED_RULES = [
  'file',
  'modelDecl',
  'block',
  'member',
  'key',
  'letDecl',
  'expression',
  'multiplicative',
  'unary',
  'primary',
  'callOrRef',
  'arg',
  'list',
  'parenthesized',
];

/** The rule names of the parser itself. */
const ruleNames = (): string[] => Object.keys(parserInstance.getGAstProductions());

function embedded(page: string): { grammar: { name: string }[]; schema: { name: string }[] } {
  const m = /window\.serializedGrammar = ([\s\S]*?);\nwindow\.schemaGrammar = ([\s\S]*?);\n<\/script>/.exec(page);
  expect(m, 'the page embeds the serialized grammar and the schema').not.toBeNull();
  return { grammar: JSON.parse(m![1]), schema: JSON.parse(m![2]) };
}

/** Every section path of the schema ("unet.block"), and every option of each. */
function sections(): { path: string; options: string[] }[] {
  const out: { path: string; options: string[] }[] = [];
  const walk = (path: string[], s: SectionSpec) => {
    if (path.length) out.push({ path: path.join('.'), options: Object.keys(s.fields) });
    for (const [k, sub] of Object.entries(s.sections ?? {})) walk([...path, k], sub);
  };
  walk([], modelSchema);
  return out;
}

describe('grammar/diagrams.html', () => {
  it('draws every rule of the parser', () => {
    const names = ruleNames();
    for (const r of DOCUMENTED_RULES) expect(names).toContain(r);
    expect(
      embedded(html)
        .grammar.map((r) => r.name)
        .sort(),
    ).toEqual([...names].sort());
  });

  it('draws every section of the schema, and every conditioning kind', () => {
    const drawn = embedded(html).schema.map((r) => r.name);
    expect(drawn).toContain('model sections');
    for (const s of sections()) expect(drawn).toContain(s.path);
    for (const k of Object.keys(conditioningKinds)) if (Object.keys(conditioningKinds[k]).length) expect(drawn).toContain(k);
    // the call-typed options have their own rule: e.g. unet.down (conv, avgpool, block)
    expect(drawn).toContain('unet.down');
    expect(drawn).toEqual(schemaProductions().map((r) => (r as { name: string }).name));
  });

  it('tabulates every option with its type, default and meaning', () => {
    expect(sections()).toHaveLength(8);
    for (const s of sections()) {
      const table = html.slice(html.indexOf(`id="section-${s.path}"`));
      expect(table.length, s.path).toBeLessThan(html.length);
      for (const o of s.options) expect(table, `${s.path}.${o}`).toContain(`<tr><td><code>${o}</code></td>`);
    }
    // spot checks from the schema, by hand: unet.block.dropout is num, 0 <= x < 1, default 0
    expect(html).toContain(
      '<tr><td><code>dropout</code></td><td>num, 0 &lt;= x &lt; 1</td><td><code>0</code></td><td>dropout probability</td></tr>',
    );
    expect(html).toContain('<tr><td><code>size</code></td><td>int, 1 &lt;= x &lt;= 4096</td><td>required</td>');
  });

  it('is self-contained: no script, stylesheet or image loaded from anywhere', () => {
    expect(referencedUrls(html)).toEqual([]);
    expect(html).not.toMatch(/<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=/i);
    expect(html).not.toMatch(/node_modules/);
    expect(html).toContain('.diagramHeader'); // chevrotain's stylesheet, inlined
  });

  it('renders with its inlined scripts: one diagram per rule', () => {
    const ctx: Record<string, unknown> = {};
    ctx.window = ctx;
    vm.createContext(ctx);
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]);
    // the renderer (4 inlined files) and the data; the last script draws into the document
    expect(scripts).toHaveLength(6);
    for (const s of scripts.slice(0, 5)) vm.runInContext(s, ctx, { timeout: 10_000 });
    const builder = ctx.diagrams_builder as { buildSyntaxDiagramsText(g: unknown): string };
    const grammar = vm.runInContext('diagrams_builder.buildSyntaxDiagramsText(serializedGrammar)', ctx, { timeout: 10_000 }) as string;
    expect(grammar.match(/<svg/g)?.length).toBe(ruleNames().length);
    const schema = vm.runInContext('diagrams_builder.buildSyntaxDiagramsText(schemaGrammar)', ctx, { timeout: 10_000 }) as string;
    expect(schema.match(/<svg/g)?.length).toBe(embedded(html).schema.length);
    expect(typeof builder.buildSyntaxDiagramsText).toBe('function');
  });

  it('is generated deterministically', () => {
    expect(generateDiagramsHtml()).toBe(html);
  });

  it('is committed up to date (run `npm run diagrams` after changing the grammar or the schema)', () => {
    expect(existsSync(DIAGRAMS_PATH)).toBe(true);
    expect(readFileSync(DIAGRAMS_PATH, 'utf8')).toBe(html);
  });
});
