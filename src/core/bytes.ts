/** Byte helpers: Uint8Array at every boundary, hex and base32, and constant-time comparison. */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Throws a TypeError/RangeError naming `name` unless `x` is a Uint8Array of `length` bytes. */
export function assertBytes(
  x: unknown,
  length: number | undefined,
  name: string,
): asserts x is Uint8Array {
  if (!(x instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
  if (length !== undefined && x.length !== length) {
    throw new RangeError(`${name} must be ${length} bytes, got ${x.length}`);
  }
}

/** Throws unless `x` is an integer in [min, max]; the message names `name`. */
export function assertInt(x: unknown, min: number, max: number, name: string): asserts x is number {
  if (typeof x !== 'number' || !Number.isInteger(x))
    throw new TypeError(`${name} must be an integer`);
  if (x < min || x > max)
    throw new RangeError(`${name} must be between ${min} and ${max}, got ${x}`);
}

/**
 * Constant-time equality of two byte strings. When the lengths differ, both sides are first
 * reduced with HMAC-SHA256 under a random key, so the time taken does not reveal where or whether
 * the contents differ; the result is then false.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length === b.length) return timingSafeEqual(a, b);
  const k = randomBytes(32);
  const ha = createHmac('sha256', k).update(a).digest();
  const hb = createHmac('sha256', k).update(b).digest();
  timingSafeEqual(ha, hb);
  return false;
}

/** Constant-time equality of two strings, compared as UTF-8 bytes. */
export function constantTimeEqualString(a: string, b: string): boolean {
  return constantTimeEqual(utf8(a), utf8(b));
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 bytes of `s`. */
export function utf8(s: string): Uint8Array {
  return textEncoder.encode(s);
}

/** Decodes UTF-8, throwing TypeError on invalid input. */
export function fromUtf8(b: Uint8Array): string {
  return textDecoder.decode(b);
}

/** Lower-case hex of `b`. */
export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Parses hex (either case, even length, no prefix); throws TypeError naming `name` otherwise. */
export function fromHex(s: string, name = 'hex'): Uint8Array {
  if (typeof s !== 'string' || s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) {
    throw new TypeError(`${name} must be an even number of hex digits`);
  }
  return new Uint8Array(Buffer.from(s, 'hex'));
}

/** Standard base64 of `b`. */
export function toBase64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}

/** Parses strict standard base64 (whitespace allowed); throws TypeError naming `name` otherwise. */
export function fromBase64(s: string, name = 'base64'): Uint8Array {
  const clean = typeof s === 'string' ? s.replace(/\s+/g, '') : '';
  if (typeof s !== 'string' || clean.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(clean)) {
    throw new TypeError(`${name} is not valid base64`);
  }
  return new Uint8Array(Buffer.from(clean, 'base64'));
}

/** base64url without padding of `b`. */
export function toBase64Url(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64url');
}

/** Parses base64url (padding optional); throws TypeError naming `name` otherwise. */
export function fromBase64Url(s: string, name = 'base64url'): Uint8Array {
  if (
    typeof s !== 'string' ||
    !/^[A-Za-z0-9_-]*={0,2}$/.test(s) ||
    s.replace(/=+$/, '').length % 4 === 1
  ) {
    throw new TypeError(`${name} is not valid base64url`);
  }
  return new Uint8Array(Buffer.from(s, 'base64url'));
}

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 of `b`, with padding unless `pad` is false. */
export function toBase32(b: Uint8Array, pad = true): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of b) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  if (pad) while (out.length % 8 !== 0) out += '=';
  return out;
}

/** Parses RFC 4648 base32 (case-insensitive, padding and spaces optional). */
export function fromBase32(s: string, name = 'base32'): Uint8Array {
  const clean = typeof s === 'string' ? s.replace(/[\s=]/g, '').toUpperCase() : '';
  if (typeof s !== 'string' || !/^[A-Z2-7]*$/.test(clean))
    throw new TypeError(`${name} is not valid base32`);
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of clean) {
    value = (value << 5) | B32.indexOf(ch);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
    value &= 0xff;
  }
  return new Uint8Array(out);
}

/** Concatenates byte arrays. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Overwrites `b` with zeros (best effort: JS may have copies). */
export function wipe(b: Uint8Array): void {
  b.fill(0);
}
