// The getAssertion request and answer laid out by hand are byte for byte what encodeCbor makes of
// the same maps, and the CBOR heads they are built from are encodeCbor's heads.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Ctap2Client, plainGetAssertionRequest } from '../../devices/chip/ctap2.js';
import { plainAssertionAnswer } from '../../firmware-sim/chip/authenticator.js';
import { toHex } from '../../src/core/index.js';
import { cborHeadLength, encodeCbor, writeCborHead } from '../../src/ctap/cbor.js';

const bytes = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

/** The request as the general path encodes it: command byte 0x02, then the map. */
function viaMap(rpId: string, hash: Uint8Array, allowList?: Uint8Array[]): string {
  const m = new Map<number, unknown>([
    [1, rpId],
    [2, hash],
  ]);
  if (allowList?.length) {
    m.set(
      3,
      allowList.map(
        (id) =>
          new Map<string, unknown>([
            ['id', id],
            ['type', 'public-key'],
          ]),
      ),
    );
  }
  return toHex(encodeCbor(m, { prefix: Uint8Array.of(0x02) }));
}

describe('hand-laid CTAP2 messages', () => {
  it('CBOR heads: the same bytes and lengths as the encoder, at every size boundary', () => {
    for (const major of [2, 3, 4, 5]) {
      for (const n of [0, 1, 23, 24, 255, 256, 65535]) {
        const out = new Uint8Array(4);
        const end = writeCborHead(out, 1, major, n);
        expect(end - 1).toBe(cborHeadLength(n));
        const item =
          major === 2
            ? new Uint8Array(n)
            : major === 3
              ? 'a'.repeat(n)
              : major === 4
                ? new Array<number>(n).fill(0)
                : new Map(Array.from({ length: n }, (_, i) => [i, 0]));
        expect(toHex(out.subarray(1, end)), `major ${major}, ${n}`).toBe(
          toHex(encodeCbor(item).subarray(0, end - 1)),
        );
      }
    }
    expect(() => writeCborHead(new Uint8Array(4), 0, 2, 65536)).toThrow(RangeError);
    expect(() => writeCborHead(new Uint8Array(4), 0, 2, -1)).toThrow(RangeError);
  });

  it('getAssertion request: as the map would be encoded, with and without an allow list', () => {
    const hash = bytes(32);
    const cases: [string, Uint8Array[] | undefined][] = [
      ['bench.mitid.example', undefined],
      ['bench.mitid.example', []],
      ['bench.mitid.example', [bytes(63)]],
      ['x', [bytes(16), bytes(23), bytes(24), bytes(300)]],
      ['r'.repeat(23), [bytes(0)]],
      ['r'.repeat(24), [bytes(255), bytes(256)]],
      ['r'.repeat(253), Array.from({ length: 30 }, () => bytes(63))],
    ];
    for (const [rpId, allowList] of cases) {
      const plain = plainGetAssertionRequest(rpId, hash, allowList);
      expect(plain, rpId).toBeDefined();
      expect(toHex(plain!), `${rpId} with ${allowList?.length ?? 'no'} ids`).toBe(
        viaMap(rpId, hash, allowList),
      );
    }
    // Other hash lengths go the same way (the firmware judges them, not the driver).
    for (const n of [0, 31, 300]) {
      const h = bytes(n);
      expect(toHex(plainGetAssertionRequest('a.example', h, undefined)!)).toBe(
        viaMap('a.example', h),
      );
    }
  });

  it('getAssertion request: leaves to the map path what it does not lay out', () => {
    const hash = bytes(32);
    expect(plainGetAssertionRequest('æøå.example', hash, undefined)).toBeUndefined();
    expect(plainGetAssertionRequest('a.example', hash, [bytes(65536)])).toBeUndefined();
    expect(
      plainGetAssertionRequest('a.example', 'not bytes' as unknown as Uint8Array, undefined),
    ).toBeUndefined();
    expect(
      plainGetAssertionRequest('a.example', hash, ['not bytes' as unknown as Uint8Array]),
    ).toBeUndefined();
  });

  it('getAssertion answer: as ok() of the map would be, for short and long values', () => {
    for (const [idLen, authLen, sigLen] of [
      [63, 37, 71],
      [16, 37, 70],
      [23, 24, 72],
      [300, 200, 64],
    ] as const) {
      const id = bytes(idLen);
      const authData = bytes(authLen);
      const signature = bytes(sigLen);
      const viaEncoder = encodeCbor(
        new Map<number, unknown>([
          [
            1,
            new Map<string, unknown>([
              ['id', id],
              ['type', 'public-key'],
            ]),
          ],
          [2, authData],
          [3, signature],
        ]),
        { prefix: Uint8Array.of(0) },
      );
      expect(toHex(plainAssertionAnswer(id, authData, signature))).toBe(toHex(viaEncoder));
    }
  });
});

describe('the driver reading a getAssertion answer', () => {
  /** A Ctap2Client whose channel answers every request with `answer`. */
  const clientAnswering = (answer: Uint8Array): Ctap2Client =>
    new Ctap2Client({ cbor: () => Promise.resolve(answer) });
  const authData = new Uint8Array(37).fill(7);
  authData[32] = 0x01;
  const params = { rpId: 'a.example', clientDataHash: bytes(32) };

  it('the usual layout and the same map in another key order give the same result', async () => {
    const id = bytes(63);
    const signature = bytes(71);
    const usual = await clientAnswering(plainAssertionAnswer(id, authData, signature)).getAssertion(
      params,
    );
    // Keys 3, 2, 1: not canonical, so only the full decoder reads it.
    const reordered = concat(
      Uint8Array.of(0x00, 0xa3, 0x03),
      encodeCbor(signature),
      Uint8Array.of(0x02),
      encodeCbor(authData),
      Uint8Array.of(0x01),
      encodeCbor(
        new Map<string, unknown>([
          ['id', id],
          ['type', 'public-key'],
        ]),
      ),
    );
    const general = await clientAnswering(reordered).getAssertion(params);
    expect(usual).toEqual(general);
    expect(toHex(usual.credentialId)).toBe(toHex(id));
    expect(toHex(usual.signature)).toBe(toHex(signature));
    expect(usual.parsed.flags).toBe(0x01);
  });

  it('an answer that only starts like the usual one is judged by the full decoder', async () => {
    const good = plainAssertionAnswer(bytes(63), authData, bytes(71));
    await expect(
      clientAnswering(concat(good, Uint8Array.of(0))).getAssertion(params),
    ).rejects.toMatchObject({ code: 'bad-ctap-response' });
    await expect(
      clientAnswering(good.subarray(0, good.length - 1)).getAssertion(params),
    ).rejects.toMatchObject({ code: 'bad-ctap-response' });
    const short = plainAssertionAnswer(bytes(63), authData.subarray(0, 36), bytes(71));
    await expect(clientAnswering(short).getAssertion(params)).rejects.toMatchObject({
      code: 'bad-authenticator-data',
    });
  });
});

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
