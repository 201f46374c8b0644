/** The service-side Verifier for the chip: WebAuthn registration and assertion checks. */
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { verifyAuthenticationResponse, verifyRegistrationResponse } from '@simplewebauthn/server';
import { decodeAttestationObject, parseAuthenticatorData } from '@simplewebauthn/server/helpers';
import type {
  Verifier,
  VerifyContext,
  VerifyOutcome,
  VerifyReason,
} from '../core/authenticator.js';
import { constantTimeEqual, fromBase64Url, fromUtf8, toBase64Url } from '../core/bytes.js';
import { MitidError } from '../core/errors.js';
import {
  parseAuthenticationResponseJson,
  parseRegistrationResponseJson,
  type AuthenticationResponseJSON,
  type AuthenticatorTransportJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
  type UserVerificationRequirementJSON,
} from '../core/webauthn-json.js';

/**
 * Why a chip check failed, finer than {@link VerifyReason}: for logs and support, never carrying
 * what the client sent or what the service expected.
 */
export const ChipCheckDetails = [
  'ok',
  'malformed-json',
  'malformed-client-data',
  'malformed-authenticator-data',
  'wrong-type',
  'challenge-mismatch',
  'origin-mismatch',
  'cross-origin',
  'rp-id-mismatch',
  'user-presence-missing',
  'user-verification-required',
  'credential-id-mismatch',
  'unknown-credential',
  'attestation-untrusted',
  'signature-invalid',
  'rejected',
  'counter-not-increased',
] as const;
/** One of {@link ChipCheckDetails}. */
export type ChipCheckDetail = (typeof ChipCheckDetails)[number];

/** A verify outcome with the finer {@link ChipCheckDetail}. */
export type ChipOutcome<B> = VerifyOutcome<B> & { readonly detail: ChipCheckDetail };

/** A bind outcome: a binding when verified, `null` when not (nothing to store). */
export type ChipBindOutcome =
  | (ChipOutcome<ChipBinding> & { readonly verified: true })
  | (ChipOutcome<null> & { readonly verified: false });

/** What the store keeps for a bound chip: plain JSON. */
export interface ChipBinding {
  /** The credential ID, base64url. */
  readonly credentialId: string;
  /** The credential public key as a COSE_Key, base64url. */
  readonly publicKey: string;
  /** The signature counter last accepted (0 for a key that keeps none). */
  readonly counter: number;
  /** The authenticator model's AAGUID (8-4-4-4-12 hex). */
  readonly aaguid: string;
  /** The attestation statement format: `packed`, `none`, ... */
  readonly fmt: string;
  /** True when the attestation certificate chained to one of the configured trusted roots. */
  readonly attestationTrusted: boolean;
  /** Transports the client reported at registration. */
  readonly transports: readonly AuthenticatorTransportJSON[];
  /** Whether the user was verified (PIN) at registration. */
  readonly userVerified: boolean;
  /** Backup state (BS flag); a chip's credentials are single-device, so false. */
  readonly backedUp: boolean;
  /** Backup eligibility (BE flag). */
  readonly backupEligible: boolean;
  /** Service time (ms) of the registration. */
  readonly boundAt: number;
  /** Service time (ms) of the last accepted login. */
  readonly lastUsedAt?: number;
}

/** What binding a chip starts from: the browser's registration JSON and the challenge sent. */
export interface ChipEnrolment {
  /** `PublicKeyCredential.toJSON()` of the registration, as the browser posted it (unchecked). */
  readonly response: RegistrationResponseJSON;
  /** The challenge the service sent in the creation options (bytes or base64url). */
  readonly expectedChallenge: Uint8Array | string;
}

/** A login with a chip: the browser's assertion JSON and the challenge sent. */
export interface ChipLogin {
  /** `PublicKeyCredential.toJSON()` of the assertion, as the browser posted it (unchecked). */
  readonly response: AuthenticationResponseJSON;
  /** The challenge the service sent in the request options (bytes or base64url). */
  readonly expectedChallenge: Uint8Array | string;
}

