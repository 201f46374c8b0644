// The CBOR codec against RFC 8949 Appendix A, the CTAP 2.0 examples, hostile input and cbor-x.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Decoder, Encoder } from 'cbor-x';
import { fromHex, toHex } from '../../src/core/index.js';
import {
  CborTag,
  compareCanonicalKeys,
  decodeCbor,
  decodeCborPrefix,
  encodeCbor,
} from '../../src/ctap/cbor.js';
import { CtapError, CtapStatus } from '../../src/ctap/status.js';
import {
  cborHostile,
  ctapGetAssertionExample,
  ctapGetInfoExample,
  ctapMakeCredentialExample,
  rfc8949Canonical,
  rfc8949Floats,
  rfc8949Indefinite,
  rfc8949Tagged,
} from '../vectors/ctap-cbor.js';

const lenient = { canonical: false, allowIndefinite: true } as const;

describe('RFC 8949 Appendix A', () => {
  it.each(rfc8949Canonical)('$hex decodes strictly and encodes back', ({ hex, value }) => {
    expect(decodeCbor(fromHex(hex))).toEqual(value);
    expect(toHex(encodeCbor(value))).toBe(hex);
  });
  it.each(rfc8949Floats)(
    'float $hex decodes only when floats are allowed',
    ({ hex, value, canonical }) => {
      expect(() => decodeCbor(fromHex(hex))).toThrow(CtapError);
      const got = decodeCbor(fromHex(hex), { allowFloats: true });
      expect(Object.is(got, value)).toBe(true);
      if (canonical) expect(toHex(encodeCbor(value))).toBe(hex);
    },
  );
  it.each(rfc8949Tagged)('tagged/simple $hex decodes only leniently', ({ hex, value }) => {
    expect(() => decodeCbor(fromHex(hex))).toThrow(CtapError);
    expect(decodeCbor(fromHex(hex), { canonical: false })).toEqual(value);
    expect(toHex(encodeCbor(value))).toBe(hex);
  });
  it.each(rfc8949Indefinite)('indefinite $hex decodes only leniently', ({ hex, value }) => {
    expect(() => decodeCbor(fromHex(hex))).toThrow(CtapError);
    expect(() => decodeCbor(fromHex(hex), { canonical: false })).toThrow(CtapError);
    expect(decodeCbor(fromHex(hex), lenient)).toEqual(value);
  });
});

describe('CTAP 2.0 examples', () => {
  it('authenticatorGetInfo response (§5.4) decodes and re-encodes byte for byte', () => {
    const bytes = fromHex(ctapGetInfoExample.hex);
    expect(decodeCbor(bytes, { maxDepth: 4 })).toEqual(ctapGetInfoExample.value);
    expect(toHex(encodeCbor(ctapGetInfoExample.value))).toBe(ctapGetInfoExample.hex);
  });
  it('authenticatorMakeCredential request (§5.1) decodes and re-encodes byte for byte', () => {
    const bytes = fromHex(ctapMakeCredentialExample.hex);
    expect(decodeCbor(bytes, { maxDepth: 4 })).toEqual(ctapMakeCredentialExample.value);
    expect(toHex(encodeCbor(ctapMakeCredentialExample.value))).toBe(ctapMakeCredentialExample.hex);
  });
  it('authenticatorGetAssertion request (§5.2) decodes and re-encodes byte for byte', () => {
    const bytes = fromHex(ctapGetAssertionExample.hex);
    expect(decodeCbor(bytes, { maxDepth: 4 })).toEqual(ctapGetAssertionExample.value);
    expect(toHex(encodeCbor(ctapGetAssertionExample.value))).toBe(ctapGetAssertionExample.hex);
  });
  it('plain objects are encoded in the canonical order whatever their property order', () => {
    const o = { type: 'public-key', alg: -7 };
    expect(toHex(encodeCbor(o))).toBe('a263616c672664747970656a7075626c69632d6b6579');
    // Optional parameters left undefined are omitted, as CTAP needs.
    expect(toHex(encodeCbor({ a: 1, b: undefined }))).toBe('a1616101');
  });
  it('integer keys sort length-first: 10 < -1 < 100 < -100 < "a"', () => {
    const map = new Map<number | string, unknown>([
      ['a', 0],
      [-100, 0],
      [100, 0],
      [-1, 0],
      [10, 0],
    ]);
    expect(toHex(encodeCbor(map))).toBe('a50a002000186400386300616100');
  });
});

