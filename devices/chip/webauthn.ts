/**
 * The WebAuthn side of the chip: client data, authenticator data parsing and the attestation
 * object, as a browser builds them around CTAP2 responses (WebAuthn Level 3 §5.8.1, §6.1, §6.5).
 */
import * as nodeCrypto from 'node:crypto';
import { DeviceError, toBase64Url, utf8 } from '../../src/core/index.js';
import { decodeCborPrefix, encodeCbor } from '../../src/ctap/cbor.js';

/** Flags of the authenticator data (WebAuthn §6.1). */
export const AuthDataFlags = {
  userPresent: 0x01,
  userVerified: 0x04,
  backupEligible: 0x08,
  backedUp: 0x10,
  attestedCredentialData: 0x40,
  extensionData: 0x80,
} as const;

/** Authenticator data, parsed. */
export interface ParsedAuthData {
  readonly rpIdHash: Uint8Array;
  readonly flags: number;
  readonly signCount: number;
  readonly aaguid?: Uint8Array;
  readonly credentialId?: Uint8Array;
  /** The credential public key as a decoded COSE map. */
  readonly credentialPublicKey?: Map<number | string, unknown>;
  readonly extensions?: Map<number | string, unknown>;
}

function bad(what: string): DeviceError {
  return new DeviceError(
    'bad-authenticator-data',
    `the authenticator's data is malformed: ${what}`,
  );
}

/** Parses authenticator data (WebAuthn §6.1), checking every length it reads. */
export function parseAuthData(data: Uint8Array): ParsedAuthData {
  if (!(data instanceof Uint8Array) || data.length < 37) throw bad('shorter than 37 bytes');
  const flags = data[32]!;
  // Big-endian counter (WebAuthn §6.1), read without a DataView: this runs once per assertion.
  const signCount = ((data[33]! << 24) | (data[34]! << 16) | (data[35]! << 8) | data[36]!) >>> 0;
  const rpIdHash = data.subarray(0, 32);
  // The usual assertion: no attested credential data, no extensions, nothing more to read.
  if ((flags & (AuthDataFlags.attestedCredentialData | AuthDataFlags.extensionData)) === 0) {
    if (data.length !== 37) throw bad(`${data.length - 37} bytes left over`);
    return { rpIdHash, flags, signCount };
  }
  let at = 37;
  let out: ParsedAuthData = { rpIdHash, flags, signCount };
  if (flags & AuthDataFlags.attestedCredentialData) {
    if (data.length < at + 18) throw bad('attested credential data is cut short');
    const aaguid = data.subarray(at, at + 16);
    const idLen = (data[at + 16]! << 8) | data[at + 17]!;
    at += 18;
    if (data.length < at + idLen) throw bad('credential ID is cut short');
    const credentialId = data.subarray(at, at + idLen);
    at += idLen;
    let key;
    try {
      key = decodeCborPrefix(data, at, { canonical: false });
    } catch {
      throw bad('credential public key is not CBOR');
    }
    if (!(key.value instanceof Map)) throw bad('credential public key is not a map');
    at = key.end;
    out = {
      ...out,
      aaguid,
      credentialId,
      credentialPublicKey: key.value as Map<number | string, unknown>,
    };
  }
  if (flags & AuthDataFlags.extensionData) {
    let ext;
    try {
      ext = decodeCborPrefix(data, at, { canonical: false });
    } catch {
      throw bad('extensions are not CBOR');
    }
    if (!(ext.value instanceof Map)) throw bad('extensions are not a map');
    at = ext.end;
    out = { ...out, extensions: ext.value as Map<number | string, unknown> };
  }
  if (at !== data.length) throw bad(`${data.length - at} bytes left over`);
  return out;
}

/**
 * CollectedClientData as JSON (WebAuthn §5.8.1), members in the order §5.8.1.1 serialises them,
 * so a relying party's limited verification would accept it too.
 */
export function clientDataJson(
  type: 'webauthn.create' | 'webauthn.get',
  challenge: Uint8Array,
  origin: string,
): Uint8Array {
  if (!(challenge instanceof Uint8Array) || challenge.length < 16) {
    throw new DeviceError(
      'bad-challenge',
      'the challenge must be at least 16 bytes (WebAuthn §13.4.3)',
    );
  }
  const parsed = parseOrigin(origin);
  if (parsed.origin !== origin)
    throw new DeviceError('bad-origin', `not an origin (scheme://host[:port]): ${origin}`);
  // What JSON.stringify makes of { type, challenge, origin, crossOrigin: false }, built directly:
  // the type and the base64url challenge need no escaping, the origin is escaped as JSON.
  if (parsed.jsonBytes !== undefined) {
    return asciiClientData(
      type === 'webauthn.get' ? GET_HEAD : CREATE_HEAD,
      challenge,
      parsed.jsonBytes,
    );
  }
  return asciiOrUtf8(
    `{"type":"${type}","challenge":"${toBase64Url(challenge)}","origin":${parsed.json},"crossOrigin":false}`,
  );
}

/** ASCII text as bytes (callers pass only ASCII). */
const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
/** clientDataJSON up to the challenge's value, per type; then the origin's key; then the end. */
const GET_HEAD = ascii('{"type":"webauthn.get","challenge":"');
const CREATE_HEAD = ascii('{"type":"webauthn.create","challenge":"');
const ORIGIN_KEY = ascii('","origin":');
const TAIL = ascii(',"crossOrigin":false}');
/** The base64url alphabet (RFC 4648 §5) as character codes. */
const BASE64URL = ascii('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_');

