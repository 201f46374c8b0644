/** The chip's cryptography: P-256 keys from injected randomness, COSE keys, PIN/UV protocols 1 and 2. */
import {
  createCipheriv,
  createDecipheriv,
  createECDH,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  hkdfSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { concatBytes, constantTimeEqual } from '../../src/core/bytes.js';
import { CtapError, CtapStatus } from '../../src/ctap/status.js';
import { signEs256Deterministic } from './rfc6979.js';

/** The order n of P-256 (SEC 2 §2.4.2): a private scalar must be in [1, n-1]. */
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

/** COSE identifiers used here (RFC 9053; CTAP 2.1 §6.5.6 for -25). */
export const Cose = {
  kty: 1,
  alg: 3,
  crv: -1,
  x: -2,
  y: -3,
  ktyEc2: 2,
  crvP256: 1,
  ES256: -7,
  ECDH_ES_HKDF_256: -25,
} as const;

/** SHA-256. */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** HMAC-SHA-256. */
export function hmacSha256(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** A P-256 key pair: the scalar, the uncompressed point and node:crypto objects for signing. */
export interface P256Key {
  readonly d: Uint8Array;
  /** 0x04 ‖ x ‖ y */
  readonly publicPoint: Uint8Array;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

// PKCS#8 (RFC 5208) of a P-256 key as node:crypto exports one: this prefix, the 32-byte scalar,
// then P256_PKCS8_POINT and the 65-byte uncompressed public point (an RFC 5915 ECPrivateKey
// inside, the curve named in the algorithm identifier).
const P256_PKCS8_PREFIX = Buffer.from(
  '308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420',
  'hex',
);
const P256_PKCS8_POINT = Buffer.from('a144034200', 'hex');
const P256_PKCS8_LENGTH = P256_PKCS8_PREFIX.length + 32 + P256_PKCS8_POINT.length + 65;

/**
 * Rebuilds a P-256 key from its 32-byte scalar. The private key object is imported from PKCS#8
 * rather than JWK: node:crypto signs with such a key 0.3 to 1 µs faster (measured; presumably as
 * OpenSSL 3 holds a decoded PKCS#8 key as a provider key, where a JWK import makes a legacy
 * EC_KEY). The DER is wiped once imported.
 */
export function p256FromScalar(d: Uint8Array): P256Key {
  if (d.length !== 32) throw new RangeError('a P-256 scalar is 32 bytes');
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(d);
  const publicPoint = new Uint8Array(ecdh.getPublicKey());
  const der = Buffer.alloc(P256_PKCS8_LENGTH);
  P256_PKCS8_PREFIX.copy(der, 0);
  der.set(d, P256_PKCS8_PREFIX.length);
  P256_PKCS8_POINT.copy(der, P256_PKCS8_PREFIX.length + 32);
  der.set(publicPoint, P256_PKCS8_PREFIX.length + 32 + P256_PKCS8_POINT.length);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    der.fill(0);
  }
  const publicKey = createPublicKey(privateKey);
  return { d: new Uint8Array(d), publicPoint, privateKey, publicKey };
}

/**
 * A fresh P-256 key from the injected randomness (rejection sampling, as FIPS 186-5 A.4.2 does),
 * so a seeded source makes the same keys every run.
 */
export function generateP256(random: (n: number) => Uint8Array): P256Key {
  for (;;) {
    const d = random(32);
    let v = 0n;
    for (const b of d) v = (v << 8n) | BigInt(b);
    if (v >= 1n && v < P256_N) return p256FromScalar(d);
  }
}

/** ECDSA P-256 SHA-256 signature, DER encoded (as WebAuthn and U2F carry it). */
export function signEs256(key: KeyObject, data: Uint8Array): Uint8Array {
  // DER is what node:crypto gives for EC keys by default; the bare key skips the options parse.
  return new Uint8Array(sign('sha256', data, key));
}

/** Verifies an ES256 DER signature. */
export function verifyEs256(key: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  return verify('sha256', data, { key, dsaEncoding: 'der' }, signature);
}

/** The COSE_Key of a P-256 public key (RFC 9053 §7.1.1), `alg` ES256 or ECDH-ES+HKDF-256. */
export function coseEc2(publicPoint: Uint8Array, alg: number): Map<number, unknown> {
  return new Map<number, unknown>([
    [Cose.kty, Cose.ktyEc2],
    [Cose.alg, alg],
    [Cose.crv, Cose.crvP256],
    [Cose.x, publicPoint.slice(1, 33)],
    [Cose.y, publicPoint.slice(33, 65)],
  ]);
}

/**
 * Reads a platform's keyAgreement COSE_Key (CTAP 2.1 §6.5.6): EC2 on P-256, with 32-byte x and y.
 * Returns the uncompressed point; anything else is CTAP1_ERR_INVALID_PARAMETER.
 */
export function parsePlatformKey(cose: unknown): Uint8Array {
  const bad = (): CtapError =>
    new CtapError(CtapStatus.CTAP1_ERR_INVALID_PARAMETER, 'keyAgreement is not a P-256 COSE key');
  if (!(cose instanceof Map))
    throw new CtapError(CtapStatus.CTAP2_ERR_CBOR_UNEXPECTED_TYPE, 'keyAgreement must be a map');
  if (cose.get(Cose.kty) !== Cose.ktyEc2 || cose.get(Cose.crv) !== Cose.crvP256) throw bad();
  const x = cose.get(Cose.x);
  const y = cose.get(Cose.y);
  if (
    !(x instanceof Uint8Array) ||
    !(y instanceof Uint8Array) ||
    x.length !== 32 ||
    y.length !== 32
  ) {
    throw bad();
  }
  return concatBytes(Uint8Array.of(4), x, y);
}

/**
 * One PIN/UV auth protocol (CTAP 2.1 §6.5.6 and §6.5.7): how the shared secret is derived, and
 * how values are encrypted and authenticated with it.
 */
export interface PinUvAuthProtocol {
  readonly version: 1 | 2;
  /** Shared secret from the ECDH x-coordinate Z. */
  kdf(z: Uint8Array): Uint8Array;
  encrypt(key: Uint8Array, plaintext: Uint8Array, random: (n: number) => Uint8Array): Uint8Array;
  /** Null when the ciphertext has the wrong shape. */
  decrypt(key: Uint8Array, ciphertext: Uint8Array): Uint8Array | null;
  authenticate(key: Uint8Array, message: Uint8Array): Uint8Array;
  /** Constant-time check of a pinUvAuthParam. */
  verify(key: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}

function aesCbc(encrypt: boolean, key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  const c = encrypt
    ? createCipheriv('aes-256-cbc', key, iv)
    : createDecipheriv('aes-256-cbc', key, iv);
  c.setAutoPadding(false);
  return concatBytes(new Uint8Array(c.update(data)), new Uint8Array(c.final()));
}

/** PIN/UV auth protocol one (§6.5.6): SHA-256(Z), AES-256-CBC with a zero IV, HMAC left 16. */
export const pinProtocolOne: PinUvAuthProtocol = {
  version: 1,
  kdf: (z) => sha256(z),
  encrypt: (key, plaintext) => aesCbc(true, key, new Uint8Array(16), plaintext),
  decrypt: (key, ciphertext) =>
    ciphertext.length === 0 || ciphertext.length % 16 !== 0
      ? null
      : aesCbc(false, key, new Uint8Array(16), ciphertext),
  authenticate: (key, message) => hmacSha256(key, message).slice(0, 16),
  verify(key, message, signature) {
    // §6.5.6: the token may be 16 or 32 bytes; only the left 16 bytes of the HMAC are sent.
    return constantTimeEqual(this.authenticate(key, message), signature);
  },
};

const hkdf = (z: Uint8Array, info: string): Uint8Array =>
  new Uint8Array(hkdfSync('sha256', z, new Uint8Array(32), info, 32));

/**
 * PIN/UV auth protocol two (§6.5.7): HKDF-SHA-256 into an HMAC key and an AES key, AES-256-CBC
 * with a random IV sent first, full 32-byte HMAC. For a pinUvAuthToken the whole token is the
 * HMAC key (§6.5.7 "authenticate").
 */
export const pinProtocolTwo: PinUvAuthProtocol = {
  version: 2,
  kdf: (z) => concatBytes(hkdf(z, 'CTAP2 HMAC key'), hkdf(z, 'CTAP2 AES key')),
  encrypt(key, plaintext, random) {
    const iv = random(16);
    return concatBytes(iv, aesCbc(true, key.length === 64 ? key.subarray(32) : key, iv, plaintext));
  },
  decrypt(key, ciphertext) {
    if (ciphertext.length < 32 || ciphertext.length % 16 !== 0) return null;
    const aesKey = key.length === 64 ? key.subarray(32) : key;
    return aesCbc(false, aesKey, ciphertext.subarray(0, 16), ciphertext.subarray(16));
  },
  authenticate: (key, message) =>
    hmacSha256(key.length === 64 ? key.subarray(0, 32) : key, message),
  verify(key, message, signature) {
    return constantTimeEqual(this.authenticate(key, message), signature);
  },
};

/** The protocol numbered `n`, or null. */
export function pinProtocol(n: unknown): PinUvAuthProtocol | null {
  return n === 1 ? pinProtocolOne : n === 2 ? pinProtocolTwo : null;
}

/** ECDH on P-256: the x-coordinate Z of d·Q, or null when Q is not on the curve. */
export function ecdhZ(own: P256Key, peerPoint: Uint8Array): Uint8Array | null {
  try {
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(own.d);
    return new Uint8Array(ecdh.computeSecret(peerPoint));
  } catch {
    return null;
  }
}

/** AES-256-GCM sealing, for credential IDs (the key never leaves the chip). */
export function seal(
  key: Uint8Array,
  iv: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
): Uint8Array {
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(aad);
  const body = concatBytes(new Uint8Array(c.update(plaintext)), new Uint8Array(c.final()));
  return concatBytes(body, new Uint8Array(c.getAuthTag()));
}

/** Opens what {@link seal} made; null when it was not made with this key and aad. */
export function open(
  key: Uint8Array,
  iv: Uint8Array,
  aad: Uint8Array,
  sealed: Uint8Array,
): Uint8Array | null {
  if (sealed.length < 16) return null;
  try {
    const d = createDecipheriv('aes-256-gcm', key, iv);
    d.setAAD(aad);
    d.setAuthTag(sealed.subarray(sealed.length - 16));
    return concatBytes(
      new Uint8Array(d.update(sealed.subarray(0, sealed.length - 16))),
      new Uint8Array(d.final()),
    );
  } catch {
    return null;
  }
}

/** COSE identifiers for Ed25519 (RFC 9053 §2.2, §7.2). */
export const CoseOkp = { ktyOkp: 1, EdDSA: -8, crvEd25519: 6 } as const;

/** A credential's signing key, whatever its algorithm. */
export interface CredentialKey {
  /** COSE algorithm: ES256 (-7) or EdDSA (-8). */
  readonly alg: number;
  /** The 32-byte secret (P-256 scalar or Ed25519 seed), sealed into the credential ID. */
  readonly secret: Uint8Array;
  /** COSE_Key of the public key (what authenticator data carries). */
  readonly cose: Map<number, unknown>;
  /** The signature (DER for ES256); may be a Buffer, which is a Uint8Array. */
  sign(data: Uint8Array): Uint8Array;
}

/**
 * An ES256 credential key from a P-256 key. `deterministic` signs with the RFC 6979 nonce
 * (byte-reproducible, slower) instead of node:crypto's random one.
 */
export function es256Key(k: P256Key, deterministic = false): CredentialKey {
  return {
    alg: Cose.ES256,
    secret: k.d,
    cose: coseEc2(k.publicPoint, Cose.ES256),
    sign: deterministic
      ? (data) => signEs256Deterministic(k.d, data)
      : // node:crypto's Buffer as it comes (a Uint8Array): the signature is encoded into the
        // answer at once, so a copy of its own would only cost an allocation per assertion.
        (data) => sign('sha256', data, k.privateKey),
  };
}

// RFC 8410 §7: PKCS#8 for an Ed25519 private key is this fixed prefix and the 32-byte seed.
const ED25519_PKCS8_PREFIX = Uint8Array.of(
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x70,
  0x04,
  0x22,
  0x04,
  0x20,
);

/** An EdDSA (Ed25519) credential key from its seed (RFC 8032 §5.1.5). Signatures are deterministic. */
export function ed25519Key(seed: Uint8Array): CredentialKey {
  const privateKey = createPrivateKey({
    key: Buffer.from(concatBytes(ED25519_PKCS8_PREFIX, seed)),
    format: 'der',
    type: 'pkcs8',
  });
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  const x = new Uint8Array(Buffer.from(jwk.x ?? '', 'base64url'));
  return {
    alg: CoseOkp.EdDSA,
    secret: new Uint8Array(seed),
    cose: new Map<number, unknown>([
      [Cose.kty, CoseOkp.ktyOkp],
      [Cose.alg, CoseOkp.EdDSA],
      [Cose.crv, CoseOkp.crvEd25519],
      [Cose.x, x],
    ]),
    sign: (data) => new Uint8Array(sign(null, data, privateKey)),
  };
}
