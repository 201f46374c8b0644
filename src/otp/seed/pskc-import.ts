/** PSKC (RFC 6030) import: plain, pre-shared-key and PBKDF2 files, every MAC checked, atomic. */
import { fromBase64, wipe } from '../../core/bytes.js';
import type { HashAlgorithm, OtpKey } from '../types.js';
import {
  cipherFor,
  decryptValue,
  fragment,
  hmacHashFor,
  macMatches,
  pbkdf2,
  type PskcCipher,
} from './crypto.js';
import { fail } from './errors.js';
import { MAX_SECRET_BYTES, parseHash, problemWithKey, safeLabel } from './keys.js';
import { attr, child, childrenNamed, parseXml, path, type XmlElement } from './xml.js';

/** Options of {@link importPskc}. */
export interface PskcImportOptions {
  /** Password for a file whose key is derived with PBKDF2 (RFC 6030 §6.2). */
  password?: string;
  /** The pre-shared key (RFC 6030 §6.1), or the already-derived key of a PBKDF2 file. */
  key?: Uint8Array;
  /** Largest file accepted in bytes (default 8 MiB). */
  maxBytes?: number;
  /** Largest PBKDF2 IterationCount accepted (default 10,000,000): a file must not cost hours. */
  maxIterations?: number;
}

const DEFAULT_MAX_ITERATIONS = 10_000_000;

type Hash = 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';

interface PbkdfParams {
  readonly salt: Uint8Array;
  readonly iterations: number;
  readonly keyLength: number | undefined;
  readonly prf: Hash;
}

/**
 * Where the file's keys come from: the caller's key or password, the file's EncryptionKey and
 * MACMethod. Keys are resolved on first use, so a plain file needs neither, and wiped at the end.
 */
class Keyring {
  readonly #opts: PskcImportOptions;
  readonly #pbkdf: PbkdfParams | undefined;
  readonly #macMethod: XmlElement | undefined;
  readonly #macAlgorithm: string | undefined;
  readonly #derived = new Map<number, Uint8Array>();
  #mac: { hash: Hash; key: Uint8Array } | undefined;

  /**
   * True when secrets must arrive encrypted: the file names an EncryptionKey or MACMethod, or the
   * caller gave a key or password and so expects an encrypted file.
   */
  readonly protectedFile: boolean;

  constructor(root: XmlElement, opts: PskcImportOptions) {
    this.#opts = opts;
    const enc = child(root, 'EncryptionKey');
    const derived = child(enc, 'DerivedKey');
    this.#pbkdf = derived
      ? readPbkdf(derived, opts.maxIterations ?? DEFAULT_MAX_ITERATIONS)
      : undefined;
    // RFC 6030 §6.1.1 MACMethod; drafts called it DigestMethod, or gave only MACAlgorithm.
    this.#macMethod = child(root, 'MACMethod') ?? child(root, 'DigestMethod');
    this.protectedFile =
      enc !== undefined ||
      this.#macMethod !== undefined ||
      opts.key !== undefined ||
      opts.password !== undefined;
    this.#macAlgorithm =
      attr(this.#macMethod, 'Algorithm', 'algorithm') ?? child(root, 'MACAlgorithm')?.text.trim();
  }

  /** The code a failed decryption gets: the password was wrong, or the key was. */
  get wrongCode(): 'wrong-password' | 'wrong-key' {
    return this.#pbkdf && this.#opts.key === undefined ? 'wrong-password' : 'wrong-key';
  }

  get #wrongWhat(): string {
    return this.wrongCode === 'wrong-password' ? 'the password is wrong' : 'the key is wrong';
  }

