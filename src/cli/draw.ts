/**
 * `unetc draw SPEC [--out FILE.svg|FILE.png] [--scale S] [--json]`: the U-Net as a diagram (levels
 * by resolution, encoder down the left, decoder up the right, middle at the bottom, skips,
 * resampling, attention and every block's conditioning as badges, parameters per level and in total).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { checkSpec } from '../pipeline.ts';
import { diagramSvg } from '../draw/diagramSvg.ts';
import { diagramModel } from '../draw/model.ts';
import { figureBytes } from '../runtime/images/svg.ts';
import { reportDiagnostics, UsageError } from './io.ts';
import { defineCommand } from './command.ts';

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

export const draw = defineCommand({
  name: 'draw',
  args: '<spec>',
  summary: 'the U-Net as a diagram with its conditioning',
  options: {
    out: { arg: 'file', short: 'o', help: 'the figure to write, .svg or .png', defaultText: '<spec name>.svg' },
    scale: { arg: 's', help: 'pixels per SVG unit for .png, in (0, 8]', defaultText: '1' },
    json: { help: 'print what was drawn (file, blocks, skips, parameters) as JSON' },
  },
  examples: ['unetc draw specs/edm-cifar10.unet', 'unetc draw specs/nano-mnist.unet --out nano.png --scale 2'],
  run: ([spec], values) => drawRun(spec!, values),
});

function drawRun(spec: string, values: { out?: string; scale?: string; json?: boolean }): number {
  const r = checkSpec(spec);
  if (reportDiagnostics(r) || !r.ir) return 1;
  const out = values.out ?? `${basename(spec).replace(/\.unet$/, '')}.svg`;
  const m = diagramModel(r.ir);
  writeFigure(out, diagramSvg(m, { subtitle: spec }), scaleOption(values.scale));
  if (values.json)
    process.stdout.write(JSON.stringify({ out, blocks: m.blocks.length, skips: m.skips.length, totalParams: m.totalParams }) + '\n');
  else
    process.stdout.write(
      `wrote ${out}: ${m.blocks.length} blocks, ${m.skips.length} skip connections, ${m.totalParams.toLocaleString('en-US')} parameters\n`,
    );
  return 0;
}
