/**
 * A prettier plugin for .unet specs (`unetc/prettier`): prettier formats a spec exactly as
 * `unetc fmt` does, with the canonical printer (src/syntax/printer.ts), comments kept. A spec that
 * does not parse is a prettier syntax error at the diagnostic's line and column.
 *
 *   npx prettier --plugin unetc/prettier --check "specs/*.unet"
 */
import type { AstPath, Parser, Plugin, Printer, SupportLanguage } from 'prettier';
import type { SpecFile } from '../syntax/ast.ts';
import { parseSpec } from '../syntax/parse.ts';
import { printSpec } from '../syntax/printer.ts';

/** The root node prettier sees: the whole spec, printed in one piece. */
export interface UnetRoot {
  type: 'unet-spec';
  spec: SpecFile;
  start: number;
  end: number;
}

export const languages: SupportLanguage[] = [{ name: 'unet', parsers: ['unet'], extensions: ['.unet'], vscodeLanguageIds: ['unet'] }];

/** What prettier expects of a syntax error: a message and a location (1-based line, column). */
class UnetSyntaxError extends SyntaxError {
  constructor(
    message: string,
    readonly loc: { start: { line: number; column: number } },
  ) {
    super(message);
  }
}

export const parsers: Record<string, Parser<UnetRoot>> = {
  unet: {
    astFormat: 'unet-spec',
    parse(text, options) {
      const file = options?.filepath ?? '<input>';
      const r = parseSpec(text, file);
      if (!r.ast) {
        const d = r.diagnostics[0];
        throw new UnetSyntaxError(`${d.code}: ${d.message}`, { start: { line: d.span.line, column: d.span.column } });
      }
      return { type: 'unet-spec', spec: r.ast, start: 0, end: text.length };
    },
    locStart: (n) => n.start,
    locEnd: (n) => n.end,
  },
};

export const printers: Record<string, Printer<UnetRoot>> = {
  'unet-spec': {
    print: (path: AstPath<UnetRoot>) => printSpec(path.node.spec),
    // The spec's own nodes are not prettier nodes: nothing below the root to visit.
    getVisitorKeys: () => [],
  },
};

const plugin: Plugin<UnetRoot> = { languages, parsers, printers };
export default plugin;
