/**
 * Loads a spec and the chain of specs it extends, and merges them into one model: a child's field
 * replaces its parent's, a child's section merges into its parent's (or replaces it whole when
 * written `key = { ... }`), `unset key` removes what the parent set, and a child's `let` replaces
 * the parent's constant everywhere (so `let C = 64` in a variant narrows the whole base model).
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { Diag } from '../diagnostics/catalogue.ts';
import { DiagnosticSink } from '../diagnostics/diagnostic.ts';
import { fileStart, type Span } from '../diagnostics/span.ts';
import type { Field, LetDecl, Member, SpecFile } from '../syntax/ast.ts';
import { parseSpec } from '../syntax/parse.ts';

export interface MergedSection {
  key: string;
  quoted?: boolean;
  span: Span;
  fields: Map<string, Field>;
  sections: Map<string, MergedSection>;
}

export interface MergedModel {
  name: string;
  nameSpan: Span;
  /** The files of the chain, base first. */
  files: string[];
  lets: Map<string, LetDecl>;
  root: MergedSection;
}

/** Reads files; tests and the API pass an in-memory one. */
export interface SourceHost {
  read(path: string): string | undefined;
}

export const fsHost: SourceHost = {
  read(path) {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  },
};

export interface LoadResult {
  model?: MergedModel;
  /** Every source text read, by file name, for printing diagnostics. */
  sources: Map<string, string>;
}

const MAX_EXTENDS_DEPTH = 32;

export function loadSpec(path: string, host: SourceHost, sink: DiagnosticSink, text?: string): LoadResult {
  const sources = new Map<string, string>();
  const chain: SpecFile[] = [];
  const seen: string[] = [];
  let current = path;
  let currentText = text;
  let from: Span | undefined;
  for (;;) {
    const src = currentText ?? host.read(current);
    currentText = undefined;
    if (src === undefined) {
      if (from) sink.report(Diag.ExtendsNotFound, { what: 'extended spec', path: current }, from);
      else sink.report(Diag.ExtendsNotFound, { what: 'spec', path: current }, fileStart(current));
      return { sources };
    }
    sources.set(current, src);
    const parsed = parseSpec(src, current);
    for (const d of parsed.diagnostics) sink.add(d);
    if (!parsed.ast) return { sources };
    chain.push(parsed.ast);
    // Compare resolved paths: the entry may be given relative to the working directory.
    seen.push(resolve(current));
    const ext = parsed.ast.model.extends;
    if (!ext) break;
    const next = resolve(dirname(current), ext.value);
    const short = (f: string) => f.split('/').pop();
    if (seen.includes(next)) {
      const cycle = [...seen.slice(seen.indexOf(next)), next].map(short).join(' -> ');
      sink.report(Diag.ExtendsCycle, { cycle }, ext.span);
      return { sources };
    }
    if (seen.length > MAX_EXTENDS_DEPTH) {
      // Not a cycle: a chain longer than the limit. Show its ends.
      const names = [...seen, next].map(short);
      const chain = names.length > 8 ? [...names.slice(0, 3), `... ${names.length - 6} more ...`, ...names.slice(-3)] : names;
      sink.report(Diag.ExtendsTooDeep, { max: MAX_EXTENDS_DEPTH, chain: chain.join(' -> ') }, ext.span);
      return { sources };
    }
    from = ext.span;
    // Name extended files the way the user named the entry file: absolute, or relative to the cwd.
    current = isAbsolute(path) ? next : relative(process.cwd(), next) || next;
  }
  chain.reverse();
  const lets = new Map<string, LetDecl>();
  const root: MergedSection = { key: '', span: chain[chain.length - 1].model.nameSpan, fields: new Map(), sections: new Map() };
  for (const f of chain) {
    const fileLets = new Set<string>();
    const addLet = (l: LetDecl) => {
      if (l.name === 'in' || l.name === 'out') {
        sink.report(Diag.ReservedLetName, { name: l.name }, l.nameSpan);
        return;
      }
      if (fileLets.has(l.name)) sink.report(Diag.DuplicateLet, { name: l.name }, l.nameSpan);
      fileLets.add(l.name);
      lets.set(l.name, l);
    };
    f.lets.forEach(addLet);
    mergeMembers(root, f.model.members, sink, addLet);
  }
  const top = chain[chain.length - 1].model;
  return { model: { name: top.name, nameSpan: top.nameSpan, files: chain.map((c) => c.file), lets, root }, sources };
}

function mergeMembers(target: MergedSection, members: Member[], sink: DiagnosticSink, addLet: (l: LetDecl) => void): void {
  const keysHere = new Set<string>();
  for (const m of members) {
    if (m.kind === 'let') {
      addLet(m);
      continue;
    }
    if (keysHere.has(m.key)) {
      sink.report(Diag.DuplicateField, { name: m.key }, m.keySpan);
      continue;
    }
    keysHere.add(m.key);
    if (m.kind === 'unset') {
      const had = target.fields.delete(m.key);
      if (!target.sections.delete(m.key) && !had) sink.report(Diag.UnsetNothing, { name: m.key }, m.keySpan);
      continue;
    }
    if (m.kind === 'field') {
      target.sections.delete(m.key);
      target.fields.set(m.key, m);
    } else {
      target.fields.delete(m.key);
      // `key = { ... }` starts the section afresh: nothing of the base's survives.
      let sec = m.replace ? undefined : target.sections.get(m.key);
      if (!sec) {
        sec = { key: m.key, quoted: m.quoted, span: m.keySpan, fields: new Map(), sections: new Map() };
        target.sections.set(m.key, sec);
      } else {
        sec.span = m.keySpan;
      }
      mergeMembers(sec, m.members, sink, addLet);
    }
  }
}
