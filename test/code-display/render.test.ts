// Pictures of the code display: the SVG is valid standalone XML whose lit segments read back as the code.
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { renderSvg, renderTerminal, type RenderStatus } from '../../devices/code-display/index.js';
import type { LcdFrame } from '../../firmware-sim/code-display/index.js';
import { describeWithTool, toolAvailable } from '../support/tools.js';

// The usual 7-segment encoding (segments a-g clockwise from the top, g in the middle), written
// out here independently of firmware-sim/common/lcd.ts.
const SEVEN: Record<string, string> = {
  '0': 'abcdef',
  '1': 'bc',
  '2': 'abdeg',
  '3': 'abcdg',
  '4': 'bcfg',
  '5': 'acdfg',
  '6': 'acdefg',
  '7': 'abc',
  '8': 'abcdefg',
  '9': 'abcdfg',
};

const status: RenderStatus = {
  serial: 'CD-42',
  digits: 6,
  batteryPercent: 73.4,
  lowBattery: false,
  batteryEmpty: false,
};
const on = (code: string, lowBattery = false): LcdFrame => ({
  on: true,
  code,
  text: `${code.slice(0, code.length >> 1)} ${code.slice(code.length >> 1)}`,
  lowBattery,
  deviceTime: 0,
});
const off: LcdFrame = { on: false, code: null, text: '', lowBattery: false, deviceTime: 0 };

type Node = Record<string, unknown>;
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  isArray: (n) => ['g', 'polygon', 'rect', 'text', 'circle'].includes(n),
});

/** Reads the LCD back from the SVG: per digit position, the segments whose data-lit is "true". */
function readBack(svg: string): { glyphs: string[]; lit: string[] } {
  const doc = parser.parse(svg) as { svg: Node };
  const digits = (doc.svg.g as Node[]).filter((g) => g['@data-role'] === 'digit');
  digits.sort((a, b) => Number(a['@data-position']) - Number(b['@data-position']));
  return {
    glyphs: digits.map((g) => String(g['@data-glyph'])),
    lit: digits.map((g) =>
      (g.polygon as Node[])
        .filter((p) => p['@data-lit'] === 'true')
        .map((p) => String(p['@data-segment']))
        .sort()
        .join(''),
    ),
  };
}

describe('renderSvg', () => {
  it('is a valid standalone SVG with xmlns, viewBox and a title', () => {
    const svg = renderSvg(on('123456'), status);
    expect(XMLValidator.validate(svg)).toBe(true);
    const doc = parser.parse(svg) as { svg: Node };
    expect(doc.svg['@xmlns']).toBe('http://www.w3.org/2000/svg');
    expect(String(doc.svg['@viewBox'])).toMatch(/^0 0 \d+ \d+$/);
    const title = String((doc.svg.title as Node)['#text']);
    expect(title).toContain('CD-42');
    expect(title).toContain('123 456');
    expect(svg).toContain('SN CD-42');
  });

  it('lights exactly the segments of each digit of the code', () => {
    const { glyphs, lit } = readBack(renderSvg(on('907185'), status));
    expect(glyphs).toEqual(['9', '0', '7', '1', '8', '5']);
    expect(lit).toEqual(['9', '0', '7', '1', '8', '5'].map((d) => SEVEN[d]));
  });

  it('property: any 6-8 digit code reads back from the segments', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\d{6,8}$/), fc.boolean(), (code, low) => {
        const svg = renderSvg(on(code, low), { ...status, digits: code.length });
        expect(XMLValidator.validate(svg)).toBe(true);
        const { lit } = readBack(svg);
        const decode = Object.fromEntries(Object.entries(SEVEN).map(([d, s]) => [s, d]));
        expect(lit.map((s) => decode[s]).join('')).toBe(code);
        expect(svg.includes('data-role="low-battery"')).toBe(low);
      }),
      { numRuns: 100 },
    );
  });

  it('a blank screen lights nothing and keeps its digit cells', () => {
    const svg = renderSvg(off, status);
    const { glyphs, lit } = readBack(svg);
    expect(glyphs).toEqual(['', '', '', '', '', '']);
    expect(lit.every((s) => s === '')).toBe(true);
    expect(svg).toContain('screen blank');
    expect(svg).toContain('data-on="false"');
  });

  it('shows the battery level, low and empty', () => {
    const doc = (s: RenderStatus) =>
      ((parser.parse(renderSvg(off, s)) as { svg: Node }).svg.g as Node[]).find(
        (g) => g['@data-role'] === 'battery',
      )!;
    expect(doc(status)).toMatchObject({ '@data-percent': '73.4', '@data-low': 'false' });
    expect(doc({ ...status, batteryPercent: 5, lowBattery: true })).toMatchObject({
      '@data-low': 'true',
    });
    expect(
      doc({ ...status, batteryPercent: 0, lowBattery: true, batteryEmpty: true }),
    ).toMatchObject({ '@data-empty': 'true', '@data-percent': '0' });
  });

  it('escapes what it prints', () => {
    const svg = renderSvg(on('123456'), { ...status, serial: '<&"x">' });
    expect(XMLValidator.validate(svg)).toBe(true);
    expect(svg).not.toContain('<&');
  });
});

describeWithTool(
  'python3',
  toolAvailable('python3'),
  'renderSvg read by an independent XML parser',
  () => {
    it("python's ElementTree parses it and finds the SVG namespace and the lit segments", () => {
      const svg = renderSvg(on('246801'), status);
      const script = [
        'import sys, xml.etree.ElementTree as ET',
        'root = ET.fromstring(sys.stdin.read())',
        'ns = "{http://www.w3.org/2000/svg}"',
        'assert root.tag == ns + "svg", root.tag',
        'assert root.find(ns + "title") is not None',
        'for g in root.iter(ns + "g"):',
        '    if g.get("data-role") == "digit":',
        '        print("".join(sorted(p.get("data-segment") for p in g.iter(ns + "polygon") if p.get("data-lit") == "true")))',
      ].join('\n');
      const r = spawnSync('python3', ['-c', script], { input: svg, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim().split('\n')).toEqual([...'246801'].map((d) => SEVEN[d]));
    });
  },
);

describe('renderTerminal', () => {
  it('draws the code as 7-segment digits in a box of even width', () => {
    const pic = renderTerminal(on('123456'), status);
    const lines = pic.split('\n');
    const width = [...lines[0]!].length;
    for (const l of lines) expect([...l].length).toBe(width);
    expect(pic).toContain('SN CD-42');
    expect(pic).toContain('73%');
    // The three rows of "123 456" drawn with _ and |, as a 7-segment LCD shows them.
    expect(pic).toContain('     _  _       _  _ ');
    expect(pic).toContain('  | _| _|  |_||_ |_ ');
    expect(pic).toContain('  ||_  _|    | _||_|');
    expect(pic).not.toContain('LOW BAT');
  });

  it('shows the low-battery sign on the LCD only while it is on, and a blank LCD', () => {
    expect(renderTerminal(on('000000', true), { ...status, lowBattery: true })).toContain(
      'LOW BAT',
    );
    const blank = renderTerminal(off, { ...status, lowBattery: true });
    expect(blank).not.toContain('LOW BAT');
    expect(blank).not.toMatch(/[_|]{1}[_|]/);
    expect(renderTerminal(off, { ...status, batteryEmpty: true })).toContain('battery empty');
  });
});