/**
 * clientDataJSON written straight into its bytes when the origin's JSON is ASCII: `head`, the
 * challenge as unpadded base64url, ORIGIN_KEY, `originJson` and TAIL. The same bytes as the text
 * path, with no string built or scanned.
 */
function asciiClientData(
  head: Uint8Array,
  challenge: Uint8Array,
  originJson: Uint8Array,
): Uint8Array {
  const n = challenge.length;
  const rest = n % 3;
  const encoded = ((n - rest) / 3) * 4 + (rest === 0 ? 0 : rest + 1);
  const out = new Uint8Array(
    head.length + encoded + ORIGIN_KEY.length + originJson.length + TAIL.length,
  );
  out.set(head, 0);
  let at = head.length;
  let i = 0;
  for (; i + 3 <= n; i += 3) {
    const v = (challenge[i]! << 16) | (challenge[i + 1]! << 8) | challenge[i + 2]!;
    out[at++] = BASE64URL[v >>> 18]!;
    out[at++] = BASE64URL[(v >>> 12) & 0x3f]!;
    out[at++] = BASE64URL[(v >>> 6) & 0x3f]!;
    out[at++] = BASE64URL[v & 0x3f]!;
  }
  if (rest === 1) {
    const v = challenge[i]!;
    out[at++] = BASE64URL[v >>> 2]!;
    out[at++] = BASE64URL[(v & 0x03) << 4]!;
  } else if (rest === 2) {
    const v = (challenge[i]! << 8) | challenge[i + 1]!;
    out[at++] = BASE64URL[v >>> 10]!;
    out[at++] = BASE64URL[(v >>> 4) & 0x3f]!;
    out[at++] = BASE64URL[(v & 0x0f) << 2]!;
  }
  out.set(ORIGIN_KEY, at);
  at += ORIGIN_KEY.length;
  out.set(originJson, at);
  at += originJson.length;
  out.set(TAIL, at);
  return out;
}

/**
 * UTF-8 of `s`, written byte by byte when it is all ASCII (a serialised origin is: hosts are
 * punycode), which skips the encoder call; through the encoder otherwise.
 */
function asciiOrUtf8(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return utf8(s);
    out[i] = c;
  }
  return out;
}

/** What {@link parseOrigin} makes of an origin. */
interface ParsedOrigin {
  readonly text: string;
  readonly origin: string;
  readonly hostname: string;
  /** `text` as a JSON string, as clientDataJSON carries it. */
  readonly json: string;
  /** `json` as bytes when it is all ASCII (it is for any origin the URL parser returns as is). */
  readonly jsonBytes?: Uint8Array;
}

/** The last origin parsed: a login loop asks about the same origin over and over. */
let lastOrigin: ParsedOrigin = { text: '', origin: '', hostname: '', json: '""' };

/** What the URL parser makes of `text` (origin and host name); remembered for the last one. */
function parseOrigin(text: string): ParsedOrigin {
  if (text === lastOrigin.text && text !== '') return lastOrigin;
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw new DeviceError('bad-origin', 'the origin is not a URL');
  }
  const json = JSON.stringify(text);
  lastOrigin = {
    text,
    origin: parsed.origin,
    hostname: parsed.hostname,
    json,
    ...(/^[\x20-\x7e]*$/.test(json) ? { jsonBytes: ascii(json) } : {}),
  };
  return lastOrigin;
}

/** One-shot hashing (node 20.12 and later); createHash otherwise. */
const oneShotHash = (
  nodeCrypto as {
    hash?: (algorithm: string, data: Uint8Array, encoding: 'buffer') => Buffer;
  }
).hash;

/** SHA-256 of `data`. */
export function sha256(data: Uint8Array): Uint8Array {
  const digest =
    oneShotHash !== undefined
      ? oneShotHash('sha256', data, 'buffer')
      : nodeCrypto.createHash('sha256').update(data).digest();
  return new Uint8Array(digest);
}

/**
 * The attestation object (WebAuthn §6.5): the makeCredential response's fmt, attStmt and
 * authData under their text names, CBOR-encoded.
 */
export function attestationObject(fmt: string, authData: Uint8Array, attStmt: unknown): Uint8Array {
  return encodeCbor(
    new Map<string, unknown>([
      ['fmt', fmt],
      ['attStmt', attStmt],
      ['authData', authData],
    ]),
  );
}

/**
 * Checks an rpId the way a browser would before asking an authenticator: a host name (no scheme,
 * port or path), and the origin's host is it or one of its subdomains (WebAuthn §5.1.3 step 8).
 */
export function checkRpId(rpId: string, origin: string): void {
  // A login loop asks about the same pair over and over; the last pair that passed is remembered.
  if (rpId === lastRpCheck.rpId && origin === lastRpCheck.origin && rpId !== '') return;
  if (
    typeof rpId !== 'string' ||
    !/^[a-z0-9.-]{1,253}$/i.test(rpId) ||
    rpId.startsWith('.') ||
    rpId.endsWith('.')
  ) {
    throw new DeviceError('bad-rp-id', `not a valid relying party ID: ${JSON.stringify(rpId)}`);
  }
  const host = parseOrigin(origin).hostname;
  const id = rpId.toLowerCase();
  if (host !== id && !host.endsWith(`.${id}`)) {
    throw new DeviceError(
      'rp-id-mismatch',
      `relying party ID ${rpId} does not match the origin ${origin}`,
    );
  }
  lastRpCheck = { rpId, origin };
}

/** The last RP ID and origin {@link checkRpId} accepted. */
let lastRpCheck: { readonly rpId: string; readonly origin: string } = { rpId: '', origin: '' };
