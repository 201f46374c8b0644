/** The one interface every MitID authenticator implements, and the service-side Verifier. */

/** The four kinds of MitID authenticator. */
export const AuthenticatorKinds = ['code-display', 'audio-reader', 'chip', 'app'] as const;
export type AuthenticatorKind = (typeof AuthenticatorKinds)[number];

/** True when `s` names a kind. */
export function isAuthenticatorKind(s: unknown): s is AuthenticatorKind {
  return typeof s === 'string' && (AuthenticatorKinds as readonly string[]).includes(s);
}

// ---------------------------------------------------------------------------------------------
// One-time code devices: code display and audio code reader.

/** Binding an OTP device: the user reads its serial and a current code (MITID.md, "binding"). */
export interface OtpBindRequest {
  /** Host time (ms) at which the user presses the button; default: the device's own now. */
  at?: number;
}
/** What the user hands over when binding an OTP device. */
export interface OtpBindResponse {
  readonly type: 'otp';
  readonly serial: string;
  /** The code as shown on the screen (digits only). */
  readonly code: string;
  /** Device time (ms) when the code was made. */
  readonly deviceTime: number;
}
/** A login with an OTP device asks for nothing but a button press. */
export interface OtpChallenge {
  at?: number;
}
/** The code shown (and, for the audio reader, spoken). */
export interface OtpProof {
  readonly type: 'otp';
  readonly serial: string;
  readonly code: string;
  readonly deviceTime: number;
  /** Audio reader only: the spoken code as a 16-bit PCM WAV file. */
  readonly audio?: Uint8Array;
}

// ---------------------------------------------------------------------------------------------
// The chip: a FIDO2 / CTAP2 roaming authenticator, spoken to in WebAuthn terms.

/** A relying party and user as in WebAuthn `PublicKeyCredentialCreationOptions`. */
export interface WebAuthnBindRequest {
  readonly challenge: Uint8Array;
  readonly rp: { readonly id: string; readonly name: string };
  readonly user: { readonly id: Uint8Array; readonly name: string; readonly displayName: string };
  /** Origin written into clientDataJSON, e.g. `https://mitid-erhverv.example`. */
  readonly origin: string;
  readonly residentKey?: boolean;
  readonly userVerification?: 'required' | 'preferred' | 'discouraged';
  readonly pin?: string;
  readonly excludeCredentials?: readonly Uint8Array[];
}
/** A WebAuthn-shaped registration (attestation) response. */
export interface WebAuthnBindResponse {
  readonly type: 'webauthn.create';
  readonly credentialId: Uint8Array;
  readonly clientDataJSON: Uint8Array;
  readonly attestationObject: Uint8Array;
  readonly transports: readonly string[];
}
/** A WebAuthn-shaped assertion request. */
export interface WebAuthnChallenge {
  readonly challenge: Uint8Array;
  readonly rpId: string;
  readonly origin: string;
  readonly allowCredentials?: readonly Uint8Array[];
  readonly userVerification?: 'required' | 'preferred' | 'discouraged';
  readonly pin?: string;
}
/** A WebAuthn-shaped assertion response. */
export interface WebAuthnProof {
  readonly type: 'webauthn.get';
  readonly credentialId: Uint8Array;
  readonly clientDataJSON: Uint8Array;
  readonly authenticatorData: Uint8Array;
  readonly signature: Uint8Array;
  readonly userHandle?: Uint8Array;
}

// ---------------------------------------------------------------------------------------------
// The MitID app on a phone.

