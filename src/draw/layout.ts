/**
 * Geometry of the architecture diagram (the paper's Figure 1, drawn from the model): one band per
 * resolution, the encoder down the left column, the decoder up the right one, the middle blocks
 * along the bottom, the embedding on top. Pure numbers; diagramSvg.ts turns them into SVG.
 */
import { textWidth } from '../runtime/images/svg.ts';
import type { DiagramBlock, DiagramModel } from './model.ts';

export const FONT = 11;
export const BOX_H = 40;
const ROW_GAP = 12;
const BAND_PAD = 14;
export const CHIP_H = 15;
const CHIP_PAD = 5;
const CHIP_GAP = 4;
const LEVEL_LABEL_W = 92;
const SKIP_GAP = 150;
const PARAMS_W = 210;
const TOP = 106;

export interface Box {
  block: DiagramBlock;
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Band {
  label: string;
  y: number;
  h: number;
  params: number;
  conditioningParams: number;
}

export interface Layout {
  width: number;
  height: number;
  boxes: Box[];
  bands: Band[];
  /** Block paths in dataflow order (the arrows), without the embedding. */
  flow: string[];
  encX: number;
  decX: number;
  boxW: number;
  legendY: number;
}

/** The first text line of a block: its path, then channels. */
export function blockTitle(b: DiagramBlock): { path: string; detail: string } {
  const skip = b.skipIn ? ` (${b.inC - b.skipIn}+${b.skipIn} skip)` : '';
  const res = b.resample ? `  ${b.resample === 'down' ? '↓' : '↑'} ${b.inRes}→${b.res}` : '';
  return { path: b.path, detail: `${b.inC}${skip} → ${b.outC} ch${res}` };
}

export const attnTag = (b: DiagramBlock): string => (b.attention ? `attn${b.heads && b.heads > 1 ? ` ${b.heads}h` : ''}` : '');

export function chipWidth(label: string): number {
  return textWidth(label, FONT - 1) + 2 * CHIP_PAD;
}

/** Width a block's box needs for its two lines. */
function neededWidth(b: DiagramBlock): number {
  const t = blockTitle(b);
  const tag = attnTag(b);
  const line1 = textWidth(t.path, FONT, true) + 8 + textWidth(t.detail, FONT) + (tag ? 10 + chipWidth(tag) : 0);
  const line2 = b.badges.reduce((a, g) => a + chipWidth(g.label) + CHIP_GAP, 0) + (b.badges.length ? 0 : 0);
  return Math.max(line1, line2) + 16;
}

export function layoutDiagram(m: DiagramModel, extraBadgeWidth: (b: DiagramBlock) => number = () => 0): Layout {
  const net = m.blocks.filter((b) => b.part !== 'emb');
  const boxW = Math.ceil(Math.max(260, ...net.map((b) => neededWidth(b) + extraBadgeWidth(b))));
  const encX = LEVEL_LABEL_W;
  const decX = encX + boxW + SKIP_GAP;
  const boxes: Box[] = [];
  const bands: Band[] = [];

  // Levels by output resolution, largest first; encoder and output head / decoder sides.
  const side = (b: DiagramBlock) => (b.part === 'enc' ? 'enc' : b.part === 'dec' || b.part === 'out' ? 'dec' : 'mid');
  const levels = [...new Set(net.filter((b) => side(b) !== 'mid').map((b) => b.resH))].sort((a, b) => b - a);
  let y = TOP;
  for (const h of levels) {
    const enc = net.filter((b) => side(b) === 'enc' && b.resH === h);
    const dec = net.filter((b) => side(b) === 'dec' && b.resH === h);
    const rows = Math.max(enc.length, dec.length, 1);
    const bandH = 2 * BAND_PAD + rows * BOX_H + (rows - 1) * ROW_GAP;
    const rowY = (i: number) => y + BAND_PAD + i * (BOX_H + ROW_GAP);
    // Encoder blocks run down the band; decoder blocks run up it, bottom-aligned, so the data
    // flows down the left and up the right.
    enc.forEach((b, i) => boxes.push({ block: b, x: encX, y: rowY(i), w: boxW, h: BOX_H }));
    dec.forEach((b, i) => boxes.push({ block: b, x: decX, y: rowY(rows - 1 - i), w: boxW, h: BOX_H }));
    const inBand = [...enc, ...dec];
    const res = inBand[0]?.res ?? `${h}x${h}`;
    bands.push({
      label: res.replace('x', '×'),
      y,
      h: bandH,
      params: inBand.reduce((a, b) => a + b.params, 0),
      conditioningParams: inBand.reduce((a, b) => a + b.conditioningParams, 0),
    });
    y += bandH;
  }
  // The middle: one row along the bottom, centred under the two columns.
  const mid = net.filter((b) => side(b) === 'mid');
  if (mid.length) {
    const gap = 40;
    const perRow = Math.max(1, Math.floor((decX + boxW - encX + gap) / (boxW + gap)));
    const rows = Math.ceil(mid.length / perRow);
    const bandH = 2 * BAND_PAD + rows * BOX_H + (rows - 1) * ROW_GAP + 10;
    mid.forEach((b, i) => {
      const r = Math.floor(i / perRow);
      const inRow = Math.min(perRow, mid.length - r * perRow);
      const rowW = inRow * boxW + (inRow - 1) * gap;
      const x0 = (encX + decX + boxW) / 2 - rowW / 2;
      boxes.push({ block: b, x: x0 + (i % perRow) * (boxW + gap), y: y + BAND_PAD + 10 + r * (BOX_H + ROW_GAP), w: boxW, h: BOX_H });
    });
    bands.push({
      label: `middle ${mid[0]!.res.replace('x', '×')}`,
      y,
      h: bandH,
      params: mid.reduce((a, b) => a + b.params, 0),
      conditioningParams: mid.reduce((a, b) => a + b.conditioningParams, 0),
    });
    y += bandH;
  }
  // The embedding network on top, centred.
  const emb = m.blocks.find((b) => b.part === 'emb');
  if (emb) boxes.push({ block: emb, x: (encX + decX + boxW) / 2 - boxW / 2, y: 52, w: boxW, h: BOX_H });

  // The output head, when it sits at the top level, is drawn last in the right column already.
  const flow = net.map((b) => b.path);
  return { width: decX + boxW + PARAMS_W, height: y + 70, boxes, bands, flow, encX, decX, boxW, legendY: y + 22 };
}

export { CHIP_GAP, CHIP_PAD };
