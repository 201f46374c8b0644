/**
 * The platform half of the PIN/UV auth protocols one and two (CTAP 2.1 §6.5.6, §6.5.7): ECDH
 * key agreement with the authenticator's key, then encrypt/decrypt/authenticate with the shared
 * secret or with a pinUvAuthToken.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { DeviceError, toBase64Url } from '../../src/core/index.js';
import type { CborMap } from '../../src/ctap/cbor.js';

/** A COSE_Key as CTAP carries it: a CBOR map with integer labels (RFC 9053 §7.1.1). */
export type CoseKey = CborMap;

/** The two protocol numbers (CTAP 2.1 §6.5.4). */
export type PinProtocolVersion = 1 | 2;

/** Permissions a pinUvAuthToken can carry (CTAP 2.1 §6.5.5.7). */
export const PinPermissions = {
  makeCredential: 0x01,
  getAssertion: 0x02,
  credentialManagement: 0x04,
  bioEnrollment: 0x08,
  largeBlobWrite: 0x10,
  authenticatorConfig: 0x20,
} as const;

/** One side's key agreement result: our public key for the authenticator and the shared secret. */
export interface PinSharedSecret {
  readonly protocol: PinProtocolVersion;
  /** Our ephemeral public key as a COSE_Key (alg -25, ECDH-ES+HKDF-256), sent as keyAgreement. */
  readonly platformKey: Map<number, unknown>;
  /** Protocol 1: 32 bytes; protocol 2: HMAC key (32) then AES key (32). */
  readonly secret: Uint8Array;
}

function bad(message: string): DeviceError {
  return new DeviceError('bad-key-agreement', message);
}

function coordinate(cose: CoseKey, label: number): Uint8Array {
  const v = cose.get(label);
  if (!(v instanceof Uint8Array) || v.length !== 32) {
    throw bad(`the authenticator's key agreement key has no 32-byte coordinate ${label}`);
  }
  return v;
}

/** The authenticator's P-256 key from its COSE form (kty 2 EC2, crv 1 P-256). */
export function coseToP256(cose: CoseKey): KeyObject {
  if (!(cose instanceof Map) || cose.get(1) !== 2 || cose.get(-1) !== 1) {
    throw bad("the authenticator's key agreement key is not an EC2 P-256 COSE key");
  }
  try {
    return createPublicKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: toBase64Url(coordinate(cose, -2)),
        y: toBase64Url(coordinate(cose, -3)),
      },
      format: 'jwk',
    });
  } catch (e) {
    throw new DeviceError(
      'bad-key-agreement',
      "the authenticator's key agreement key is not on P-256",
      {
        cause: e,
      },
    );
  }
}

/** A P-256 public key as a COSE_Key with the given algorithm. */
export function p256ToCose(key: KeyObject, alg: number): Map<number, unknown> {
  const jwk = key.export({ format: 'jwk' });
  return new Map<number, unknown>([
    [1, 2],
    [3, alg],
    [-1, 1],
    [-2, new Uint8Array(Buffer.from(jwk.x ?? '', 'base64url'))],
    [-3, new Uint8Array(Buffer.from(jwk.y ?? '', 'base64url'))],
  ]);
}

/**
 * encapsulate(peerCoseKey) of CTAP 2.1 §6.5.6 (protocol 1) and §6.5.7 (protocol 2): a fresh
 * ephemeral key pair, ECDH with the authenticator's key, then the protocol's KDF.
 */
export function encapsulate(protocol: PinProtocolVersion, peer: CoseKey): PinSharedSecret {
  const peerKey = coseToP256(peer);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const z = diffieHellman({ privateKey, publicKey: peerKey });
  return {
    protocol,
    platformKey: p256ToCose(publicKey, -25),
    secret: kdf(protocol, new Uint8Array(z)),
  };
}