/** Options of {@link ChipVerifier}. */
export interface ChipVerifierOptions {
  /** The relying party ID, a domain (e.g. `mitid.example`). */
  readonly rpId: string;
  /** The relying party name shown by clients. */
  readonly rpName: string;
  /** The origin(s) pages may ask from, e.g. `https://login.mitid.example`. */
  readonly origin: string | readonly string[];
  /** Require UV (a chip with a PIN sets it); default false: the chip is one factor of two. */
  readonly requireUserVerification?: boolean;
  /**
   * `any` (default): none, self and certificate attestation are all accepted, and the binding
   * records the format and whether the chain was trusted. `trusted`: a certificate chain ending
   * at one of `trustedRoots` is required.
   */
  readonly attestation?: 'any' | 'trusted';
  /** DER certificates of the attestation CAs trusted (e.g. the chip maker's). */
  readonly trustedRoots?: readonly Uint8Array[];
  /** Timeout written into options, ms; default 120000. */
  readonly timeoutMs?: number;
}

/** Input of {@link ChipVerifier.registrationOptions}. */
export interface ChipRegistrationOptionsInput {
  readonly user: { readonly id: Uint8Array; readonly name: string; readonly displayName: string };
  /** Credential IDs (base64url) the user already has, so the same chip is not bound twice. */
  readonly excludeCredentialIds?: readonly string[];
  /** The challenge to use; default 32 fresh random bytes. */
  readonly challenge?: Uint8Array;
}

/** Input of {@link ChipVerifier.authenticationOptions}. */
export interface ChipAuthenticationOptionsInput {
  /** Credential IDs (base64url) of the user's bound chips. */
  readonly allowCredentialIds: readonly string[];
  /** The challenge to use; default 32 fresh random bytes. */
  readonly challenge?: Uint8Array;
}

/** Options JSON for the browser, and the challenge (base64url) for the service to keep. */
export interface ChipOptionsResult<O> {
  readonly options: O;
  readonly challenge: string;
}

/** COSE algorithms offered and accepted: ES256 (what the chip makes), EdDSA, RS256. */
const ALGORITHMS = [-7, -8, -257];

const usage = (code: string, message: string) => new MitidError(code, message);

/**
 * Verifies MitID chips (FIDO2 keys) the way a WebAuthn server does, with @simplewebauthn/server
 * doing the cryptography. The steps that decide the outcome are checked here first, one guard
 * per WebAuthn §7.1 / §7.2 step, so each failure has a clean reason; nothing the client sends
 * makes it throw. Pure: the returned binding is the next state to store.
 *
 * Attestation trust is decided per verifier from `trustedRoots`, not from the process-wide
 * SettingsService of @simplewebauthn/server; if the process also sets packed roots there, that
 * library enforces them in addition.
 */
export class ChipVerifier implements Verifier<
  'chip',
  ChipEnrolment,
  ChipBinding | null,
  ChipLogin
