// fast-check: random OtpKey lists survive every export/import pair unchanged.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { OtpKey } from '../../src/otp/types.js';
import {
  exportOathCsv,
  exportPskc,
  importOathCsv,
  importPskc,
  importSeedFile,
} from '../../src/otp/seed/index.js';

// Printable text without leading/trailing spaces: what a serial, issuer or maker looks like,
// including the XML-special characters that must be escaped.
const label = (max: number) =>
  fc
    .string({
      unit: fc.constantFrom(...'abcXYZ019 -_.:/&<>"\'#æøå☺'.split('')),
      minLength: 1,
      maxLength: max,
    })
    .map((s) => s.trim())
    .filter((s) => s !== '');

const common = {
  serial: label(24),
  secret: fc.uint8Array({ minLength: 1, maxLength: 64 }),
  algorithm: fc.constantFrom('SHA1', 'SHA256', 'SHA512' as const),
  digits: fc.constantFrom(6, 7, 8),
};
// Free text may hold tabs and line breaks (CR LF too), which XML readers would normalise.
const freeText = fc
  .string({ unit: fc.constantFrom(...'ab &<>\t\r\n\u00e6'.split('')), minLength: 1, maxLength: 20 })
  .map((s) => s.trim())
  .filter((s) => s !== '');
const extras = {
  manufacturer: freeText,
  issuer: freeText,
  keyId: label(20),
};

const hotp: fc.Arbitrary<OtpKey> = fc.record(
  { ...common, type: fc.constant('hotp' as const), counter: fc.maxSafeNat(), ...extras },
  { requiredKeys: ['serial', 'secret', 'algorithm', 'digits', 'type'] },
);
const totp: fc.Arbitrary<OtpKey> = fc.record(
  {
    ...common,
    type: fc.constant('totp' as const),
    period: fc.integer({ min: 1, max: 86_400 }),
    t0: fc.integer({ min: 0, max: 4_000_000_000 }),
    timeDrift: fc.integer({ min: -1000, max: 1000 }),
    ...extras,
  },
  { requiredKeys: ['serial', 'secret', 'algorithm', 'digits', 'type'] },
);
const keyLists = fc.array(fc.oneof(hotp, totp), { minLength: 1, maxLength: 6 });

/** What a PSKC round trip gives back: Key/@Id is written as the serial when there is none. */
const viaPskc = (k: OtpKey): OtpKey => ({ ...k, keyId: k.keyId ?? k.serial });

describe('round trips', () => {
  it('PSKC plain', () => {
    fc.assert(
      fc.property(keyLists, (keys) => {
        expect(importPskc(exportPskc(keys))).toEqual(keys.map(viaPskc));
      }),
      { numRuns: 150 },
    );
  });

  it('PSKC with a pre-shared key of 16, 24 or 32 bytes', () => {
    const psk = fc.oneof(...[16, 24, 32].map((n) => fc.uint8Array({ minLength: n, maxLength: n })));
    fc.assert(
      fc.property(keyLists, psk, (keys, key) => {
        expect(importPskc(exportPskc(keys, { key }), { key })).toEqual(keys.map(viaPskc));
      }),
      { numRuns: 100 },
    );
  });

  it('PSKC with a password', () => {
    const password = fc.string({ minLength: 1, maxLength: 20 });
    fc.assert(
      fc.property(keyLists, password, (keys, pw) => {
        const xml = exportPskc(keys, { password: pw, iterations: 50 });
        expect(importPskc(xml, { password: pw })).toEqual(keys.map(viaPskc));
        expect(importSeedFile(new TextEncoder().encode(xml), { password: pw })).toEqual(
          keys.map(viaPskc),
        );
      }),
      { numRuns: 40 },
    );
  });

  it('OATH CSV (the keys it can carry)', () => {
    const csvSerial = label(24).filter((s) => !/[,#"]/.test(s) && s === s.trim());
    const csvKey: fc.Arbitrary<OtpKey> = fc.oneof(
      fc.record({
        ...common,
        serial: csvSerial,
        algorithm: fc.constant('SHA1' as const),
        type: fc.constant('hotp' as const),
        counter: fc.maxSafeNat(),
      }),
      fc.record({
        ...common,
        serial: csvSerial,
        algorithm: fc.constant('SHA1' as const),
        type: fc.constant('totp' as const),
        period: fc.integer({ min: 1, max: 86_400 }),
      }),
    );
    const lists = fc.uniqueArray(csvKey, { minLength: 1, maxLength: 8, selector: (k) => k.serial });
    fc.assert(
      fc.property(lists, (keys) => {
        const text = exportOathCsv(keys);
        expect(importOathCsv(text)).toEqual(keys);
        expect(importSeedFile(new TextEncoder().encode(text))).toEqual(keys);
      }),
      { numRuns: 200 },
    );
  });

  it('a wrong key never imports anything and never leaks the secret', () => {
    fc.assert(
      fc.property(
        keyLists,
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        (keys, k1, k2) => {
          fc.pre(Buffer.compare(k1, k2) !== 0);
          const xml = exportPskc(keys, { key: k1 });
          let code = '';
          try {
            importPskc(xml, { key: k2 });
          } catch (e) {
            code = (e as { code: string }).code;
            // A secret of a byte or two can appear in any text by chance; four bytes cannot.
            for (const k of keys.filter((x) => x.secret.length >= 4)) {
              expect((e as Error).message).not.toContain(Buffer.from(k.secret).toString('hex'));
              expect((e as Error).message).not.toContain(Buffer.from(k.secret).toString('base64'));
            }
          }
          // The MACKey's padding fails for almost every wrong key; the rare wrong key whose
          // padding holds then fails the MAC.
          expect(['wrong-key', 'bad-mac']).toContain(code);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('a large batch', () => {
  it('3000 keys survive PSKC (pre-shared key) and CSV', () => {
    const keys: OtpKey[] = Array.from({ length: 3000 }, (_, i) => ({
      serial: `CD-${String(90_000_000 + i)}`,
      type: i % 2 ? 'totp' : 'hotp',
      secret: new Uint8Array(20).map((_b, j) => (i * 31 + j * 7) & 0xff),
      algorithm: 'SHA1',
      digits: 6,
      ...(i % 2 ? { period: 30 } : { counter: i }),
    }));
    const key = new Uint8Array(16).fill(0x42);
    const xml = exportPskc(keys, { key });
    expect(importPskc(xml, { key })).toEqual(keys.map(viaPskc));
    expect(importOathCsv(exportOathCsv(keys))).toEqual(keys);
  });
});
