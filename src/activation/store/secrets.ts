/** Secrets at rest: AES-256-GCM envelopes with key ids, HMAC-SHA256 lookup hashes, scrypt for PINs. */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  randomBytes,
  scrypt as scryptCb,
  type KeyObject,
  type ScryptOptions,
} from 'node:crypto';
import { link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { constantTimeEqual, fromUtf8, utf8 } from '../../core/bytes.js';
import { ActivationError } from '../violations.js';

/** Errors about keys and sealed values; messages never hold key material or plaintext. */
export class SecretError extends ActivationError {}

const KEY_BYTES = 32;
const IV_BYTES = 12; // NIST SP 800-38D §8.2: 96-bit IVs, random per message
const TAG_BYTES = 16;
const ENVELOPE = 'v1';

/** The service's keys: sealing keys by id (one current) and the pepper for lookup hashes. */
export interface ServiceKeys {
  /** Id of the key new envelopes are sealed with. */
  readonly current: string;
  /** Every key that may still open an envelope, by id; 32 bytes each. */
  readonly keys: Readonly<Record<string, Uint8Array>>;
  /**
   * The pepper of every HMAC lookup hash. It cannot rotate without rehashing, so it is kept
   * apart from the sealing keys.
   */
  readonly pepper: Uint8Array;
}

/** New random keys with one sealing key named `keyId`. */
export function generateServiceKeys(keyId = 'k1'): ServiceKeys {
  return {
    current: keyId,
    keys: { [keyId]: new Uint8Array(randomBytes(KEY_BYTES)) },
    pepper: new Uint8Array(randomBytes(KEY_BYTES)),
  };
}

/** The JSON form of {@link ServiceKeys} (base64 values), as kept in a key file or given in config. */
export interface ServiceKeysJson {
  readonly current: string;
  readonly keys: Readonly<Record<string, string>>;
  readonly pepper: string;
}

const KEY_ID = /^[A-Za-z0-9_.-]{1,32}$/;

/** Parses and checks keys given as JSON (config or key file). */
export function serviceKeysFromJson(json: unknown): ServiceKeys {
  const bad = (why: string): never => {
    throw new SecretError('bad-service-keys', `service keys: ${why}`);
  };
  if (typeof json !== 'object' || json === null) return bad('not an object');
  const j = json as Partial<ServiceKeysJson>;
  if (typeof j.current !== 'string' || !KEY_ID.test(j.current))
    return bad('"current" must be a key id');
  if (typeof j.keys !== 'object' || j.keys === null) return bad('"keys" must be an object');
  const keys: Record<string, Uint8Array> = {};
  for (const [id, b64] of Object.entries(j.keys)) {
    if (!KEY_ID.test(id)) return bad('key ids are 1-32 of A-Z a-z 0-9 _ . -');
    const k = typeof b64 === 'string' ? new Uint8Array(Buffer.from(b64, 'base64')) : undefined;
    if (k?.length !== KEY_BYTES) return bad(`key "${id}" must be ${KEY_BYTES} bytes of base64`);
    keys[id] = k;
  }
  if (keys[j.current] === undefined) return bad('"current" names no key');
  const pepper =
    typeof j.pepper === 'string' ? new Uint8Array(Buffer.from(j.pepper, 'base64')) : undefined;
  if (pepper?.length !== KEY_BYTES) return bad(`"pepper" must be ${KEY_BYTES} bytes of base64`);
  return { current: j.current, keys, pepper };
}

/** The JSON form of keys, for writing a key file. */
export function serviceKeysToJson(k: ServiceKeys): ServiceKeysJson {
  const keys: Record<string, string> = {};
  for (const [id, v] of Object.entries(k.keys)) keys[id] = Buffer.from(v).toString('base64');
  return { current: k.current, keys, pepper: Buffer.from(k.pepper).toString('base64') };
}

/** Name of the key file in the data directory. */
export const KEY_FILE = 'service-keys.json';

/**
 * Loads the key file from `dataDir`, creating it with new keys (mode 0600, exclusive create so
 * two starting instances cannot both write one) on first start.
 */
export async function loadOrCreateServiceKeys(dataDir: string): Promise<ServiceKeys> {
  const path = join(dataDir, KEY_FILE);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  // Written whole to a private temporary file, then linked into place: link() fails if the name
  // exists, so of two instances starting at once one wins and the other reads a complete file.
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const fresh = generateServiceKeys();
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(JSON.stringify(serviceKeysToJson(fresh), null, 2) + '\n');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await link(tmp, path);
    return fresh;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new SecretError(
        'key-file',
        `cannot create the key file in the data directory: ${(e as Error).message}`,
        { cause: e },
      );
    }
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new SecretError('key-file', `cannot read the key file: ${(e as Error).message}`, {
      cause: e,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SecretError('bad-service-keys', 'the key file is not JSON', { cause: e });
  }
  return serviceKeysFromJson(json);
}

/**
 * AES-256-GCM sealing of small secrets (seeds, CPR numbers). An envelope is
 * `v1.<keyId>.<base64url iv>.<base64url ciphertext‖tag>`; the key id lets old envelopes open after
 * the current key changes. `context` is bound as additional data (e.g. `seed:code-display:SERIAL`),
 * so an envelope copied to another row does not open there.
 */
export class SecretBox {
  readonly #keys: ServiceKeys;
  /** The keys imported once, as OpenSSL key objects, by id. */
  readonly #imported = new Map<string, KeyObject>();
  constructor(keys: ServiceKeys) {
    this.#keys = keys;
  }

  #key(keyId: string): KeyObject | undefined {
    let k = this.#imported.get(keyId);
    if (k === undefined) {
      const raw = Object.hasOwn(this.#keys.keys, keyId) ? this.#keys.keys[keyId] : undefined;
      if (raw === undefined) return undefined;
      k = createSecretKey(raw);
      this.#imported.set(keyId, k);
    }
    return k;
  }

  /** Id of the key new envelopes use. */
  get currentKeyId(): string {
    return this.#keys.current;
  }

  /** Seals `plaintext` under the current key. */
  seal(plaintext: Uint8Array, context: string): string {
    const key = this.#keys.keys[this.#keys.current];
    if (key === undefined) throw new SecretError('no-key', 'no current sealing key');
    const iv = randomBytes(IV_BYTES);
    const c = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    c.setAAD(utf8(context));
    const body = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
    return [
      ENVELOPE,
      this.#keys.current,
      iv.toString('base64url'),
      body.toString('base64url'),
    ].join('.');
  }

  /** Seals a UTF-8 string. */
  sealString(plaintext: string, context: string): string {
    return this.seal(utf8(plaintext), context);
  }

  /** Opens an envelope; throws SecretError when it is malformed, its key is unknown or it was altered. */
  open(envelope: string, context: string): Uint8Array {
    const parts = typeof envelope === 'string' ? envelope.split('.') : [];
    const [v, keyId, ivB64, bodyB64] = parts;
    if (
      parts.length !== 4 ||
      v !== ENVELOPE ||
      keyId === undefined ||
      ivB64 === undefined ||
      bodyB64 === undefined
    ) {
      throw new SecretError('bad-envelope', 'sealed value is malformed');
    }
    const key = this.#key(keyId);
    if (key === undefined)
      throw new SecretError(
        'unknown-key',
        `sealed value needs key "${keyId}", which is not configured`,
      );
    const iv = Buffer.from(ivB64, 'base64url');
    const body = Buffer.from(bodyB64, 'base64url');
    if (iv.length !== IV_BYTES || body.length < TAG_BYTES)
      throw new SecretError('bad-envelope', 'sealed value is malformed');
    let plain: Buffer | undefined;
    try {
      const d = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      d.setAAD(utf8(context));
      d.setAuthTag(body.subarray(body.length - TAG_BYTES));
      plain = d.update(body.subarray(0, body.length - TAG_BYTES));
      d.final();
      return new Uint8Array(plain);
    } catch (e) {
      throw new SecretError(
        'tampered',
        'sealed value failed authentication (altered, or sealed for another record)',
        { cause: e },
      );
    } finally {
      // The caller wipes its copy; this one (perhaps in Node's shared pool) is wiped here.
      plain?.fill(0);
    }
  }

  /** Opens an envelope holding a UTF-8 string. */
  openString(envelope: string, context: string): string {
    return fromUtf8(this.open(envelope, context));
  }

  /** The key id an envelope was sealed with (for rotation jobs), or undefined if malformed. */
  static keyIdOf(envelope: string): string | undefined {
    const parts = envelope.split('.');
    return parts.length === 4 && parts[0] === ENVELOPE ? parts[1] : undefined;
  }
}

/**
 * Lookup hashes: HMAC-SHA256 under the service pepper, with the purpose as a prefix so a hash made
 * for one use (a link token) never matches one made for another (a CPR number). Deterministic, so
 * the store can find a row by it; only for values with enough entropy or behind a try counter.
 */
export class TokenHasher {
  readonly #pepper: Uint8Array;
  constructor(pepper: Uint8Array) {
    if (!(pepper instanceof Uint8Array) || pepper.length < 16)
      throw new SecretError('bad-pepper', 'pepper must be at least 16 bytes');
    this.#pepper = pepper;
  }

  /** Lower-case hex HMAC of `value` for `purpose`. */
  hash(purpose: string, value: string | Uint8Array): string {
    const h = createHmac('sha256', this.#pepper);
    h.update(utf8(purpose));
    h.update(new Uint8Array([0]));
    h.update(typeof value === 'string' ? utf8(value) : value);
    return h.digest('hex');
  }

  /** Constant-time check of `value` against a stored hash. */
  matches(purpose: string, value: string | Uint8Array, storedHex: string): boolean {
    return constantTimeEqual(
      utf8(this.hash(purpose, value)),
      utf8(typeof storedHex === 'string' ? storedHex : ''),
    );
  }
}

/** Everything a store needs to keep secrets: the box, the hasher. */
export interface Secrets {
  readonly box: SecretBox;
  readonly hasher: TokenHasher;
}

/** Builds the box and hasher from keys. */
export function secretsFrom(keys: ServiceKeys): Secrets {
  return { box: new SecretBox(keys), hasher: new TokenHasher(keys.pepper) };
}

/** A new random token of `bytes` bytes (default 32: 256 bits, above the 128 the issue asks), base64url. */
export function newToken(bytes = 32): string {
  if (!Number.isInteger(bytes) || bytes < 16)
    throw new RangeError('tokens need at least 16 bytes (128 bits)');
  return randomBytes(bytes).toString('base64url');
}

// ---------------------------------------------------------------------------------------------
// PINs and passwords: scrypt (RFC 7914) with a random salt per value.

/** scrypt cost: N=2^15, r=8, p=1 (RFC 7914 §2 interactive-login figures, 32 MiB). */
export const SCRYPT_PARAMS = { N: 1 << 15, r: 8, p: 1 } as const;
const SCRYPT_KEYLEN = 32;

function scrypt(
  password: Uint8Array,
  salt: Uint8Array,
  keylen: number,
  options: ScryptOptions,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCb(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** Hashes a PIN or password: `scrypt$N$r$p$salt$hash` (base64url parts). */
export async function hashPassword(
  password: string,
  params: { N: number; r: number; p: number } = SCRYPT_PARAMS,
): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(utf8(password.normalize('NFC')), salt, SCRYPT_KEYLEN, {
    ...params,
    maxmem: 128 * params.N * params.r * 2,
  });
  return [
    'scrypt',
    params.N,
    params.r,
    params.p,
    salt.toString('base64url'),
    key.toString('base64url'),
  ].join('$');
}

/** Checks a PIN or password against {@link hashPassword}'s output, in constant time. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = typeof stored === 'string' ? stored.split('$') : [];
  if (parts.length !== 6 || parts[0] !== 'scrypt')
    throw new SecretError('bad-password-hash', 'stored password hash is malformed');
  const [N, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (![N, r, p].every((x) => Number.isInteger(x) && x > 0) || N > 1 << 20) {
    throw new SecretError('bad-password-hash', 'stored password hash has bad parameters');
  }
  const salt = Buffer.from(parts[4] ?? '', 'base64url');
  const expected = new Uint8Array(Buffer.from(parts[5] ?? '', 'base64url'));
  const key = await scrypt(
    utf8(password.normalize('NFC')),
    salt,
    expected.length || SCRYPT_KEYLEN,
    { N, r, p, maxmem: 128 * N * r * 2 },
  );
  return constantTimeEqual(new Uint8Array(key), expected);
}
