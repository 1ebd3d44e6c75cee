/**
 * A sample grid with words on it: the grid PNG embedded (scaled up, pixels kept sharp) with a label
 * beside each row (the variant of an ablation, the swept value of a sampling sweep) and a title.
 */
import { el, embeddedImage, pngSize, svgDocument, svgToPng, text, textWidth } from './svg.ts';

export interface LabelledGridOptions {
  /** One label per grid row, top to bottom. */
  rowLabels: string[];
  /** Tile height and the padding between tiles of the grid PNG (encodePngGrid's layout). */
  tileH: number;
  pad?: number;
  /** Pixels per grid pixel (default 2). */
  zoom?: number;
  title?: string;
  subtitle?: string;
  /** Heading over the label column (e.g. the swept quantity). */
  labelHeading?: string;
}

export function labelledGridSvg(gridPng: Uint8Array, o: LabelledGridOptions): string {
  const { width, height } = pngSize(gridPng);
  const zoom = o.zoom ?? 2;
  const pad = o.pad ?? 2;
  const size = 12;
  const labelW = Math.max(40, ...o.rowLabels.map((l) => textWidth(l, size)), o.labelHeading ? textWidth(o.labelHeading, size, true) : 0) + 16;
  const top = (o.title ? 26 : 8) + (o.subtitle ? 16 : 0) + (o.labelHeading ? 18 : 0);
  const parts: string[] = [];
  if (o.title) parts.push(text(10, 20, o.title, { size: 14, bold: true, fill: '#111827' }));
  if (o.subtitle) parts.push(text(10, o.title ? 38 : 20, o.subtitle, { size: 11, fill: '#4b5563' }));
  if (o.labelHeading) parts.push(text(labelW - 8, top - 6, o.labelHeading, { size, bold: true, anchor: 'end', fill: '#111827' }));
  const x0 = labelW;
  parts.push(embeddedImage(gridPng, x0, top, width * zoom, height * zoom, true));
  o.rowLabels.forEach((l, r) => {
    const cy = top + (pad + r * (o.tileH + pad) + o.tileH / 2) * zoom;
    parts.push(el('g', { 'data-row': r }, text(labelW - 8, cy + size * 0.35, l, { size, anchor: 'end', fill: '#111827' })));
  });
  const w = Math.max(x0 + width * zoom + 10, o.title ? textWidth(o.title, 14, true) + 20 : 0, o.subtitle ? textWidth(o.subtitle, 11) + 20 : 0);
  return svgDocument(w, top + height * zoom + 10, parts.join('\n'), o.title);
}

export function labelledGridPng(gridPng: Uint8Array, o: LabelledGridOptions): Buffer {
  return svgToPng(labelledGridSvg(gridPng, o));
}
