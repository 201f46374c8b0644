/** The engine's two shortcuts are otplib's maths: counter bytes and digits, pinned together. */
import { counterToBytes, truncateDigits } from '@otplib/core';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PreparedOtpKey, prepareOtpKey } from '../../src/otp/verify.js';
import { writeCounter, writeDigits } from '../../src/otp/verify-engine.js';

describe('writeCounter is counterToBytes', () => {
  it.each([
    0,
    1,
    255,
    256,
    2 ** 31 - 1,
    2 ** 31,
    2 ** 32 - 1,
    2 ** 32,
    2 ** 32 + 1,
    2 ** 52,
    Number.MAX_SAFE_INTEGER,
  ])('%i', (c) => {
    expect([...writeCounter(Buffer.alloc(8), c)]).toEqual([...counterToBytes(c)]);
  });

  it('for every safe integer', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (c) => {
        expect([...writeCounter(Buffer.alloc(8), c)]).toEqual([...counterToBytes(c)]);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('writeDigits is truncateDigits', () => {
  it('for every 31-bit value and 6, 7, 8 digits', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0x7fffffff }),
        fc.constantFrom(6, 7, 8),
        (snum, digits) => {
          expect(writeDigits(Buffer.alloc(digits), snum).toString('latin1')).toBe(
            truncateDigits(snum, digits),
          );
        },
      ),
      { numRuns: 3000 },
    );
  });

  it.each([0, 1, 999_999, 1_000_000, 0x7fffffff])('edge %i', (snum) => {
    for (const d of [6, 7, 8]) {
      expect(writeDigits(Buffer.alloc(d), snum).toString('latin1')).toBe(truncateDigits(snum, d));
    }
  });
});

describe('PreparedOtpKey', () => {
  const key = prepareOtpKey({ secret: new TextEncoder().encode('prepared-key-secret'), digits: 7 });

  it('loads exactly `digits` ASCII digits, and nothing else', () => {
    expect(key.load(0, '0123456')).toBe(true);
    for (const bad of [
      '012345',
      '01234567',
      '012345a',
      '012345\u0661',
      '\u0660123456',
      ' 012345',
      7654321,
      null,
    ]) {
      expect(key.load(0, bad)).toBe(false);
    }
    // A character whose low byte is a digit is still refused ('\u0130' & 0xff is 0x30).
    expect(key.load(0, '\u0130123456')).toBe(false);
  });

  it('keeps the secret out of JSON, inspection and enumeration', () => {
    expect(key).toBeInstanceOf(PreparedOtpKey);
    expect(JSON.parse(JSON.stringify(key))).toEqual({
      algorithm: 'SHA1',
      digits: 7,
      period: 30,
      t0: 0,
    });
    expect(Object.keys(key).sort()).toEqual(['algorithm', 'digits', 'period', 't0']);
    const shown = inspect(key, { showHidden: true, depth: 5 });
    expect(shown).not.toContain('prepared-key-secret');
    expect(shown).not.toContain(Buffer.from('prepared-key-secret').toString('hex'));
  });
});
