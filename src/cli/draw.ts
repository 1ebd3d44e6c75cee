/**
 * `unetc draw SPEC [--out FILE.svg|FILE.png] [--scale S] [--json]`: the U-Net as a diagram (levels
 * by resolution, encoder down the left, decoder up the right, middle at the bottom, skips,
 * resampling, attention and every block's conditioning as badges, parameters per level and in total).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { checkSpec } from '../check/check.ts';
import { diagramSvg } from '../draw/diagramSvg.ts';
import { diagramModel } from '../draw/model.ts';
import { figureBytes } from '../runtime/images/svg.ts';
import { parse, reportDiagnostics, UsageError } from './io.ts';

/** Writes an SVG figure to `out` (.svg, or .png rendered through resvg). */
export function writeFigure(out: string, svg: string, scale?: number): void {
  if (!/\.(svg|png)$/i.test(out)) throw new UsageError(`--out must end in .svg or .png, got '${out}'`);
  mkdirSync(dirname(resolve(out)), { recursive: true });
  writeFileSync(out, figureBytes(out, svg, { scale }));
}

export function scaleOption(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const s = Number(v);
  if (!(s > 0 && s <= 8)) throw new UsageError(`--scale takes a number in (0, 8], got '${v}'`);
  return s;
}

export function drawCommand(args: string[]): number {
  const { values, positionals } = parse(args, { out: { type: 'string' }, scale: { type: 'string' } });
  if (positionals.length !== 1) throw new UsageError('takes exactly one spec file');
  const spec = positionals[0]!;
  const r = checkSpec(spec);
  if (reportDiagnostics(r) || !r.ir) return 1;
  const out = values.out ?? `${basename(spec).replace(/\.unet$/, '')}.svg`;
  const m = diagramModel(r.ir);
  writeFigure(out, diagramSvg(m, { subtitle: spec }), scaleOption(values.scale));
  process.stdout.write(`wrote ${out}: ${m.blocks.length} blocks, ${m.skips.length} skip connections, ${m.totalParams.toLocaleString('en-US')} parameters\n`);
  return 0;
}
