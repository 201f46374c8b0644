/** WebAuthn JSON shapes (Level 3 `toJSON()` and options JSON) and converters to our byte shapes. */
import type {
  WebAuthnBindRequest,
  WebAuthnBindResponse,
  WebAuthnChallenge,
  WebAuthnProof,
} from './authenticator.js';
import { fromBase64Url, toBase64Url } from './bytes.js';
import { MitidError } from './errors.js';

/** The stable error code of every malformed WebAuthn JSON shape. */
export const BAD_WEBAUTHN_JSON = 'bad-webauthn-json';

/** base64url without padding, as WebAuthn JSON carries every byte string. */
export type Base64UrlString = string;

/** Transports a client may report (WebAuthn §5.8.4); others are dropped when parsing. */
export const AuthenticatorTransports = [
  'ble',
  'cable',
  'hybrid',
  'internal',
  'nfc',
  'smart-card',
  'usb',
] as const;
/** One of {@link AuthenticatorTransports}. */
export type AuthenticatorTransportJSON = (typeof AuthenticatorTransports)[number];

/** A user-verification requirement (WebAuthn §5.8.6). */
export type UserVerificationRequirementJSON = 'required' | 'preferred' | 'discouraged';

/** The `response` member of a registration, as `toJSON()` gives it (WebAuthn §5.2.1). */
export interface AuthenticatorAttestationResponseJSON {
  clientDataJSON: Base64UrlString;
  attestationObject: Base64UrlString;
  transports?: AuthenticatorTransportJSON[];
}

/** A registration credential as `PublicKeyCredential.toJSON()` gives it (WebAuthn §5.1.8). */
export interface RegistrationResponseJSON {
  id: Base64UrlString;
  rawId: Base64UrlString;
  type: 'public-key';
  response: AuthenticatorAttestationResponseJSON;
  authenticatorAttachment?: 'platform' | 'cross-platform';
  clientExtensionResults: Record<string, never>;
}

/** The `response` member of an assertion, as `toJSON()` gives it (WebAuthn §5.2.2). */
export interface AuthenticatorAssertionResponseJSON {
  clientDataJSON: Base64UrlString;
  authenticatorData: Base64UrlString;
  signature: Base64UrlString;
  userHandle?: Base64UrlString;
}

/** An assertion credential as `PublicKeyCredential.toJSON()` gives it (WebAuthn §5.1.8). */
export interface AuthenticationResponseJSON {
  id: Base64UrlString;
  rawId: Base64UrlString;
  type: 'public-key';
  response: AuthenticatorAssertionResponseJSON;
  authenticatorAttachment?: 'platform' | 'cross-platform';
  clientExtensionResults: Record<string, never>;
}

/** A credential descriptor in options JSON (WebAuthn §5.8.3). */
export interface PublicKeyCredentialDescriptorJSON {
  id: Base64UrlString;
  type: 'public-key';
  transports?: AuthenticatorTransportJSON[];
}

/** `PublicKeyCredentialCreationOptionsJSON` (WebAuthn §5.1.9), the parts a chip acts on. */
export interface PublicKeyCredentialCreationOptionsJSON {
  rp: { id?: string; name: string };
  user: { id: Base64UrlString; name: string; displayName: string };
  challenge: Base64UrlString;
  pubKeyCredParams: { type: 'public-key'; alg: number }[];
  timeout?: number;
  excludeCredentials?: PublicKeyCredentialDescriptorJSON[];
  authenticatorSelection?: {
    authenticatorAttachment?: 'platform' | 'cross-platform';
    residentKey?: 'discouraged' | 'preferred' | 'required';
    requireResidentKey?: boolean;
    userVerification?: UserVerificationRequirementJSON;
  };
  attestation?: 'none' | 'indirect' | 'direct' | 'enterprise';
  extensions?: Record<string, unknown>;
}

