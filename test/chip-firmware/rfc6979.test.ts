// Deterministic ECDSA (RFC 6979) against the RFC's own vectors, node:crypto's ECDH for the
// public key, and node:crypto's verify for the signatures.
import { createECDH, createHash, createPublicKey, verify } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VirtualClock, fromHex, toBase64Url, toHex, utf8 } from '../../src/core/index.js';
import { encodeCbor } from '../../src/ctap/cbor.js';
import { ChipFirmware, deterministicRandom } from '../../firmware-sim/chip/index.js';
import { Host, START } from './harness.js';
import {
  P256_B,
  P256_G,
  p256Multiply,
  rfc6979Nonce,
  signDeterministicRaw,
  signEs256Deterministic,
} from '../../firmware-sim/chip/rfc6979.js';
import { rfc6979P256 } from '../vectors/ctap-rfc6979.js';

const big = (h: string): bigint => BigInt(`0x${h}`);
const hex32 = (v: bigint): string => v.toString(16).padStart(64, '0');

function publicKeyOf(d: Uint8Array) {
  const e = createECDH('prime256v1');
  e.setPrivateKey(d);
  const pt = new Uint8Array(e.getPublicKey());
  return createPublicKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: toBase64Url(pt.subarray(1, 33)),
      y: toBase64Url(pt.subarray(33)),
    },
    format: 'jwk',
  });
}

describe('RFC 6979 A.2.5 (P-256, SHA-256)', () => {
  const d = fromHex(rfc6979P256.x);
  it('G is on the curve and xG is the published public key', () => {
    const { x, y } = P256_G;
    const p = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
    expect((y * y - (x * x * x - 3n * x + P256_B)) % p).toBe(0n);
    const u = p256Multiply(big(rfc6979P256.x))!;
    expect(hex32(u.x)).toBe(rfc6979P256.ux);
    expect(hex32(u.y)).toBe(rfc6979P256.uy);
  });
  it.each(rfc6979P256.signatures)(
    'message "$message": k, r and s as published',
    ({ message, k, r, s }) => {
      const h1 = new Uint8Array(createHash('sha256').update(message).digest());
      expect(hex32(rfc6979Nonce(big(rfc6979P256.x), h1))).toBe(k);
      const sig = signDeterministicRaw(d, utf8(message));
      expect(hex32(sig.r)).toBe(r);
      expect(hex32(sig.s)).toBe(s);
      expect(
        verify('sha256', utf8(message), publicKeyOf(d), signEs256Deterministic(d, utf8(message))),
      ).toBe(true);
    },
  );
  it('random keys and messages: node:crypto verifies, and signing twice gives the same bytes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 100 }),
        (key, msg) => {
          fc.pre(key.some((b) => b !== 0) && key[0]! < 0xff);
          const sig = signEs256Deterministic(key, msg);
          expect(toHex(signEs256Deterministic(key, msg))).toBe(toHex(sig));
          expect(verify('sha256', msg, publicKeyOf(key), sig)).toBe(true);
        },
      ),
      { numRuns: 25 },
    );
  });
});

describe('a chip with deterministicSignatures', () => {
  const run = () => {
    const clock = new VirtualClock({ start: START });
    const fw = ChipFirmware.manufacture({
      serial: 'CHIP-RFC6979',
      clock,
      random: deterministicRandom('repro'),
      deterministicSignatures: true,
    });
    const host = new Host(fw, clock);
    const mc = host.exchange(
      0x10,
      Uint8Array.of(
        0x01,
        ...encodeCbor(
          new Map<number, unknown>([
            [1, new Uint8Array(32).fill(1)],
            [2, new Map([['id', 'mitid-erhverv.example']])],
            [
              3,
              new Map<string, unknown>([
                ['id', Uint8Array.of(1)],
                ['name', 'anna'],
              ]),
            ],
            [
              4,
              [
                new Map<string, unknown>([
                  ['alg', -7],
                  ['type', 'public-key'],
                ]),
              ],
            ],
            [7, new Map([['rk', true]])],
          ]),
        ),
      ),
    ).payload;
    const ga = host.exchange(
      0x10,
      Uint8Array.of(
        0x02,
        ...encodeCbor(
          new Map<number, unknown>([
            [1, 'mitid-erhverv.example'],
            [2, new Uint8Array(32).fill(2)],
          ]),
        ),
      ),
    ).payload;
    return { mc: toHex(mc), ga: toHex(ga), state: fw.snapshot() };
  };
  it('answers byte for byte the same in two runs from the same seed', () => {
    const a = run();
    const b = run();
    expect(a.mc.slice(0, 2)).toBe('00');
    expect(a.ga.slice(0, 2)).toBe('00');
    expect(b.mc).toBe(a.mc);
    expect(b.ga).toBe(a.ga);
    expect(b.state).toEqual(a.state);
  });
});
