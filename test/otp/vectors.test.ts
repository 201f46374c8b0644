/** RFC 4226 Appendix D and RFC 6238 Appendix B through generation, the engine and verification. */
import { createHmac } from 'node:crypto';
import { dynamicTruncate } from '@otplib/core';
import { describe, expect, it } from 'vitest';
import { generateHotp, generateTotp, totpStep } from '../../src/otp/generate.js';
import {
  initialHotpState,
  initialTotpState,
  prepareOtpKey,
  verifyHotp,
  verifyTotp,
} from '../../src/otp/verify.js';
import { RFC4226_SECRET, RFC4226_VECTORS } from '../vectors/rfc4226.js';
import { RFC6238_SEEDS, RFC6238_VECTORS } from '../vectors/rfc6238.js';

function counterBytes(c: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(c));
  return b;
}

describe('RFC 4226 Appendix D', () => {
  it.each(RFC4226_VECTORS)('counter $count: HMAC, truncation and HOTP value', (row) => {
    // The intermediate values, with node:crypto alone: pins the inputs otplib's maths gets.
    const hs = createHmac('sha1', RFC4226_SECRET).update(counterBytes(row.count)).digest();
    expect(hs.toString('hex')).toBe(row.hmac);
    expect(dynamicTruncate(hs)).toBe(row.truncated);
    expect(row.truncated.toString(16)).toBe(row.truncatedHex);
    expect(String(row.truncated % 1_000_000).padStart(6, '0')).toBe(row.hotp);
    // The generator and the verification engine.
    expect(generateHotp({ secret: RFC4226_SECRET }, row.count)).toBe(row.hotp);
    expect(generateHotp({ secret: RFC4226_SECRET }, BigInt(row.count))).toBe(row.hotp);
    const r = verifyHotp({ secret: RFC4226_SECRET }, { counter: row.count }, row.hotp, {
      lookAhead: 0,
    });
    expect(r).toEqual({
      ok: true,
      reason: 'ok',
      counter: row.count,
      state: { counter: row.count + 1 },
    });
  });

  it('accepts the whole sequence in order, each code once', () => {
    const key = prepareOtpKey({ secret: RFC4226_SECRET });
    let state = initialHotpState();
    for (const row of RFC4226_VECTORS) {
      const r = verifyHotp(key, state, row.hotp, { lookAhead: 0 });
      expect(r.ok).toBe(true);
      state = r.state;
      expect(verifyHotp(key, state, row.hotp).reason).toBe('replayed');
    }
    expect(state).toEqual({ counter: 10 });
  });

  it('finds counter 9 from counter 0 with a look-ahead of 9, but not 8', () => {
    const last = RFC4226_VECTORS[9]!;
    const p = { secret: RFC4226_SECRET };
    expect(verifyHotp(p, initialHotpState(), last.hotp, { lookAhead: 9 }).counter).toBe(9);
    expect(verifyHotp(p, initialHotpState(), last.hotp, { lookAhead: 8 }).reason).toBe(
      'wrong-code',
    );
  });
});

describe('RFC 6238 Appendix B', () => {
  it.each(RFC6238_VECTORS)('$time s ($utc) $algorithm', (row) => {
    const params = { secret: RFC6238_SEEDS[row.algorithm], algorithm: row.algorithm, digits: 8 };
    const ms = row.time * 1000;
    expect(totpStep(params, ms).toString(16).toUpperCase().padStart(16, '0')).toBe(row.stepHex);
    expect(generateTotp(params, ms)).toBe(row.totp);
    const r = verifyTotp(params, initialTotpState(), row.totp, ms, { window: 0 });
    expect(r.ok).toBe(true);
    expect(r.step).toBe(Number.parseInt(row.stepHex, 16));
    expect(r.state).toEqual({ lastStep: r.step, driftSteps: 0 });
    // The same code, once accepted, is a replay.
    expect(verifyTotp(params, r.state, row.totp, ms).reason).toBe('replayed');
  });

  it('seed sizes are the hash output sizes', () => {
    expect(RFC6238_SEEDS.SHA1.length).toBe(20);
    expect(RFC6238_SEEDS.SHA256.length).toBe(32);
    expect(RFC6238_SEEDS.SHA512.length).toBe(64);
  });

  it('a vector code is also accepted one step later with window 1, and not with window 0', () => {
    const row = RFC6238_VECTORS.find((r) => r.time === 1234567890 && r.algorithm === 'SHA256')!;
    const params = { secret: RFC6238_SEEDS.SHA256, algorithm: 'SHA256' as const, digits: 8 };
    const later = (row.time + 30) * 1000;
    const r1 = verifyTotp(params, initialTotpState(), row.totp, later, { window: 1 });
    expect(r1).toMatchObject({ ok: true, state: { driftSteps: -1 } });
    expect(verifyTotp(params, initialTotpState(), row.totp, later, { window: 0 }).ok).toBe(false);
  });
});
