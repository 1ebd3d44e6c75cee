/**
 * A tiny 5x7 bitmap font for chart tick labels, so charts need no font files or canvas library.
 * Only the characters numbers need: digits, '.', '-', '+', 'e'. Each glyph is 7 rows of 5 bits,
 * most significant bit leftmost.
 */
const ROWS: Record<string, string> = {
  '0': '01110 10001 10011 10101 11001 10001 01110',
  '1': '00100 01100 00100 00100 00100 00100 01110',
  '2': '01110 10001 00001 00010 00100 01000 11111',
  '3': '11111 00010 00100 00010 00001 10001 01110',
  '4': '00010 00110 01010 10010 11111 00010 00010',
  '5': '11111 10000 11110 00001 00001 10001 01110',
  '6': '00110 01000 10000 11110 10001 10001 01110',
  '7': '11111 00001 00010 00100 01000 01000 01000',
  '8': '01110 10001 10001 01110 10001 10001 01110',
  '9': '01110 10001 10001 01111 00001 00010 01100',
  '.': '00000 00000 00000 00000 00000 01100 01100',
  '-': '00000 00000 00000 11111 00000 00000 00000',
  '+': '00000 00100 00100 11111 00100 00100 00000',
  e: '00000 00000 01110 10001 11111 10000 01110',
};

export const GLYPH_WIDTH = 5;
export const GLYPH_HEIGHT = 7;
/** Horizontal advance per character: glyph plus one pixel of spacing. */
export const GLYPH_ADVANCE = 6;

const GLYPHS = new Map<string, boolean[][]>(
  Object.entries(ROWS).map(([ch, rows]) => [ch, rows.split(' ').map((r) => [...r].map((b) => b === '1'))]),
);

/** The glyph's pixels (rows of booleans), or undefined for a character the font lacks (drawn as a gap). */
export function glyph(ch: string): boolean[][] | undefined {
  return GLYPHS.get(ch);
}

export function textWidth(text: string): number {
  return text.length === 0 ? 0 : text.length * GLYPH_ADVANCE - 1;
}
