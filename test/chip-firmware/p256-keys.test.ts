// P-256 keys rebuilt from their scalar (credential keys, key agreement keys): imported from PKCS#8,
// they are the keys node:crypto makes for the same scalar, and they sign and agree as such.
import { createECDH, generateKeyPairSync, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fromBase64Url } from '../../src/core/index.js';
import { generateP256, p256FromScalar } from '../../firmware-sim/chip/crypto.js';
import { deterministicRandom } from '../../firmware-sim/chip/index.js';

describe('p256FromScalar', () => {
  it('gives the key node:crypto holds for the same scalar, private and public', () => {
    for (let i = 0; i < 8; i++) {
      const made = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const d = fromBase64Url(made.privateKey.export({ format: 'jwk' }).d ?? '');
      expect(d.length).toBe(32);
      const k = p256FromScalar(d);
      const pkcs8 = { format: 'der', type: 'pkcs8' } as const;
      const spki = { format: 'der', type: 'spki' } as const;
      expect(k.privateKey.export(pkcs8).equals(made.privateKey.export(pkcs8))).toBe(true);
      expect(k.publicKey.export(spki).equals(made.publicKey.export(spki))).toBe(true);
      expect(k.d).toEqual(d);
      const e = createECDH('prime256v1');
      e.setPrivateKey(d);
      expect(k.publicPoint).toEqual(new Uint8Array(e.getPublicKey()));
      // What it signs verifies under the key node:crypto made, and the other way round.
      const data = Uint8Array.of(1, 2, 3, i);
      expect(verify('sha256', data, made.publicKey, sign('sha256', data, k.privateKey))).toBe(true);
      expect(verify('sha256', data, k.publicKey, sign('sha256', data, made.privateKey))).toBe(true);
    }
  });

  it('keeps a copy of the scalar: wiping the caller’s bytes leaves the key whole', () => {
    const d = generateP256(deterministicRandom('p256-copy')).d;
    const mine = new Uint8Array(d);
    const k = p256FromScalar(mine);
    mine.fill(0);
    expect(k.d).toEqual(d);
    const jwk = k.privateKey.export({ format: 'jwk' });
    expect(fromBase64Url(jwk.d ?? '')).toEqual(d);
  });

  it('refuses a scalar that is not 32 bytes, and one out of range', () => {
    expect(() => p256FromScalar(new Uint8Array(31).fill(1))).toThrow(RangeError);
    expect(() => p256FromScalar(new Uint8Array(33).fill(1))).toThrow(RangeError);
    expect(() => p256FromScalar(new Uint8Array(32))).toThrow();
  });
});
