/** The segment LCD shared by the code display and the audio reader: 7-segment glyphs and code layout. */

/**
 * The seven segments of one digit, named as on every 7-segment datasheet: a top, b upper right,
 * c lower right, d bottom, e lower left, f upper left, g middle.
 */
export const Segments = ['a', 'b', 'c', 'd', 'e', 'f', 'g'] as const;
export type Segment = (typeof Segments)[number];

/** The segments lit for each glyph the LCD can show. */
export const SegmentGlyphs: Readonly<Record<string, readonly Segment[]>> = Object.freeze({
  '0': ['a', 'b', 'c', 'd', 'e', 'f'],
  '1': ['b', 'c'],
  '2': ['a', 'b', 'd', 'e', 'g'],
  '3': ['a', 'b', 'c', 'd', 'g'],
  '4': ['b', 'c', 'f', 'g'],
  '5': ['a', 'c', 'd', 'f', 'g'],
  '6': ['a', 'c', 'd', 'e', 'f', 'g'],
  '7': ['a', 'b', 'c'],
  '8': ['a', 'b', 'c', 'd', 'e', 'f', 'g'],
  '9': ['a', 'b', 'c', 'd', 'f', 'g'],
  '-': ['g'],
  ' ': [],
});

/** The segments lit for `glyph`; an unknown glyph lights nothing. */
export function segmentsOf(glyph: string): readonly Segment[] {
  return SegmentGlyphs[glyph] ?? [];
}

/**
 * How a code is laid out on the LCD: two groups split in the middle with a space, the way the
 * tokens print it ("123 456"; seven digits "123 4567"; eight "1234 5678").
 */
export function lcdText(code: string): string {
  const half = Math.floor(code.length / 2);
  return `${code.slice(0, half)} ${code.slice(half)}`;
}
