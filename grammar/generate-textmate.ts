/**
 * Generates the TextMate grammar of .unet (scope `source.unet`) for editors:
 * editors/vscode/syntaxes/unet.tmLanguage.json.
 *
 *   npm run textmate        (node bin/run-ts.mjs grammar/generate-textmate.ts)
 *
 * Its number, name and string patterns are the lexer's own (grammar/tokens.ts), and the names it
 * highlights as call kinds and as enumerated values are read from the checker's schema
 * (src/check/schema.ts), so the highlighting cannot drift from what the compiler accepts.
 * test/textmate.test.ts checks the committed file is up to date and tokenises every spec.
 *
 * Scopes: comment.line.double-slash / comment.block, string.quoted.double (path selectors also
 * entity.name.tag.selector), constant.numeric, constant.language.boolean, keyword.other.model /
 * keyword.other.extends / keyword.other.unset / storage.type.let, entity.name.type.model, variable.other.constant (a
 * `let` name where declared), entity.name.section (`key {`), variable.other.property (`key:`),
 * entity.name.function.kind (`kind(`), variable.parameter (`arg:` in a call),
 * support.function.kind (a call kind written bare), support.constant.enum, variable.language
 * (`in`, `out`), variable.other (other names), punctuation.*, keyword.operator.*, and
 * invalid.illegal for any character that starts no token.
 */
import { existsSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { modelSchema, type SectionSpec, type Ty } from '../src/check/schema.ts';
import { Identifier, NumberLiteral } from './tokens.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const TEXTMATE_PATH = join(ROOT, 'editors', 'vscode', 'syntaxes', 'unet.tmLanguage.json');

/** Every call kind and every enumerated value the schema names. */
export function schemaNames(): { kinds: string[]; enums: string[] } {
  const kinds = new Set<string>();
  const enums = new Set<string>();
  const ty = (t: Ty): void => {
    if (t.t === 'enum') t.values.forEach((v) => enums.add(v));
    else if (t.t === 'list') ty(t.of);
    else if (t.t === 'union') t.of.forEach(ty);
    else if (t.t === 'call') {
      for (const [k, args] of Object.entries(t.kinds)) {
        kinds.add(k);
        Object.values(args).forEach((a) => ty(a.ty));
      }
    }
  };
  const section = (s: SectionSpec): void => {
    Object.values(s.fields).forEach((f) => ty(f.ty));
    if (s.selectors) ty(s.selectors);
    Object.values(s.sections ?? {}).forEach(section);
  };
  section(modelSchema);
  // conv0..conv15 (LoRA targets) are matched by one pattern.
  const enumList = [...enums].filter((e) => !kinds.has(e) && !/^conv\d+$/.test(e)).sort();
  return { kinds: [...kinds].sort(), enums: enumList };
}

const NAME = Identifier.PATTERN instanceof RegExp ? Identifier.PATTERN.source : '[A-Za-z_][A-Za-z0-9_]*';
const NUMBER = NumberLiteral.PATTERN instanceof RegExp ? NumberLiteral.PATTERN.source : '\\d+';
/** Word boundaries as the lexer sees them (names are [A-Za-z0-9_]). */
const B = '(?<![A-Za-z0-9_])';
const E = '(?![A-Za-z0-9_])';

export function generateTextmate(): string {
  const { kinds, enums } = schemaNames();
  const alt = (xs: string[]) => xs.join('|');
  const grammar = {
    $schema: 'https://raw.githubusercontent.com/martinring/tmlanguage/master/tmlanguage.json',
    name: 'unet',
    scopeName: 'source.unet',
    fileTypes: ['unet'],
    comment: 'Generated from grammar/tokens.ts and src/check/schema.ts by grammar/generate-textmate.ts (npm run textmate); do not edit.',
    patterns: [{ include: '#comments' }, { include: '#model' }, { include: '#let' }, { include: '#member' }, { include: '#value' }],
    repository: {
      comments: {
        patterns: [
          { name: 'comment.line.double-slash.unet', match: '(//).*$', captures: { 1: { name: 'punctuation.definition.comment.unet' } } },
          {
            name: 'comment.block.unet',
            begin: '/\\*',
            end: '\\*/',
            beginCaptures: { 0: { name: 'punctuation.definition.comment.begin.unet' } },
            endCaptures: { 0: { name: 'punctuation.definition.comment.end.unet' } },
          },
        ],
      },
      model: {
        patterns: [
          {
            match: `${B}(model)\\s+(${NAME})`,
            captures: { 1: { name: 'keyword.other.model.unet' }, 2: { name: 'entity.name.type.model.unet' } },
          },
          { match: `${B}model${E}`, name: 'keyword.other.model.unet' },
          { match: `${B}extends${E}`, name: 'keyword.other.extends.unet' },
        ],
      },
      let: {
        patterns: [
          {
            match: `${B}(let)\\s+(${NAME})`,
            captures: { 1: { name: 'storage.type.let.unet' }, 2: { name: 'variable.other.constant.unet' } },
          },
          { match: `${B}let${E}`, name: 'storage.type.let.unet' },
        ],
      },
      member: {
        patterns: [
          {
            comment: 'unset key (or "selector")',
            match: `${B}(unset)\\s+(${NAME}|"(?:[^"\\\\\\n]|\\\\.)*")`,
            captures: { 1: { name: 'keyword.other.unset.unet' }, 2: { name: 'variable.other.property.unet' } },
          },
          { match: `${B}unset${E}`, name: 'keyword.other.unset.unet' },
          { comment: 'a section: key {', match: `${B}(${NAME})\\s*(?=\\{)`, captures: { 1: { name: 'entity.name.section.unet' } } },
          {
            comment: 'a replaced section: key = {',
            match: `${B}(${NAME})\\s*(=)\\s*(?=\\{)`,
            captures: { 1: { name: 'entity.name.section.unet' }, 2: { name: 'keyword.operator.assignment.unet' } },
          },
          {
            comment: 'a path selector: "pattern":',
            match: '("(?:[^"\\\\\\n]|\\\\.)*")\\s*(:)',
            captures: {
              1: { name: 'string.quoted.double.unet entity.name.tag.selector.unet' },
              2: { name: 'punctuation.separator.key-value.unet' },
            },
          },
          {
            comment: 'an option: key:',
            match: `${B}(${NAME})\\s*(:)`,
            captures: { 1: { name: 'variable.other.property.unet' }, 2: { name: 'punctuation.separator.key-value.unet' } },
          },
          { match: '\\{', name: 'punctuation.section.block.begin.unet' },
          { match: '\\}', name: 'punctuation.section.block.end.unet' },
        ],
      },
      call: {
        begin: `${B}(${NAME})\\s*(\\()`,
        beginCaptures: { 1: { name: 'entity.name.function.kind.unet' }, 2: { name: 'punctuation.section.parens.begin.unet' } },
        end: '\\)',
        endCaptures: { 0: { name: 'punctuation.section.parens.end.unet' } },
        patterns: [
          { include: '#comments' },
          {
            match: `${B}(${NAME})\\s*(:)`,
            captures: { 1: { name: 'variable.parameter.unet' }, 2: { name: 'punctuation.separator.key-value.unet' } },
          },
          { include: '#value' },
        ],
      },
      value: {
        patterns: [
          { include: '#comments' },
          { include: '#string' },
          { include: '#call' },
          { match: `${B}(?:true|false)${E}`, name: 'constant.language.boolean.unet' },
          { match: `${B}(?:in|out)${E}`, name: 'variable.language.unet' },
          { match: `${B}(?:${alt(kinds)})${E}`, name: 'support.function.kind.unet' },
          { match: `${B}(?:${alt(enums)}|conv\\d+)${E}`, name: 'support.constant.enum.unet' },
          { match: `${B}${NAME}`, name: 'variable.other.unet' },
          { match: NUMBER, name: 'constant.numeric.unet' },
          { match: '\\[', name: 'punctuation.section.brackets.begin.unet' },
          { match: '\\]', name: 'punctuation.section.brackets.end.unet' },
          { match: '\\(', name: 'punctuation.section.parens.begin.unet' },
          { match: '\\)', name: 'punctuation.section.parens.end.unet' },
          { match: ',', name: 'punctuation.separator.comma.unet' },
          { match: '=', name: 'keyword.operator.assignment.unet' },
          { match: '[-+*/]', name: 'keyword.operator.arithmetic.unet' },
          { match: ':', name: 'punctuation.separator.key-value.unet' },
          { match: '\\{', name: 'punctuation.section.block.begin.unet' },
          { match: '\\}', name: 'punctuation.section.block.end.unet' },
          { match: '[^\\s]', name: 'invalid.illegal.unet' },
        ],
      },
      string: {
        name: 'string.quoted.double.unet',
        begin: '"',
        end: '"|$',
        beginCaptures: { 0: { name: 'punctuation.definition.string.begin.unet' } },
        endCaptures: { 0: { name: 'punctuation.definition.string.end.unet' } },
        patterns: [{ match: '\\\\.', name: 'constant.character.escape.unet' }],
      },
    },
  };
  return JSON.stringify(grammar, null, 2) + '\n';
}

/** Writes the grammar atomically; returns whether it changed. */
export function writeTextmate(path = TEXTMATE_PATH): boolean {
  const text = generateTextmate();
  if (existsSync(path) && readFileSync(path, 'utf8') === text) return false;
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text, 'utf8');
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  return true;
}

function isMain(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(resolve(script)) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  const changed = writeTextmate();
  process.stdout.write(`${changed ? 'wrote' : 'up to date:'} ${TEXTMATE_PATH}\n`);
}
