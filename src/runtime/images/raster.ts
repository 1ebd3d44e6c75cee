/**
 * A minimal RGB raster for drawing charts by hand: pixels, lines and 5x7 text, nothing more.
 * Drawing outside the canvas is silently clipped, so callers need not clamp coordinates.
 */
import { glyph, GLYPH_ADVANCE } from './font5x7.ts';
import { encodePng } from './png.ts';

export type Rgb = readonly [number, number, number];

export class Raster {
  readonly data: Uint8Array;

  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb,
  ) {
    this.data = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) this.data.set(background, i * 3);
  }

  set(x: number, y: number, color: Rgb): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    this.data.set(color, (y * this.width + x) * 3);
  }

  /** Bresenham line; `thickness` 2 also draws the line shifted one pixel down and right. */
  line(x0: number, y0: number, x1: number, y1: number, color: Rgb, thickness = 1): void {
    x0 = Math.round(x0);
    y0 = Math.round(y0);
    x1 = Math.round(x1);
    y1 = Math.round(y1);
    const dx = Math.abs(x1 - x0);
    const dy = -Math.abs(y1 - y0);
    const sx = x0 < x1 ? 1 : -1;
    const sy = y0 < y1 ? 1 : -1;
    let err = dx + dy;
    for (;;) {
      for (let t = 0; t < thickness; t++) {
        this.set(x0 + t, y0, color);
        this.set(x0, y0 + t, color);
      }
      if (x0 === x1 && y0 === y1) break;
      const e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x0 += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y0 += sy;
      }
    }
  }

  /** Draws text with its top-left corner at (x, y). */
  text(x: number, y: number, text: string, color: Rgb): void {
    for (const [i, ch] of [...text].entries()) {
      const g = glyph(ch);
      if (!g) continue;
      g.forEach((row, gy) => row.forEach((on, gx) => on && this.set(x + i * GLYPH_ADVANCE + gx, y + gy, color)));
    }
  }

  toPng(): Buffer {
    return encodePng(this.data, this.width, this.height, 3);
  }
}
