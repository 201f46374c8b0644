/** Shared helpers of the seed file tests: fixtures, error capture, key normalisation. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { SeedFileError } from '../../src/core/errors.js';
import { toHex } from '../../src/core/bytes.js';
import type { OtpKey } from '../../src/otp/types.js';

const vectors = fileURLToPath(new URL('../vectors/pskc/', import.meta.url));

/** A fixture from test/vectors/pskc as text. */
export function fixture(name: string): string {
  return readFileSync(vectors + name, 'utf8');
}

/** Runs `fn`, expects a SeedFileError, and returns it. */
export function seedError(fn: () => unknown): SeedFileError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(SeedFileError);
  const err = caught as SeedFileError;
  expect(err.message).not.toMatch(/\n/);
  return err;
}

/** Asserts `fn` throws SeedFileError `code` and that no secret text shows in the message. */
export function expectSeedError(
  fn: () => unknown,
  code: string,
  secrets: readonly string[] = [],
): SeedFileError {
  const err = seedError(fn);
  expect(err.code).toBe(code);
  for (const s of secrets)
    if (s.length >= 4) expect(err.message.toLowerCase()).not.toContain(s.toLowerCase());
  return err;
}

/** An OtpKey with the secret as hex, for readable comparisons. */
export function plain(k: OtpKey): Record<string, unknown> {
  return { ...k, secret: toHex(k.secret) };
}
