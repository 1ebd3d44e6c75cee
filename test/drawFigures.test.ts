/** Figures with words on them: labelled sample grids and the titled loss curve; text renders with the shipped font. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import {
  encodePngGrid,
  labelledGridPng,
  labelledGridSvg,
  stackFirstRows,
  lossCurveSvg,
  pngSize,
  svgDocument,
  svgToPng,
  textWidth,
} from '../src/runtime/images/index.ts';
import { text } from '../src/runtime/images/svg.ts';
import { writeLossCurve } from '../src/runtime/train/outputs.ts';
import { expectWellFormedXml } from './svgHelpers.ts';

const TMP = join(import.meta.dirname, '.tmp', 'figures');

describe('labelled figures', () => {
  it('puts a label beside each row of a sample grid', () => {
    // 3 rows of 4 tiles of 8x8: encodePngGrid with pad 2 is 2 + 4 * 10 = 42 wide, 2 + 3 * 10 = 32 high.
    const grid = encodePngGrid(
      new Float32Array(12 * 64).map((_, i) => Math.sin(i)),
      12,
      8,
      8,
      1,
      { cols: 4 },
    );
    expect(pngSize(grid)).toEqual({ width: 42, height: 32 });
    const labels = ['α = 0', 'α = 0.5', 'α = 1'];
    const svg = labelledGridSvg(grid, { rowLabels: labels, tileH: 8, title: 'sweep', labelHeading: 'α' });
    expectWellFormedXml(svg);
    for (const l of labels) expect(svg).toContain(`>${l}</text>`);
    // Row r's label sits at the middle of tile row r, zoomed 2x: top + (2 + 10 r + 4) * 2.
    const ys = [...svg.matchAll(/<g data-row="(\d)"><text x="[\d.]+" y="([\d.]+)"/g)].map((m) => Number(m[2]));
    expect(ys[1]! - ys[0]!).toBeCloseTo(20, 6);
    expect(ys[2]! - ys[1]!).toBeCloseTo(20, 6);
    const png = PNG.sync.read(labelledGridPng(grid, { rowLabels: labels, tileH: 8 }));
    expect(png.width).toBeGreaterThan(84); // the label column plus the grid at 2x
  });

  it('stacks the first row of several grids, one variant per row', () => {
    // Two grids of 4 tiles of 4x4 in 2 columns (pad 2): 2 + 2 * 6 = 14 wide; the first is all black
    // (-1), the second all white (1). Stacked first rows: 14 wide, 2 + 2 * (4 + 2) = 14 high.
    const black = encodePngGrid(new Float32Array(4 * 16).fill(-1), 4, 4, 4, 1, { cols: 2 });
    const white = encodePngGrid(new Float32Array(4 * 16).fill(1), 4, 4, 4, 1, { cols: 2 });
    const png = PNG.sync.read(stackFirstRows([black, white], 4));
    expect([png.width, png.height]).toEqual([14, 14]);
    const at = (x: number, y: number) => png.data[(y * 14 + x) * 4]!;
    expect([at(2, 2), at(5, 5), at(8, 2)]).toEqual([0, 0, 0]); // row 0: tiles of the first grid
    expect([at(2, 8), at(5, 11), at(11, 8)]).toEqual([255, 255, 255]); // row 1 starts at 2 + 6
    expect([at(0, 0), at(6, 2), at(2, 6)]).toEqual([128, 128, 128]); // padding
  });

  it('titles the loss curve with the run and model and names both axes', () => {
    mkdirSync(TMP, { recursive: true });
    const pts = Array.from({ length: 50 }, (_, i) => ({ step: i + 1, loss: 1 / (i + 1) }));
    const svg = lossCurveSvg(pts, { title: 'run demo: training loss', subtitle: 'model nano' });
    expectWellFormedXml(svg);
    for (const s of ['run demo: training loss', 'model nano', 'training step', 'loss (log scale)']) expect(svg).toContain(`>${s}</text>`);
    const dir = join(TMP, 'run-x');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'ir.json'), JSON.stringify({ name: 'nano_demo' }));
    writeLossCurve(join(dir, 'loss.png'), pts);
    const png = PNG.sync.read(readFileSync(join(dir, 'loss.png')));
    expect([png.width, png.height]).toEqual([640, 360]);
  });

  it('renders text with the shipped font only, at the width the metrics predict', () => {
    // A black 40 px "M" string on white: the inked columns span about the measured advance width.
    const s = 'MMMM';
    const w = textWidth(s, 40);
    const svg = svgDocument(Math.ceil(w) + 40, 60, text(20, 45, s, { size: 40, fill: '#000000' }));
    const png = PNG.sync.read(svgToPng(svg));
    let minX = Infinity;
    let maxX = -Infinity;
    for (let y = 0; y < png.height; y++) {
      for (let x = 0; x < png.width; x++) {
        if (png.data[(y * png.width + x) * 4]! < 128) {
          minX = Math.min(minX, x);
          maxX = Math.max(maxX, x);
        }
      }
    }
    // DejaVu Sans "M" advances 1767/2048 em; the ink is the advance minus the side bearings (~10% of it).
    expect(maxX - minX).toBeGreaterThan(0.85 * w);
    expect(maxX - minX).toBeLessThanOrEqual(w);
  });
});
