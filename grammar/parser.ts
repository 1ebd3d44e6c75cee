/**
 * The chevrotain parser of the .unet language. It builds a concrete syntax tree; src/syntax turns
 * that into the AST. The grammar, in EBNF (grammar/README.md explains each construct):
 *
 *   file      = { letDecl } modelDecl
 *   modelDecl = "model" Identifier [ "extends" String ] block
 *   block     = "{" { member } "}"
 *   member    = letDecl | key ( ":" expression | block )
 *   letDecl   = "let" Identifier "=" expression
 *   key       = Identifier | String
 *   expression     = multiplicative { ("+" | "-") multiplicative }
 *   multiplicative = unary { ("*" | "/") unary }
 *   unary     = "-" unary | primary
 *   primary   = Number | String | "true" | "false" | callOrRef | list | parenthesized
 *   callOrRef = Identifier [ "(" [ arg { "," arg } [ "," ] ] ")" ]
 *   arg       = [ Identifier ":" ] expression
 *   parenthesized = "(" expression ")"
 *   list      = "[" [ expression { "," expression } [ "," ] ] "]"
 */
import { CstParser } from 'chevrotain';
import * as T from './tokens.ts';

export class UnetParser extends CstParser {
  constructor() {
    super(T.allTokens, { recoveryEnabled: false, maxLookahead: 2, nodeLocationTracking: 'full' });
    this.performSelfAnalysis();
  }

  file = this.RULE('file', () => {
    this.MANY(() => this.SUBRULE(this.letDecl));
    this.SUBRULE(this.modelDecl);
  });

  modelDecl = this.RULE('modelDecl', () => {
    this.CONSUME(T.Model);
    this.CONSUME(T.Identifier);
    this.OPTION(() => {
      this.CONSUME(T.Extends);
      this.CONSUME(T.StringLiteral);
    });
    this.SUBRULE(this.block);
  });

  block = this.RULE('block', () => {
    this.CONSUME(T.LCurly);
    this.MANY(() => this.SUBRULE(this.member));
    this.CONSUME(T.RCurly);
  });

  member = this.RULE('member', () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.letDecl) },
      {
        // `unset key`: remove an inherited option or section.
        ALT: () => {
          this.CONSUME(T.Unset);
          this.SUBRULE2(this.key);
        },
      },
      {
        ALT: () => {
          this.SUBRULE(this.key);
          this.OR2([
            {
              ALT: () => {
                this.CONSUME(T.Colon);
                this.SUBRULE(this.expression);
              },
            },
            { ALT: () => this.SUBRULE(this.block) },
            {
              // `key = { ... }`: replace an inherited section whole instead of merging into it.
              ALT: () => {
                this.CONSUME(T.Equals);
                this.SUBRULE2(this.block);
              },
            },
          ]);
        },
      },
    ]);
  });

  key = this.RULE('key', () => {
    this.OR([{ ALT: () => this.CONSUME(T.Identifier) }, { ALT: () => this.CONSUME(T.StringLiteral) }]);
  });

  letDecl = this.RULE('letDecl', () => {
    this.CONSUME(T.Let);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  expression = this.RULE('expression', () => {
    this.SUBRULE(this.multiplicative);
    this.MANY(() => {
      this.OR([{ ALT: () => this.CONSUME(T.Plus) }, { ALT: () => this.CONSUME(T.Minus) }]);
      this.SUBRULE2(this.multiplicative);
    });
  });

  multiplicative = this.RULE('multiplicative', () => {
    this.SUBRULE(this.unary);
    this.MANY(() => {
      this.OR([{ ALT: () => this.CONSUME(T.Star) }, { ALT: () => this.CONSUME(T.Slash) }]);
      this.SUBRULE2(this.unary);
    });
  });

  unary = this.RULE('unary', () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.Minus);
          this.SUBRULE(this.unary);
        },
      },
      { ALT: () => this.SUBRULE(this.primary) },
    ]);
  });

  primary = this.RULE('primary', () => {
    this.OR([
      { ALT: () => this.CONSUME(T.NumberLiteral) },
      { ALT: () => this.CONSUME(T.StringLiteral) },
      { ALT: () => this.CONSUME(T.True) },
      { ALT: () => this.CONSUME(T.False) },
      { ALT: () => this.SUBRULE(this.callOrRef) },
      { ALT: () => this.SUBRULE(this.list) },
      { ALT: () => this.SUBRULE(this.parenthesized) },
    ]);
  });

  callOrRef = this.RULE('callOrRef', () => {
    this.CONSUME(T.Identifier);
    this.OPTION(() => {
      this.CONSUME(T.LParen);
      this.OPTION2(() => {
        this.SUBRULE(this.arg);
        this.MANY({
          GATE: () => this.LA(2).tokenType !== T.RParen,
          DEF: () => {
            this.CONSUME(T.Comma);
            this.SUBRULE2(this.arg);
          },
        });
        this.OPTION3(() => this.CONSUME2(T.Comma));
      });
      this.CONSUME(T.RParen);
    });
  });

  arg = this.RULE('arg', () => {
    this.OPTION({
      GATE: () => this.LA(2).tokenType === T.Colon,
      DEF: () => {
        this.CONSUME(T.Identifier);
        this.CONSUME(T.Colon);
      },
    });
    this.SUBRULE(this.expression);
  });

  list = this.RULE('list', () => {
    this.CONSUME(T.LBracket);
    this.OPTION(() => {
      this.SUBRULE(this.expression);
      this.MANY({
        GATE: () => this.LA(2).tokenType !== T.RBracket,
        DEF: () => {
          this.CONSUME(T.Comma);
          this.SUBRULE2(this.expression);
        },
      });
      this.OPTION2(() => this.CONSUME2(T.Comma));
    });
    this.CONSUME(T.RBracket);
  });

  parenthesized = this.RULE('parenthesized', () => {
    this.CONSUME(T.LParen);
    this.SUBRULE(this.expression);
    this.CONSUME(T.RParen);
  });
}

/** One parser instance serves every parse (chevrotain parsers are reusable and costly to build). */
export const parserInstance = new UnetParser();
