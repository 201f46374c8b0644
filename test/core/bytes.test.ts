import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  assertBytes,
  assertInt,
  concatBytes,
  constantTimeEqual,
  constantTimeEqualString,
  fromBase32,
  fromBase64,
  fromBase64Url,
  fromHex,
  fromUtf8,
  toBase32,
  toBase64,
  toBase64Url,
  toHex,
  utf8,
} from '../../src/core/bytes.js';

// RFC 4648 §10 test vectors.
const rfc4648 = [
  ['', '', ''],
  ['f', 'MY======', 'Zg=='],
  ['fo', 'MZXQ====', 'Zm8='],
  ['foo', 'MZXW6===', 'Zm9v'],
  ['foob', 'MZXW6YQ=', 'Zm9vYg=='],
  ['fooba', 'MZXW6YTB', 'Zm9vYmE='],
  ['foobar', 'MZXW6YTBOI======', 'Zm9vYmFy'],
] as const;

describe('encodings', () => {
  it.each(rfc4648)('RFC 4648 §10: "%s"', (plain, b32, b64) => {
    expect(toBase32(utf8(plain))).toBe(b32);
    expect(fromUtf8(fromBase32(b32))).toBe(plain);
    expect(fromUtf8(fromBase32(b32.toLowerCase().replace(/=/g, '')))).toBe(plain);
    expect(toBase64(utf8(plain))).toBe(b64);
    expect(fromUtf8(fromBase64(b64))).toBe(plain);
  });

  it('hex, base64url and base32 round-trip any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        expect(fromHex(toHex(b))).toEqual(b);
        expect(fromBase64Url(toBase64Url(b))).toEqual(b);
        expect(fromBase32(toBase32(b))).toEqual(b);
        expect(fromBase32(toBase32(b, false))).toEqual(b);
      }),
    );
  });

  it.each([
    ['abc', 'odd length'],
    ['zz', 'non-hex'],
    ['0x00', 'prefix'],
  ])('fromHex rejects %s (%s)', (s) => {
    expect(() => fromHex(s, 'secret')).toThrow(/secret must be/);
  });

  it('rejects malformed base32/base64/base64url with a TypeError naming the field', () => {
    expect(() => fromBase32('MZ1W', 'seed')).toThrow(TypeError);
    expect(() => fromBase64('Zm9v!', 'cipher')).toThrow(/cipher is not valid base64/);
    expect(() => fromBase64('Zm9', 'cipher')).toThrow(TypeError);
    expect(() => fromBase64Url('a', 'id')).toThrow(/id is not valid base64url/);
    expect(() => fromUtf8(new Uint8Array([0xff, 0xfe]))).toThrow(TypeError);
  });
});

describe('constantTimeEqual', () => {
  it('is equality of contents', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 64 }), (a, b) => {
        const same = a.length === b.length && a.every((x, i) => x === b[i]);
        expect(constantTimeEqual(a, b)).toBe(same);
        expect(constantTimeEqual(a, a.slice())).toBe(true);
      }),
    );
  });
  it('handles different lengths and strings', () => {
    expect(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3]))).toBe(false);
    expect(constantTimeEqualString('123456', '123456')).toBe(true);
    expect(constantTimeEqualString('123456', '123457')).toBe(false);
    expect(constantTimeEqualString('', '')).toBe(true);
  });
});

describe('asserters', () => {
  it('name the parameter', () => {
    expect(() => assertBytes('x', 32, 'clientDataHash')).toThrow(
      /clientDataHash must be a Uint8Array/,
    );
    expect(() => assertBytes(new Uint8Array(31), 32, 'clientDataHash')).toThrow(RangeError);
    expect(() => assertBytes(new Uint8Array(32), 32, 'clientDataHash')).not.toThrow();
    expect(() => assertInt(1.5, 0, 10, 'digits')).toThrow(/digits must be an integer/);
    expect(() => assertInt(11, 0, 10, 'digits')).toThrow(/digits must be between 0 and 10/);
  });
  it('concatBytes joins', () => {
    expect(concatBytes(new Uint8Array([1]), new Uint8Array([]), new Uint8Array([2, 3]))).toEqual(
      new Uint8Array([1, 2, 3]),
    );
  });
});