> {
  readonly kind = 'chip' as const;
  /** The relying party ID credentials are scoped to. */
  readonly rpId: string;
  /** The relying party name written into creation options. */
  readonly rpName: string;
  /** The origins whose client data is accepted. */
  readonly origins: readonly string[];
  /** Whether UV is required at registration and login. */
  readonly requireUserVerification: boolean;
  /** The attestation policy (see {@link ChipVerifierOptions.attestation}). */
  readonly attestation: 'any' | 'trusted';
  readonly #roots: readonly X509Certificate[];
  readonly #rpIdHash: Uint8Array;
  readonly #timeout: number;

  constructor(options: ChipVerifierOptions) {
    if (typeof options !== 'object' || options === null) {
      throw usage('bad-verifier-options', 'ChipVerifier needs { rpId, rpName, origin }');
    }
    const { rpId, rpName } = options;
    if (typeof rpId !== 'string' || !/^[a-z0-9.-]{1,253}$/i.test(rpId)) {
      throw usage('bad-verifier-options', 'rpId must be a domain name');
    }
    if (typeof rpName !== 'string' || rpName.length === 0) {
      throw usage('bad-verifier-options', 'rpName must be a non-empty string');
    }
    const origins = typeof options.origin === 'string' ? [options.origin] : options.origin;
    if (!Array.isArray(origins) || origins.length === 0) {
      throw usage('bad-verifier-options', 'origin must be an origin or a non-empty list of them');
    }
    for (const o of origins) {
      let host: string;
      try {
        const u = new URL(o);
        if (u.origin !== o) throw new Error('not an origin');
        host = u.hostname;
      } catch {
        throw usage('bad-verifier-options', `not an origin (scheme://host[:port]): ${String(o)}`);
      }
      // WebAuthn §5.1.3 step 8: the rpId is the origin's host or a registrable suffix of it.
      if (host !== rpId.toLowerCase() && !host.endsWith(`.${rpId.toLowerCase()}`)) {
        throw usage('bad-verifier-options', `origin ${o} is not within rpId ${rpId}`);
      }
    }
    const attestation = options.attestation ?? 'any';
    if (attestation !== 'any' && attestation !== 'trusted') {
      throw usage('bad-verifier-options', 'attestation must be any or trusted');
    }
    const roots = (options.trustedRoots ?? []).map((der, i) => {
      try {
        return new X509Certificate(der);
      } catch {
        throw usage('bad-verifier-options', `trustedRoots[${i}] is not a DER certificate`);
      }
    });
    if (attestation === 'trusted' && roots.length === 0) {
      throw usage('bad-verifier-options', 'attestation trusted needs at least one trusted root');
    }
    const timeout = options.timeoutMs ?? 120_000;
    if (!Number.isInteger(timeout) || timeout < 1000 || timeout > 600_000) {
      throw usage('bad-verifier-options', 'timeoutMs must be an integer from 1000 to 600000');
    }
    this.rpId = rpId;
    this.rpName = rpName;
    this.origins = [...origins];
    this.requireUserVerification = options.requireUserVerification ?? false;
    this.attestation = attestation;
    this.#roots = roots;
    this.#rpIdHash = sha256(new TextEncoder().encode(rpId));
    this.#timeout = timeout;
  }

  #uv(): UserVerificationRequirementJSON {
    return this.requireUserVerification ? 'required' : 'discouraged';
  }

  /**
   * Creation options for `navigator.credentials.create()` (a roaming key, no discoverable
   * credential, direct attestation so the chip's certificate can be judged) and the challenge.
   */
  registrationOptions(
    input: ChipRegistrationOptionsInput,
  ): ChipOptionsResult<PublicKeyCredentialCreationOptionsJSON> {
    const user = input?.user;
    if (!user || !(user.id instanceof Uint8Array) || user.id.length < 1 || user.id.length > 64) {
      throw usage('bad-options-input', 'user.id must be 1 to 64 bytes');
    }
    if (typeof user.name !== 'string' || typeof user.displayName !== 'string') {
      throw usage('bad-options-input', 'user.name and user.displayName must be strings');
    }
    const challenge = toBase64Url(freshChallenge(input.challenge));
    return {
      challenge,
      options: {
        rp: { id: this.rpId, name: this.rpName },
        user: { id: toBase64Url(user.id), name: user.name, displayName: user.displayName },
        challenge,
        pubKeyCredParams: ALGORITHMS.map((alg) => ({ type: 'public-key' as const, alg })),
        timeout: this.#timeout,
        excludeCredentials: credentialList(input.excludeCredentialIds ?? []),
        authenticatorSelection: {
          authenticatorAttachment: 'cross-platform',
          residentKey: 'discouraged',
          requireResidentKey: false,
          userVerification: this.#uv(),
        },
        attestation: 'direct',
      },
    };
  }

  /** Request options for `navigator.credentials.get()` and the challenge. */
  authenticationOptions(
    input: ChipAuthenticationOptionsInput,
  ): ChipOptionsResult<PublicKeyCredentialRequestOptionsJSON> {
    const challenge = toBase64Url(freshChallenge(input?.challenge));
    return {
      challenge,
      options: {
        challenge,
        timeout: this.#timeout,
        rpId: this.rpId,
        allowCredentials: credentialList(input?.allowCredentialIds ?? []),
        userVerification: this.#uv(),
      },
    };
  }

  /** Checks a registration (WebAuthn §7.1) and returns the binding to store. */
  async bind(enrolment: ChipEnrolment, context: VerifyContext): Promise<ChipBindOutcome> {
    checkContext(context);
    const expected = expectedChallenge(enrolment?.expectedChallenge);
    const refuse = (reason: VerifyReason, detail: ChipCheckDetail): ChipBindOutcome => ({
      verified: false,
      reason,
      detail,
      binding: null,
    });
    let response: RegistrationResponseJSON;
    try {
      response = parseRegistrationResponseJson(enrolment.response);
    } catch {
      return refuse('malformed', 'malformed-json');
    }
    // §7.1 steps 5-11: clientDataJSON.
    const cd = this.#clientData(response.response.clientDataJSON, 'webauthn.create', expected);
    if (cd !== 'ok') return refuse(reasonOf(cd), cd);
    // §7.1 step 12: the attestation object; steps 13-17 on its authenticator data.
    let fmt: string;
    let x5c: Uint8Array[] | undefined;
    let authData: ReturnType<typeof parseAuthenticatorData>;
    try {
      const att = decodeAttestationObject(owned(response.response.attestationObject));
      fmt = att.get('fmt');
      const stmt = att.get('attStmt');
      const raw = att.get('authData');
      if (typeof fmt !== 'string' || !(raw instanceof Uint8Array) || !(stmt instanceof Map)) {
        return refuse('malformed', 'malformed-authenticator-data');
      }
      const certs = stmt.get('x5c');
      if (certs !== undefined) {
        if (!Array.isArray(certs) || !certs.every((c) => c instanceof Uint8Array)) {
          return refuse('malformed', 'malformed-authenticator-data');
        }
        x5c = certs as Uint8Array[];
      }
      authData = parseAuthenticatorData(raw);
    } catch {
      return refuse('malformed', 'malformed-authenticator-data');
    }
    const ad = this.#authData(authData);
    if (ad !== 'ok') return refuse(reasonOf(ad), ad);
    if (!authData.flags.at || !authData.credentialID || !authData.credentialPublicKey) {
      return refuse('malformed', 'malformed-authenticator-data');
    }
    if (!constantTimeEqual(authData.credentialID, fromBase64Url(response.id))) {
      return refuse('bad-signature', 'credential-id-mismatch');
    }
    // §7.1 steps 19-21: the attestation statement (signature, certificate fields) by the library.
    let info;
    try {
      const v = await verifyRegistrationResponse({
        response: response as Parameters<typeof verifyRegistrationResponse>[0]['response'],
        expectedChallenge: toBase64Url(expected),
        expectedOrigin: [...this.origins],
        expectedRPID: this.rpId,
        expectedType: 'webauthn.create',
        requireUserPresence: true,
        requireUserVerification: this.requireUserVerification,
        supportedAlgorithmIDs: ALGORITHMS,
      });
      if (!v.verified) return refuse('bad-signature', 'signature-invalid');
      info = v.registrationInfo;
    } catch {
      return refuse('bad-signature', 'rejected');
    }
    // §7.1 step 22: is the attestation trustworthy? Recorded always, required when configured.
    const trusted = x5c !== undefined && x5c.length > 0 && this.#chainTrusted(x5c, context.now);
    if (this.attestation === 'trusted' && !trusted) {
      return refuse('bad-signature', 'attestation-untrusted');
    }
    return {
      verified: true,
      reason: 'ok',
      detail: 'ok',
      binding: {
        credentialId: info.credential.id,
        publicKey: toBase64Url(info.credential.publicKey),
        counter: info.credential.counter,
        aaguid: info.aaguid,
        fmt,
        attestationTrusted: trusted,
        transports: response.response.transports ?? [],
        userVerified: info.userVerified,
        backedUp: info.credentialBackedUp,
        backupEligible: authData.flags.be,
        boundAt: context.now,
      },
    };
  }

  /**
   * Checks an assertion (WebAuthn §7.2) against a binding. A signature counter that does not
   * increase (when either side is nonzero) is a clone or a replay: `replayed`. With no binding
   * (`null`), every assertion is `unknown-credential`.
   */
  verify(
    binding: ChipBinding,
    login: ChipLogin,
    context: VerifyContext,
  ): Promise<ChipOutcome<ChipBinding>>;
  verify(
    binding: ChipBinding | null,
    login: ChipLogin,
    context: VerifyContext,
  ): Promise<ChipOutcome<ChipBinding | null>>;
  async verify(
    binding: ChipBinding | null,
    login: ChipLogin,
    context: VerifyContext,
  ): Promise<ChipOutcome<ChipBinding | null>> {
    checkContext(context);
    if (binding !== null) checkBinding(binding);
    const expected = expectedChallenge(login?.expectedChallenge);
    const refuse = (reason: VerifyReason, detail: ChipCheckDetail) => ({
      verified: false,
      reason,
      detail,
      binding,
    });
    let response: AuthenticationResponseJSON;
    try {
      response = parseAuthenticationResponseJson(login.response);
    } catch {
      return refuse('malformed', 'malformed-json');
    }
    // §7.2 steps 5-7: the credential must be the one bound.
    if (
      binding === null ||
      !constantTimeEqual(fromBase64Url(response.id), fromBase64Url(binding.credentialId))
    ) {
      return refuse('unknown-credential', 'unknown-credential');
    }
    // §7.2 steps 10-14: clientDataJSON.
    const cd = this.#clientData(response.response.clientDataJSON, 'webauthn.get', expected);
    if (cd !== 'ok') return refuse(reasonOf(cd), cd);
    // §7.2 steps 15-17: authenticator data.
    let authData: ReturnType<typeof parseAuthenticatorData>;
    try {
      authData = parseAuthenticatorData(owned(response.response.authenticatorData));
    } catch {
      return refuse('malformed', 'malformed-authenticator-data');
    }
    const ad = this.#authData(authData);
    if (ad !== 'ok') return refuse(reasonOf(ad), ad);
    // §7.2 steps 19-20: the signature, by the library. The stored counter is given as 0 so the
    // library never refuses on it: the counter is judged below, only for a valid signature.
    let newCounter: number;
    let backedUp: boolean;
    try {
      const v = await verifyAuthenticationResponse({
        response: response as Parameters<typeof verifyAuthenticationResponse>[0]['response'],
        expectedChallenge: toBase64Url(expected),
        expectedOrigin: [...this.origins],
        expectedRPID: this.rpId,
        expectedType: 'webauthn.get',
        credential: {
          id: binding.credentialId,
          publicKey: owned(binding.publicKey),
          counter: 0,
          transports: [...binding.transports],
        },
        requireUserVerification: this.requireUserVerification,
      });
      if (!v.verified) return refuse('bad-signature', 'signature-invalid');
      newCounter = v.authenticationInfo.newCounter;
      backedUp = v.authenticationInfo.credentialBackedUp;
    } catch {
      return refuse('bad-signature', 'signature-invalid');
    }
    // §7.2 step 21: the signature counter.
    if ((newCounter !== 0 || binding.counter !== 0) && newCounter <= binding.counter) {
      return refuse('replayed', 'counter-not-increased');
    }
    return {
      verified: true,
      reason: 'ok',
      detail: 'ok',
      binding: { ...binding, counter: newCounter, backedUp, lastUsedAt: context.now },
    };
  }

  /** WebAuthn §7.1 steps 5-11 / §7.2 steps 10-14 on the client data. */
  #clientData(
    b64: string,
    type: 'webauthn.create' | 'webauthn.get',
    expected: Uint8Array,
  ): ChipCheckDetail {
    let cd: unknown;
    try {
      cd = JSON.parse(fromUtf8(fromBase64Url(b64)));
    } catch {
      return 'malformed-client-data';
    }
    if (typeof cd !== 'object' || cd === null || Array.isArray(cd)) return 'malformed-client-data';
    const c = cd as Record<string, unknown>;
    if (typeof c.type !== 'string' || typeof c.challenge !== 'string') {
      return 'malformed-client-data';
    }
    if (typeof c.origin !== 'string') return 'malformed-client-data';
    if (c.type !== type) return 'wrong-type';
    let got: Uint8Array;
    try {
      got = fromBase64Url(c.challenge);
    } catch {
      return 'challenge-mismatch';
    }
    if (!constantTimeEqual(got, expected)) return 'challenge-mismatch';
    if (!this.origins.includes(c.origin)) return 'origin-mismatch';
    // A page framed by another origin: MitID login pages are not meant to be framed.
    if (c.crossOrigin === true) return 'cross-origin';
    return 'ok';
  }

  /** WebAuthn §7.1 steps 13-15 / §7.2 steps 15-17 on the authenticator data. */
  #authData(a: ReturnType<typeof parseAuthenticatorData>): ChipCheckDetail {
    if (!constantTimeEqual(a.rpIdHash, this.#rpIdHash)) return 'rp-id-mismatch';
    if (!a.flags.up) return 'user-presence-missing';
    if (this.requireUserVerification && !a.flags.uv) return 'user-verification-required';
    return 'ok';
  }

  /** True when x5c (leaf first) chains, valid at `now`, to one of the trusted roots. */
  #chainTrusted(x5c: readonly Uint8Array[], now: number): boolean {
    if (this.#roots.length === 0) return false;
    try {
      const chain = x5c.map((der) => new X509Certificate(der));
      const valid = (c: X509Certificate) =>
        Date.parse(c.validFrom) <= now && now <= Date.parse(c.validTo);
      for (let i = 0; i < chain.length; i++) {
        const cert = chain[i]!;
        if (!valid(cert)) return false;
        const issuer = chain[i + 1];
        if (issuer) {
          if (!issuer.ca || !cert.checkIssued(issuer) || !cert.verify(issuer.publicKey)) {
            return false;
          }
          continue;
        }
        // The last certificate given: a trusted root itself, or issued by one.
        return this.#roots.some(
          (root) =>
            valid(root) &&
            (root.fingerprint256 === cert.fingerprint256 ||
              (root.ca && cert.checkIssued(root) && cert.verify(root.publicKey))),
        );
      }
      return false;
    } catch {
      return false;
    }
  }
}

