/**
 * Variants of a base spec from edits: a grid (the Cartesian product of axes) and zips (axes paired
 * element by element). Each variant gets a deterministic name, prints as a canonical .unet file
 * that extends the base, and is checked; an invalid combination comes back with its diagnostics.
 */
import { basename, join, relative, resolve } from 'node:path';
import { checkSpec, type CheckResult } from '../pipeline.ts';
import { Diag } from '../diagnostics/catalogue.ts';
import { diagnostic, DiagnosticSink } from '../diagnostics/diagnostic.ts';
import { fsHost, loadSpec } from '../check/load.ts';
import { printExpr, printSpec } from '../syntax/printer.ts';
import { EditError, variantSpec, type Edit } from './edits.ts';

export interface Variant {
  name: string;
  fileName: string;
  edits: Edit[];
  /** The canonical .unet text. */
  text: string;
  result: CheckResult;
}

/** Cartesian product of axes (each axis: the alternative edits of one target). */
export function grid(axes: Edit[][]): Edit[][] {
  return axes.reduce<Edit[][]>((acc, axis) => acc.flatMap((prefix) => axis.map((e) => [...prefix, e])), [[]]);
}

/** Axes of equal length taken together: the i-th variant has the i-th value of every axis. */
export function zip(axes: Edit[][]): Edit[][] {
  if (axes.length === 0) return [[]];
  const n = axes[0].length;
  for (const a of axes)
    if (a.length !== n)
      throw new EditError(`zipped axes must have the same length: ${axes.map((x) => `${x[0]?.target} has ${x.length}`).join(', ')}`);
  return Array.from({ length: n }, (_, i) => axes.map((a) => a[i]));
}

/** Grid over the grid axes, times the zipped axes as one more axis. */
export function combine(gridAxes: Edit[][], zipAxes: Edit[][]): Edit[][] {
  const g = grid(gridAxes);
  const z = zipAxes.length ? zip(zipAxes) : [[]];
  return g.flatMap((a) => z.map((b) => [...a, ...b]));
}

const slug = (s: string) =>
  s
    .replace(/\s+/g, '')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 40);

export function variantName(baseName: string, edits: Edit[]): string {
  if (edits.length === 0) return baseName;
  return `${baseName}__${edits.map((e) => `${slug(e.target)}_${slug(printExpr(e.value))}`).join('__')}`;
}

/** Builds and checks every variant; variant files are meant to live in `outDir`. */
export function buildVariants(basePath: string, combos: Edit[][], outDir: string): Variant[] {
  const sink = new DiagnosticSink();
  const { model, sources } = loadSpec(basePath, fsHost, sink);
  if (!model) {
    const r = checkSpec(basePath);
    return [{ name: basename(basePath), fileName: basename(basePath), edits: [], text: '', result: r }];
  }
  const extendsPath = relative(resolve(outDir), resolve(basePath)) || basename(basePath);
  const baseFile = basename(basePath).replace(/\.unet$/, '');
  const seen = new Set<string>();
  return combos.map((edits) => {
    const name = variantName(model.name, edits);
    let fileName = `${baseFile}${edits.length ? '--' + edits.map((e) => `${slug(e.target.split('.').pop()!)}-${slug(printExpr(e.value))}`).join('--') : ''}.unet`;
    for (let k = 2; seen.has(fileName); k++) fileName = fileName.replace(/(-\d+)?\.unet$/, `-${k}.unet`);
    seen.add(fileName);
    const path = join(outDir, fileName);
    let text: string;
    try {
      text = printSpec(variantSpec(name, extendsPath.startsWith('.') ? extendsPath : `./${extendsPath}`, model, edits));
    } catch (e) {
      if (!(e instanceof EditError)) throw e;
      // An edit that does not apply is reported like a spec problem, at the base model's name (with the base's text, so the line is shown).
      const result: CheckResult = {
        ok: false,
        sources,
        diagnostics: [diagnostic(Diag.AblationTargetMissing, { detail: e.message }, model.nameSpan)],
      };
      return { name, fileName, edits, text: '', result };
    }
    return { name, fileName, edits, text, result: checkSpec(path, { text }) };
  });
}
