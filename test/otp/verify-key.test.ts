/**
 * OtpVerifier.verifyKey: the same decisions as verify() on a binding, from a key package or a
 * package prepared once, for TOTP (RFC 6238's SHA-1 vector key) and HOTP (RFC 4226's).
 */
import { describe, expect, it } from 'vitest';
import { utf8 } from '../../src/core/bytes.js';
import { generateHotp, generateTotp } from '../../src/otp/generate.js';
import type { OtpKey } from '../../src/otp/types.js';
import {
  OtpVerifier,
  PreparedKeyPackage,
  bindingFromKey,
  prepareKeyPackage,
  type OtpBinding,
} from '../../src/otp/verify.js';

// RFC 6238 Appendix B and RFC 4226 Appendix D: the ASCII key "12345678901234567890".
const rfcSecret = utf8('12345678901234567890');
const totp: OtpKey = {
  serial: 'CD-6238',
  type: 'totp',
  secret: rfcSecret,
  algorithm: 'SHA1',
  digits: 8,
  period: 30,
};
const hotp: OtpKey = {
  serial: 'AR-4226',
  type: 'hotp',
  secret: rfcSecret,
  algorithm: 'SHA1',
  digits: 6,
  counter: 0,
};
const otp = (serial: string, code: string) =>
  ({ type: 'otp', serial, code, deviceTime: 0 }) as const;

describe('OtpVerifier.verifyKey', () => {
  it("accepts RFC 6238's code at 59 s from the package and from the prepared package", () => {
    const v = new OtpVerifier('code-display');
    const state = bindingFromKey(totp).state;
    for (const key of [totp, prepareKeyPackage(totp)]) {
      const ok = v.verifyKey(key, state, otp('CD-6238', '94287082'), { now: 59_000 });
      expect(ok).toMatchObject({ verified: true, reason: 'ok' });
      expect(ok.state).toEqual({ lastStep: 1, driftSteps: 0 });
      // The same code again, from the state just stored: a replay.
      const again = v.verifyKey(key, ok.state, otp('CD-6238', '94287082'), { now: 59_000 });
      expect(again).toMatchObject({ verified: false, reason: 'replayed' });
      expect(again.state).toEqual(ok.state);
    }
  });

  it('decides as verify() on the binding does, code by code, for TOTP and HOTP', async () => {
    for (const [key, kind] of [
      [totp, 'code-display'],
      [hotp, 'audio-reader'],
    ] as const) {
      const v = new OtpVerifier(kind);
      const prepared = prepareKeyPackage(key);
      let binding: OtpBinding = bindingFromKey(key);
      const now = Date.UTC(2026, 10, 25, 12, 0, 5);
      const codes =
        key.type === 'totp'
          ? [-60_000, -30_000, 0, 0, 30_000, 90_000].map((d) => generateTotp(key, now + d))
          : [0, 1, 1, 5, 20, 2].map((c) => generateHotp(key, c));
      for (const code of [...codes, '000000', 'abcdef', '']) {
        for (const serial of [key.serial, 'OTHER']) {
          const byBinding = await v.verify(binding, otp(serial, code), { now });
          const byKey = v.verifyKey(key, binding.state, otp(serial, code), { now });
          const byPrepared = v.verifyKey(prepared, binding.state, otp(serial, code), { now });
          expect(byKey).toEqual({ ...byPrepared });
          expect({ verified: byKey.verified, reason: byKey.reason, state: byKey.state }).toEqual({
            verified: byBinding.verified,
            reason: byBinding.reason,
            state: byBinding.binding.state,
          });
          binding = byBinding.binding;
        }
      }
    }
  });

  it('refuses what is not a key, and a malformed proof is an answer, not an error', () => {
    const v = new OtpVerifier('code-display');
    const state = bindingFromKey(totp).state;
    expect(() => v.verifyKey(null as never, state, otp('CD-6238', '1'), { now: 0 })).toThrow(/key/);
    expect(() =>
      v.verifyKey({ ...totp, secret: 'x' } as never, state, otp('CD-6238', '1'), { now: 0 }),
    ).toThrow(/secret/);
    expect(() => v.verifyKey(totp, null as never, otp('CD-6238', '1'), { now: 0 })).toThrow(
      /state/,
    );
    expect(v.verifyKey(totp, state, { type: 'otp' } as never, { now: 0 })).toMatchObject({
      verified: false,
      reason: 'malformed',
    });
  });

  it('a prepared package checks its parameters, keeps no secret in JSON, and outlives the wiped seed', () => {
    expect(() => prepareKeyPackage({ ...totp, digits: 5 })).toThrow(/digits/);
    expect(() => prepareKeyPackage({ ...totp, serial: '' })).toThrow(/serial/);
    expect(() => prepareKeyPackage({ ...totp, type: 'motp' as never })).toThrow(/type/);
    const secret = Uint8Array.from(rfcSecret);
    const prepared = prepareKeyPackage({ ...totp, secret });
    secret.fill(0);
    expect(prepared).toBeInstanceOf(PreparedKeyPackage);
    expect(JSON.stringify(prepared)).toBe('{"type":"totp","serial":"CD-6238"}');
    const v = new OtpVerifier('code-display');
    const ok = v.verifyKey(prepared, bindingFromKey(totp).state, otp('CD-6238', '94287082'), {
      now: 59_000,
    });
    expect(ok.verified).toBe(true);
  });
});
