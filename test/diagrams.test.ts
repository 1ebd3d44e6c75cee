import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { DIAGRAMS_PATH, generateDiagramsHtml, RESOURCE_BASE, referencedUrls } from '../grammar/generate-diagrams.ts';
import { parserInstance } from '../grammar/parser.ts';

const grammarDir = resolve(dirname(fileURLToPath(import.meta.url)), '../grammar');
const html = generateDiagramsHtml();

/** The rules the EBNF in grammar/parser.ts and grammar/README.md describe. */
const DOCUMENTED_RULES = ['file', 'modelDecl', 'block', 'member', 'key', 'letDecl', 'expression', 'multiplicative', 'unary', 'primary', 'callOrRef', 'arg', 'list', 'parenthesized'];

/** The rule names of the parser itself. */
const ruleNames = (): string[] => Object.keys(parserInstance.getGAstProductions());

function serializedGrammar(page: string): { name: string }[] {
  const m = /window\.serializedGrammar = ([\s\S]*?);\s*<\/script>/.exec(page);
  expect(m, 'the page embeds the serialized grammar').not.toBeNull();
  return JSON.parse(m![1]) as { name: string }[];
}

describe('grammar/diagrams.html', () => {
  it('draws every rule of the parser', () => {
    const names = ruleNames();
    for (const r of DOCUMENTED_RULES) expect(names).toContain(r);
    const drawn = serializedGrammar(html).map((r) => r.name);
    expect(drawn.sort()).toEqual([...names].sort());
    for (const r of names) expect(html).toContain(`"name": "${r}"`);
  });

  it('loads nothing from the network, only local files that exist', () => {
    const urls = referencedUrls(html);
    expect(urls.length).toBeGreaterThan(0);
    for (const u of urls) {
      expect(u).not.toMatch(/^\s*(https?:)?\/\//i);
      expect(u.startsWith(RESOURCE_BASE)).toBe(true);
      expect(existsSync(resolve(grammarDir, u)), `${u} exists`).toBe(true);
    }
    expect(html).not.toMatch(/<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*['"]?\s*(?:https?:)?\/\//i);
    expect(html).not.toMatch(/unpkg|jsdelivr|cdnjs/i);
  });

  it('renders with the local chevrotain scripts', () => {
    const ctx: Record<string, unknown> = {};
    vm.createContext(ctx);
    for (const f of ['vendor/railroad-diagrams.js', 'src/diagrams_builder.js']) {
      vm.runInContext(readFileSync(resolve(grammarDir, RESOURCE_BASE, f), 'utf8'), ctx, { filename: f });
    }
    const builder = ctx.diagrams_builder as { buildSyntaxDiagramsText(g: unknown): string };
    const text = builder.buildSyntaxDiagramsText(serializedGrammar(html));
    expect(text.match(/<svg/g)?.length).toBe(ruleNames().length);
  });

  it('is generated deterministically', () => {
    expect(generateDiagramsHtml()).toBe(html);
  });

  it('is committed up to date (run `npm run diagrams` after changing the grammar)', () => {
    expect(existsSync(DIAGRAMS_PATH)).toBe(true);
    expect(readFileSync(DIAGRAMS_PATH, 'utf8')).toBe(html);
  });
});
