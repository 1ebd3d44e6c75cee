/**
 * A sample grid with words on it: the grid PNG embedded (scaled up, pixels kept sharp) with a label
 * beside each row (the variant of an ablation, the swept value of a sampling sweep) and a title.
 */
import { PNG } from 'pngjs';
import { encodePng } from './png.ts';
import { GRID_PAD_VALUE } from './pngGrid.ts';
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
  const labelW =
    Math.max(40, ...o.rowLabels.map((l) => textWidth(l, size)), o.labelHeading ? textWidth(o.labelHeading, size, true) : 0) + 16;
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
  const w = Math.max(
    x0 + width * zoom + 10,
    o.title ? textWidth(o.title, 14, true) + 20 : 0,
    o.subtitle ? textWidth(o.subtitle, 11) + 20 : 0,
  );
  return svgDocument(w, top + height * zoom + 10, parts.join('\n'), o.title);
}

export function labelledGridPng(gridPng: Uint8Array, o: LabelledGridOptions): Buffer {
  return svgToPng(labelledGridSvg(gridPng, o));
}

/**
 * One grid of the first tile row of each of several sample grids (encodePngGrid layout, same tile
 * size and padding), top to bottom: an ablation's variants side by side. RGB PNG.
 */
export function stackFirstRows(grids: Uint8Array[], tileH: number, pad = 2): Buffer {
  const decoded = grids.map((g) => PNG.sync.read(Buffer.from(g.buffer, g.byteOffset, g.byteLength)));
  const width = Math.max(1, ...decoded.map((d) => d.width));
  const height = pad + decoded.length * (tileH + pad);
  const out = new Uint8Array(width * height * 3).fill(GRID_PAD_VALUE);
  decoded.forEach((d, r) => {
    for (let y = 0; y < tileH && pad + y < d.height; y++) {
      const dy = pad + r * (tileH + pad) + y;
      for (let x = 0; x < d.width; x++) {
        const s = ((pad + y) * d.width + x) * 4;
        out.set([d.data[s]!, d.data[s + 1]!, d.data[s + 2]!], (dy * width + x) * 3);
      }
    }
  });
  return encodePng(out, width, height, 3);
}
