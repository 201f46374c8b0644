/** Errors of mitid-sim: every error carries a stable `code` and, where one exists, a `cause`. */

/** Options for {@link MitidError}. */
export interface MitidErrorOptions {
  cause?: unknown;
}

/**
 * Base class of every error this project throws on purpose. `code` is stable and meant for
 * programs; `message` is one line for people and never contains a secret.
 */
export class MitidError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options: MitidErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }
}

/** OTP engine errors (bad parameters; a wrong code is a result, never an error). */
export class OtpError extends MitidError {}
/** Seed file errors (PSKC, CSV): malformed, tampered, wrong key or password. */
export class SeedFileError extends MitidError {}
/** Device errors: bad device file, device off, battery empty, hardware not present. */
export class DeviceError extends MitidError {}
/** Serial line and line protocol errors. */
export class SerialError extends MitidError {}
/** Command line usage errors. */
export class UsageError extends MitidError {}

/** True when `e` is one of our errors (so its message is safe to show a user). */
export function isMitidError(e: unknown): e is MitidError {
  return e instanceof MitidError;
}
