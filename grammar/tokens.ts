/**
 * Tokens of the .unet language. Keywords are declared before Identifier and use `longer_alt`
 * so that `models` lexes as an identifier, not `model` + `s`.
 */
import { createToken, Lexer, type TokenType } from 'chevrotain';

export const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /[ \t\r\n\uFEFF]+/, group: Lexer.SKIPPED });
export const LineComment = createToken({ name: 'LineComment', pattern: /\/\/[^\n]*/, group: 'comments' });
export const BlockComment = createToken({ name: 'BlockComment', pattern: /\/\*[\s\S]*?\*\//, group: 'comments' });
/** Never accepted by the parser: lexed only so the checker can report it precisely. */
export const UnterminatedComment = createToken({ name: 'UnterminatedComment', pattern: /\/\*[\s\S]*/ });

export const Identifier = createToken({ name: 'Identifier', pattern: /[A-Za-z_][A-Za-z0-9_]*/ });
export const Model = createToken({ name: 'Model', pattern: /model/, longer_alt: Identifier });
export const Extends = createToken({ name: 'Extends', pattern: /extends/, longer_alt: Identifier });
export const Let = createToken({ name: 'Let', pattern: /let/, longer_alt: Identifier });
/** `unset key`: a child spec removes an option or section it inherits. */
export const Unset = createToken({ name: 'Unset', pattern: /unset/, longer_alt: Identifier });
export const True = createToken({ name: 'True', pattern: /true/, longer_alt: Identifier });
export const False = createToken({ name: 'False', pattern: /false/, longer_alt: Identifier });

export const NumberLiteral = createToken({
  name: 'NumberLiteral',
  pattern: /(?:\d+(?:_\d+)*(?:\.\d+(?:_\d+)*)?|\.\d+(?:_\d+)*)(?:[eE][+-]?\d+)?/,
});
export const StringLiteral = createToken({ name: 'StringLiteral', pattern: /"(?:[^"\\\n]|\\.)*"/ });
/** Never accepted by the parser: a string that runs into the end of its line. */
export const UnterminatedString = createToken({ name: 'UnterminatedString', pattern: /"(?:[^"\\\n]|\\.)*/ });

export const LCurly = createToken({ name: 'LCurly', pattern: /\{/, label: "'{'" });
export const RCurly = createToken({ name: 'RCurly', pattern: /\}/, label: "'}'" });
export const LBracket = createToken({ name: 'LBracket', pattern: /\[/, label: "'['" });
export const RBracket = createToken({ name: 'RBracket', pattern: /\]/, label: "']'" });
export const LParen = createToken({ name: 'LParen', pattern: /\(/, label: "'('" });
export const RParen = createToken({ name: 'RParen', pattern: /\)/, label: "')'" });
export const Colon = createToken({ name: 'Colon', pattern: /:/, label: "':'" });
export const Comma = createToken({ name: 'Comma', pattern: /,/, label: "','" });
export const Equals = createToken({ name: 'Equals', pattern: /=/, label: "'='" });
export const Plus = createToken({ name: 'Plus', pattern: /\+/, label: "'+'" });
export const Minus = createToken({ name: 'Minus', pattern: /-/, label: "'-'" });
export const Star = createToken({ name: 'Star', pattern: /\*/, label: "'*'" });
export const Slash = createToken({ name: 'Slash', pattern: /\//, label: "'/'" });

export const allTokens: TokenType[] = [
  WhiteSpace,
  LineComment,
  BlockComment,
  UnterminatedComment,
  Model,
  Extends,
  Let,
  Unset,
  True,
  False,
  Identifier,
  NumberLiteral,
  StringLiteral,
  UnterminatedString,
  LCurly,
  RCurly,
  LBracket,
  RBracket,
  LParen,
  RParen,
  Colon,
  Comma,
  Equals,
  Plus,
  Minus,
  Star,
  Slash,
];

// Only \n ends a line (CRLF works: \r is white space), so line numbers agree with how the
// diagnostics printer splits the source.
export const UnetLexer = new Lexer(allTokens, {
  positionTracking: 'full',
  ensureOptimizations: false,
  lineTerminatorsPattern: /\n/g,
  lineTerminatorCharacters: ['\n'],
});