/** App activation (MITID.md, "The app"): user ID and activation code, then SMS and PIN steps. */
export interface AppBindRequest {
  readonly userId: string;
  readonly activationCode: string;
  /** Where the service is, for the app's own requests. */
  readonly serviceUrl?: string;
  readonly pin: string;
  readonly biometrics?: boolean;
}
/** What the service binds: the app's public key and the proof that the phone holds it. */
export interface AppBindResponse {
  readonly type: 'app.activation';
  readonly appId: string;
  /** SPKI DER of the app's public key. */
  readonly publicKey: Uint8Array;
  /** Signature over the activation transcript. */
  readonly proof: Uint8Array;
}
/** A login request pushed to the app. */
export interface AppChallenge {
  readonly requestId: string;
  /** The exact request bytes the app signs when the user swipes. */
  readonly request: Uint8Array;
  readonly pin?: string;
  readonly approve?: boolean;
}
/** The user's answer. */
export interface AppProof {
  readonly type: 'app.approval';
  readonly appId: string;
  readonly requestId: string;
  readonly approved: boolean;
  readonly signature: Uint8Array;
}

// ---------------------------------------------------------------------------------------------

/** What each kind takes and gives; the Authenticator generic picks its row. */
export interface AuthenticatorShapes {
  'code-display': {
    bind: OtpBindRequest;
    bound: OtpBindResponse;
    challenge: OtpChallenge;
    proof: OtpProof;
  };
  'audio-reader': {
    bind: OtpBindRequest;
    bound: OtpBindResponse;
    challenge: OtpChallenge;
    proof: OtpProof;
  };
  chip: {
    bind: WebAuthnBindRequest;
    bound: WebAuthnBindResponse;
    challenge: WebAuthnChallenge;
    proof: WebAuthnProof;
  };
  app: { bind: AppBindRequest; bound: AppBindResponse; challenge: AppChallenge; proof: AppProof };
}

export type BindRequest<K extends AuthenticatorKind = AuthenticatorKind> =
  AuthenticatorShapes[K]['bind'];
export type BindResponse<K extends AuthenticatorKind = AuthenticatorKind> =
  AuthenticatorShapes[K]['bound'];
export type Challenge<K extends AuthenticatorKind = AuthenticatorKind> =
  AuthenticatorShapes[K]['challenge'];
export type Proof<K extends AuthenticatorKind = AuthenticatorKind> =
  AuthenticatorShapes[K]['proof'];

/**
 * A MitID authenticator, emulated or physical. Host software (tests, the CLI, a browser bridge)
 * talks to every kind through this; the activation service sees only what `bind` and `prove`
 * return, never the object.
 */
export interface Authenticator<K extends AuthenticatorKind = AuthenticatorKind> {
  readonly kind: K;
  /** The serial number printed on the device (for the app: the app instance ID). */
  readonly serial: string;
  /** What the device hands over when it is bound to a user. */
  bind(request: BindRequest<K>): Promise<BindResponse<K>>;
  /** What the device produces at a login. */
  prove(challenge: Challenge<K>): Promise<Proof<K>>;
  /** Releases the transport and saves state. Idempotent. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Service side.

/** Why a verification failed; `ok` when it did not. Safe to log: never names a secret. */
export const VerifyReasons = [
  'ok',
  'wrong-code',
  'malformed',
  'replayed',
  'expired',
  'locked',
  'blocked',
  'bad-signature',
  'unknown-credential',
] as const;
export type VerifyReason = (typeof VerifyReasons)[number];

/** The result of one verification. A wrong code is a result, not an exception. */
export interface VerifyOutcome<B> {
  readonly verified: boolean;
  readonly reason: VerifyReason;
  /**
   * The binding's next state (counters, last accepted step, drift, fail counters). The caller
   * stores it in the same transaction that reads the old one, whatever `verified` is.
   */
  readonly binding: B;
}

/** Context every verification gets: the service's time. */
export interface VerifyContext {
  readonly now: number;
}

/**
 * The service-side twin of an Authenticator kind. `bind` turns what the device handed over
 * (plus what the service already holds, e.g. a seed from the token inventory) into binding
 * material; `verify` checks a proof against it. Both are pure over their inputs so the store can
 * run them inside one transaction.
 */
export interface Verifier<K extends AuthenticatorKind, Enrolment, Binding, P = Proof<K>> {
  readonly kind: K;
  bind(enrolment: Enrolment, context: VerifyContext): Promise<VerifyOutcome<Binding>>;
  verify(binding: Binding, proof: P, context: VerifyContext): Promise<VerifyOutcome<Binding>>;
}
