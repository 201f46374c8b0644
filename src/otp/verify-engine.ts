/** The constant-work window scan under HOTP/TOTP verification: HMAC every counter, compare all. */
import { createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { dynamicTruncate } from '@otplib/core';
import { OtpError } from '../core/errors.js';
import { HashAlgorithms } from './types.js';
import type { HashAlgorithm, HotpParams, TotpParams } from './types.js';

/** node:crypto's names for the RFC 6238 §1.2 hash functions. */
const nodeHash = { SHA1: 'sha1', SHA256: 'sha256', SHA512: 'sha512' } as const;

/** Longest secret accepted: the same bound as the generator's guardrails (generate.ts). */
const MAX_SECRET_BYTES = 1024;

/** The buffers one verification works in. */
interface Scratch {
  /** The expected code during one comparison; zeroed after every scan. */
  readonly expected: Buffer;
  /** The codes being checked, as fixed-length bytes (two for a resync). */
  readonly codes: readonly [Buffer, Buffer];
  /** The 8-byte counter of the HMAC being computed. */
  readonly counter: Buffer;
  /** Match flags of the last scan; grown on demand. */
  matches: Uint8Array;
}

const scratches = new Map<number, Scratch>();

/**
 * The scratch buffers for `digits`-digit codes, one set per process. Sharing is safe because a
 * verification loads, scans and decides in one synchronous run, and it spares the five buffer
 * allocations that would otherwise cost a one-shot verification about a sixth of its time.
 */
function scratchFor(digits: 6 | 7 | 8): Scratch {
  let s = scratches.get(digits);
  if (s === undefined) {
    s = {
      expected: Buffer.alloc(digits),
      codes: [Buffer.alloc(digits), Buffer.alloc(digits)],
      counter: Buffer.alloc(8),
      matches: new Uint8Array(64),
    };
    scratches.set(digits, s);
  }
  return s;
}

/**
 * OTP parameters checked once, with the secret held as a node:crypto KeyObject so the hot path
 * does no validation or key import. The secret lives only in a private field: it is not
 * enumerable, so neither logging nor JSON.stringify can print it.
 *
 * For one verification from plain parameters, importing a KeyObject costs about as much as a
 * whole HMAC, so such a one-shot key hands node:crypto the caller's bytes instead.
 */
export class PreparedOtpKey {
  readonly algorithm: HashAlgorithm;
  readonly digits: 6 | 7 | 8;
  /** TOTP time step X in seconds (RFC 6238 §4.1); 30 unless given. */
  readonly period: number;
  /** TOTP T0 in Unix seconds (RFC 6238 §4.1); 0 unless given. */
  readonly t0: number;
  readonly #key: KeyObject | Uint8Array;
  readonly #hash: (typeof nodeHash)[HashAlgorithm];
  /** Scratch buffers for this many digits (shared: see {@link scratchFor}). */
  readonly #scratch: Scratch;

  /**
   * Use {@link prepareOtpKey}; this checks everything and throws OtpError on bad parameters.
   * `oneShot` keeps a reference to the caller's secret instead of importing it.
   */
  constructor(params: TotpParams, oneShot = false) {
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
    this.#key = oneShot ? secret : createSecretKey(secret);
    this.#scratch = scratchFor(digits);
  }

  /**
   * Loads what the user typed into comparison slot 0 or 1 and says whether it is well formed:
   * exactly `digits` ASCII digits. Anything else loads zero bytes, which no code equals (codes
   * are ASCII '0'–'9'), so a malformed code costs the same work as a wrong one and still fails.
   * Checked and copied in one pass with no branch per character. Never throws.
   * @internal The verify functions' building block.
   */
  load(slot: 0 | 1, code: unknown): boolean {
    const out = this.#scratch.codes[slot];
    if (typeof code !== 'string' || code.length !== this.digits) {
      out.fill(0);
      return false;
    }
    let digit = 1;
    for (let i = 0; i < out.length; i++) {
      const ch = code.charCodeAt(i);
      digit &= Number(ch >= 0x30) & Number(ch <= 0x39);
      out[i] = ch & 0xff;
    }
    if (digit === 0) out.fill(0);
    return digit === 1;
  }

  /**
   * Computes the code for every counter in `first .. first+count-1` and compares it with the
   * first `width` loaded codes, always all of them: nothing here returns early or branches on a
   * secret, so the work does not depend on where (or whether) a code matches. In the returned
   * flags (valid until the next scan), `[i * width + j]` is 1 when code j equals the code at
   * counter `first + i`. Counters that cannot exist (below 0 or above 2^53 - 1) are computed as
   * counter 0 and never match, so they cost the same.
   * @internal The verify functions' building block.
   */
  scan(first: number, count: number, width: 1 | 2): Uint8Array {
    const scratch = this.#scratch;
    if (scratch.matches.length < count * width) scratch.matches = new Uint8Array(count * width);
    const { matches: out, expected, codes, counter: counterBytes } = scratch;
    for (let i = 0; i < count; i++) {
      const counter = first + i;
      const exists = counter >= 0 && counter <= Number.MAX_SAFE_INTEGER ? 1 : 0;
      // RFC 4226 §5.3 step 1: HS = HMAC(K, C), C as an 8-byte big-endian counter.
      const hs = createHmac(this.#hash, this.#key)
        .update(writeCounter(counterBytes, exists === 1 ? counter : 0))
        .digest();
      // Steps 2 and 3: dynamic truncation, then Snum mod 10^Digit, zero-padded.
      writeDigits(expected, dynamicTruncate(hs));
      for (let j = 0; j < width; j++) {
        out[i * width + j] = Number(timingSafeEqual(expected, codes[j]!)) & exists;
      }
    }
    expected.fill(0);
    return out;
  }

  /** Keeps the secret out of JSON: only the public parameters are written. */
  toJSON(): { algorithm: HashAlgorithm; digits: number; period: number; t0: number } {
    return { algorithm: this.algorithm, digits: this.digits, period: this.period, t0: this.t0 };
  }
}

/**
 * Writes `c` (a safe integer >= 0) into `out` as RFC 4226's 8-byte big-endian counter: the bytes
 * otplib's `counterToBytes` makes (test/otp/engine.test.ts pins the two together), without its
 * BigInt and fresh ArrayBuffer, which cost about a quarter of an HMAC-SHA-1 each.
 */
export function writeCounter(out: Buffer, c: number): Buffer {
  out.writeUInt32BE(Math.floor(c / 0x1_0000_0000), 0);
  out.writeUInt32BE(c >>> 0, 4);
  return out;
}

/**
 * Writes `snum mod 10^out.length` into `out` as zero-padded ASCII digits (RFC 4226 §5.3 step 3):
 * the characters otplib's `truncateDigits` returns (pinned together in test/otp/engine.test.ts),
 * written straight into the comparison buffer rather than through a string, which is about
 * seven times dearer.
 */
export function writeDigits(out: Buffer, snum: number): Buffer {
  let rest = snum;
  for (let d = out.length - 1; d >= 0; d--) {
    out[d] = 0x30 + (rest % 10);
    rest = Math.floor(rest / 10);
  }
  return out;
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
  return params instanceof PreparedOtpKey ? params : new PreparedOtpKey(params, true);
}