/** KDF(Z): SHA-256(Z) for protocol 1 (§6.5.6); HKDF-SHA-256 twice for protocol 2 (§6.5.7). */
export function kdf(protocol: PinProtocolVersion, z: Uint8Array): Uint8Array {
  if (protocol === 1) return new Uint8Array(createHash('sha256').update(z).digest());
  const salt = new Uint8Array(32);
  const hmacKey = new Uint8Array(hkdfSync('sha256', z, salt, 'CTAP2 HMAC key', 32));
  const aesKey = new Uint8Array(hkdfSync('sha256', z, salt, 'CTAP2 AES key', 32));
  const out = new Uint8Array(64);
  out.set(hmacKey, 0);
  out.set(aesKey, 32);
  return out;
}

/** encrypt(key, plaintext): AES-256-CBC without padding; protocol 2 prepends a random IV. */
export function pinEncrypt(
  protocol: PinProtocolVersion,
  key: Uint8Array,
  plaintext: Uint8Array,
): Uint8Array {
  if (plaintext.length % 16 !== 0) throw new RangeError('plaintext must be a multiple of 16 bytes');
  const aesKey = protocol === 1 ? key : key.subarray(32, 64);
  const iv = protocol === 1 ? new Uint8Array(16) : new Uint8Array(randomBytes(16));
  const c = createCipheriv('aes-256-cbc', aesKey, iv).setAutoPadding(false);
  const body = Buffer.concat([c.update(plaintext), c.final()]);
  return protocol === 1 ? new Uint8Array(body) : new Uint8Array(Buffer.concat([iv, body]));
}

/** decrypt(key, ciphertext), the inverse of {@link pinEncrypt}; a bad length is a DeviceError. */
export function pinDecrypt(
  protocol: PinProtocolVersion,
  key: Uint8Array,
  ciphertext: Uint8Array,
): Uint8Array {
  const aesKey = protocol === 1 ? key : key.subarray(32, 64);
  const iv = protocol === 1 ? new Uint8Array(16) : ciphertext.subarray(0, 16);
  const body = protocol === 1 ? ciphertext : ciphertext.subarray(16);
  if (body.length === 0 || body.length % 16 !== 0) {
    throw new DeviceError('bad-pin-response', 'the authenticator sent ciphertext of a bad length');
  }
  const d = createDecipheriv('aes-256-cbc', aesKey, iv).setAutoPadding(false);
  return new Uint8Array(Buffer.concat([d.update(body), d.final()]));
}

/**
 * authenticate(key, message): HMAC-SHA-256, the first 16 bytes for protocol 1, all 32 for
 * protocol 2. `key` is a shared secret (protocol 2 uses its first half, the HMAC key) or a
 * pinUvAuthToken.
 */
export function pinAuthenticate(
  protocol: PinProtocolVersion,
  key: Uint8Array,
  message: Uint8Array,
): Uint8Array {
  const k = protocol === 2 ? key.subarray(0, 32) : key;
  const mac = new Uint8Array(createHmac('sha256', k).update(message).digest());
  return protocol === 1 ? mac.subarray(0, 16) : mac;
}

/** LEFT(SHA-256(pin), 16) of CTAP 2.1 §6.5.5.7; the PIN is UTF-8 (NFC is the caller's concern). */
export function pinHash(pin: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(pin, 'utf8').digest().subarray(0, 16));
}

/**
 * The new PIN padded with zeros to 64 bytes (CTAP 2.1 §6.5.5.5). Checks the platform rules: at
 * least 4 Unicode code points, at most 63 bytes.
 */
export function paddedPin(pin: string): Uint8Array {
  const bytes = Buffer.from(pin, 'utf8');
  if ([...pin].length < 4) throw new DeviceError('pin-policy', 'a PIN needs at least 4 characters');
  if (bytes.length > 63)
    throw new DeviceError('pin-policy', 'a PIN may be at most 63 bytes of UTF-8');
  const out = new Uint8Array(64);
  out.set(bytes, 0);
  return out;
}
