/** Image output for training: sample grids and loss charts as PNG, written atomically. */
export { encodePngGrid, toByte, GRID_PAD_VALUE, type GridOptions } from './pngGrid.ts';
export { encodePng, writePngAtomic } from './png.ts';
export { renderLossCurve, movingAverage, type LossPoint, type LossCurveOptions } from './lossCurve.ts';
