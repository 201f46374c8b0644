// OATH CSV import and export, format detection, and importSeedFile.
import { describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from '../../src/core/bytes.js';
import type { OtpKey } from '../../src/otp/types.js';
import {
  detectSeedFormat,
  exportOathCsv,
  exportPskc,
  importOathCsv,
  importSeedFile,
  OATH_CSV_HEADER,
} from '../../src/otp/seed/index.js';
import { expectSeedError, fixture, plain } from './helpers.js';

const K1 = '3132333435363738393031323334353637383930';
const K2 = '00112233445566778899aabbccddeeff';

describe('importOathCsv', () => {
  it('reads HOTP and TOTP lines, with a header, comments, blank lines, spaces and CRLF', () => {
    const text = `serial,hexkey,type,digits,counter_or_period\r\n# a comment\r\n\r\n CD-1 , ${K1} , hotp , 6 , 5 \r\nCD-2,${K2.toUpperCase()},TOTP,8,60\r\n`;
    expect(importOathCsv(text).map(plain)).toEqual([
      { serial: 'CD-1', type: 'hotp', secret: K1, algorithm: 'SHA1', digits: 6, counter: 5 },
      { serial: 'CD-2', type: 'totp', secret: K2, algorithm: 'SHA1', digits: 8, period: 60 },
    ]);
  });

  it('reads bytes, with or without a header', () => {
    expect(importOathCsv(utf8(`X1,${K2},totp,6,30\n`))).toHaveLength(1);
  });

  const bad: [string, string, number][] = [
    ['too few fields', `A1,${K1},hotp,6`, 1],
    ['too many fields', `A1,${K1},hotp,6,0,x`, 1],
    ['odd-length key', `A1,${K1}0,hotp,6,0`, 1],
    ['non-hex key', `A1,${K1.replace('31', 'zz')},hotp,6,0`, 1],
    ['empty key', 'A1,,hotp,6,0', 1],
    ['empty serial', `,${K1},hotp,6,0`, 1],
    ['bad type', `A1,${K1},ocra,6,0`, 1],
    ['5 digits', `A1,${K1},hotp,5,0`, 1],
    ['9 digits', `A1,${K1},totp,9,30`, 1],
    ['negative counter', `A1,${K1},hotp,6,-1`, 1],
    ['counter not a number', `A1,${K1},hotp,6,one`, 1],
    ['period 0', `A1,${K1},totp,6,0`, 1],
    ['period over a day', `A1,${K1},totp,6,86401`, 1],
    ['a header after data', `A1,${K1},hotp,6,0\nserial,hexkey,type,digits,counter`, 2],
    ['a quoted field', `"A1",${K1},hotp,6,0`, 1],
    ['a bad line after good ones', `# c\nA1,${K1},hotp,6,0\n\nA2,${K2},hotp,6`, 4],
  ];

  it.each(bad.map(([name, text, line]) => ({ name, text, line })))(
    '$name: malformed on line $line',
    ({ text, line }) => {
      const err = expectSeedError(() => importOathCsv(text), 'malformed', [
        K1,
        K2,
        K1.toUpperCase(),
      ]);
      expect(err.message).toMatch(new RegExp(`^line ${line}: `));
    },
  );

  it('a repeated serial is refused', () => {
    const err = expectSeedError(
      () => importOathCsv(`A1,${K1},hotp,6,0\nA1,${K2},totp,6,30`),
      'duplicate-serial',
      [K1, K2],
    );
    expect(err.message).toBe('line 2: serial A1 was already given on line 1');
  });

  it('nothing but comments is empty', () => {
    expectSeedError(() => importOathCsv('# only\n\n'), 'empty');
    expectSeedError(() => importOathCsv(''), 'empty');
    expectSeedError(() => importOathCsv('serial,key,type,digits,counter\n'), 'empty');
  });

  it('size limit and bad UTF-8', () => {
    expectSeedError(() => importOathCsv(`A1,${K1},hotp,6,0\n`, { maxBytes: 10 }), 'too-large');
    expectSeedError(() => importOathCsv(new Uint8Array([0x41, 0x2c, 0xff])), 'malformed');
  });
});

describe('exportOathCsv', () => {
  const keys: OtpKey[] = [
    { serial: 'CD-1', type: 'hotp', secret: fromHex(K1), algorithm: 'SHA1', digits: 6, counter: 7 },
    {
      serial: 'CD-2',
      type: 'totp',
      secret: fromHex(K2),
      algorithm: 'SHA1',
      digits: 8,
      period: 60,
      t0: 0,
    },
    { serial: 'CD-3', type: 'hotp', secret: fromHex(K2), algorithm: 'SHA1', digits: 7 },
  ];

  it('writes one line per key after the header comment', () => {
    expect(exportOathCsv(keys)).toBe(
      `${OATH_CSV_HEADER}\nCD-1,${K1},hotp,6,7\nCD-2,${K2},totp,8,60\nCD-3,${K2},hotp,7,0\n`,
    );
  });

  it('round-trips', () => {
    expect(importOathCsv(exportOathCsv(keys)).map(plain)).toEqual(
      [
        plain(keys[0]!),
        { ...plain(keys[1]!), t0: undefined },
        { ...plain(keys[2]!), counter: 0 },
      ].map((k) => JSON.parse(JSON.stringify(k)) as unknown),
    );
  });

  it.each([
    ['SHA256', { algorithm: 'SHA256' }],
    ['a T0', { type: 'totp', period: 30, t0: 100 }],
    ['a time drift', { type: 'totp', period: 30, timeDrift: 1 }],
    ['a comma in the serial', { serial: 'A,B' }],
    ['a serial starting with #', { serial: '#1' }],
  ])('refuses a key with %s rather than lose it', (_what, change) => {
    const k = { ...keys[0]!, ...change } as OtpKey;
    expectSeedError(() => exportOathCsv([k]), 'bad-key-package', [K1]);
  });

  it('refuses invalid keys, naming the index and never the secret', () => {
    const err = expectSeedError(
      () => exportOathCsv([keys[0]!, { ...keys[1]!, digits: 9 }]),
      'bad-key-package',
      [K2],
    );
    expect(err.message).toBe('key 2 (serial CD-2): digits must be 6, 7 or 8');
    expectSeedError(() => exportOathCsv([]), 'bad-key-package');
    expectSeedError(
      () => exportOathCsv([{ ...keys[0]!, secret: new Uint8Array() }]),
      'bad-key-package',
    );
  });
});

describe('detectSeedFormat and importSeedFile', () => {
  it('tells PSKC from CSV', () => {
    expect(detectSeedFormat(utf8(fixture('rfc6030-figure3.xml')))).toBe('pskc');
    expect(detectSeedFormat(new Uint8Array([0xef, 0xbb, 0xbf, ...utf8('  <KeyContainer/>')]))).toBe(
      'pskc',
    );
    expect(detectSeedFormat(utf8(`# tokens\nA1,${K1},hotp,6,0\n`))).toBe('oath-csv');
    expect(detectSeedFormat('just text')).toBeUndefined();
    expect(detectSeedFormat(new Uint8Array())).toBeUndefined();
  });

  it('imports either', () => {
    expect(importSeedFile(utf8(fixture('rfc6030-figure3.xml')))[0]!.serial).toBe('987654321');
    const keys: OtpKey[] = [
      { serial: 'S1', type: 'totp', secret: fromHex(K2), algorithm: 'SHA1', digits: 6, period: 30 },
    ];
    expect(toHex(importSeedFile(utf8(exportOathCsv(keys)))[0]!.secret)).toBe(K2);
    expect(
      toHex(
        importSeedFile(utf8(exportPskc(keys, { password: 'pw', iterations: 10 })), {
          password: 'pw',
        })[0]!.secret,
      ),
    ).toBe(K2);
  });

  it('refuses what is neither', () => {
    expectSeedError(() => importSeedFile(utf8('hello world')), 'unknown-format');
    expectSeedError(() => importSeedFile(new Uint8Array([0, 1, 2, 3])), 'unknown-format');
    expectSeedError(() => importSeedFile(utf8('   \n# nothing\n')), 'empty');
  });
});
