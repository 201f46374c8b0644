/** The chip's persistent state ("flash"): plain JSON-able data, and its validation. */
import { DeviceError } from '../../src/core/errors.js';

/** Version of the firmware this module emulates; kept in the state it writes. */
export const CHIP_FIRMWARE_VERSION = '1.0.0';
/** The format tag of a chip's persistent state. */
export const CHIP_STATE_FORMAT = 'mitid-sim/chip-state@1';
/** PIN retries after a correct PIN (CTAP 2.1 §6.5.2.1: maximum 8). */
export const PIN_RETRIES_MAX = 8;
/** Discoverable credentials the chip has room for. */
export const MAX_RESIDENT_CREDENTIALS = 50;

/** A discoverable (resident) credential. The private key is inside the sealed `id`. */
export interface ResidentCredential {
  /** Credential ID, lower-case hex. */
  readonly id: string;
  readonly rpId: string;
  readonly rpName?: string;
  /** user.id, lower-case hex. */
  readonly userId: string;
  readonly userName?: string;
  readonly userDisplayName?: string;
  /** credProtect level 1..3 (CTAP 2.1 §12.1). */
  readonly credProtect: number;
  /** True when made with the hmac-secret extension. */
  readonly hmacSecret: boolean;
  /** Order of creation, to list newest first (§6.2.2 step 10). */
  readonly created: number;
}

/** Everything the chip keeps across power cycles. */
export interface ChipPersistentState {
  readonly format: typeof CHIP_STATE_FORMAT;
  readonly firmwareVersion: string;
  readonly serial: string;
  /** AAGUID, lower-case hex, 16 bytes. */
  readonly aaguid: string;
  /** Key that seals credential IDs (AES-256-GCM), hex. A reset replaces it. */
  readonly wrapKey: string;
  /** The signature counter: one for the whole chip, +1 per signature (see README). */
  readonly signCount: number;
  /** LEFT(SHA-256(PIN), 16) in hex, or null when no PIN is set. */
  readonly pinHash: string | null;
  /** Code points of the current PIN (for getInfo's forcePINChange bookkeeping). */
  readonly pinLength: number;
  readonly pinRetries: number;
  readonly credentials: readonly ResidentCredential[];
  /** Next `created` number. */
  readonly nextCreated: number;
  /** Attestation key (PKCS#8) and certificate, base64 DER; the CA certificate that issued it. */
  readonly attestation: {
    readonly keyPkcs8: string;
    readonly certDer: string;
    readonly caCertDer: string;
  };
}

const HEX = /^(?:[0-9a-f]{2})*$/;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

function fail(what: string): never {
  throw new DeviceError('bad-device-state', `chip state: ${what}`);
}

function hex(v: unknown, what: string, len?: number): string {
  if (typeof v !== 'string' || !HEX.test(v) || (len !== undefined && v.length !== len * 2)) {
    fail(`${what} must be ${len === undefined ? '' : `${len} bytes of `}lower-case hex`);
  }
  return v;
}

function int(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    fail(`${what} must be an integer ${min}..${max}`);
  return v;
}

function optText(v: unknown, what: string): void {
  if (v !== undefined && typeof v !== 'string') fail(`${what} must be a string`);
}

/**
 * Checks a state read from a device file; throws DeviceError `bad-device-state` naming the
 * first field that is wrong (never its value: the state holds keys).
 */
export function checkChipState(s: unknown): ChipPersistentState {
  if (typeof s !== 'object' || s === null) fail('not an object');
  const o = s as Record<string, unknown>;
  if (o.format !== CHIP_STATE_FORMAT) fail(`format must be ${CHIP_STATE_FORMAT}`);
  if (typeof o.firmwareVersion !== 'string') fail('firmwareVersion must be a string');
  if (typeof o.serial !== 'string' || o.serial.length === 0 || o.serial.length > 64)
    fail('serial must be 1..64 characters');
  hex(o.aaguid, 'aaguid', 16);
  hex(o.wrapKey, 'wrapKey', 32);
  int(o.signCount, 'signCount', 0, 0xffffffff);
  if (o.pinHash !== null) hex(o.pinHash, 'pinHash', 16);
  int(o.pinLength, 'pinLength', 0, 63);
  int(o.pinRetries, 'pinRetries', 0, PIN_RETRIES_MAX);
  int(o.nextCreated, 'nextCreated', 0, Number.MAX_SAFE_INTEGER);
  if (!Array.isArray(o.credentials) || o.credentials.length > MAX_RESIDENT_CREDENTIALS) {
    fail(`credentials must be a list of at most ${MAX_RESIDENT_CREDENTIALS}`);
  }
  o.credentials.forEach((c: unknown, i: number) => {
    if (typeof c !== 'object' || c === null) fail(`credentials[${i}] must be an object`);
    const r = c as Record<string, unknown>;
    hex(r.id, `credentials[${i}].id`);
    if (typeof r.rpId !== 'string' || r.rpId.length === 0)
      fail(`credentials[${i}].rpId must be a string`);
    hex(r.userId, `credentials[${i}].userId`);
    optText(r.rpName, `credentials[${i}].rpName`);
    optText(r.userName, `credentials[${i}].userName`);
    optText(r.userDisplayName, `credentials[${i}].userDisplayName`);
    int(r.credProtect, `credentials[${i}].credProtect`, 1, 3);
    if (typeof r.hmacSecret !== 'boolean') fail(`credentials[${i}].hmacSecret must be a boolean`);
    int(r.created, `credentials[${i}].created`, 0, Number.MAX_SAFE_INTEGER);
  });
  const a = o.attestation as Record<string, unknown> | undefined;
  if (typeof a !== 'object' || a === null) fail('attestation must be an object');
  for (const k of ['keyPkcs8', 'certDer', 'caCertDer'] as const) {
    if (typeof a[k] !== 'string' || !B64.test(a[k])) fail(`attestation.${k} must be base64`);
  }
  return s as ChipPersistentState;
}
