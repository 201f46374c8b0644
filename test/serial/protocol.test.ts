/** The serial line protocol pinned by literal lines (docs/serial-protocol.md), not only round trips. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SerialError } from '../../src/core/errors.js';
import {
  LineSplitter,
  MAX_LINE_BYTES,
  encodeValue,
  formatErr,
  formatNotice,
  formatOk,
  formatRequest,
  identityFields,
  lcdFields,
  lineText,
  parseAnswer,
  parseIdentity,
  parseLcd,
  parseRequest,
  parseStatus,
  parseTimeArgument,
  statusFields,
  timeFields,
} from '../../src/serial/protocol.js';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('requests: literal lines', () => {
  const table: Array<[string, unknown]> = [
    ['PRESS', { command: 'PRESS', args: [] }],
    ['press', { command: 'PRESS', args: [] }],
    ['  Press  ', { command: 'PRESS', args: [] }],
    ['#12 PRESS', { tag: '#12', command: 'PRESS', args: [] }],
    ['#a-b_C read', { tag: '#a-b_C', command: 'READ', args: [] }],
    ['TIME 1795608000000', { command: 'TIME', args: ['1795608000000'] }],
    ['time  2026-11-25T12:00:00Z', { command: 'TIME', args: ['2026-11-25T12:00:00Z'] }],
    ['#7 PING hello', { tag: '#7', command: 'PING', args: ['hello'] }],
    ['', null],
    ['   ', null],
    ['#', { code: 'bad-syntax', message: 'a tag is # and 1 to 16 letters, digits, - or _' }],
    [
      '#12345678901234567 ID',
      { code: 'bad-syntax', message: 'a tag is # and 1 to 16 letters, digits, - or _' },
    ],
    ['#1', { tag: '#1', code: 'bad-syntax', message: 'a tag needs a command' }],
    ['#1 !!', { tag: '#1', code: 'unknown-command', message: 'unknown command; try HELP' }],
    ['9LIVES', { code: 'unknown-command', message: 'unknown command; try HELP' }],
  ];
  it.each(table)('%j', (line, expected) => {
    const r = parseRequest(line);
    if (expected === null) expect(r).toBeNull();
    else expect(r).toStrictEqual(expected);
  });

  it('formats what a host sends', () => {
    expect(formatRequest('press')).toBe('PRESS');
    expect(formatRequest('TIME', ['1795608000000'], '#3')).toBe('#3 TIME 1795608000000');
    expect(() => formatRequest('PRESS', ['two words'])).toThrow(SerialError);
    expect(() => formatRequest('PRESS', [], 'no-hash')).toThrow(SerialError);
    expect(() => formatRequest('PR ESS')).toThrow(SerialError);
  });
});

describe('answers: literal lines', () => {
  it('formats OK lines with bare and quoted values', () => {
    expect(formatOk()).toBe('OK');
    expect(formatOk([], '#12')).toBe('#12 OK');
    expect(
      formatOk(
        lcdFields({
          on: true,
          text: '123 456',
          code: '123456',
          lowBattery: false,
          deviceTime: 1795608000000,
        }),
        '#12',
      ),
    ).toBe('#12 OK code=123456 text="123 456" on=1 low=0 time=1795608000000');
    expect(
      formatOk(lcdFields({ on: false, text: '', code: null, lowBattery: false, deviceTime: 5 })),
    ).toBe('OK text="" on=0 low=0 time=5');
    expect(
      formatOk(
        identityFields({
          kind: 'code-display',
          serial: 'CD-0001',
          firmware: '1.2.0',
          model: 'Kodeviser 2',
        }),
      ),
    ).toBe('OK proto=1 kind=code-display serial=CD-0001 fw=1.2.0 model="Kodeviser 2"');
    expect(formatOk(timeFields(1795608000123))).toBe(
      'OK time=1795608000123 iso=2026-11-25T12:00:00.123Z',
    );
    expect(
      formatOk(
        statusFields({
          deviceTime: 1795608000000,
          batteryPercent: 97.4,
          presses: 12,
          driftPpm: 12.5,
          lowBattery: false,
          extra: { offset: -250, time: 1, 'Bad Key': 1 },
        }),
      ),
    ).toBe(
      'OK time=1795608000000 iso=2026-11-25T12:00:00.000Z battery=97 presses=12 drift=+12.5 low=0 offset=-250',
    );
    expect(formatOk(statusFields({ deviceTime: 0, driftPpm: -3 }))).toBe(
      'OK time=0 iso=1970-01-01T00:00:00.000Z drift=-3',
    );
  });

  it('refuses to make an answer longer than a receiver accepts', () => {
    expect(formatOk([['text', 'x'.repeat(MAX_LINE_BYTES - 8)]])).toHaveLength(MAX_LINE_BYTES);
    expect(() => formatOk([['text', 'x'.repeat(MAX_LINE_BYTES - 7)]])).toThrow(/exceed 256/);
  });

  it('escapes what is not bare', () => {
    expect(encodeValue('plain')).toBe('plain');
    expect(encodeValue('')).toBe('""');
    expect(encodeValue('a "b" \\c')).toBe('"a \\"b\\" \\\\c"');
    expect(encodeValue('LAV BATTERI ø')).toBe('"LAV BATTERI \\xc3\\xb8"');
    expect(encodeValue(true)).toBe('1');
    expect(encodeValue(-2.5)).toBe('-2.5');
  });

  it('formats ERR lines as one printable line within the limit', () => {
    expect(formatErr('unknown-command', 'unknown command; try HELP')).toBe(
      'ERR unknown-command unknown command; try HELP',
    );
    expect(formatErr('battery-empty', 'the battery is empty', '#4')).toBe(
      '#4 ERR battery-empty the battery is empty',
    );
    expect(formatErr('Not A Code!', 'x')).toBe('ERR internal x');
    expect(formatErr('bad-time', 'two\nlines\u0000')).toBe('ERR bad-time two lines');
    const long = formatErr('internal', 'x'.repeat(1000));
    expect(long.length).toBe(MAX_LINE_BYTES);
    expect(long.endsWith('...')).toBe(true);
    expect(formatNotice('MITID-SERIAL 1 ready')).toBe('* MITID-SERIAL 1 ready');
  });

  it('parses answers as a host reads them', () => {
    const a = parseAnswer('#12 OK code=123456 text="123 456" on=1 low=0 time=1795608000000');
    expect(a.type).toBe('ok');
    if (a.type !== 'ok') return;
    expect(a.tag).toBe('#12');
    expect([...a.fields]).toStrictEqual([
      ['code', '123456'],
      ['text', '123 456'],
      ['on', '1'],
      ['low', '0'],
      ['time', '1795608000000'],
    ]);
    expect(parseLcd(a.fields)).toStrictEqual({
      on: true,
      text: '123 456',
      code: '123456',
      lowBattery: false,
      deviceTime: 1795608000000,
    });
    // Case-insensitive status word and field names; CR already stripped by framing.
    const b = parseAnswer('ok ON=0 Time=7 text=""');
    expect(b.type === 'ok' && parseLcd(b.fields)).toStrictEqual({
      on: false,
      text: '',
      code: null,
      lowBattery: false,
      deviceTime: 7,
    });
    expect(parseAnswer('#9 ERR battery-empty the battery is empty')).toStrictEqual({
      type: 'err',
      tag: '#9',
      code: 'battery-empty',
      message: 'the battery is empty',
    });
    expect(parseAnswer('ERR too-long')).toStrictEqual({
      type: 'err',
      code: 'too-long',
      message: '',
    });
    expect(parseAnswer('* MITID-SERIAL 1 kind=code-display')).toStrictEqual({
      type: 'notice',
      text: 'MITID-SERIAL 1 kind=code-display',
    });
    const q = parseAnswer('OK text="a \\"b\\" \\\\c \\xc3\\xb8"');
    expect(q.type === 'ok' && q.fields.get('text')).toBe('a "b" \\c ø');
  });

  it('parses ID and STATUS', () => {
    const id = parseAnswer('OK proto=1 kind=code-display serial=CD-0001 fw=1.2.0');
    expect(id.type === 'ok' && parseIdentity(id.fields)).toStrictEqual({
      proto: 1,
      kind: 'code-display',
      serial: 'CD-0001',
      firmware: '1.2.0',
    });
    const st = parseAnswer(
      'OK time=1795608000000 battery=97 presses=12 drift=+12.5 low=0 offset=-250 iso=x',
    );
    expect(st.type === 'ok' && parseStatus(st.fields)).toStrictEqual({
      deviceTime: 1795608000000,
      batteryPercent: 97,
      presses: 12,
      driftPpm: 12.5,
      lowBattery: false,
      extra: { offset: '-250' },
    });
  });

  const broken: Array<[string, string]> = [
    ['', 'neither'],
    ['YES code=1', 'neither'],
    ['OK code', 'without ='],
    ['OK =1', 'field name'],
    ['OK code=1 code=2', 'twice'],
    ['OK text="open', 'unterminated'],
    ['OK text="x"y', 'after quoted'],
    ['OK text="\\q"', 'bad escape'],
    ['OK text="\\xff"', 'not UTF-8'],
    ['OK a=b"c', 'bad character'],
    ['ERR', 'valid code'],
    ['ERR Bad!', 'valid code'],
    ['#bad! OK', 'malformed tag'],
    ['OK caf\u00e9=1', 'printable'],
  ];
  it.each(broken)('rejects %j as a protocol error', (line, why) => {
    let err: unknown;
    try {
      parseAnswer(line);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SerialError);
    expect((err as SerialError).code).toBe('protocol');
    expect((err as SerialError).message).toContain(why);
  });

  it('rejects typed answers that break their rules', () => {
    const f = (s: string): ReadonlyMap<string, string> => {
      const a = parseAnswer(s);
      if (a.type !== 'ok') throw new Error('not ok');
      return a.fields;
    };
    expect(() => parseLcd(f('OK on=1 code=12ab time=1'))).toThrow(/code=/);
    expect(() => parseLcd(f('OK on=2 time=1'))).toThrow(/on= must be 0 or 1/);
    expect(() => parseLcd(f('OK on=1'))).toThrow(/lacks time=/);
    expect(() => parseLcd(f('OK on=1 time=-5'))).toThrow(/out of range/);
    expect(() => parseLcd(f('OK on=1 time=99999999999999999'))).toThrow(/not an integer/);
    expect(() => parseIdentity(f('OK proto=1 kind=x'))).toThrow(/needs/);
    expect(() => parseStatus(f('OK time=1 battery=101'))).toThrow(/over 100/);
    expect(() => parseStatus(f('OK time=1 drift=fast'))).toThrow(/not a number/);
  });
});

describe('TIME arguments', () => {
  const table: Array<[string, number | null]> = [
    ['1795608000000', 1795608000000],
    ['0', 0],
    ['2026-11-25T12:00:00Z', 1795608000000],
    ['2026-11-25t12:00:00.5z', 1795608000500],
    ['2026-11-25T13:00+01:00', 1795608000000],
    ['2026-11-25T12:00:00', null], // no zone: ambiguous on a device without one
    ['2026-11-25', null],
    ['-1', null],
    ['1e12', null],
    ['9999999999999999', null],
    ['253402300800000', null], // year 10000
    ['tomorrow', null],
  ];
  it.each(table)('%j', (arg, ms) => expect(parseTimeArgument(arg)).toBe(ms));
});

describe('framing', () => {
  it('splits on LF, drops a CR before it, and keeps partial lines across chunks', () => {
    const s = new LineSplitter(16);
    expect(s.push(ascii('PR'))).toStrictEqual([]);
    expect(s.pending).toBe(2);
    const ev = s.push(ascii('ESS\r\nID\n\n'));
    expect(ev.map((e) => (e.type === 'line' ? lineText(e.bytes) : e))).toStrictEqual([
      'PRESS',
      'ID',
      '',
    ]);
  });

  it('reports an over-long line once, then carries on', () => {
    const s = new LineSplitter(8);
    const ev = s.push(ascii('123456789\nPING\n12345678\r\n123456789\r\n'));
    expect(ev).toStrictEqual([
      { type: 'overflow', dropped: 9 },
      { type: 'line', bytes: ascii('PING') },
      { type: 'line', bytes: ascii('12345678') },
      { type: 'overflow', dropped: 10 },
    ]);
    // A flood without LF holds no more than the limit.
    s.push(new Uint8Array(100_000).fill(0x41));
    expect(s.push(ascii('\nID\n'))).toStrictEqual([
      { type: 'overflow', dropped: 100_000 },
      { type: 'line', bytes: ascii('ID') },
    ]);
  });

  it('lets only printable ASCII and TAB through as text', () => {
    expect(lineText(ascii('PING\tx'))).toBe('PING x');
    expect(lineText(new Uint8Array([0x50, 0x00]))).toBeNull();
    expect(lineText(new Uint8Array([0xff, 0xfe]))).toBeNull();
    expect(lineText(new Uint8Array([0x1b, 0x5b, 0x41]))).toBeNull();
  });
});

/** Lines a host or device might meet: raw bytes, ASCII noise, and near-misses built from real words. */
const hostileLine = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((b) => String.fromCharCode(...b)),
  fc.string({ unit: 'grapheme-ascii', maxLength: 300 }),
  fc
    .array(
      fc.constantFrom(
        '#1',
        '#',
        'OK',
        'ERR',
        'ok',
        'PRESS',
        'x=1',
        'text="a b"',
        '"',
        '\\',
        '=',
        '*',
        ' ',
        'code=',
        '\\x4',
      ),
      { maxLength: 12 },
    )
    .map((w) => w.join(' ')),
);

