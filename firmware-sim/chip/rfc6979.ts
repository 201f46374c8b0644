/** Deterministic ECDSA on P-256 with SHA-256 (RFC 6979 §3.2), for byte-reproducible chip output. */
import { createECDH, createHash, createHmac } from 'node:crypto';
import { concatBytes } from '../../src/core/bytes.js';

// P-256 domain parameters (FIPS 186-5 / SP 800-186 §3.2.1.3).
const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const A = P - 3n;
/** The base point G. */
export const P256_G = {
  x: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
  y: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
} as const;
/** The curve coefficient b. */
export const P256_B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;

/** An affine point on P-256, or null for the point at infinity. */
export type P256Point = { x: bigint; y: bigint } | null;

const mod = (a: bigint, m: bigint): bigint => {
  const r = a % m;
  return r < 0n ? r + m : r;
};

/** Inverse modulo m by the extended Euclidean algorithm. */
function inv(a: bigint, m: bigint): bigint {
  let [r0, r1] = [mod(a, m), m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  if (r0 !== 1n) throw new RangeError('not invertible');
  return mod(s0, m);
}

function add(p1: P256Point, p2: P256Point): P256Point {
  if (p1 === null) return p2;
  if (p2 === null) return p1;
  let l: bigint;
  if (p1.x === p2.x) {
    if (mod(p1.y + p2.y, P) === 0n) return null;
    l = mod((3n * p1.x * p1.x + A) * inv(2n * p1.y, P), P);
  } else {
    l = mod((p2.y - p1.y) * inv(p2.x - p1.x, P), P);
  }
  const x = mod(l * l - p1.x - p2.x, P);
  return { x, y: mod(l * (p1.x - x) - p1.y, P) };
}

/** k·Q by double-and-add (not constant time: emulator use only). */
export function p256Multiply(k: bigint, q: { x: bigint; y: bigint } = P256_G): P256Point {
  let r: P256Point = null;
  let addend: P256Point = q;
  for (let e = k; e > 0n; e >>= 1n) {
    if (e & 1n) r = add(r, addend);
    addend = add(addend, addend);
  }
  return r;
}

const toInt = (b: Uint8Array): bigint => {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
};

/** int2octets (RFC 6979 §2.3.3) for P-256: 32 bytes big-endian. */
const int2octets = (v: bigint): Uint8Array => {
  const out = new Uint8Array(32);
  for (let i = 31, x = v; i >= 0; i--, x >>= 8n) out[i] = Number(x & 0xffn);
  return out;
};

const hmac = (k: Uint8Array, ...parts: Uint8Array[]): Uint8Array => {
  const h = createHmac('sha256', k);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

/** The nonce k of RFC 6979 §3.2 for private key `d` and message hash `h1` (qlen = hlen = 256). */
export function rfc6979Nonce(d: bigint, h1: Uint8Array, attempt = 0): bigint {
  const x = int2octets(d);
  // bits2octets(h1) = int2octets(bits2int(h1) mod q) (§2.3.4).
  const h = int2octets(mod(toInt(h1), N));
  let v: Uint8Array = new Uint8Array(32).fill(1);
  let k: Uint8Array = new Uint8Array(32);
  k = hmac(k, v, Uint8Array.of(0), x, h);
  v = hmac(k, v);
  k = hmac(k, v, Uint8Array.of(1), x, h);
  v = hmac(k, v);
  for (let tries = 0; ; tries++) {
    v = hmac(k, v);
    const candidate = toInt(v);
    if (candidate >= 1n && candidate < N && tries >= attempt) return candidate;
    k = hmac(k, v, Uint8Array.of(0));
    v = hmac(k, v);
  }
}

/** A short DER TLV (content under 128 bytes, as for these signatures). */
const der = (tag: number, body: Uint8Array): Uint8Array =>
  concatBytes(Uint8Array.of(tag, body.length), body);

/** A DER INTEGER from a non-negative bigint. */
function derInt(v: bigint): Uint8Array {
  let b = int2octets(v);
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  b = b.subarray(i);
  return der(0x02, b[0]! & 0x80 ? concatBytes(Uint8Array.of(0), b) : b);
}

/**
 * The x-coordinate of k·G, by node:crypto's P-256 (ECDH derives the public point of the scalar
 * k): native, and thousands of times faster than {@link p256Multiply}. k is in [1, n-1] (RFC 6979
 * §3.2 step h.3), so k·G is never the point at infinity.
 */
function baseMultipleX(k: bigint): bigint {
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(int2octets(k));
  return toInt(ecdh.getPublicKey().subarray(1, 33));
}

/** ECDSA P-256 SHA-256 signature with the RFC 6979 nonce: raw r and s. */
export function signDeterministicRaw(d: Uint8Array, data: Uint8Array): { r: bigint; s: bigint } {
  const h1 = new Uint8Array(createHash('sha256').update(data).digest());
  const dv = toInt(d);
  const z = mod(toInt(h1), N);
  for (let attempt = 0; ; attempt++) {
    const k = rfc6979Nonce(dv, h1, attempt);
    const r = mod(baseMultipleX(k), N);
    if (r === 0n) continue;
    const s = mod(inv(k, N) * (z + r * dv), N);
    if (s === 0n) continue;
    return { r, s };
  }
}

/** ECDSA P-256 SHA-256 with the RFC 6979 nonce, DER encoded as WebAuthn carries it. */
export function signEs256Deterministic(d: Uint8Array, data: Uint8Array): Uint8Array {
  const { r, s } = signDeterministicRaw(d, data);
  return der(0x30, concatBytes(derInt(r), derInt(s)));
}
