/** HOTP (RFC 4226) and TOTP (RFC 6238) code generation on otplib, with node:crypto for HMAC. */
import { createGuardrails } from '@otplib/core';
import { generateSync } from '@otplib/hotp';
import { NodeCryptoPlugin } from '@otplib/plugin-crypto-node';
import { OtpError } from '../core/errors.js';
import { HashAlgorithms, type HashAlgorithm, type HotpParams, type TotpParams } from './types.js';

/** The crypto plugin every otplib call here uses: HMAC from node:crypto. */
export const nodeCrypto = new NodeCryptoPlugin();

/**
 * otplib's guardrails, relaxed to what real tokens carry: RFC 4226 asks for 128-bit secrets but
 * vendors still ship 80-bit ones, and PSKC files hold them.
 */
export const tokenGuardrails = createGuardrails({ MIN_SECRET_BYTES: 1, MAX_SECRET_BYTES: 1024 });

const otplibAlgorithm = { SHA1: 'sha1', SHA256: 'sha256', SHA512: 'sha512' } as const;

/** Checks HOTP parameters, throwing OtpError with a clear message. */
export function checkHotpParams(p: HotpParams): { algorithm: HashAlgorithm; digits: 6 | 7 | 8 } {
  if (typeof p !== 'object' || p === null)
    throw new OtpError('bad-params', 'OTP parameters must be an object');
  if (!(p.secret instanceof Uint8Array) || p.secret.length === 0) {
    throw new OtpError('bad-secret', 'secret must be a non-empty Uint8Array');
  }
  if (p.secret.length > 1024) throw new OtpError('bad-secret', 'secret must be at most 1024 bytes');
  const algorithm = p.algorithm ?? 'SHA1';
  // `includes`, not `in`: 'toString' is "in" every object.
  if (!(HashAlgorithms as readonly unknown[]).includes(algorithm)) {
    throw new OtpError('bad-algorithm', 'algorithm must be SHA1, SHA256 or SHA512');
  }
  const digits = p.digits ?? 6;
  if (digits !== 6 && digits !== 7 && digits !== 8)
    throw new OtpError('bad-digits', 'digits must be 6, 7 or 8');
  return { algorithm, digits };
}

/** Checks TOTP parameters; returns period and t0 in seconds. */
export function checkTotpParams(p: TotpParams): { period: number; t0: number } {
  if (typeof p !== 'object' || p === null)
    throw new OtpError('bad-params', 'OTP parameters must be an object');
  const period = p.period ?? 30;
  const t0 = p.t0 ?? 0;
  if (!Number.isInteger(period) || period < 1 || period > 86_400) {
    throw new OtpError('bad-period', 'period must be a whole number of seconds from 1 to 86400');
  }
  if (!Number.isSafeInteger(t0) || t0 < 0)
    throw new OtpError('bad-t0', 't0 must be a non-negative whole number of seconds');
  return { period, t0 };
}

/** The HOTP code for `counter` (RFC 4226 §5.3). */
export function generateHotp(p: HotpParams, counter: number | bigint): string {
  const { algorithm, digits } = checkHotpParams(p);
  if (typeof counter === 'number' && (!Number.isSafeInteger(counter) || counter < 0)) {
    throw new OtpError('bad-counter', 'counter must be a non-negative safe integer');
  }
  if (typeof counter === 'bigint' && (counter < 0n || counter > 0xffffffffffffffffn)) {
    throw new OtpError('bad-counter', 'counter must fit in 8 bytes');
  }
  return generateSync({
    secret: p.secret,
    counter,
    algorithm: otplibAlgorithm[algorithm],
    digits,
    crypto: nodeCrypto,
    guardrails: tokenGuardrails,
  });
}

/** The TOTP time step T = floor((t - T0) / X) for `timeMs` (RFC 6238 §4.2). */
export function totpStep(p: TotpParams, timeMs: number): number {
  const { period, t0 } = checkTotpParams(p);
  if (typeof timeMs !== 'number' || !Number.isFinite(timeMs))
    throw new OtpError('bad-time', 'time must be a finite number');
  const seconds = Math.floor(timeMs / 1000);
  if (seconds < t0) throw new OtpError('bad-time', 'time is before T0');
  return Math.floor((seconds - t0) / period);
}

/** The TOTP code at `timeMs` (ms since the epoch). */
export function generateTotp(p: TotpParams, timeMs: number): string {
  return generateHotp(p, totpStep(p, timeMs));
}
