/** The PSKC cryptography: XML Encryption ciphers, HMAC value MACs, PBKDF2 (RFC 6030 §6). */
import { createCipheriv, createDecipheriv, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { concatBytes, constantTimeEqual } from '../../core/bytes.js';

/** Algorithm URIs used in PSKC documents (RFC 6030 §6, XML Encryption 1.0/1.1, XML DSig). */
export const PskcUris = {
  pskc: 'urn:ietf:params:xml:ns:keyprov:pskc',
  hotp: 'urn:ietf:params:xml:ns:keyprov:pskc:hotp',
  totp: 'urn:ietf:params:xml:ns:keyprov:pskc:totp',
  pin: 'urn:ietf:params:xml:ns:keyprov:pskc:pin',
  ds: 'http://www.w3.org/2000/09/xmldsig#',
  xenc: 'http://www.w3.org/2001/04/xmlenc#',
  xenc11: 'http://www.w3.org/2009/xmlenc11#',
  pkcs5: 'http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#',
  pbkdf2: 'http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#pbkdf2',
  aes128cbc: 'http://www.w3.org/2001/04/xmlenc#aes128-cbc',
  aes192cbc: 'http://www.w3.org/2001/04/xmlenc#aes192-cbc',
  aes256cbc: 'http://www.w3.org/2001/04/xmlenc#aes256-cbc',
  hmacSha1: 'http://www.w3.org/2000/09/xmldsig#hmac-sha1',
} as const;

/** A cipher we can apply to a PSKC value. */
export interface PskcCipher {
  readonly mode: 'cbc' | 'kw';
  /** Key length in bytes. */
  readonly keyBytes: 16 | 24 | 32;
  /** The node:crypto cipher name. */
  readonly node: string;
}

/**
 * The cipher an EncryptionMethod/@Algorithm names, by the fragment after `#` (XML Encryption
 * §5.2 block ciphers, §5.6.3 AES key wrap), or undefined when we do not implement it.
 */
export function cipherFor(uri: string): PskcCipher | undefined {
  const frag = fragment(uri);
  const table: Record<string, PskcCipher> = {
    'aes128-cbc': { mode: 'cbc', keyBytes: 16, node: 'aes-128-cbc' },
    'aes192-cbc': { mode: 'cbc', keyBytes: 24, node: 'aes-192-cbc' },
    'aes256-cbc': { mode: 'cbc', keyBytes: 32, node: 'aes-256-cbc' },
    'kw-aes128': { mode: 'kw', keyBytes: 16, node: 'id-aes128-wrap' },
    'kw-aes192': { mode: 'kw', keyBytes: 24, node: 'id-aes192-wrap' },
    'kw-aes256': { mode: 'kw', keyBytes: 32, node: 'id-aes256-wrap' },
  };
  return Object.hasOwn(table, frag) ? table[frag] : undefined;
}

/** The hash behind an HMAC or PRF URI (`...#hmac-sha1`, `...#hmac-sha256`, ...), if known. */
export function hmacHashFor(
  uri: string,
): 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512' | undefined {
  const m = /^hmac-?(sha-?(?:1|224|256|384|512))$/.exec(fragment(uri));
  if (!m) return undefined;
  return (m[1] ?? '').replace('-', '') as 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';
}

/** The part of a URI after `#` (or after the last `:` / `/`), lower-cased. */
export function fragment(uri: string): string {
  const s = uri.trim().toLowerCase();
  const i = Math.max(s.lastIndexOf('#'), s.lastIndexOf('/'));
  return i >= 0 ? s.slice(i + 1) : s;
}

/** Why a decryption failed; the caller turns it into a SeedFileError naming the key package. */
export type DecryptFailure = 'short' | 'bad-padding';

/**
 * Decrypts a PSKC CipherValue. CBC: the first block is the IV (RFC 6030 §6.1.1, XML Encryption
 * §5.2), PKCS#7 padding is removed and checked. Key wrap: RFC 3394 with its integrity check.
 * Returns a failure reason instead of throwing: a bad pad or a failed unwrap means a wrong key.
 */
export function decryptValue(
  cipher: PskcCipher,
  key: Uint8Array,
  data: Uint8Array,
): Uint8Array | DecryptFailure {
  try {
    if (cipher.mode === 'cbc') {
      if (data.length < 32 || data.length % 16 !== 0) return 'short';
      const d = createDecipheriv(cipher.node, key, data.subarray(0, 16));
      return new Uint8Array(Buffer.concat([d.update(data.subarray(16)), d.final()]));
    }
    if (data.length < 16 || data.length % 8 !== 0) return 'short';
    if (data.length >= 24) {
      try {
        const d = createDecipheriv(cipher.node, key, Buffer.from('a6a6a6a6a6a6a6a6', 'hex'));
        return new Uint8Array(Buffer.concat([d.update(data), d.final()]));
      } catch {
        // Not RFC 3394: try the padded variant below.
      }
    }
    // RFC 5649 key wrap with padding, which producers use for secrets that are not a multiple
    // of 8 bytes (its own integrity check also catches a wrong key).
    const d = createDecipheriv(`${cipher.node}-pad`, key, Buffer.from('a65959a6', 'hex'));
    return new Uint8Array(Buffer.concat([d.update(data), d.final()]));
  } catch {
    // OpenSSL reports a bad final block (CBC) or a failed integrity check (key wrap); neither
    // message is useful, and the caller knows which key was tried.
    return 'bad-padding';
  }
}

/** Encrypts for a CipherValue: CBC with a fresh random IV prefixed, or RFC 3394 key wrap. */
export function encryptValue(cipher: PskcCipher, key: Uint8Array, plain: Uint8Array): Uint8Array {
  if (cipher.mode === 'cbc') {
    const iv = randomBytes(16);
    const c = createCipheriv(cipher.node, key, iv);
    return concatBytes(iv, c.update(plain), c.final());
  }
  if (plain.length < 16 || plain.length % 8 !== 0) {
    throw new RangeError('key wrap needs a value of 16 or more bytes, a multiple of 8');
  }
  const c = createCipheriv(cipher.node, key, Buffer.from('a6a6a6a6a6a6a6a6', 'hex'));
  return concatBytes(c.update(plain), c.final());
}

/** HMAC of `data` under `key` (RFC 6030 §6.1.1: the ValueMAC is over IV || ciphertext). */
export function hmac(hash: string, key: Uint8Array, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac(hash, key).update(data).digest());
}

/** True when `mac` is the HMAC of `data`, compared in constant time. */
export function macMatches(
  hash: string,
  key: Uint8Array,
  data: Uint8Array,
  mac: Uint8Array,
): boolean {
  return constantTimeEqual(hmac(hash, key, data), mac);
}

/** PBKDF2 (RFC 8018 §5.2) as PSKC uses it for password-based keys (RFC 6030 §6.2). */
export function pbkdf2(
  password: string,
  salt: Uint8Array,
  iterations: number,
  keyLength: number,
  prf: 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512',
): Uint8Array {
  return new Uint8Array(
    pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, keyLength, prf),
  );
}