  /** The encryption key for `cipher`: the caller's, or derived from the password. */
  key(cipher: PskcCipher, where: string): Uint8Array {
    const { key, password } = this.#opts;
    if (key !== undefined) {
      if (key.length !== cipher.keyBytes) {
        fail(
          'wrong-key',
          `${where}: the key is ${key.length} bytes, the file's cipher needs ${cipher.keyBytes}`,
        );
      }
      return key;
    }
    if (!this.#pbkdf)
      fail(
        'needs-key',
        `${where}: the file is encrypted with a pre-shared key; give the pre-shared key (--key)`,
      );
    if (password === undefined)
      fail(
        'needs-password',
        `${where}: the file is encrypted with a password; give the password (--password)`,
      );
    const length = this.#pbkdf.keyLength ?? cipher.keyBytes;
    if (length !== cipher.keyBytes) {
      fail(
        'malformed',
        `${where}: PBKDF2 KeyLength ${length} does not fit the cipher's ${cipher.keyBytes}-byte key`,
      );
    }
    let k = this.#derived.get(length);
    if (!k) {
      k = pbkdf2(password, this.#pbkdf.salt, this.#pbkdf.iterations, length, this.#pbkdf.prf);
      this.#derived.set(length, k);
    }
    return k;
  }

  /**
   * The MAC key and hash: MACMethod/MACKey decrypted with the encryption key (RFC 6030 §6.1.1),
   * or the encryption key itself where the file carries no MACKey (as the drafts did).
   */
  mac(cipher: PskcCipher, where: string): { hash: Hash; key: Uint8Array; separate: boolean } {
    const uri = this.#macAlgorithm ?? 'http://www.w3.org/2000/09/xmldsig#hmac-sha1';
    const hash = hmacHashFor(uri);
    if (!hash) fail('unsupported', `MAC algorithm ${safeLabel(uri)} is not supported`);
    const macKeyEl = child(this.#macMethod, 'MACKey');
    if (!macKeyEl) return { hash, key: this.key(cipher, where), separate: false };
    if (!this.#mac) {
      // The MAC key is the first thing the encryption key opens, so its padding is where a wrong
      // key or password shows; the message names the package that needed it.
      const at = `${where}: MACMethod/MACKey`;
      const { cipher: kc, data } = readCipherData(macKeyEl, at);
      const plain = decryptValue(kc, this.key(kc, at), data);
      if (plain === 'short') fail('malformed', `${at}: cipher value has the wrong length`);
      if (plain === 'bad-padding')
        fail(this.wrongCode, `${at} does not decrypt: ${this.#wrongWhat}`);
      if (plain.length === 0) fail('malformed', `${at} is empty`);
      this.#mac = { hash, key: plain };
    }
    return { ...this.#mac, separate: true };
  }

  /** Best-effort wipe of every key this import derived or decrypted. */
  wipe(): void {
    for (const k of this.#derived.values()) wipe(k);
    if (this.#mac) wipe(this.#mac.key);
  }

  /** Decrypts one EncryptedValue, checking its ValueMAC first. */
  decrypt(encrypted: XmlElement, valueMac: XmlElement | undefined, where: string): Uint8Array {
    const { cipher, data } = readCipherData(encrypted, where);
    const key = this.key(cipher, where);
    if (!valueMac) {
      // RFC 6030 §6.1.1: with a CBC cipher the MAC is what detects tampering; key wrap carries
      // its own integrity check.
      if (cipher.mode === 'cbc') fail('missing-mac', `${where}: encrypted value has no ValueMAC`);
      const plain = decryptValue(cipher, key, data);
      if (plain === 'short') fail('malformed', `${where}: cipher value has the wrong length`);
      if (plain === 'bad-padding')
        fail(
          this.wrongCode,
          `${where}: value does not unwrap: ${this.#wrongWhat} or the file was altered`,
        );
      return plain;
    }
    const mac = b64(valueMac.text, `${where}: ValueMAC`);
    const mk = this.mac(cipher, where);
    // RFC 6030 §6.1.1: the MAC is over the cipher value, IV included. Both the MAC check and the
    // decryption always run, so the time taken does not say which failed.
    const macOk = macMatches(mk.hash, mk.key, data, mac);
    const plain = decryptValue(cipher, key, data);
    if (plain === 'short') fail('malformed', `${where}: cipher value has the wrong length`);
    if (macOk) {
      // The MAC holds, so the bytes are as written: a bad pad means the producer used another key.
      if (plain === 'bad-padding')
        fail(this.wrongCode, `${where}: value does not decrypt: ${this.#wrongWhat}`);
      return plain;
    }
    // Older producers computed the MAC over the plaintext: accept that too, in constant time.
    if (plain !== 'bad-padding' && macMatches(mk.hash, mk.key, plain, mac)) return plain;
    if (plain !== 'bad-padding') wipe(plain);
    // A MAC key that decrypted from MACKey proves the key right (its padding held), so the value
    // was altered. Where the MAC key is the encryption key itself, a bad pad as well points to
    // a wrong key.
    if (!mk.separate && plain === 'bad-padding') {
      fail(
        this.wrongCode,
        `${where}: MAC check failed: ${this.#wrongWhat} (or the file was altered)`,
      );
    }
    fail('bad-mac', `${where}: MAC check failed: the file was altered (or ${this.#wrongWhat})`);
  }
}

function readPbkdf(derived: XmlElement, maxIterations: number): PbkdfParams {
  const method = child(derived, 'KeyDerivationMethod');
  const algorithm = attr(method, 'Algorithm', 'algorithm') ?? '';
  if (fragment(algorithm) !== 'pbkdf2' && !algorithm.toLowerCase().endsWith('pbkdf2')) {
    fail(
      'unsupported',
      `key derivation ${safeLabel(algorithm || '(none)')} is not supported (only PBKDF2)`,
    );
  }
  const params = child(method, 'PBKDF2-params');
  if (!params) fail('malformed', 'DerivedKey has no PBKDF2-params');
  const saltEl = path(params, 'Salt', 'Specified');
  if (!saltEl)
    fail('malformed', 'PBKDF2-params has no Salt/Specified (other salt sources are not supported)');
  const salt = b64(saltEl.text, 'PBKDF2 Salt');
  const iterations = int(child(params, 'IterationCount')?.text, 'PBKDF2 IterationCount', 1);
  if (iterations === undefined) fail('malformed', 'PBKDF2-params has no IterationCount');
  if (iterations > maxIterations) {
    fail('too-large', `PBKDF2 IterationCount ${iterations} is above the limit of ${maxIterations}`);
  }
  const keyLength = int(child(params, 'KeyLength')?.text, 'PBKDF2 KeyLength', 1);
  if (keyLength !== undefined && keyLength > 64) fail('malformed', 'PBKDF2 KeyLength is too large');
  // RFC 8018 A.2: the PRF defaults to HMAC-SHA1 when absent (RFC 6030 figure 7 has <PRF/>).
  const prfUri = attr(child(params, 'PRF'), 'Algorithm', 'algorithm');
  const prf = prfUri ? hmacHashFor(prfUri) : 'sha1';
  if (!prf) fail('unsupported', `PBKDF2 PRF ${safeLabel(prfUri ?? '')} is not supported`);
  return { salt, iterations, keyLength, prf };
}

function readCipherData(el: XmlElement, where: string): { cipher: PskcCipher; data: Uint8Array } {
  const method = child(el, 'EncryptionMethod');
  // Drafts wrote PBES2 as the method with the block cipher in an EncryptionScheme child.
  const uri =
    attr(child(method, 'EncryptionScheme'), 'Algorithm') ?? attr(method, 'Algorithm', 'algorithm');
  if (!uri) fail('malformed', `${where}: EncryptedValue has no EncryptionMethod/@Algorithm`);
  const cipher = cipherFor(uri);
  if (!cipher) fail('unsupported', `${where}: encryption ${safeLabel(uri)} is not supported`);
  const cv = path(el, 'CipherData', 'CipherValue');
  if (!cv) fail('malformed', `${where}: EncryptedValue has no CipherData/CipherValue`);
  return { cipher, data: b64(cv.text, `${where}: CipherValue`) };
}

function b64(text: string, what: string): Uint8Array {
  try {
    return fromBase64(text.trim(), what);
  } catch (e) {
    return fail('malformed', `${what} is not valid base64`, e);
  }
}

function int(text: string | undefined, what: string, min: number): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (!/^[+-]?\d{1,16}$/.test(t)) fail('malformed', `${what} is not an integer`);
  const n = Number(t);
  if (!Number.isSafeInteger(n) || n < min) fail('malformed', `${what} is out of range`);
  return n;
}

/** Reads a Data child: PlainValue, or EncryptedValue with its ValueMAC (RFC 6030 §4.3.2). */
function readData(
  el: XmlElement,
  keys: Keyring,
  where: string,
): { plain?: string; bytes?: Uint8Array } {
  const pv = child(el, 'PlainValue');
  const ev = child(el, 'EncryptedValue');
  if (pv && ev) fail('malformed', `${where} has both PlainValue and EncryptedValue`);
  if (pv) return { plain: pv.text.trim() };
  if (ev) {
    // RFC 6030 puts ValueMAC beside EncryptedValue; drafts put it inside, or named it ValueDigest.
    const mac = ['ValueMAC', 'ValueDigest'].map((n) => child(el, n) ?? child(ev, n)).find((m) => m);
    return { bytes: keys.decrypt(ev, mac, where) };
  }
  fail('malformed', `${where} has neither PlainValue nor EncryptedValue`);
}

/** An integer Data child; encrypted integers are big-endian bytes (as python-pskc writes them). */
function readInt(
  data: XmlElement | undefined,
  name: string,
  keys: Keyring,
  where: string,
  min: number,
): number | undefined {
  const el = child(data, name);
  if (!el) return undefined;
  const v = readData(el, keys, `${where}: ${name}`);
  if (v.plain !== undefined) return int(v.plain, `${where}: ${name}`, min);
  const b = v.bytes ?? new Uint8Array();
  if (b.length === 0 || b.length > 7)
    fail('malformed', `${where}: ${name} has a bad encrypted length`);
  let n = 0;
  for (const x of b) n = n * 256 + x;
  if (n < min) fail('malformed', `${where}: ${name} is out of range`);
  return n;
}

/** Maps a Key/@Algorithm URI to an OTP type; `pin` keys are skipped, others refused. */
function otpType(uri: string): 'hotp' | 'totp' | 'pin' | undefined {
  const m = /(?:^|[:#/])(hotp|totp|pin)$/i.exec(uri.trim());
  return m ? ((m[1] ?? '').toLowerCase() as 'hotp' | 'totp' | 'pin') : undefined;
}

function readKey(
  pkg: XmlElement,
  key: XmlElement | undefined,
  keys: Keyring,
  index: number,
): OtpKey | undefined {
  const device = child(pkg, 'DeviceInfo');
  const serialNo = child(device, 'SerialNo')?.text.trim() || undefined;
  const keyId = (attr(key, 'Id', 'KeyId') ?? '').trim() || undefined;
  const serial = serialNo ?? keyId;
  const where = `key package ${index + 1}${serial !== undefined ? ` (serial ${safeLabel(serial)})` : ''}`;
  if (!key) fail('missing-secret', `${where} has no Key`);
  const algorithmUri = attr(key, 'Algorithm', 'KeyAlgorithm', 'algorithm');
  if (!algorithmUri) fail('malformed', `${where}: Key has no Algorithm`);
  const type = otpType(algorithmUri);
  if (!type)
    fail(
      'unsupported',
      `${where}: key algorithm ${safeLabel(algorithmUri)} is not supported (HOTP and TOTP only)`,
    );
  // PIN key packages (RFC 6030 figure 5) hold the PIN that guards another key: not a token seed.
  if (type === 'pin') return undefined;
  if (serial === undefined)
    fail('missing-serial', `${where} has neither DeviceInfo/SerialNo nor Key/@Id`);

  // RFC 6030 §4.3.4 AlgorithmParameters; the drafts put ResponseFormat under Usage.
  const params = child(key, 'AlgorithmParameters') ?? child(key, 'Usage');
  let algorithm: HashAlgorithm = 'SHA1';
  const suite = child(params, 'Suite');
  if (suite) {
    const spelled = attr(suite, 'hash', 'Hash') ?? suite.text.trim();
    const h = spelled === '' ? 'SHA1' : parseHash(spelled);
    if (!h)
      fail(
        'unsupported',
        `${where}: Suite ${safeLabel(spelled)} is not supported (HMAC-SHA1/256/512)`,
      );
    algorithm = h;
  }
  let digits = 6;
  const rf = child(params, 'ResponseFormat');
  if (rf) {
    const encoding = attr(rf, 'Encoding', 'Format', 'encoding');
    if (encoding !== undefined && encoding.trim().toUpperCase() !== 'DECIMAL') {
      fail(
        'unsupported',
        `${where}: response encoding ${safeLabel(encoding)} is not supported (DECIMAL only)`,
      );
    }
    const length = int(attr(rf, 'Length', 'length'), `${where}: ResponseFormat/@Length`, 0);
    if (length !== undefined) {
      if (length < 6 || length > 8)
        fail('unsupported', `${where}: ${length}-digit codes are not supported (6 to 8)`);
      digits = length;
    }
  }

  const data = child(key, 'Data');
  const secretEl = child(data, 'Secret');
  if (!secretEl) fail('missing-secret', `${where} has no Data/Secret`);
  const sv = readData(secretEl, keys, `${where}: Secret`);
  // A plain secret in a protected file carries no MAC: anyone could have put it there.
  if (sv.plain !== undefined && keys.protectedFile) {
    fail(
      'unencrypted-secret',
      `${where}: Secret is in the clear in an encrypted file (refused: it could have been swapped in)`,
    );
  }
  const secret =
    sv.plain !== undefined ? b64(sv.plain, `${where}: Secret`) : (sv.bytes ?? new Uint8Array());
  if (secret.length === 0) fail('missing-secret', `${where}: Secret is empty`);
  if (secret.length > MAX_SECRET_BYTES)
    fail('malformed', `${where}: Secret is longer than ${MAX_SECRET_BYTES} bytes`);

  const manufacturer = child(device, 'Manufacturer')?.text.trim() || undefined;
  const issuer = child(key, 'Issuer')?.text.trim() || undefined;
  const out: Record<string, unknown> = { serial, type, secret, algorithm, digits };
  if (type === 'hotp') {
    const counter = readInt(data, 'Counter', keys, where, 0);
    if (counter !== undefined) out.counter = counter;
  } else {
    // RFC 6030 §4.3.4: Time is T0 for the time-based algorithm, TimeInterval is the step X,
    // TimeDrift the known drift in steps.
    const t0 = readInt(data, 'Time', keys, where, 0);
    const period = readInt(data, 'TimeInterval', keys, where, 1);
    const drift = readInt(data, 'TimeDrift', keys, where, Number.MIN_SAFE_INTEGER);
    if (t0 !== undefined) out.t0 = t0;
    if (period !== undefined) out.period = period;
    if (drift !== undefined) out.timeDrift = drift;
  }
  if (manufacturer !== undefined) out.manufacturer = manufacturer;
  if (issuer !== undefined) out.issuer = issuer;
  if (keyId !== undefined) out.keyId = keyId;
  const k = out as unknown as OtpKey;
  const problem = problemWithKey(k);
  if (problem) fail('malformed', `${where}: ${problem}`);
  return k;
}

/**
 * Reads a PSKC (RFC 6030) document and returns its HOTP and TOTP key packages.
 *
 * Plain secrets, pre-shared-key encryption (AES-128/192/256-CBC with the IV prefixed, AES key
 * wrap with or without padding) and PBKDF2 password-based keys are read; every ValueMAC is
 * checked in constant time (HMAC over IV || ciphertext, RFC 6030 §6.1.1; over the plaintext, as
 * the drafts wrote it). Elements are matched by local name, so any namespace prefixes work.
 *
 * Fields: `serial` from DeviceInfo/SerialNo (else Key/@Id), `manufacturer`, `issuer`, `keyId`
 * from Key/@Id, `type` from Key/@Algorithm, `digits` from ResponseFormat/@Length (default 6,
 * DECIMAL only), `algorithm` from AlgorithmParameters/Suite (text or `hash` attribute, default
 * SHA1), and Data: Counter (HOTP), Time as `t0`, TimeInterval as `period`, TimeDrift as
 * `timeDrift` (TOTP). PIN key packages (RFC 6030 figure 5) are skipped; XML signatures are not
 * checked.
 *
 * All or nothing: any problem throws a `SeedFileError` whose `code` is one of
 * `SeedErrorCodes` and whose one-line message names the key package, never a secret.
 */
export function importPskc(xml: string | Uint8Array, opts: PskcImportOptions = {}): OtpKey[] {
  if (opts.key !== undefined && !(opts.key instanceof Uint8Array))
    fail('bad-options', 'opts.key must be a Uint8Array');
  if (opts.password !== undefined && typeof opts.password !== 'string')
    fail('bad-options', 'opts.password must be a string');
  if (opts.key !== undefined && opts.password !== undefined)
    fail('bad-options', 'give opts.key or opts.password, not both');
  const root = parseXml(xml, opts.maxBytes === undefined ? {} : { maxBytes: opts.maxBytes });
  if (root.name !== 'KeyContainer')
    fail('malformed', `not a PSKC document (root element ${safeLabel(root.name)})`);
  const version = attr(root, 'Version', 'version');
  if (version !== undefined && !/^1(\.\d+)?$/.test(version.trim())) {
    fail('unsupported', `PSKC version ${safeLabel(version)} is not supported (1.0)`);
  }
  const keys = new Keyring(root, opts);
  try {
    // RFC 6030 KeyPackage; the earliest drafts called it Device.
    const packages = root.children.filter((c) => c.name === 'KeyPackage' || c.name === 'Device');
    if (packages.length === 0) fail('malformed', 'PSKC document has no KeyPackage');
    const out: OtpKey[] = [];
    packages.forEach((pkg, i) => {
      const ks: (XmlElement | undefined)[] = childrenNamed(pkg, 'Key');
      if (ks.length === 0) ks.push(undefined);
      for (const k of ks) {
        const key = readKey(pkg, k, keys, i);
        if (key) out.push(key);
      }
    });
    if (out.length === 0) fail('missing-secret', 'PSKC document has no HOTP or TOTP key');
    return out;
  } finally {
    keys.wipe();
  }
}
