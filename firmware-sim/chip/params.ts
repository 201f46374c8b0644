/** Reading CTAP2 request parameters: each getter names the parameter and fails with the spec's status. */
import type { CborMap } from '../../src/ctap/cbor.js';
import { CtapError, CtapStatus } from '../../src/ctap/status.js';

/** A required parameter is absent (CTAP2_ERR_MISSING_PARAMETER). */
export function missing(what: string): CtapError {
  return new CtapError(CtapStatus.CTAP2_ERR_MISSING_PARAMETER, `${what} is missing`);
}

/** A parameter has the wrong CBOR type (CTAP2_ERR_CBOR_UNEXPECTED_TYPE). */
export function unexpected(what: string, expected: string): CtapError {
  return new CtapError(CtapStatus.CTAP2_ERR_CBOR_UNEXPECTED_TYPE, `${what} must be ${expected}`);
}

/** Throws a CtapError with `status`. */
export function fail(status: number, message: string): never {
  throw new CtapError(status, message);
}

type Key = number | string;

function get(m: CborMap, key: Key, what: string, required: boolean): unknown {
  const v = m.get(key);
  if (v === undefined && required) throw missing(what);
  return v;
}

export function bytesParam(m: CborMap, key: Key, what: string): Uint8Array;
export function bytesParam(
  m: CborMap,
  key: Key,
  what: string,
  required: false,
): Uint8Array | undefined;
export function bytesParam(
  m: CborMap,
  key: Key,
  what: string,
  required = true,
): Uint8Array | undefined {
  const v = get(m, key, what, required);
  if (v === undefined) return undefined;
  if (!(v instanceof Uint8Array)) throw unexpected(what, 'a byte string');
  return v;
}

export function textParam(m: CborMap, key: Key, what: string): string;
export function textParam(m: CborMap, key: Key, what: string, required: false): string | undefined;
export function textParam(m: CborMap, key: Key, what: string, required = true): string | undefined {
  const v = get(m, key, what, required);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw unexpected(what, 'a text string');
  return v;
}

export function intParam(m: CborMap, key: Key, what: string): number;
export function intParam(m: CborMap, key: Key, what: string, required: false): number | undefined;
export function intParam(m: CborMap, key: Key, what: string, required = true): number | undefined {
  const v = get(m, key, what, required);
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw unexpected(what, 'an integer');
  return v;
}

export function boolParam(m: CborMap, key: Key, what: string): boolean | undefined {
  const v = m.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw unexpected(what, 'a boolean');
  return v;
}

export function mapParam(m: CborMap, key: Key, what: string): CborMap;
export function mapParam(m: CborMap, key: Key, what: string, required: false): CborMap | undefined;
export function mapParam(m: CborMap, key: Key, what: string, required = true): CborMap | undefined {
  const v = get(m, key, what, required);
  if (v === undefined) return undefined;
  if (!(v instanceof Map)) throw unexpected(what, 'a map');
  return v as CborMap;
}

export function arrayParam(m: CborMap, key: Key, what: string): unknown[];
export function arrayParam(
  m: CborMap,
  key: Key,
  what: string,
  required: false,
): unknown[] | undefined;
export function arrayParam(
  m: CborMap,
  key: Key,
  what: string,
  required = true,
): unknown[] | undefined {
  const v = get(m, key, what, required);
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw unexpected(what, 'an array');
  return v;
}

/**
 * A PublicKeyCredentialDescriptor (WebAuthn §5.8.3): its id, or null when its type is not ours.
 * `what` names it in errors, with `index` when it is an entry of a list (the name is only put
 * together when there is an error: lists are read on every assertion).
 */
export function credentialDescriptor(v: unknown, what: string, index?: number): Uint8Array | null {
  if (!(v instanceof Map)) throw unexpected(entryName(what, index), 'a map');
  const m = v as CborMap;
  const type = m.get('type');
  if (typeof type !== 'string') textParam(m, 'type', `${entryName(what, index)}.type`);
  const id = m.get('id');
  if (!(id instanceof Uint8Array)) bytesParam(m, 'id', `${entryName(what, index)}.id`);
  return type === 'public-key' ? (id as Uint8Array) : null;
}

function entryName(what: string, index: number | undefined): string {
  return index === undefined ? what : `${what}[${index}]`;
}
