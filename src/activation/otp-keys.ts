/**
 * The code displays' and audio readers' keys, prepared for checking codes. A device's seed is
 * opened from its sealed envelope once, imported into a key object (held by OpenSSL, not in a
 * JavaScript buffer) and the opened bytes are wiped at once; later checks of the same device use
 * the prepared key instead of opening the envelope again. What the database holds is unchanged:
 * seeds sealed at rest, replay and lockout state in the device's row, read and written in the
 * check's own transaction.
 *
 * Keeping prepared keys in memory exposes nothing new: the sealing keys that open every envelope
 * are in this process's memory already.
 */
import { OtpError } from '../core/errors.js';
import type { OtpKey } from '../otp/types.js';
import { prepareKeyPackage, type PreparedKeyPackage } from '../otp/verify.js';
import { openOtpKey } from './store/repositories.js';
import type { Secrets } from './store/secrets.js';

/** A bounded cache of prepared keys, the least recently used dropped first. */
export class PreparedOtpKeys {
  readonly #max: number;
  readonly #keys = new Map<string, PreparedKeyPackage>();

  /** `max`: how many devices' keys to keep (default 10,000; 0 keeps none). */
  constructor(max = 10_000) {
    if (!Number.isInteger(max) || max < 0)
      throw new OtpError('bad-cache-size', 'the key cache size must be a whole number, 0 or more');
    this.#max = max;
  }

  /** How many prepared keys are held. */
  get size(): number {
    return this.#keys.size;
  }

  /**
   * The prepared key of an inventory row (kind, serial, sealed seed, parameters as stored);
   * undefined when the row carries no seed. The envelope opens only for this kind and serial
   * (its additional data), and the cache is keyed by all three, so an envelope copied to another
   * row does not find the first row's key, and a seed imported again is a new entry.
   */
  get(
    secrets: Secrets,
    kind: string,
    serial: string,
    seedSealed: string | null,
    params: string | null,
  ): PreparedKeyPackage | undefined {
    if (seedSealed === null || params === null) return undefined;
    const id = `${kind}\u0000${serial}\u0000${seedSealed}\u0000${params}`;
    const found = this.#keys.get(id);
    if (found !== undefined) {
      // Most recently used last: re-inserting moves it to the end of the map's order.
      this.#keys.delete(id);
      this.#keys.set(id, found);
      return found;
    }
    const key = openOtpKey(secrets, kind, serial, seedSealed, params) as OtpKey;
    let prepared: PreparedKeyPackage;
    try {
      prepared = prepareKeyPackage(key);
    } finally {
      key.secret.fill(0);
    }
    if (this.#max === 0) return prepared;
    if (this.#keys.size >= this.#max) {
      const oldest = this.#keys.keys().next().value;
      if (oldest !== undefined) this.#keys.delete(oldest);
    }
    this.#keys.set(id, prepared);
    return prepared;
  }
}
