/** The images a run writes: sample grids and the loss curve (atomically, as PNG). */
import * as tf from '@tensorflow/tfjs-core';
import { renderLossCurve } from '../images/lossCurve.ts';
import { writePngAtomic } from '../images/png.ts';
import { encodePngGrid, type GridOptions } from '../images/pngGrid.ts';

export function writeSampleGrid(path: string, images: tf.Tensor4D, opts: GridOptions = {}): void {
  const [n, h, w, c] = images.shape;
  writePngAtomic(path, encodePngGrid(images.dataSync() as Float32Array, n, h, w, c, opts));
}

/** The same from images already read out of the backend (large grids sampled in passes). */
export function writeSampleGridData(path: string, images: Float32Array, shape: [number, number, number, number], opts: GridOptions = {}): void {
  const [n, h, w, c] = shape;
  writePngAtomic(path, encodePngGrid(images, n, h, w, c, opts));
}

export function writeLossCurve(path: string, points: { step: number; loss: number }[]): void {
  if (points.length < 2) return;
  writePngAtomic(path, renderLossCurve(points));
}
