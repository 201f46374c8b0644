/** Tells PSKC from OATH CSV and imports either. */
import type { OtpKey } from '../types.js';
import { importOathCsv } from './csv.js';
import { fail } from './errors.js';
import { importPskc, type PskcImportOptions } from './pskc-import.js';
import { decodeText } from './xml.js';

/** The seed file formats this package reads. */
export const SeedFormats = ['pskc', 'oath-csv'] as const;
export type SeedFormat = (typeof SeedFormats)[number];

/**
 * Guesses the format of a seed file from its first bytes: `pskc` when the first non-blank
 * character (after a UTF-8 BOM) is `<`, `oath-csv` when the first line that is not blank or a
 * `#` comment has a comma, otherwise undefined. It only looks; the importer decides.
 */
export function detectSeedFormat(bytes: Uint8Array | string): SeedFormat | undefined {
  const head =
    typeof bytes === 'string'
      ? bytes.slice(0, 4096)
      : Buffer.from(bytes.subarray(0, 4096)).toString('latin1');
  const text = head.replace(/^(\ufeff|\u00ef\u00bb\u00bf)/, '');
  const trimmed = text.trimStart();
  if (trimmed.startsWith('<')) return 'pskc';
  for (const line of text.split(/\r?\n/)) {
    const l = line.trim();
    if (l === '' || l.startsWith('#')) continue;
    return l.includes(',') ? 'oath-csv' : undefined;
  }
  return undefined;
}

/** Options of {@link importSeedFile}: those of the PSKC reader (the CSV reader uses maxBytes). */
export type SeedImportOptions = PskcImportOptions;

/**
 * Imports a PSKC or OATH CSV seed file, choosing by {@link detectSeedFormat}. Throws
 * SeedFileError `unknown-format` when it is neither (`empty` when there is nothing in it), and
 * otherwise whatever the chosen importer throws.
 */
export function importSeedFile(bytes: Uint8Array | string, opts: SeedImportOptions = {}): OtpKey[] {
  if (typeof bytes !== 'string' && !(bytes instanceof Uint8Array)) {
    throw new TypeError('seed file must be a string or a Uint8Array');
  }
  const format = detectSeedFormat(bytes);
  if (format === 'pskc') return importPskc(bytes, opts);
  if (format === 'oath-csv')
    return importOathCsv(bytes, opts.maxBytes === undefined ? {} : { maxBytes: opts.maxBytes });
  // Neither: say "empty" when there is nothing but blanks and comments, after the size check.
  const raw = typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('latin1');
  const text = decodeText(raw, opts.maxBytes);
  if (text.split(/\r?\n/).every((l) => l.trim() === '' || l.trim().startsWith('#'))) {
    fail('empty', 'seed file is empty');
  }
  return fail('unknown-format', 'seed file is neither PSKC (XML) nor OATH CSV');
}