describe('properties', () => {
  it('parseRequest and parseAnswer never fail with anything but a SerialError', () => {
    fc.assert(
      fc.property(hostileLine, (s) => {
        const r = parseRequest(s);
        expect(r === null || typeof r === 'object').toBe(true);
        try {
          parseAnswer(s);
        } catch (e) {
          expect(e).toBeInstanceOf(SerialError);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('any value survives formatOk then parseAnswer, and the line stays printable ASCII', () => {
    const chars = (set: string, max: number) =>
      fc.string({ unit: fc.constantFrom(...set), minLength: 1, maxLength: max });
    const key = chars('abcdefghijklmnopqrstuvwxyz0123456789_-', 10).map((k) => `k${k}`);
    const value = fc.oneof(
      fc.string({ unit: 'grapheme-ascii', maxLength: 20 }),
      fc.string({
        unit: fc.constantFrom('ø', 'æ', '€', '\u0000', '"', '\\', ' ', 'a', '\n'),
        maxLength: 8,
      }),
    );
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(key, value), {
          selector: ([k]) => k,
          maxLength: 5,
        }),
        fc.option(
          chars('AZaz09_-', 16).map((t) => `#${t}`),
          { nil: undefined },
        ),
        (fields, tag) => {
          let line: string;
          try {
            line = formatOk(fields, tag);
          } catch (e) {
            expect((e as SerialError).code).toBe('answer-too-long');
            return;
          }
          expect(line.length).toBeLessThanOrEqual(MAX_LINE_BYTES);
          expect(line).toMatch(/^[\x20-\x7e]*$/);
          const a = parseAnswer(line);
          expect(a.type).toBe('ok');
          if (a.type !== 'ok') return;
          expect(a.tag).toBe(tag);
          expect([...a.fields]).toStrictEqual(fields);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('ERR lines are always one printable line within the limit', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), hostileLine, (code, msg) => {
        const line = formatErr(code, msg, '#1');
        expect(line.length).toBeLessThanOrEqual(MAX_LINE_BYTES);
        expect(line).toMatch(/^#1 ERR [a-z][a-z0-9-]*( [\x20-\x7e]*)?$/);
        expect(parseAnswer(line).type).toBe('err');
      }),
    );
  });

  it('framing does not depend on how the bytes were chunked', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 400 }).map((b) => b.map((x) => (x % 7 === 0 ? 0x0a : x))),
        fc.array(fc.nat(400), { maxLength: 8 }),
        (bytes, cuts) => {
          const whole = new LineSplitter(32).push(bytes);
          const s = new LineSplitter(32);
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort(
            (x, y) => x - y,
          );
          const events = [];
          let prev = 0;
          for (const p of [...points, bytes.length]) {
            events.push(...s.push(bytes.subarray(prev, p)));
            prev = p;
          }
          expect(events).toStrictEqual(whole);
          for (const e of whole)
            if (e.type === 'line') expect(e.bytes.length).toBeLessThanOrEqual(32);
        },
      ),
      { numRuns: 500 },
    );
  });
});
