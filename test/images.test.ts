import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { encodePngGrid, GRID_PAD_VALUE, movingAverage, renderLossCurve, toByte, writePngAtomic } from '../src/runtime/images/index.ts';
import { SMOOTH_COLOR, RAW_COLOR } from '../src/runtime/images/lossCurve.ts';
import { formatTick, linearTicks, logTicks } from '../src/runtime/images/ticks.ts';

describe('encodePngGrid', () => {
  it('lays out gray images in a padded grid as a grayscale PNG', () => {
    // Three 2x3 (h x w) images: constant -1, constant 1, and a ramp with out-of-range and NaN values.
    const h = 2;
    const w = 3;
    const images = new Float32Array([...Array(6).fill(-1), ...Array(6).fill(1), ...[0, 0.5, -0.5, 5, -3, NaN]]);
    const png = PNG.sync.read(encodePngGrid(images, 3, h, w, 1));
    expect(png.colorType).toBe(0);
    // cols = ceil(sqrt(3)) = 2, rows = 2, pad 2: width 2 + 2 * (3 + 2) = 12, height 2 + 2 * (2 + 2) = 10.
    expect([png.width, png.height]).toEqual([12, 10]);
    const at = (x: number, y: number) => png.data[(y * png.width + x) * 4]!; // pngjs decodes to RGBA
    expect(at(0, 0)).toBe(GRID_PAD_VALUE);
    expect(at(2, 2)).toBe(0); // tile 0 top-left
    expect(at(4, 3)).toBe(0); // tile 0 bottom-right
    expect(at(5, 2)).toBe(GRID_PAD_VALUE); // gap between tiles
    expect(at(7, 2)).toBe(255); // tile 1 at x = 2 + 5
    expect(at(9, 3)).toBe(255);
    // Tile 2 at row 1: y = 2 + 4 = 6.
    expect([at(2, 6), at(3, 6), at(4, 6), at(2, 7), at(3, 7), at(4, 7)]).toEqual([128, 191, 64, 255, 0, 0]);
    expect(at(7, 6)).toBe(GRID_PAD_VALUE); // the empty fourth slot
  });

  it('writes RGB images as an RGB PNG with channels in place', () => {
    // Two 1x2 RGB images; cols 2, pad 1 -> 1 + 2 * (2 + 1) = 7 wide, 1 + 1 * (1 + 1) = 3 high.
    const images = new Float32Array([1, -1, -1, -1, 1, -1, /* image 1 */ -1, -1, 1, 1, 1, 1]);
    const png = PNG.sync.read(encodePngGrid(images, 2, 1, 2, 3, { cols: 2, pad: 1 }));
    expect(png.colorType).toBe(2);
    expect([png.width, png.height]).toEqual([7, 3]);
    const rgb = (x: number, y: number) => [...png.data.subarray((y * png.width + x) * 4, (y * png.width + x) * 4 + 3)];
    expect(rgb(1, 1)).toEqual([255, 0, 0]);
    expect(rgb(2, 1)).toEqual([0, 255, 0]);
    expect(rgb(3, 1)).toEqual([128, 128, 128]);
    expect(rgb(4, 1)).toEqual([0, 0, 255]);
    expect(rgb(5, 1)).toEqual([255, 255, 255]);
  });

  it('honours cols and rejects inconsistent arguments', () => {
    const png = PNG.sync.read(encodePngGrid(new Float32Array(4), 4, 1, 1, 1, { cols: 4, pad: 0 }));
    expect([png.width, png.height]).toEqual([4, 1]);
    expect(() => encodePngGrid(new Float32Array(5), 4, 1, 1, 1)).toThrow(/5 values for 4x1x1x1/);
    expect(() => encodePngGrid(new Float32Array(8), 4, 1, 1, 2)).toThrow(/channels must be 1 or 3/);
    expect(() => encodePngGrid(new Float32Array(4), 4, 1, 1, 1, { cols: 0 })).toThrow(/cols/);
  });

  it('maps [-1, 1] to bytes with clipping', () => {
    expect([-1, 0, 1, -2, 2, NaN, -Infinity, Infinity].map(toByte)).toEqual([0, 128, 255, 0, 255, 0, 0, 255]);
  });

  it('writes PNGs atomically', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'unetc-png-'));
    try {
      const buf = encodePngGrid(new Float32Array([0]), 1, 1, 1, 1);
      writePngAtomic(path.join(dir, 'samples.png'), buf);
      expect(fs.readdirSync(dir)).toEqual(['samples.png']);
      expect(fs.readFileSync(path.join(dir, 'samples.png'))).toEqual(buf);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('renderLossCurve', () => {
  const count = (png: PNG, color: readonly number[]) => {
    let k = 0;
    for (let p = 0; p < png.data.length; p += 4) {
      if (png.data[p] === color[0] && png.data[p + 1] === color[1] && png.data[p + 2] === color[2]) k++;
    }
    return k;
  };

  /** Topmost row of the dark (smoothed) curve in column x, or -1. */
  const curveY = (png: PNG, x: number) => {
    for (let y = 0; y < png.height; y++) {
      const p = (y * png.width + x) * 4;
      if (png.data[p] === SMOOTH_COLOR[0] && png.data[p + 1] === SMOOTH_COLOR[1] && png.data[p + 2] === SMOOTH_COLOR[2]) return y;
    }
    return -1;
  };

  it('draws a PNG of the requested size with the raw and the smoothed curve', () => {
    let seed = 1;
    const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const points = Array.from({ length: 500 }, (_, i) => ({ step: i * 10, loss: 0.5 - i / 2000 + 0.1 * rand() }));
    const png = PNG.sync.read(renderLossCurve(points, { width: 300, height: 200 }));
    expect([png.width, png.height]).toEqual([300, 200]);
    const colors = new Set<number>();
    for (let p = 0; p < png.data.length; p += 4) colors.add(png.data.readUInt32BE(p));
    expect(colors.size).toBeGreaterThan(3);
    expect(count(png, RAW_COLOR)).toBeGreaterThan(200);
    expect(count(png, SMOOTH_COLOR)).toBeGreaterThan(200);
  });

  it('uses a log axis when the loss spans more than a factor of 10', () => {
    // An exponential decay over three decades is a straight line on a log axis.
    const points = Array.from({ length: 301 }, (_, i) => ({ step: i, loss: 10 ** (-i / 100) }));
    const png = PNG.sync.read(renderLossCurve(points, { width: 400, height: 300 }));
    const cols = [...Array(png.width).keys()].filter((x) => curveY(png, x) >= 0);
    const [a, b] = [cols[0]!, cols[cols.length - 1]!];
    const ys = [0.3, 0.5, 0.7].map((f) => curveY(png, Math.round(a + f * (b - a))));
    expect(Math.abs(ys[1]! - (ys[0]! + ys[2]!) / 2)).toBeLessThanOrEqual(2);

    // The same decay over less than a decade stays linear, so the curve bends visibly.
    const flat = Array.from({ length: 301 }, (_, i) => ({ step: i, loss: 10 ** (-i / 400) }));
    const png2 = PNG.sync.read(renderLossCurve(flat, { width: 400, height: 300 }));
    const ys2 = [0.3, 0.5, 0.7].map((f) => curveY(png2, Math.round(a + f * (b - a))));
    expect(Math.abs(ys2[1]! - (ys2[0]! + ys2[2]!) / 2)).toBeGreaterThan(1);
  });

  it('copes with no points, one point, constant and non-finite losses', () => {
    for (const pts of [
      [],
      [{ step: 3, loss: 0.2 }],
      [
        { step: 0, loss: 1 },
        { step: 1, loss: 1 },
      ],
      [
        { step: 0, loss: NaN },
        { step: 1, loss: 0.5 },
        { step: 2, loss: Infinity },
      ],
    ]) {
      const png = PNG.sync.read(renderLossCurve(pts, { width: 160, height: 100 }));
      expect([png.width, png.height]).toEqual([160, 100]);
    }
    expect(() => renderLossCurve([], { width: 10, height: 10 })).toThrow(/at least 120x80/);
  });
});

describe('chart helpers', () => {
  it('picks 1/2/5 ticks and short labels', () => {
    expect(linearTicks(0, 1, 5).ticks.map((v) => formatTick(v, 0.2))).toEqual(['0', '0.2', '0.4', '0.6', '0.8', '1.0']);
    expect(linearTicks(0, 3, 5, 1).ticks).toEqual([0, 1, 2, 3]);
    expect(logTicks(Math.log10(0.03), Math.log10(2))).toEqual([0.05, 0.1, 0.2, 0.5, 1, 2]);
    expect(formatTick(1e-5)).toBe('1e-5');
    expect(formatTick(2e6)).toBe('2e6');
    expect(formatTick(0.05)).toBe('0.05');
  });

  it('smooths with a centred moving average', () => {
    expect(movingAverage([0, 3, 0, 3, 0], 3)).toEqual([1.5, 1, 2, 1, 1.5]);
    expect(movingAverage([4, 5], 1)).toEqual([4, 5]);
  });
});
