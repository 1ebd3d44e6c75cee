/**
 * Text -> AST. Runs the lexer, rejects inputs that would make the recursive-descent parser deep or
 * slow (size, nesting, token length) before parsing, then the chevrotain parser, then CST -> AST.
 * Every failure is a located Diagnostic; nothing here throws for bad input.
 */
import type { IToken, IRecognitionException } from 'chevrotain';
import { parserInstance } from '../../grammar/parser.ts';
import * as T from '../../grammar/tokens.ts';
import { Diag } from '../diagnostics/catalogue.ts';
import { diagnostic, type Diagnostic } from '../diagnostics/diagnostic.ts';
import type { Span } from '../diagnostics/span.ts';
import { buildAst } from './cstToAst.ts';
import type { SpecFile } from './ast.ts';

export const MAX_SOURCE_BYTES = 1 << 20;
export const MAX_NESTING = 64;
export const MAX_TOKEN_LENGTH = 256;

export interface ParseResult {
  ast?: SpecFile;
  diagnostics: Diagnostic[];
}

export function tokenSpan(file: string, t: IToken): Span {
  return {
    file,
    offset: t.startOffset,
    length: Math.max(1, (t.endOffset ?? t.startOffset) - t.startOffset + 1),
    line: t.startLine ?? 1,
    column: t.startColumn ?? 1,
  };
}

/** Span of the position just after the last character of `text` (for "unexpected end of input"). */
function endSpan(file: string, text: string): Span {
  const lines = text.split('\n');
  return { file, offset: text.length, length: 1, line: lines.length, column: lines[lines.length - 1].length + 1 };
}

export function parseSpec(text: string, file = '<input>'): ParseResult {
  if (text.length > MAX_SOURCE_BYTES) {
    return {
      diagnostics: [
        diagnostic(
          Diag.InputTooLarge,
          { length: text.length, max: MAX_SOURCE_BYTES },
          {
            file,
            offset: 0,
            length: 1,
            line: 1,
            column: 1,
          },
        ),
      ],
    };
  }
  const lexed = T.UnetLexer.tokenize(text);
  const diagnostics: Diagnostic[] = [];
  for (const err of lexed.errors) {
    const span: Span = { file, offset: err.offset, length: Math.max(1, err.length), line: err.line ?? 1, column: err.column ?? 1 };
    const ch = text.slice(err.offset, err.offset + err.length);
    diagnostics.push(diagnostic(Diag.UnexpectedCharacter, { char: JSON.stringify(ch.slice(0, 20)) }, span));
    if (diagnostics.length >= 20) break;
  }
  let depth = 0;
  for (const t of lexed.tokens) {
    const tt = t.tokenType;
    if (tt === T.UnterminatedString) {
      diagnostics.push(diagnostic(Diag.UnterminatedString, {}, tokenSpan(file, t)));
    } else if (tt === T.UnterminatedComment) {
      diagnostics.push(diagnostic(Diag.UnterminatedComment, {}, { ...tokenSpan(file, t), length: 2 }));
    } else if (t.image.length > MAX_TOKEN_LENGTH && tt !== T.StringLiteral) {
      diagnostics.push(
        diagnostic(
          Diag.TokenTooLong,
          { length: t.image.length, max: MAX_TOKEN_LENGTH },
          {
            ...tokenSpan(file, t),
            length: 1,
          },
        ),
      );
    } else if (tt === T.StringLiteral && t.image.length > 4096) {
      diagnostics.push(diagnostic(Diag.StringTooLong, { length: t.image.length, max: 4096 }, { ...tokenSpan(file, t), length: 1 }));
    } else if (tt === T.LCurly || tt === T.LBracket || tt === T.LParen) {
      depth++;
      if (depth > MAX_NESTING) {
        diagnostics.push(diagnostic(Diag.NestingTooDeep, { max: MAX_NESTING }, tokenSpan(file, t)));
        break;
      }
    } else if (tt === T.RCurly || tt === T.RBracket || tt === T.RParen) {
      depth = Math.max(0, depth - 1);
    }
  }
  if (diagnostics.length > 0) return { diagnostics };

  parserInstance.input = lexed.tokens;
  const cst = parserInstance.file();
  if (parserInstance.errors.length > 0) {
    return { diagnostics: parserInstance.errors.slice(0, 1).map((e) => parseErrorToDiagnostic(e, file, text)) };
  }
  const comments = (lexed.groups['comments'] ?? []) as IToken[];
  const built = buildAst(cst, comments, file, text);
  return built;
}

function describe(t: IToken): string {
  if (t.tokenType === T.Identifier) return `name '${t.image}'`;
  if (t.tokenType === T.NumberLiteral) return `number ${t.image}`;
  if (t.tokenType === T.StringLiteral) return `string ${t.image.length > 40 ? t.image.slice(0, 40) + '…"' : t.image}`;
  return `'${t.image}'`;
}

function parseErrorToDiagnostic(e: IRecognitionException, file: string, text: string): Diagnostic {
  const t = e.token;
  const expected = expectedFrom(e.message);
  if (t.tokenType.name === 'EOF' || Number.isNaN(t.startOffset)) {
    const what = expected ? `expected ${expected}` : 'the spec ends too early';
    return diagnostic(Diag.UnexpectedEndOfInput, { what }, endSpan(file, text));
  }
  return diagnostic(Diag.UnexpectedToken, { found: describe(t), expected: expected ? `: expected ${expected}` : '' }, tokenSpan(file, t));
}

/** Chevrotain messages list expectations; keep a short, readable version of them. */
function expectedFrom(message: string): string | undefined {
  const one = /Expecting token of type --> (\S+) <--/.exec(message);
  if (one) return tokenLabel(one[1]);
  const alts = message.match(/\[([^\]]*)\]/g);
  if (alts) {
    const names = [...new Set(alts.map((a) => a.slice(1, -1).split(',')[0].trim()).filter(Boolean))].map(tokenLabel);
    return names.slice(0, 5).join(', or ');
  }
  if (/Expecting: one of these possible Token sequences/.test(message)) return undefined;
  return undefined;
}

function tokenLabel(name: string): string {
  switch (name) {
    case 'Identifier':
      return 'a name';
    case 'NumberLiteral':
      return 'a number';
    case 'StringLiteral':
      return 'a string';
    case 'Model':
      return "'model'";
    case 'Let':
      return "'let'";
    case 'Extends':
      return "'extends'";
    case 'True':
      return "'true'";
    case 'False':
      return "'false'";
    default:
      return name.startsWith("'") ? name : name;
  }
}
