/** Checks on OtpKey fields shared by the PSKC and CSV readers and writers. */
import { HashAlgorithms, type HashAlgorithm, type OtpKey } from '../types.js';
import { fail } from './errors.js';

/** Longest secret accepted, in bytes (the OTP engine's own limit). */
export const MAX_SECRET_BYTES = 1024;
/** Longest serial number accepted, in characters. */
export const MAX_SERIAL_CHARS = 128;
/** Longest free-text field (manufacturer, issuer, key Id) accepted, in characters. */
export const MAX_TEXT_CHARS = 256;

// Control characters (and U+FFFE/FFFF) cannot travel in XML 1.0 and have no place in a label.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f\ufffe\uffff]/;

/** A public label safe to put in an error message: one line, bounded. */
export function safeLabel(s: string): string {
  // eslint-disable-next-line no-control-regex
  const one = s.replace(/[\u0000-\u001f\u007f]/g, '?');
  return one.length > 40 ? `${one.slice(0, 40)}...` : one;
}

/**
 * What is wrong with `k` as a key package, in words that never include the secret; undefined
 * when it is fine. Both writers refuse what a reader would refuse, so a file we write we read.
 */
export function problemWithKey(k: OtpKey): string | undefined {
  if (typeof k !== 'object' || k === null) return 'is not an object';
  if (typeof k.serial !== 'string' || k.serial.trim() === '') return 'serial is empty';
  if (k.serial !== k.serial.trim()) return 'serial has leading or trailing spaces';
  if (k.serial.length > MAX_SERIAL_CHARS)
    return `serial is longer than ${MAX_SERIAL_CHARS} characters`;
  if (CONTROL.test(k.serial)) return 'serial has control characters';
  if (k.type !== 'totp' && k.type !== 'hotp') return 'type must be totp or hotp';
  if (!(k.secret instanceof Uint8Array) || k.secret.length === 0) return 'secret is empty';
  if (k.secret.length > MAX_SECRET_BYTES) return `secret is longer than ${MAX_SECRET_BYTES} bytes`;
  if (!(HashAlgorithms as readonly string[]).includes(k.algorithm))
    return 'algorithm must be SHA1, SHA256 or SHA512';
  if (k.digits !== 6 && k.digits !== 7 && k.digits !== 8) return 'digits must be 6, 7 or 8';
  if (k.counter !== undefined && !(Number.isSafeInteger(k.counter) && k.counter >= 0)) {
    return 'counter must be a non-negative safe integer';
  }
  if (
    k.period !== undefined &&
    !(Number.isInteger(k.period) && k.period >= 1 && k.period <= 86_400)
  ) {
    return 'period must be a whole number of seconds from 1 to 86400';
  }
  if (k.t0 !== undefined && !(Number.isSafeInteger(k.t0) && k.t0 >= 0))
    return 't0 must be a non-negative integer';
  if (k.timeDrift !== undefined && !Number.isSafeInteger(k.timeDrift))
    return 'timeDrift must be an integer';
  for (const f of ['manufacturer', 'issuer', 'keyId'] as const) {
    const v = k[f];
    if (v === undefined) continue;
    if (typeof v !== 'string') return `${f} must be a string`;
    if (v.length > MAX_TEXT_CHARS) return `${f} is longer than ${MAX_TEXT_CHARS} characters`;
    if (CONTROL.test(v.replace(/[\t\n\r]/g, ' '))) return `${f} has control characters`;
  }
  return undefined;
}

/** Parses `SHA1`, `SHA-256`, `sha512`, `HMAC-SHA256`... to a {@link HashAlgorithm}. */
export function parseHash(s: string): HashAlgorithm | undefined {
  const m = /^(?:HMAC-?)?SHA-?(1|256|512)$/i.exec(s.trim());
  return m ? (`SHA${m[1] ?? ''}` as HashAlgorithm) : undefined;
}

/** Export guard: `keys` is a non-empty array of valid OtpKeys, else SeedFileError `bad-key-package`. */
export function checkKeys(keys: unknown): asserts keys is OtpKey[] {
  if (!Array.isArray(keys)) fail('bad-key-package', 'keys must be an array of OtpKey');
  if (keys.length === 0) fail('bad-key-package', 'no keys to export');
  keys.forEach((k: OtpKey, i) => {
    const problem = problemWithKey(k);
    if (problem) {
      const serial =
        typeof k?.serial === 'string' && k.serial !== '' ? ` (serial ${safeLabel(k.serial)})` : '';
      fail('bad-key-package', `key ${i + 1}${serial}: ${problem}`);
    }
  });
}
