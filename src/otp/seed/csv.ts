/** OATH CSV seed files: `serial,hexkey,hotp|totp,digits,counter|period`, one token a line. */
import { fromHex, toHex } from '../../core/bytes.js';
import type { OtpKey } from '../types.js';
import { fail } from './errors.js';
import { checkKeys, MAX_SECRET_BYTES, problemWithKey, safeLabel } from './keys.js';
import { DEFAULT_MAX_BYTES, decodeText } from './xml.js';

/** Options of {@link importOathCsv}. */
export interface OathCsvImportOptions {
  /** Largest file accepted in bytes (default 8 MiB). */
  maxBytes?: number;
}

/** The header line {@link exportOathCsv} writes (as a comment, so any reader skips it). */
export const OATH_CSV_HEADER = '# serial,hexkey,type,digits,counter|period';

/**
 * Reads an OATH CSV seed file. Each line is `serial,hexkey,hotp|totp,digits,counter|period`
 * (the last field is the next counter for HOTP, the time step in seconds for TOTP); spaces
 * around fields are ignored, `#` comment lines and blank lines are skipped, and a first line
 * whose first field is `serial` is taken as a header. Anything else is an error. All or
 * nothing: the first bad line throws SeedFileError `malformed` (or `duplicate-serial`, `empty`)
 * with its line number and never its key.
 */
export function importOathCsv(
  text: string | Uint8Array,
  opts: OathCsvImportOptions = {},
): OtpKey[] {
  const body = decodeText(text, opts.maxBytes ?? DEFAULT_MAX_BYTES);
  const lines = body.split(/\r?\n/);
  const out: OtpKey[] = [];
  const seen = new Map<string, number>();
  let sawData = false;
  lines.forEach((raw, i) => {
    const n = i + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(',').map((f) => f.trim());
    if (!sawData && fields[0]?.toLowerCase() === 'serial') {
      sawData = true;
      return;
    }
    sawData = true;
    if (fields.length !== 5)
      fail('malformed', `line ${n}: expected 5 comma-separated fields, found ${fields.length}`);
    const [serial, hexKey, typeField, digitsField, last] = fields as [
      string,
      string,
      string,
      string,
      string,
    ];
    if (serial === '') fail('malformed', `line ${n}: serial is empty`);
    // The format has no quoting: a quote is someone else's CSV dialect, not part of a serial.
    if (fields.some((f) => f.includes('"')))
      fail('malformed', `line ${n}: quoted fields are not supported`);
    if (hexKey.length === 0 || hexKey.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(hexKey)) {
      fail('malformed', `line ${n}: key is not an even number of hex digits`);
    }
    if (hexKey.length / 2 > MAX_SECRET_BYTES)
      fail('malformed', `line ${n}: key is longer than ${MAX_SECRET_BYTES} bytes`);
    const type = typeField.toLowerCase();
    if (type !== 'hotp' && type !== 'totp')
      fail('malformed', `line ${n}: type must be hotp or totp`);
    if (!/^[678]$/.test(digitsField)) fail('malformed', `line ${n}: digits must be 6, 7 or 8`);
    if (!/^\d{1,16}$/.test(last)) {
      fail(
        'malformed',
        `line ${n}: ${type === 'hotp' ? 'counter' : 'period'} must be a non-negative integer`,
      );
    }
    const value = Number(last);
    const secret = fromHex(hexKey, 'key');
    const key: OtpKey =
      type === 'hotp'
        ? { serial, type, secret, algorithm: 'SHA1', digits: Number(digitsField), counter: value }
        : { serial, type, secret, algorithm: 'SHA1', digits: Number(digitsField), period: value };
    const problem = problemWithKey(key);
    if (problem) fail('malformed', `line ${n}: ${problem}`);
    const before = seen.get(serial);
    if (before !== undefined) {
      fail(
        'duplicate-serial',
        `line ${n}: serial ${safeLabel(serial)} was already given on line ${before}`,
      );
    }
    seen.set(serial, n);
    out.push(key);
  });
  if (out.length === 0) fail('empty', 'CSV file has no key lines');
  return out;
}

/**
 * Writes keys as OATH CSV, one `serial,hexkey,type,digits,counter|period` line each after a
 * `#` header comment. The format has no room for the hash algorithm or T0, so a key that is
 * not HMAC-SHA1 or has a non-zero T0 or drift is refused (SeedFileError `bad-key-package`)
 * rather than written as something that would give other codes. Manufacturer, issuer and key
 * Id are not carried. HOTP without a counter is written with 0; TOTP without a period with 30.
 */
export function exportOathCsv(keys: OtpKey[]): string {
  checkKeys(keys);
  const lines = [OATH_CSV_HEADER];
  keys.forEach((k, i) => {
    const where = `key ${i + 1} (serial ${safeLabel(k.serial)})`;
    if (/[,#"]/.test(k.serial))
      fail('bad-key-package', `${where}: a CSV serial cannot contain , # or "`);
    if (k.algorithm !== 'SHA1')
      fail('bad-key-package', `${where}: OATH CSV carries HMAC-SHA1 keys only, not ${k.algorithm}`);
    if (k.type === 'totp' && (k.t0 ?? 0) !== 0)
      fail('bad-key-package', `${where}: OATH CSV cannot carry a non-zero T0`);
    if (k.type === 'totp' && (k.timeDrift ?? 0) !== 0)
      fail('bad-key-package', `${where}: OATH CSV cannot carry a time drift`);
    const last = k.type === 'hotp' ? (k.counter ?? 0) : (k.period ?? 30);
    lines.push([k.serial, toHex(k.secret), k.type, String(k.digits), String(last)].join(','));
  });
  return `${lines.join('\n')}\n`;
}
