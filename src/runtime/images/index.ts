/** Image output: sample grids (labelled or not), loss charts and SVG figures rendered to PNG, written atomically. */
export { encodePngGrid, toByte, GRID_PAD_VALUE, type GridOptions } from './pngGrid.ts';
export { encodePng, writePngAtomic } from './png.ts';
export { renderLossCurve, lossCurveSvg, movingAverage, type LossPoint, type LossCurveOptions } from './lossCurve.ts';
export { labelledGridPng, labelledGridSvg, stackFirstRows, type LabelledGridOptions } from './labelledGrid.ts';
export { svgToPng, svgDocument, textWidth, pngSize } from './svg.ts';
