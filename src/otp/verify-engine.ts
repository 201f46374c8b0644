/** The constant-work window scan under HOTP/TOTP verification: HMAC every counter, compare all. */
import { createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { counterToBytes, dynamicTruncate, truncateDigits } from '@otplib/core';
import { OtpError } from '../core/errors.js';
import { HashAlgorithms } from './types.js';
import type { HashAlgorithm, HotpParams, TotpParams } from './types.js';

/** node:crypto's names for the RFC 6238 §1.2 hash functions. */
const nodeHash = { SHA1: 'sha1', SHA256: 'sha256', SHA512: 'sha512' } as const;

/** Longest secret accepted: the same bound as the generator's guardrails (generate.ts). */
const MAX_SECRET_BYTES = 1024;

/**
 * A code the user typed, made ready for a fixed-length comparison. Input that is not exactly
 * `digits` ASCII digits becomes a buffer of zero bytes, which can never equal a code (codes are
 * ASCII '0'–'9'), so a malformed code costs the same work as a wrong one and still fails.
 */
export interface Candidate {
  readonly bytes: Buffer;
  readonly wellFormed: boolean;
}

/**
 * OTP parameters checked once, with the secret held as a node:crypto KeyObject so the hot path
 * does no validation or key import. The secret lives only in a private field: it is not
 * enumerable, so neither logging nor JSON.stringify can print it.
 */
export class PreparedOtpKey {
  readonly algorithm: HashAlgorithm;
  readonly digits: 6 | 7 | 8;
  /** TOTP time step X in seconds (RFC 6238 §4.1); 30 unless given. */
  readonly period: number;
  /** TOTP T0 in Unix seconds (RFC 6238 §4.1); 0 unless given. */
  readonly t0: number;
  readonly #key: KeyObject;
  readonly #hash: (typeof nodeHash)[HashAlgorithm];
  /** Holds the expected code during one comparison; never escapes this object. */
  readonly #expected: Buffer;

  /** Use {@link prepareOtpKey}; this checks everything and throws OtpError on bad parameters. */
  constructor(params: TotpParams) {
    if (typeof params !== 'object' || params === null) {
      throw new OtpError('bad-params', 'OTP parameters must be an object');
    }
    const { secret } = params;
    if (!(secret instanceof Uint8Array) || secret.length === 0) {
      throw new OtpError('bad-secret', 'secret must be a non-empty Uint8Array');
    }
    if (secret.length > MAX_SECRET_BYTES) {
      throw new OtpError('bad-secret', `secret must be at most ${MAX_SECRET_BYTES} bytes`);
    }
    const algorithm = params.algorithm ?? 'SHA1';
    // `includes`, not `in`: 'toString' is "in" every object.
    if (!(HashAlgorithms as readonly unknown[]).includes(algorithm)) {
      throw new OtpError('bad-algorithm', 'algorithm must be SHA1, SHA256 or SHA512');
    }
    const digits = params.digits ?? 6;
    if (digits !== 6 && digits !== 7 && digits !== 8) {
      throw new OtpError('bad-digits', 'digits must be 6, 7 or 8');
    }
    const period = params.period ?? 30;
    if (!Number.isInteger(period) || period < 1 || period > 86_400) {
      throw new OtpError('bad-period', 'period must be a whole number of seconds from 1 to 86400');
    }
    const t0 = params.t0 ?? 0;
    if (!Number.isSafeInteger(t0) || t0 < 0) {
      throw new OtpError('bad-t0', 't0 must be a non-negative whole number of seconds');
    }
    this.algorithm = algorithm;
    this.digits = digits;
    this.period = period;
    this.t0 = t0;
    this.#hash = nodeHash[algorithm];
    this.#key = createSecretKey(secret);
    this.#expected = Buffer.alloc(digits);
  }

  /** Turns what the user typed into a fixed-length value for comparison (never throws). */
  candidate(code: unknown): Candidate {
    const wellFormed =
      typeof code === 'string' && code.length === this.digits && /^[0-9]+$/.test(code);
    return {
      bytes: wellFormed ? Buffer.from(code, 'latin1') : Buffer.alloc(this.digits),
      wellFormed,
    };
  }

  /**
   * Computes the code for every counter in `first .. first+count-1` and compares it with every
   * candidate, always all of them: nothing here returns early or branches on a secret, so the work
   * does not depend on where (or whether) a code matches. `out[i * candidates.length + j]` is 1
   * when candidate j equals the code at counter `first + i`. Counters that cannot exist (below 0
   * or above 2^53 - 1) are computed as counter 0 and never match, so they cost the same.
   */
  scan(first: number, count: number, candidates: readonly Candidate[], out: Uint8Array): void {
    const width = candidates.length;
    const expected = this.#expected;
    for (let i = 0; i < count; i++) {
      const counter = first + i;
      const exists = counter >= 0 && counter <= Number.MAX_SAFE_INTEGER ? 1 : 0;
      // RFC 4226 §5.3 step 1: HS = HMAC(K, C), C as an 8-byte big-endian counter.
      const hs = createHmac(this.#hash, this.#key)
        .update(counterToBytes(exists === 1 ? counter : 0))
        .digest();
      // Steps 2 and 3: dynamic truncation, then Snum mod 10^Digit, zero-padded.
      expected.write(truncateDigits(dynamicTruncate(hs), this.digits), 'latin1');
      for (let j = 0; j < width; j++) {
        const c = candidates[j]!;
        out[i * width + j] = (timingSafeEqual(expected, c.bytes) ? 1 : 0) & exists;
      }
    }
    expected.fill(0);
  }

  /** Keeps the secret out of JSON: only the public parameters are written. */
  toJSON(): { algorithm: HashAlgorithm; digits: number; period: number; t0: number } {
    return { algorithm: this.algorithm, digits: this.digits, period: this.period, t0: this.t0 };
  }
}

/**
 * Checks OTP parameters once and imports the secret, for callers that verify many codes with one
 * key (the verify functions accept either this or plain parameters).
 */
export function prepareOtpKey(params: TotpParams | HotpParams): PreparedOtpKey {
  return new PreparedOtpKey(params);
}

/** `params` as a PreparedOtpKey, preparing it when it is plain parameters. */
export function toPrepared(params: TotpParams | HotpParams | PreparedOtpKey): PreparedOtpKey {
  return params instanceof PreparedOtpKey ? params : new PreparedOtpKey(params);
}