function reasonOf(detail: ChipCheckDetail): VerifyReason {
  switch (detail) {
    case 'ok':
      return 'ok';
    case 'malformed-json':
    case 'malformed-client-data':
    case 'malformed-authenticator-data':
      return 'malformed';
    case 'unknown-credential':
      return 'unknown-credential';
    case 'counter-not-increased':
      return 'replayed';
    default:
      // The response does not sign what this service asked for (challenge, origin, RP, flags).
      return 'bad-signature';
  }
}

/** Decoded base64url in a buffer of its own (the library's byte type). */
function owned(b64: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(fromBase64Url(b64));
}

function sha256(b: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(b).digest());
}

function freshChallenge(given: Uint8Array | undefined): Uint8Array {
  if (given === undefined) return new Uint8Array(randomBytes(32));
  if (!(given instanceof Uint8Array) || given.length < 16 || given.length > 1024) {
    throw usage('bad-challenge', 'a challenge must be 16 to 1024 bytes');
  }
  return given;
}

/** The service's own challenge: bytes or base64url. A bad one is the service's bug: thrown. */
function expectedChallenge(x: unknown): Uint8Array {
  let b: Uint8Array | undefined;
  if (x instanceof Uint8Array) b = x;
  else if (typeof x === 'string') {
    try {
      b = fromBase64Url(x);
    } catch {
      b = undefined;
    }
  }
  if (!b || b.length < 16 || b.length > 1024) {
    throw usage('bad-challenge', 'expectedChallenge must be 16 to 1024 bytes (or base64url)');
  }
  return b;
}

