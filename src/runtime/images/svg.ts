/**
 * SVG figures: a few element helpers, text measured with the metrics of the font the figures ship
 * (DejaVu Sans, assets/fonts/), and SVG -> PNG through resvg (@resvg/resvg-js, prebuilt binaries
 * from npm) with that font loaded from the package and no system fonts, so a PNG renders the same
 * on a machine without any installed fonts.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FONT_FAMILY = 'DejaVu Sans';

// Advance widths of ASCII 32..126 in units of 1/2048 em (read from the shipped TTFs' hmtx tables).
// prettier-ignore
const REGULAR = [651, 821, 942, 1716, 1303, 1946, 1597, 563, 799, 799, 1024, 1716, 651, 739, 651, 690, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 690, 690, 1716, 1716, 1716, 1087, 2048, 1401, 1405, 1430, 1577, 1294, 1178, 1587, 1540, 604, 604, 1343, 1141, 1767, 1532, 1612, 1235, 1612, 1423, 1300, 1251, 1499, 1401, 2025, 1403, 1251, 1403, 799, 690, 799, 1716, 1024, 1024, 1255, 1300, 1126, 1300, 1260, 721, 1300, 1298, 569, 569, 1186, 569, 1995, 1298, 1253, 1300, 1300, 842, 1067, 803, 1298, 1212, 1675, 1212, 1212, 1075, 1303, 690, 1303, 1716];
// prettier-ignore
const BOLD = [713, 934, 1067, 1716, 1425, 2052, 1786, 627, 936, 936, 1071, 1716, 778, 850, 778, 748, 1425, 1425, 1425, 1425, 1425, 1425, 1425, 1425, 1425, 1425, 819, 819, 1716, 1716, 1716, 1188, 2048, 1585, 1561, 1503, 1700, 1399, 1399, 1681, 1714, 762, 762, 1587, 1305, 2038, 1714, 1741, 1501, 1741, 1577, 1475, 1397, 1663, 1585, 2259, 1579, 1483, 1485, 936, 748, 936, 1716, 1024, 1024, 1382, 1466, 1214, 1466, 1389, 891, 1466, 1458, 702, 702, 1362, 702, 2134, 1458, 1407, 1466, 1466, 1010, 1219, 979, 1458, 1335, 1892, 1321, 1335, 1192, 1458, 748, 1458, 1716];
/** Characters beyond ASCII that the figures use. */
const OTHER: Record<string, [number, number]> = {
  ω: [1715, 1780],
  σ: [1298, 1595],
  '×': [1716, 1716],
  '−': [1716, 1716],
  '≤': [1716, 1716],
  '≥': [1716, 1716],
  '·': [651, 778],
  '→': [1716, 1716],
  '…': [2048, 2048],
  '–': [1024, 1024],
  '—': [2048, 2048],
};

/** Width in pixels of `s` set at `size` px in DejaVu Sans (bold when asked). */
export function textWidth(s: string, size: number, bold = false): number {
  let units = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c >= 32 && c <= 126) units += (bold ? BOLD : REGULAR)[c - 32]!;
    else units += OTHER[ch]?.[bold ? 1 : 0] ?? 1300;
  }
  return (units / 2048) * size;
}

