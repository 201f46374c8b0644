/** Pictures of the code display: a box-drawn terminal picture and a standalone SVG, both from an LCD frame. */
import { type Segment, Segments, segmentsOf } from '../../firmware-sim/common/lcd.js';
import type { CodeDisplayStatus, LcdFrame } from '../../firmware-sim/code-display/index.js';

/** What the pictures need from the device's status. */
export type RenderStatus = Pick<
  CodeDisplayStatus,
  'serial' | 'digits' | 'batteryPercent' | 'lowBattery' | 'batteryEmpty'
>;

/**
 * The cells of the LCD: one per digit position, a gap for the space between the two groups.
 * A blank screen has the same cells, all unlit, so the picture keeps its shape.
 */
function cells(frame: LcdFrame, digits: number): string[] {
  if (frame.on && frame.text !== '') return [...frame.text];
  const half = Math.floor(digits / 2);
  return [...`${'·'.repeat(half)} ${'·'.repeat(digits - half)}`].map((c) => (c === '·' ? '' : c));
}

// ---------------------------------------------------------------------------------------------
// Terminal

/** One digit as three rows of three characters, segments drawn with _ and |. */
function bigDigit(glyph: string): [string, string, string] {
  const on = new Set<Segment>(segmentsOf(glyph));
  const h = (s: Segment): string => (on.has(s) ? '_' : ' ');
  const v = (s: Segment): string => (on.has(s) ? '|' : ' ');
  return [` ${h('a')} `, `${v('f')}${h('g')}${v('b')}`, `${v('e')}${h('d')}${v('c')}`];
}

/** A battery gauge of four blocks, e.g. "▮▮▮▯ 75%". */
function gauge(percent: number): string {
  const full = Math.max(0, Math.min(4, Math.ceil(percent / 25)));
  return `${'▮'.repeat(full)}${'▯'.repeat(4 - full)} ${Math.round(percent)}%`;
}

/**
 * The device as a small box-drawn picture for a terminal: the LCD with 7-segment digits drawn
 * from `_` and `|`, the low-battery sign on the LCD when lit, the button, the serial number and a
 * battery gauge. Plain Unicode, no colours; every line the same width.
 */