function credentialList(ids: readonly string[]) {
  if (!Array.isArray(ids)) throw usage('bad-options-input', 'credential IDs must be a list');
  return ids.map((id, i) => {
    try {
      fromBase64Url(id);
    } catch {
      throw usage('bad-options-input', `credential ID ${i} is not base64url`);
    }
    return { id, type: 'public-key' as const, transports: ['usb' as const] };
  });
}

function checkContext(context: VerifyContext): void {
  if (typeof context !== 'object' || context === null || !Number.isFinite(context.now)) {
    throw usage('bad-context', 'context.now must be a finite number (ms)');
  }
}

/** A stored binding is the service's own data; a corrupt one is thrown, not a user's failure. */
function checkBinding(b: ChipBinding): void {
  const ok =
    typeof b === 'object' &&
    b !== null &&
    typeof b.credentialId === 'string' &&
    typeof b.publicKey === 'string' &&
    Number.isInteger(b.counter) &&
    b.counter >= 0 &&
    b.counter <= 0xffffffff &&
    Array.isArray(b.transports);
  if (!ok) throw usage('bad-binding', 'the stored chip binding is malformed');
  try {
    fromBase64Url(b.credentialId);
    fromBase64Url(b.publicKey);
  } catch {
    throw usage('bad-binding', 'the stored chip binding is malformed');
  }
}