/** `PublicKeyCredentialRequestOptionsJSON` (WebAuthn §5.1.10). */
export interface PublicKeyCredentialRequestOptionsJSON {
  challenge: Base64UrlString;
  timeout?: number;
  rpId?: string;
  allowCredentials?: PublicKeyCredentialDescriptorJSON[];
  userVerification?: UserVerificationRequirementJSON;
  extensions?: Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// Limits. Generous for any real authenticator, small enough that a hostile request costs little.

/** Byte limits on the byte strings of WebAuthn JSON (decoded sizes). */
export const WebAuthnJsonLimits = {
  /** CTAP 2.1 §6.1: credential IDs are at most 1023 bytes. */
  credentialId: 1023,
  clientDataJSON: 8192,
  attestationObject: 65536,
  authenticatorData: 8192,
  signature: 1024,
  /** WebAuthn §5.4.3: a user handle is 1 to 64 bytes. */
  userHandle: 64,
  /** WebAuthn §13.4.3 asks for at least 16 random bytes. */
  challengeMin: 16,
  challengeMax: 1024,
  /** Characters of rp.name, user.name, user.displayName, rpId. */
  text: 1024,
  /** Entries of allow/exclude lists and of transports. */
  list: 64,
} as const;

const bad = (message: string): MitidError => new MitidError(BAD_WEBAUTHN_JSON, message);

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function record(x: unknown, name: string): Record<string, unknown> {
  if (!isRecord(x)) throw bad(`${name} must be an object`);
  return x;
}

/** Decodes a base64url member of at most `max` (and at least `min`) bytes. */
function b64u(x: unknown, name: string, max: number, min = 1): Uint8Array {
  if (typeof x !== 'string') throw bad(`${name} must be a base64url string`);
  // Checked before decoding, so a huge string is refused without the work.
  if (x.length > Math.ceil((max * 4) / 3) + 2) throw bad(`${name} is longer than ${max} bytes`);
  let out: Uint8Array;
  try {
    out = fromBase64Url(x, name);
  } catch {
    throw bad(`${name} is not valid base64url`);
  }
  if (out.length < min) throw bad(`${name} must be at least ${min} bytes`);
  if (out.length > max) throw bad(`${name} is longer than ${max} bytes`);
  return out;
}

function text(x: unknown, name: string, allowEmpty = true): string {
  if (typeof x !== 'string') throw bad(`${name} must be a string`);
  if (x.length > WebAuthnJsonLimits.text)
    throw bad(`${name} is longer than ${WebAuthnJsonLimits.text} characters`);
  if (!allowEmpty && x.length === 0) throw bad(`${name} must not be empty`);
  return x;
}

function list(x: unknown, name: string): unknown[] {
  if (!Array.isArray(x)) throw bad(`${name} must be an array`);
  if (x.length > WebAuthnJsonLimits.list)
    throw bad(`${name} has more than ${WebAuthnJsonLimits.list} entries`);
  return x;
}

function oneOf<T extends string>(x: unknown, allowed: readonly T[], name: string): T {
  if (typeof x !== 'string' || !(allowed as readonly string[]).includes(x)) {
    throw bad(`${name} must be one of ${allowed.join(', ')}`);
  }
  return x as T;
}

/** Known transports in order, unknown strings dropped (WebAuthn §5.8.4: clients ignore them). */
function transports(x: unknown, name: string): AuthenticatorTransportJSON[] {
  const out: AuthenticatorTransportJSON[] = [];
  for (const [i, t] of list(x, name).entries()) {
    if (typeof t !== 'string' || t.length > 32) throw bad(`${name}[${i}] must be a short string`);
    if ((AuthenticatorTransports as readonly string[]).includes(t) && !out.includes(t as never)) {
      out.push(t as AuthenticatorTransportJSON);
    }
  }
  return out;
}

const USER_VERIFICATION = ['required', 'preferred', 'discouraged'] as const;
const ATTACHMENT = ['platform', 'cross-platform'] as const;

/** The members every credential JSON shares: id = rawId, type, attachment, extension results. */
function credentialHead(x: unknown, name: string) {
  const j = record(x, name);
  const id = b64u(j.id, `${name}.id`, WebAuthnJsonLimits.credentialId);
  // Both are the same base64url text in a browser's toJSON(); anything else is not one.
  if (j.id !== j.rawId) throw bad(`${name}.id and ${name}.rawId differ`);
  if (j.type !== 'public-key') throw bad(`${name}.type must be "public-key"`);
  if (j.clientExtensionResults !== undefined)
    record(j.clientExtensionResults, `${name}.clientExtensionResults`);
  const attachment =
    j.authenticatorAttachment === undefined || j.authenticatorAttachment === null
      ? undefined
      : oneOf(j.authenticatorAttachment, ATTACHMENT, `${name}.authenticatorAttachment`);
  return { j, id, attachment, response: record(j.response, `${name}.response`) };
}

// ---------------------------------------------------------------------------------------------
// Responses.

/**
 * Checks a registration credential JSON from a client and returns a clean copy: known members
 * only, canonical base64url, known transports, empty extension results. Throws MitidError
 * `bad-webauthn-json` naming the first bad member.
 */
export function parseRegistrationResponseJson(x: unknown): RegistrationResponseJSON {
  const { id, attachment, response } = credentialHead(x, 'registration');
  const clientDataJSON = b64u(
    response.clientDataJSON,
    'registration.response.clientDataJSON',
    WebAuthnJsonLimits.clientDataJSON,
  );
  const attestationObject = b64u(
    response.attestationObject,
    'registration.response.attestationObject',
    WebAuthnJsonLimits.attestationObject,
  );
  const t =
    response.transports === undefined || response.transports === null
      ? []
      : transports(response.transports, 'registration.response.transports');
  const idText = toBase64Url(id);
  return {
    id: idText,
    rawId: idText,
    type: 'public-key',
    response: {
      clientDataJSON: toBase64Url(clientDataJSON),
      attestationObject: toBase64Url(attestationObject),
      transports: t,
    },
    ...(attachment ? { authenticatorAttachment: attachment } : {}),
    clientExtensionResults: {},
  };
}

/**
 * Checks an assertion credential JSON from a client and returns a clean copy (a `null`
 * userHandle, as some clients send, is dropped). Throws MitidError `bad-webauthn-json`.
 */
export function parseAuthenticationResponseJson(x: unknown): AuthenticationResponseJSON {
  const { id, attachment, response } = credentialHead(x, 'assertion');
  const clientDataJSON = b64u(
    response.clientDataJSON,
    'assertion.response.clientDataJSON',
    WebAuthnJsonLimits.clientDataJSON,
  );
  const authenticatorData = b64u(
    response.authenticatorData,
    'assertion.response.authenticatorData',
    WebAuthnJsonLimits.authenticatorData,
    37,
  );
  const signature = b64u(
    response.signature,
    'assertion.response.signature',
    WebAuthnJsonLimits.signature,
  );
  const userHandle =
    response.userHandle === undefined || response.userHandle === null
      ? undefined
      : b64u(response.userHandle, 'assertion.response.userHandle', WebAuthnJsonLimits.userHandle);
  const idText = toBase64Url(id);
  return {
    id: idText,
    rawId: idText,
    type: 'public-key',
    response: {
      clientDataJSON: toBase64Url(clientDataJSON),
      authenticatorData: toBase64Url(authenticatorData),
      signature: toBase64Url(signature),
      ...(userHandle ? { userHandle: toBase64Url(userHandle) } : {}),
    },
    ...(attachment ? { authenticatorAttachment: attachment } : {}),
    clientExtensionResults: {},
  };
}

/** What a browser's `toJSON()` would give for a chip's registration (a roaming USB key). */
export function bindResponseToJson(r: WebAuthnBindResponse): RegistrationResponseJSON {
  const id = toBase64Url(r.credentialId);
  return {
    id,
    rawId: id,
    type: 'public-key',
    response: {
      clientDataJSON: toBase64Url(r.clientDataJSON),
      attestationObject: toBase64Url(r.attestationObject),
      transports: r.transports.filter((t): t is AuthenticatorTransportJSON =>
        (AuthenticatorTransports as readonly string[]).includes(t),
      ),
    },
    authenticatorAttachment: 'cross-platform',
    clientExtensionResults: {},
  };
}

/** A registration JSON back in our byte shape; checked as {@link parseRegistrationResponseJson}. */
export function bindResponseFromJson(x: unknown): WebAuthnBindResponse {
  const j = parseRegistrationResponseJson(x);
  return {
    type: 'webauthn.create',
    credentialId: fromBase64Url(j.id),
    clientDataJSON: fromBase64Url(j.response.clientDataJSON),
    attestationObject: fromBase64Url(j.response.attestationObject),
    transports: j.response.transports ?? [],
  };
}

/** What a browser's `toJSON()` would give for a chip's assertion. */
export function proofToJson(p: WebAuthnProof): AuthenticationResponseJSON {
  const id = toBase64Url(p.credentialId);
  return {
    id,
    rawId: id,
    type: 'public-key',
    response: {
      clientDataJSON: toBase64Url(p.clientDataJSON),
      authenticatorData: toBase64Url(p.authenticatorData),
      signature: toBase64Url(p.signature),
      ...(p.userHandle && p.userHandle.length > 0 ? { userHandle: toBase64Url(p.userHandle) } : {}),
    },
    authenticatorAttachment: 'cross-platform',
    clientExtensionResults: {},
  };
}

/** An assertion JSON back in our byte shape; checked as {@link parseAuthenticationResponseJson}. */
export function proofFromJson(x: unknown): WebAuthnProof {
  const j = parseAuthenticationResponseJson(x);
  return {
    type: 'webauthn.get',
    credentialId: fromBase64Url(j.id),
    clientDataJSON: fromBase64Url(j.response.clientDataJSON),
    authenticatorData: fromBase64Url(j.response.authenticatorData),
    signature: fromBase64Url(j.response.signature),
    ...(j.response.userHandle ? { userHandle: fromBase64Url(j.response.userHandle) } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Options: what a server sends, turned into what our chip takes.

/** What the client adds to the server's options: the page's origin and, for UV, the chip's PIN. */
export interface ClientContext {
  /** The origin of the page that asks, e.g. `https://login.mitid.example`. */
  readonly origin: string;
  /** The PIN the user would type at the browser's prompt. */
  readonly pin?: string;
}

function checkOrigin(x: unknown): { origin: string; host: string } {
  if (typeof x !== 'string' || x.length > WebAuthnJsonLimits.text)
    throw bad('origin must be a string');
  let u: URL;
  try {
    u = new URL(x);
  } catch {
    throw bad('origin is not a URL');
  }
  if (u.origin !== x) throw bad('origin must be scheme://host[:port] only');
  return { origin: x, host: u.hostname };
}

function descriptors(x: unknown, name: string): Uint8Array[] {
  return list(x, name).map((d, i) => {
    const r = record(d, `${name}[${i}]`);
    if (r.type !== 'public-key') throw bad(`${name}[${i}].type must be "public-key"`);
    if (r.transports !== undefined) transports(r.transports, `${name}[${i}].transports`);
    return b64u(r.id, `${name}[${i}].id`, WebAuthnJsonLimits.credentialId);
  });
}

function challenge(x: unknown, name: string): Uint8Array {
  return b64u(x, name, WebAuthnJsonLimits.challengeMax, WebAuthnJsonLimits.challengeMin);
}

function rpIdOr(x: unknown, host: string, name: string): string {
  if (x === undefined || x === null) return host;
  const id = text(x, name, false);
  if (!/^[a-z0-9.-]+$/i.test(id)) throw bad(`${name} must be a domain name`);
  return id;
}

function optionalText(x: unknown, name: string): void {
  if (x !== undefined && x !== null) text(x, name);
}

/**
 * Turns `PublicKeyCredentialCreationOptionsJSON` (as a server sends it) and the client's origin
 * into a chip bind request. A missing rp.id is the origin's host, as in a browser (WebAuthn
 * §5.1.3 step 7); a discoverable credential is asked for only when `residentKey` is `required`
 * (or `requireResidentKey` is true), so that `preferred` does not use up the chip's slots.
 * Whether the rp.id suits the origin is the chip's check, as it is the browser's.
 */
export function creationOptionsFromJson(
  options: unknown,
  client: ClientContext,
): WebAuthnBindRequest {
  const o = record(options, 'options');
  const { origin, host } = checkOrigin(client?.origin);
  const rp = record(o.rp, 'options.rp');
  const user = record(o.user, 'options.user');
  if (o.pubKeyCredParams !== undefined) {
    for (const [i, p] of list(o.pubKeyCredParams, 'options.pubKeyCredParams').entries()) {
      const r = record(p, `options.pubKeyCredParams[${i}]`);
      if (r.type !== 'public-key' || typeof r.alg !== 'number' || !Number.isInteger(r.alg)) {
        throw bad(`options.pubKeyCredParams[${i}] must be { type: "public-key", alg: integer }`);
      }
    }
  }
  optionalTimeout(o.timeout);
  const sel =
    o.authenticatorSelection === undefined || o.authenticatorSelection === null
      ? {}
      : record(o.authenticatorSelection, 'options.authenticatorSelection');
  const residentKey =
    sel.residentKey === undefined
      ? undefined
      : oneOf(
          sel.residentKey,
          ['discouraged', 'preferred', 'required'] as const,
          'options.authenticatorSelection.residentKey',
        );
  if (sel.requireResidentKey !== undefined && typeof sel.requireResidentKey !== 'boolean') {
    throw bad('options.authenticatorSelection.requireResidentKey must be a boolean');
  }
  const uv =
    sel.userVerification === undefined
      ? undefined
      : oneOf(
          sel.userVerification,
          USER_VERIFICATION,
          'options.authenticatorSelection.userVerification',
        );
  if (sel.authenticatorAttachment !== undefined) {
    oneOf(
      sel.authenticatorAttachment,
      ATTACHMENT,
      'options.authenticatorSelection.authenticatorAttachment',
    );
  }
  const exclude =
    o.excludeCredentials === undefined || o.excludeCredentials === null
      ? undefined
      : descriptors(o.excludeCredentials, 'options.excludeCredentials');
  optionalText(client.pin, 'pin');
  const rk =
    residentKey === 'required' || (residentKey === undefined && sel.requireResidentKey === true);
  return {
    challenge: challenge(o.challenge, 'options.challenge'),
    rp: { id: rpIdOr(rp.id, host, 'options.rp.id'), name: text(rp.name, 'options.rp.name') },
    user: {
      id: b64u(user.id, 'options.user.id', WebAuthnJsonLimits.userHandle),
      name: text(user.name, 'options.user.name'),
      displayName: text(user.displayName, 'options.user.displayName'),
    },
    origin,
    ...(rk ? { residentKey: true } : {}),
    ...(uv ? { userVerification: uv } : {}),
    ...(client.pin !== undefined ? { pin: client.pin } : {}),
    ...(exclude && exclude.length > 0 ? { excludeCredentials: exclude } : {}),
  };
}

function optionalTimeout(x: unknown): void {
  if (x !== undefined && x !== null && (typeof x !== 'number' || !Number.isFinite(x) || x < 0)) {
    throw bad('options.timeout must be a non-negative number');
  }
}

/**
 * Turns `PublicKeyCredentialRequestOptionsJSON` and the client's origin into a chip challenge.
 * A missing rpId is the origin's host (WebAuthn §5.1.4.1 step 7).
 */
export function requestOptionsFromJson(options: unknown, client: ClientContext): WebAuthnChallenge {
  const o = record(options, 'options');
  const { origin, host } = checkOrigin(client?.origin);
  optionalTimeout(o.timeout);
  const allow =
    o.allowCredentials === undefined || o.allowCredentials === null
      ? undefined
      : descriptors(o.allowCredentials, 'options.allowCredentials');
  const uv =
    o.userVerification === undefined
      ? undefined
      : oneOf(o.userVerification, USER_VERIFICATION, 'options.userVerification');
  optionalText(client.pin, 'pin');
  return {
    challenge: challenge(o.challenge, 'options.challenge'),
    rpId: rpIdOr(o.rpId, host, 'options.rpId'),
    origin,
    ...(allow && allow.length > 0 ? { allowCredentials: allow } : {}),
    ...(uv ? { userVerification: uv } : {}),
    ...(client.pin !== undefined ? { pin: client.pin } : {}),
  };
}