export function renderTerminal(frame: LcdFrame, status: RenderStatus): string {
  const rows: [string, string, string] = ['', '', ''];
  for (const c of cells(frame, status.digits)) {
    if (c === ' ') {
      for (let i = 0; i < 3; i++) rows[i as 0 | 1 | 2] += '  ';
      continue;
    }
    const d = bigDigit(c);
    for (let i = 0; i < 3; i++) rows[i as 0 | 1 | 2] += d[i as 0 | 1 | 2];
  }
  const lcdWidth = Math.max(rows[0].length, 20) + 2;
  const sign = frame.on && frame.lowBattery ? 'LOW BAT' : '';
  const lcdLines = [
    sign.padStart(lcdWidth - 1) + ' ',
    ...rows.map((r) => ` ${r}`.padEnd(lcdWidth)),
  ];
  const inner = lcdWidth + 4;
  const line = (s: string): string => `│${s.padEnd(inner)}│`;
  const center = (s: string): string => {
    const left = Math.floor((inner - s.length) / 2);
    return line(' '.repeat(Math.max(0, left)) + s);
  };
  const battery = status.batteryEmpty ? 'battery empty' : `battery ${gauge(status.batteryPercent)}`;
  const out = [
    `╭${'─'.repeat(inner)}╮`,
    line(' MitID'),
    line(` ┌${'─'.repeat(lcdWidth)}┐`),
    ...lcdLines.map((l) => line(` │${l}│`)),
    line(` └${'─'.repeat(lcdWidth)}┘`),
    center('( ● )'),
    line(''),
    line(` SN ${status.serial}`),
    line(` ${battery}${status.lowBattery && !status.batteryEmpty ? ' LOW' : ''}`),
    `╰${'─'.repeat(inner)}╯`,
  ];
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------
// SVG

const DIGIT_W = 22;
const DIGIT_H = 40;
const STROKE = 5;
const GAP = 1;
const PITCH = 32;
const SPACE = 16;

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function pts(p: [number, number][]): string {
  return p.map(([x, y]) => `${round(x)},${round(y)}`).join(' ');
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

/** A hexagonal segment from (x0,y) to (x1,y), or (x,y0) to (x,y1) when vertical. */
function bar(x0: number, y0: number, x1: number, y1: number): string {
  const t = STROKE / 2;
  if (y0 === y1) {
    const [a, b] = [x0 + GAP, x1 - GAP];
    return pts([
      [a, y0],
      [a + t, y0 - t],
      [b - t, y0 - t],
      [b, y0],
      [b - t, y0 + t],
      [a + t, y0 + t],
    ]);
  }
  const [a, b] = [y0 + GAP, y1 - GAP];
  return pts([
    [x0, a],
    [x0 + t, a + t],
    [x0 + t, b - t],
    [x0, b],
    [x0 - t, b - t],
    [x0 - t, a + t],
  ]);
}

/** The polygon of each segment of a digit whose top-left corner is (x, y). */
function segmentPolygons(x: number, y: number): Record<Segment, string> {
  const w = DIGIT_W;
  const m = y + DIGIT_H / 2;
  const b = y + DIGIT_H;
  return {
    a: bar(x, y, x + w, y),
    b: bar(x + w, y, x + w, m),
    c: bar(x + w, m, x + w, b),
    d: bar(x, b, x + w, b),
    e: bar(x, m, x, b),
    f: bar(x, y, x, m),
    g: bar(x, m, x + w, m),
  };
}

/**
 * The device as a standalone SVG: body, LCD with 7-segment digits drawn as polygons, the button,
 * the serial number and a battery symbol. Each digit is a `<g data-role="digit">` carrying
 * `data-position` and `data-glyph`; each segment a polygon with `data-segment` (a–g) and
 * `data-lit` ("true"/"false"), so tests and tools can read the screen back. Unlit segments are
 * drawn faintly, as on a real LCD; a blank screen lights none.
 */
export function renderSvg(frame: LcdFrame, status: RenderStatus): string {
  const cs = cells(frame, status.digits);
  const lcdInnerW = cs.reduce((w, c) => w + (c === ' ' ? SPACE : PITCH), 0) - (PITCH - DIGIT_W);
  const lcdW = lcdInnerW + 48;
  const width = lcdW + 40;
  const lcdX = 20;
  const lcdY = 44;
  const lcdH = 76;
  const height = 250;
  const shown = frame.on && frame.code !== null ? `screen shows ${frame.text}` : 'screen blank';
  const title = `MitID code display ${status.serial}: ${shown}`;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-labelledby="cd-title cd-desc">`,
    `<title id="cd-title">${escapeXml(title)}</title>`,
    `<desc id="cd-desc">${escapeXml(`Battery ${status.batteryEmpty ? 'empty' : `${Math.round(status.batteryPercent)}%`}${status.lowBattery ? ', low' : ''}.`)}</desc>`,
    `<rect data-role="body" x="2" y="2" width="${width - 4}" height="${height - 4}" rx="24" fill="#2b2f36" stroke="#111" stroke-width="2"/>`,
    `<text x="${width / 2}" y="30" text-anchor="middle" font-family="sans-serif" font-size="14" font-weight="bold" fill="#f4f4f4">MitID</text>`,
    `<rect data-role="lcd" data-on="${frame.on}" x="${lcdX}" y="${lcdY}" width="${lcdW}" height="${lcdH}" rx="6" fill="${frame.on ? '#c9d8b6' : '#aab59c'}" stroke="#555" stroke-width="2"/>`,
  );
  let x = lcdX + 24;
  const y = lcdY + (lcdH - DIGIT_H) / 2 + 4;
  let position = 0;
  for (const c of cs) {
    if (c === ' ') {
      x += SPACE;
      continue;
    }
    const lit = new Set<Segment>(frame.on ? segmentsOf(c) : []);
    const polys = segmentPolygons(x, y);
    const segs = Segments.map((s) => {
      const on = lit.has(s);
      return `<polygon data-segment="${s}" data-lit="${on}" points="${polys[s]}" fill="#1d2a14" fill-opacity="${on ? 1 : 0.07}"/>`;
    }).join('');
    parts.push(
      `<g data-role="digit" data-position="${position}" data-glyph="${frame.on ? escapeXml(c) : ''}">${segs}</g>`,
    );
    position++;
    x += PITCH;
  }
  if (frame.on && frame.lowBattery) {
    // The low-battery sign in the LCD's top-right corner: a small cell with one bar.
    const bx = lcdX + lcdW - 30;
    parts.push(
      `<g data-role="low-battery"><rect x="${bx}" y="${lcdY + 6}" width="18" height="9" fill="none" stroke="#1d2a14" stroke-width="1.5"/><rect x="${bx + 18}" y="${lcdY + 8.5}" width="2" height="4" fill="#1d2a14"/><rect x="${bx + 2}" y="${lcdY + 8}" width="3" height="5" fill="#1d2a14"/></g>`,
    );
  }
  const cy = lcdY + lcdH + 48;
  parts.push(
    `<g data-role="button"><circle cx="${width / 2}" cy="${cy}" r="24" fill="#1a1d22" stroke="#000" stroke-width="2"/><circle cx="${width / 2}" cy="${cy}" r="17" fill="#3c4350"/></g>`,
    `<text data-role="serial" x="24" y="${height - 18}" font-family="monospace" font-size="12" fill="#d8d8d8">SN ${escapeXml(status.serial)}</text>`,
  );
  const pct = status.batteryEmpty ? 0 : Math.max(0, Math.min(100, status.batteryPercent));
  const bx = width - 64;
  const by = height - 30;
  const fillW = round((pct / 100) * 32);
  const colour = status.batteryEmpty || status.lowBattery ? '#d9534f' : '#7cc576';
  parts.push(
    `<g data-role="battery" data-percent="${round(pct)}" data-low="${status.lowBattery}" data-empty="${status.batteryEmpty}">`,
    `<rect x="${bx}" y="${by}" width="36" height="16" rx="2" fill="none" stroke="#d8d8d8" stroke-width="2"/>`,
    `<rect x="${bx + 36}" y="${by + 5}" width="3" height="6" fill="#d8d8d8"/>`,
    `<rect x="${bx + 2}" y="${by + 2}" width="${fillW}" height="12" fill="${colour}"/>`,
    `</g>`,
    `</svg>`,
  );
  return parts.join('\n') + '\n';
}