/** Escapes text and attribute values. */
export function esc(s: string | number): string {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Rounds coordinates to 0.01 px for compact output. */
export const n2 = (v: number): string => String(Math.round(v * 100) / 100);

export type Attrs = Record<string, string | number | undefined>;

export function attrs(a: Attrs): string {
  return Object.entries(a)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${typeof v === 'number' ? n2(v) : esc(v!)}"`)
    .join('');
}

/** An element; `children` is already-serialised SVG (or omitted for an empty element). */
export function el(tag: string, a: Attrs, children?: string): string {
  return children === undefined ? `<${tag}${attrs(a)}/>` : `<${tag}${attrs(a)}>${children}</${tag}>`;
}

export interface TextOpts {
  size?: number;
  anchor?: 'start' | 'middle' | 'end';
  bold?: boolean;
  fill?: string;
  /** Rotation in degrees around (x, y). */
  rotate?: number;
  /** Extra attributes (e.g. data-path, class). */
  extra?: Attrs;
}

export function text(x: number, y: number, s: string, o: TextOpts = {}): string {
  return el(
    'text',
    {
      x,
      y,
      'font-size': o.size ?? 12,
      'text-anchor': o.anchor && o.anchor !== 'start' ? o.anchor : undefined,
      'font-weight': o.bold ? 'bold' : undefined,
      fill: o.fill,
      transform: o.rotate ? `rotate(${n2(o.rotate)} ${n2(x)} ${n2(y)})` : undefined,
      ...o.extra,
    },
    esc(s),
  );
}

/** A complete SVG document of `width` x `height` px on a white background. */
export function svgDocument(width: number, height: number, body: string, title?: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${Math.ceil(width)}" height="${Math.ceil(height)}" viewBox="0 0 ${Math.ceil(width)} ${Math.ceil(height)}" font-family="${FONT_FAMILY}, sans-serif">\n` +
    (title ? `<title>${esc(title)}</title>\n` : '') +
    `<rect width="100%" height="100%" fill="#ffffff"/>\n${body}\n</svg>\n`
  );
}

/** A PNG (any encoded image) as an `<image>` element, embedded as a data URI. */
export function embeddedImage(png: Uint8Array, x: number, y: number, width: number, height: number, pixelated = true): string {
  const href = `data:image/png;base64,${Buffer.from(png).toString('base64')}`;
  return el('image', {
    x,
    y,
    width,
    height,
    href,
    'xlink:href': href,
    'image-rendering': pixelated ? 'optimizeSpeed' : undefined,
    preserveAspectRatio: 'none',
  });
}

/** The assets/fonts/ folder of the unetc package (from src/ through tsx and from the dist/ bundle). */
export function fontDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const f = join(dir, 'assets', 'fonts');
    if (existsSync(join(f, 'DejaVuSans.ttf'))) return f;
    dir = dirname(dir);
  }
  throw new Error('cannot find assets/fonts/ of the unetc package');
}

type ResvgModule = typeof import('@resvg/resvg-js');
let resvg: ResvgModule | undefined;

export interface RenderOptions {
  /** Pixels per SVG unit (default 1; 2 for a sharper figure). */
  scale?: number;
}

/** Renders an SVG document to PNG bytes with the shipped fonts only. */
export function svgToPng(svg: string, o: RenderOptions = {}): Buffer {
  resvg ??= createRequire(import.meta.url)('@resvg/resvg-js') as ResvgModule;
  const dir = fontDir();
  const r = new resvg.Resvg(svg, {
    font: {
      loadSystemFonts: false,
      fontFiles: [join(dir, 'DejaVuSans.ttf'), join(dir, 'DejaVuSans-Bold.ttf')],
      defaultFontFamily: FONT_FAMILY,
      sansSerifFamily: FONT_FAMILY,
    },
    fitTo: o.scale && o.scale !== 1 ? { mode: 'zoom', value: o.scale } : { mode: 'original' },
    background: '#ffffff',
  });
  return r.render().asPng();
}

/** Writes `svg` to `path` as SVG or, for a `.png` path, as PNG. Returns the bytes written. */
export function figureBytes(path: string, svg: string, o: RenderOptions = {}): Uint8Array {
  return path.toLowerCase().endsWith('.png') ? svgToPng(svg, o) : Buffer.from(svg, 'utf8');
}

/** Reads a PNG's size from its IHDR chunk. */
export function pngSize(png: Uint8Array): { width: number; height: number } {
  const b = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  if (b.length < 24 || b.readUInt32BE(12) !== 0x49484452) throw new Error('not a PNG');
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}