describe('hostile input', () => {
  it.each(cborHostile)('rejects $hex ($why) with CTAP2_ERR_INVALID_CBOR', ({ hex }) => {
    let err: unknown;
    try {
      decodeCbor(fromHex(hex));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CtapError);
    expect((err as CtapError).status).toBe(CtapStatus.CTAP2_ERR_INVALID_CBOR);
    expect((err as CtapError).code).toBe('CTAP2_ERR_INVALID_CBOR');
    expect((err as CtapError).message).not.toMatch(/\n/);
  });
  it('enforces the depth limit exactly', () => {
    const four = fromHex('81818181' + '00');
    expect(decodeCbor(four, { maxDepth: 4 })).toEqual([[[[0]]]]);
    expect(() => decodeCbor(fromHex('8181818181' + '00'), { maxDepth: 4 })).toThrow(/nested/);
  });
  it('rejects non-Uint8Array input with a TypeError', () => {
    expect(() => decodeCbor('00' as unknown as Uint8Array)).toThrow(TypeError);
  });
  it('refuses to encode functions, symbols and out-of-range bigints', () => {
    expect(() => encodeCbor(() => 1)).toThrow(TypeError);
    expect(() => encodeCbor(Symbol('x'))).toThrow(TypeError);
    expect(() => encodeCbor(1n << 64n)).toThrow(RangeError);
    expect(() => encodeCbor(new Date(0))).toThrow(TypeError);
    expect(() => encodeCbor(new Uint16Array(2))).toThrow(TypeError);
    expect(toHex(encodeCbor(Object.assign(Object.create(null) as object, { a: 1 })))).toBe(
      'a1616101',
    );
  });
  it('random bytes never crash the decoder: a value or a CtapError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        try {
          decodeCbor(b);
        } catch (e) {
          expect(e).toBeInstanceOf(CtapError);
        }
        try {
          decodeCbor(b, lenient);
        } catch (e) {
          expect(e).toBeInstanceOf(CtapError);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('decodeCborPrefix', () => {
  it('returns the first item and where it ends', () => {
    const b = fromHex('a10102' + 'a0');
    const r = decodeCborPrefix(b);
    expect(r.value).toEqual(new Map([[1, 2]]));
    expect(r.end).toBe(3);
    expect(decodeCborPrefix(b, 3).value).toEqual(new Map());
    expect(() => decodeCborPrefix(b, 5)).toThrow(RangeError);
  });
});

// A value generator for what CTAP messages carry.
const ctapValue = fc.letrec((tie) => ({
  leaf: fc.oneof(
    fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }),
    fc.string(),
    fc.uint8Array({ maxLength: 40 }),
    fc.boolean(),
    fc.constant(null),
  ),
  node: fc.oneof(
    { depthSize: 'small' },
    tie('leaf'),
    fc.array(tie('node'), { maxLength: 4 }),
    fc
      .uniqueArray(
        fc.tuple(
          fc.oneof(fc.integer({ min: -300, max: 300 }), fc.string({ maxLength: 6 })),
          tie('node'),
        ),
        {
          selector: (t) => t[0],
          maxLength: 4,
        },
      )
      .map((entries) => new Map(entries)),
  ),
}));

describe('independent peer: cbor-x', () => {
  const peer = new Decoder({ mapsAsObjects: false, useRecords: false } as never);
  const peerEncoder = new Encoder({
    mapsAsObjects: false,
    useRecords: false,
    tagUint8Array: false,
  } as never);

  const normalise = (v: unknown): unknown => {
    if (v instanceof Uint8Array) return new Uint8Array(v);
    // cbor-x gives a bigint for every 8-byte integer head; we give a number while it is exact.
    if (
      typeof v === 'bigint' &&
      v >= BigInt(Number.MIN_SAFE_INTEGER) &&
      v <= BigInt(Number.MAX_SAFE_INTEGER)
    ) {
      return Number(v);
    }
    if (Array.isArray(v)) return v.map(normalise);
    if (v instanceof Map) return new Map([...v].map(([k, x]) => [k, normalise(x)]));
    return v;
  };

  it('cbor-x decodes what we encode to the same value', () => {
    fc.assert(
      fc.property(ctapValue.node, (v) => {
        const ours = encodeCbor(v);
        expect(normalise(peer.decode(ours))).toEqual(v);
        // Our encoding is canonical, so our strict decoder takes it back.
        expect(decodeCbor(ours, { maxDepth: 64 })).toEqual(v);
      }),
      { numRuns: 500 },
    );
  });

  it('we decode what cbor-x encodes (leniently), and canonical cbor-x output strictly', () => {
    fc.assert(
      fc.property(ctapValue.node, (v) => {
        const theirs = new Uint8Array(peerEncoder.encode(v));
        expect(decodeCbor(theirs, { ...lenient, maxDepth: 64 })).toEqual(v);
        const ours = encodeCbor(v);
        if (toHex(theirs) === toHex(ours)) expect(decodeCbor(theirs, { maxDepth: 64 })).toEqual(v);
      }),
      { numRuns: 500 },
    );
  });

  it('the CTAP examples decode identically with cbor-x', () => {
    const v = peer.decode(fromHex(ctapMakeCredentialExample.hex));
    expect(normalise(v)).toEqual(ctapMakeCredentialExample.value);
  });
});

describe('compareCanonicalKeys', () => {
  it('orders by length, then bytes', () => {
    expect(compareCanonicalKeys(fromHex('20'), fromHex('0a'))).toBeGreaterThan(0);
    expect(compareCanonicalKeys(fromHex('1864'), fromHex('20'))).toBeGreaterThan(0);
    expect(compareCanonicalKeys(fromHex('6161'), fromHex('6161'))).toBe(0);
  });
  it('a tag wraps any value', () => {
    expect(toHex(encodeCbor(new CborTag(1n, 0)))).toBe('c100');
  });
});

describe('CtapError', () => {
  it('names the status as the spec does, and unknown ones by value', async () => {
    const { ctapStatusName } = await import('../../src/ctap/status.js');
    expect(ctapStatusName(0x2d)).toBe('CTAP2_ERR_KEEPALIVE_CANCEL');
    expect(ctapStatusName(0x38)).toBe('CTAP2_ERR_PIN_TOKEN_EXPIRED');
    expect(ctapStatusName(0xf3)).toBe('CTAP_STATUS_0xf3');
    const e = new CtapError(0x31, 'wrong PIN');
    expect(e).toMatchObject({ code: 'CTAP2_ERR_PIN_INVALID', status: 0x31, name: 'CtapError' });
  });
});
