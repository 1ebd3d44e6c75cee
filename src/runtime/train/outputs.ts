/** The images a run writes: sample grids and the loss curve (atomically, as PNG). */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { renderLossCurve } from '../images/lossCurve.ts';
import { writePngAtomic } from '../images/png.ts';
import { encodePngGrid, type GridOptions } from '../images/pngGrid.ts';

export function writeSampleGrid(path: string, images: tf.Tensor4D, opts: GridOptions = {}): void {
  const [n, h, w, c] = images.shape;
  writePngAtomic(path, encodePngGrid(images.dataSync() as Float32Array, n, h, w, c, opts));
}

/** The run a file of a run folder belongs to: the folder's name, and the model's name from its ir.json. */
function runLabels(path: string): { title: string; subtitle?: string } {
  const dir = dirname(path);
  let model: string | undefined;
  try {
    const ir = join(dir, 'ir.json');
    if (existsSync(ir)) model = (JSON.parse(readFileSync(ir, 'utf8')) as { name?: string }).name;
  } catch {
    model = undefined; // a damaged ir.json only costs the subtitle
  }
  return { title: `run ${basename(dir)}: training loss`, subtitle: model ? `model ${model}` : undefined };
}

/** The same from images already read out of the backend (large grids sampled in passes). */
export function writeSampleGridData(
  path: string,
  images: Float32Array,
  shape: [number, number, number, number],
  opts: GridOptions = {},
): void {
  const [n, h, w, c] = shape;
  writePngAtomic(path, encodePngGrid(images, n, h, w, c, opts));
}

export function writeLossCurve(path: string, points: { step: number; loss: number }[]): void {
  if (points.length < 2) return;
  const labels = runLabels(path);
  const last = points[points.length - 1]!;
  writePngAtomic(
    path,
    renderLossCurve(points, {
      ...labels,
      subtitle: `${labels.subtitle ? `${labels.subtitle} · ` : ''}${points.length} steps, last loss ${last.loss.toFixed(4)}`,
    }),
  );
}
