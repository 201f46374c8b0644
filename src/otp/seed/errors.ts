/** Stable codes of the SeedFileError thrown by the PSKC and OATH CSV readers and writers. */
import { SeedFileError } from '../../core/errors.js';

/**
 * Every `code` a seed file reader or writer may put on a {@link SeedFileError}. Programs switch
 * on these; the message is for people.
 */
export const SeedErrorCodes = [
  /** Not well-formed XML, not a PSKC document, a bad number or bad base64, a bad CSV line. */
  'malformed',
  /** The file is empty (or only whitespace and comments). */
  'empty',
  /** Larger than the size limit, or a cost (PBKDF2 iterations) above its limit. */
  'too-large',
  /** A DOCTYPE, DTD or ENTITY declaration: refused before parsing (no entity expansion). */
  'dtd-forbidden',
  /** An algorithm, encoding or version this reader does not implement. */
  'unsupported',
  /** A key package without a secret. */
  'missing-secret',
  /** A key package with neither a serial number nor a key Id. */
  'missing-serial',
  /** Two CSV lines for the same serial number. */
  'duplicate-serial',
  /** The file is encrypted with a pre-shared key and none was given. */
  'needs-key',
  /** The file is encrypted with a password-derived key and no password (or key) was given. */
  'needs-password',
  /** The pre-shared key does not decrypt the file (bad padding, failed unwrap). */
  'wrong-key',
  /** The password does not decrypt the file (bad padding, failed unwrap). */
  'wrong-password',
  /** A MAC does not match: the file was altered (or, rarely, the key or password is wrong). */
  'bad-mac',
  /** An encrypted CBC value without the MAC that RFC 6030 §6.1.1 requires. */
  'missing-mac',
  /**
   * A secret in the clear in a file that is protected (it has an EncryptionKey or MACMethod, or
   * the caller gave a key or password): a downgrade that would let anyone swap in a seed.
   */
  'unencrypted-secret',
  /** Export: an OtpKey that cannot be written (bad field, or not representable in the format). */
  'bad-key-package',
  /** Export or import options that do not fit together (both key and password, bad key size). */
  'bad-options',
  /** importSeedFile: neither PSKC nor OATH CSV. */
  'unknown-format',
] as const;
export type SeedErrorCode = (typeof SeedErrorCodes)[number];

/** Throws a {@link SeedFileError} with one of the {@link SeedErrorCodes}. */
export function fail(code: SeedErrorCode, message: string, cause?: unknown): never {
  throw new SeedFileError(code, message, cause === undefined ? {} : { cause });
}
