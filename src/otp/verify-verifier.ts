/** The service-side Verifier for the one-time code devices (code display, audio code reader). */
import { constantTimeEqualString, fromBase64, toBase64 } from '../core/bytes.js';
import { OtpError } from '../core/errors.js';
import type {
  OtpBindResponse,
  OtpProof,
  Verifier,
  VerifyContext,
  VerifyOutcome,
  VerifyReason,
} from '../core/authenticator.js';
import type { HashAlgorithm, HotpParams, OtpKey, TotpParams } from './types.js';
import { prepareOtpKey, type PreparedOtpKey } from './verify-engine.js';
import {
  initialHotpState,
  initialTotpState,
  resyncHotp,
  resyncTotp,
  verifyHotp,
  verifyTotp,
} from './verify-check.js';
import type { HotpCheck, HotpState, TotpCheck, TotpState } from './verify-check.js';

/** The device kinds that show a one-time code. */
export type OtpDeviceKind = 'code-display' | 'audio-reader';

/** What binding an OTP device starts from: the inventory's key and what the user typed. */
export interface OtpEnrolment {
  /** The key package for the serial, from the token inventory (a PSKC or CSV seed file). */
  readonly key: OtpKey;
  /** The serial and current code the user read off the device (MITID.md, "binding"). */
  readonly bound: OtpBindResponse;
}

interface OtpBindingBase {
  readonly serial: string;
  readonly algorithm: HashAlgorithm;
  readonly digits: number;
  /** The raw secret, standard base64; the binding is plain JSON for the store. */
  readonly secret: string;
}
/** A bound TOTP device: parameters, secret and replay/drift state, all plain JSON. */
export interface TotpBinding extends OtpBindingBase {
  readonly type: 'totp';
  readonly period: number;
  readonly t0: number;
  readonly state: TotpState;
}
/** A bound HOTP device. */
export interface HotpBinding extends OtpBindingBase {
  readonly type: 'hotp';
  readonly state: HotpState;
}
/** What the store keeps for a bound OTP device. */
export type OtpBinding = TotpBinding | HotpBinding;

/** Options of {@link OtpVerifier}; the MitID windows are not published (MITID.md), so ours are settings. */
export interface OtpVerifierOptions {
  /** TOTP steps either side at a login; default 1 (RFC 6238 §5.2). */
  readonly window?: number;
  /**
   * TOTP steps either side when binding: a device seen for the first time may have drifted since
   * it left the factory; default 2.
   */
  readonly bindWindow?: number;
  /** Bound on the remembered TOTP drift in steps; default 100. */
  readonly maxDriftSteps?: number;
  /** HOTP look-ahead at a login; default 10. */
  readonly lookAhead?: number;
  /** HOTP look-ahead when binding; default 100 (RFC 4226 §7.4). */
  readonly bindLookAhead?: number;
}

/**
 * Verifies code displays and audio code readers. `bind` checks that the serial the user typed is
 * the inventory's and that the code is current; `verify` checks a login code with the window,
 * refusing replays and following drift. Both are pure: the returned binding is the next state to
 * store in the same transaction. Lockout is the service's business, not this one's.
 *
 * The device's own `deviceTime` in a proof is ignored: the server's clock (`context.now`) is the
 * reference, and a time sent by the client is the client's to choose.
 */
export class OtpVerifier<K extends OtpDeviceKind = OtpDeviceKind> implements Verifier<
  K,
  OtpEnrolment,
  OtpBinding,
  OtpProof
> {
  readonly kind: K;
  readonly #opts: Required<OtpVerifierOptions>;

  constructor(kind: K, options: OtpVerifierOptions = {}) {
    if (kind !== 'code-display' && kind !== 'audio-reader') {
      throw new OtpError('bad-kind', 'OtpVerifier is for code-display and audio-reader devices');
    }
    this.kind = kind;
    // Checked here, with the bounds the verify functions enforce, so a bad setting fails at
    // start-up rather than at a user's login.
    this.#opts = {
      window: setting(options.window, 1, 50, 'window'),
      bindWindow: setting(options.bindWindow, 2, 50, 'bindWindow'),
      maxDriftSteps: setting(options.maxDriftSteps, 100, 100_000, 'maxDriftSteps'),
      lookAhead: setting(options.lookAhead, 10, 1000, 'lookAhead'),
      bindLookAhead: setting(options.bindLookAhead, 100, 1000, 'bindLookAhead'),
    };
  }

  /** Binds a device: the serial must be the key's and the code current (or next, for HOTP). */
  async bind(enrolment: OtpEnrolment, context: VerifyContext): Promise<VerifyOutcome<OtpBinding>> {
    if (typeof enrolment !== 'object' || enrolment === null) {
      throw new OtpError('bad-enrolment', 'enrolment must be { key, bound }');
    }
    const binding = bindingFromKey(enrolment.key);
    const bound: unknown = enrolment.bound;
    if (!isOtpMessage(bound)) return { verified: false, reason: 'malformed', binding };
    return this.#check(binding, bound, context, true);
  }

  /** Verifies a login code; the returned binding carries the new replay/drift state. */
  async verify(
    binding: OtpBinding,
    proof: OtpProof,
    context: VerifyContext,
  ): Promise<VerifyOutcome<OtpBinding>> {
    checkBinding(binding);
    const p: unknown = proof;
    if (!isOtpMessage(p)) return { verified: false, reason: 'malformed', binding };
    return this.#check(binding, p, context, false);
  }

  /**
   * Resynchronises a bound device from two codes the user read one after the other (TOTP: at
   * consecutive time steps, waiting for the next code; HOTP: two presses), as a service does
   * when a device has drifted out of the login window (RFC 4226 §7.4, RFC 6238 §6). The search
   * is wide (±`maxDriftSteps` steps, or `bindLookAhead` counters), so the service should ask
   * for it only after a login failed and count it like a login attempt.
   */
  async resync(
    binding: OtpBinding,
    first: OtpProof,
    second: OtpProof,
    context: VerifyContext,
  ): Promise<VerifyOutcome<OtpBinding>> {
    checkBinding(binding);
    checkContext(context);
    const p1: unknown = first;
    const p2: unknown = second;
    if (!isOtpMessage(p1) || !isOtpMessage(p2)) {
      return { verified: false, reason: 'malformed', binding };
    }
    const serialOk =
      Number(constantTimeEqualString(p1.serial, binding.serial)) &
      Number(constantTimeEqualString(p2.serial, binding.serial));
    const secret = decodeSecret(binding.secret);
    let check: TotpCheck | HotpCheck;
    let next: OtpBinding;
    // The decoded secret is wiped however the check ends (a bad state or time throws).
    try {
      if (binding.type === 'totp') {
        const params = { ...paramsOf(binding), secret };
        const c = resyncTotp(params, binding.state, p1.code, p2.code, context.now, {
          range: Math.max(1, Math.min(this.#opts.maxDriftSteps, 1000)),
          maxDriftSteps: this.#opts.maxDriftSteps,
        });
        check = c;
        next = { ...binding, state: c.state };
      } else {
        const c = resyncHotp(
          { secret, algorithm: binding.algorithm, digits: binding.digits },
          binding.state,
          p1.code,
          p2.code,
          { lookAhead: this.#opts.bindLookAhead },
        );
        check = c;
        next = { ...binding, state: c.state };
      }
    } finally {
      secret.fill(0);
    }
    if (serialOk !== 1) return { verified: false, reason: 'unknown-credential', binding };
    return { verified: check.ok, reason: check.reason, binding: check.ok ? next : binding };
  }

  /**
   * {@link verify} for a service that keeps the key package (its seed sealed in an inventory) and
   * the replay/drift state apart: checks a login code against `key` and `state` at once, with no
   * binding to build, and answers the state to store. `key` is the package itself (its secret
   * stays the caller's to wipe) or one prepared once with {@link prepareKeyPackage}.
   */
  verifyKey(
    key: OtpKey | PreparedKeyPackage,
    state: OtpBinding['state'],
    proof: OtpProof,
    context: VerifyContext,
  ): {
    readonly verified: boolean;
    readonly reason: VerifyReason;
    readonly state: OtpBinding['state'];
  } {
    if (typeof key !== 'object' || key === null)
      throw new OtpError('bad-key', 'key must be an OtpKey or a prepared key package');
    if (typeof state !== 'object' || state === null)
      throw new OtpError('bad-binding', 'binding must carry a state');
    const p: unknown = proof;
    if (!isOtpMessage(p)) return { verified: false, reason: 'malformed', state };
    let params: PreparedOtpKey | TotpParams;
    if (key instanceof PreparedKeyPackage) params = key.prepared;
    else if (key.secret instanceof Uint8Array) params = paramsOfKey(key);
    else throw new OtpError('bad-key', 'key must be an OtpKey with a secret');
    const material: Material =
      key.type === 'totp'
        ? { type: 'totp', serial: key.serial, params, state: state as TotpState }
        : { type: 'hotp', serial: key.serial, params, state: state as HotpState };
    return this.#checkMaterial(material, p, context, false);
  }

  #check(
    binding: OtpBinding,
    message: { serial: string; code: string },
    context: VerifyContext,
    atBind: boolean,
  ): VerifyOutcome<OtpBinding> {
    const secret = decodeSecret(binding.secret);
    // The decoded secret is wiped however the check ends (a bad state or time throws).
    try {
      const params: TotpParams =
        binding.type === 'totp'
          ? { secret, ...paramsOf(binding) }
          : { secret, algorithm: binding.algorithm, digits: binding.digits };
      const material: Material =
        binding.type === 'totp'
          ? { type: 'totp', serial: binding.serial, params, state: binding.state }
          : { type: 'hotp', serial: binding.serial, params, state: binding.state };
      const c = this.#checkMaterial(material, message, context, atBind);
      return {
        verified: c.verified,
        reason: c.reason,
        binding: c.verified ? ({ ...binding, state: c.state } as OtpBinding) : binding,
      };
    } finally {
      secret.fill(0);
    }
  }

  #checkMaterial(
    m: Material,
    message: { serial: string; code: string },
    context: VerifyContext,
    atBind: boolean,
  ): { verified: boolean; reason: VerifyReason; state: OtpBinding['state'] } {
    checkContext(context);
    // The serial is compared in constant time, and the code is checked whatever it says, so
    // a wrong serial costs what a wrong code costs.
    const serialOk = constantTimeEqualString(message.serial, m.serial);
    const check: TotpCheck | HotpCheck =
      m.type === 'totp'
        ? verifyTotp(m.params, m.state, message.code, context.now, {
            window: atBind ? this.#opts.bindWindow : this.#opts.window,
            maxDriftSteps: this.#opts.maxDriftSteps,
          })
        : verifyHotp(m.params, m.state, message.code, {
            lookAhead: atBind ? this.#opts.bindLookAhead : this.#opts.lookAhead,
          });
    if (!serialOk) return { verified: false, reason: 'unknown-credential', state: m.state };
    return { verified: check.ok, reason: check.reason, state: check.ok ? check.state : m.state };
  }
}

/** What a code is checked against: the key's parameters with its secret, and the state. */
type Material =
  | {
      readonly type: 'totp';
      readonly serial: string;
      readonly params: TotpParams | PreparedOtpKey;
      readonly state: TotpState;
    }
  | {
      readonly type: 'hotp';
      readonly serial: string;
      readonly params: HotpParams | PreparedOtpKey;
      readonly state: HotpState;
    };

/** An OTP key package's parameters with its secret, field by field (no spread: V8's fast path). */
function paramsOfKey(key: OtpKey): TotpParams {
  return key.type === 'totp'
    ? {
        secret: key.secret,
        algorithm: key.algorithm,
        digits: key.digits,
        period: key.period ?? 30,
        t0: key.t0 ?? 0,
      }
    : { secret: key.secret, algorithm: key.algorithm, digits: key.digits };
}

/**
 * A key package prepared for checking codes: its type, serial and parameters, the secret
 * imported once into a key object (held by OpenSSL, not in a JavaScript buffer). Made by
 * {@link prepareKeyPackage}; for a service that checks the same devices again and again.
 */
export class PreparedKeyPackage {
  /** @internal Use {@link prepareKeyPackage}. */
  constructor(
    readonly type: 'totp' | 'hotp',
    readonly serial: string,
    readonly prepared: PreparedOtpKey,
  ) {}

  /** Keeps the key out of JSON: only what is public. */
  toJSON(): { type: string; serial: string } {
    return { type: this.type, serial: this.serial };
  }
}

/**
 * Prepares `key` for {@link OtpVerifier.verifyKey}: checks its parameters (OtpError when bad)
 * and imports the secret; the caller may wipe `key.secret` as soon as this returns.
 */
export function prepareKeyPackage(key: OtpKey): PreparedKeyPackage {
  if (typeof key !== 'object' || key === null || !(key.secret instanceof Uint8Array))
    throw new OtpError('bad-key', 'key must be an OtpKey with a secret');
  if (key.type !== 'totp' && key.type !== 'hotp')
    throw new OtpError('bad-key', 'key type must be totp or hotp');
  if (typeof key.serial !== 'string' || key.serial.length === 0)
    throw new OtpError('bad-key', 'key must have a serial');
  return new PreparedKeyPackage(key.type, key.serial, prepareOtpKey(paramsOfKey(key)));
}

/** The binding a key package starts as (no code accepted yet). Throws OtpError on a bad key. */
export function bindingFromKey(key: OtpKey): OtpBinding {
  if (typeof key !== 'object' || key === null || !(key.secret instanceof Uint8Array)) {
    throw new OtpError('bad-key', 'key must be an OtpKey with a secret');
  }
  if (typeof key.serial !== 'string' || key.serial.length === 0) {
    throw new OtpError('bad-key', 'key must have a serial');
  }
  const base = {
    serial: key.serial,
    algorithm: key.algorithm,
    digits: key.digits,
    secret: toBase64(key.secret),
  };
  let binding: OtpBinding;
  if (key.type === 'totp') {
    binding = {
      ...base,
      type: 'totp',
      period: key.period ?? 30,
      t0: key.t0 ?? 0,
      // PSKC's TimeDrift (RFC 6030 §4.3.4) seeds the drift the first window is centred on.
      state: { ...initialTotpState(), driftSteps: timeDrift(key) },
    };
  } else if (key.type === 'hotp') {
    binding = { ...base, type: 'hotp', state: initialHotpState(key.counter ?? 0) };
  } else {
    throw new OtpError('bad-key', 'key type must be totp or hotp');
  }
  checkBinding(binding);
  // Checks algorithm, digits, period and T0 now, so a bad inventory entry fails at binding.
  prepareOtpKey({
    secret: key.secret,
    algorithm: key.algorithm,
    digits: key.digits,
    period: key.period,
    t0: key.t0,
  });
  return binding;
}

function timeDrift(key: OtpKey): number {
  const d: unknown = (key as { timeDrift?: unknown }).timeDrift;
  if (d === undefined) return 0;
  if (!Number.isSafeInteger(d))
    throw new OtpError('bad-key', 'key timeDrift must be a whole number of steps');
  return d as number;
}

/** Throws OtpError unless `b` looks like an OtpBinding (the store may hand back anything). */
function checkBinding(b: unknown): asserts b is OtpBinding {
  if (typeof b !== 'object' || b === null)
    throw new OtpError('bad-binding', 'binding must be an object');
  const x = b as Record<string, unknown>;
  if (x.type !== 'totp' && x.type !== 'hotp') {
    throw new OtpError('bad-binding', 'binding type must be totp or hotp');
  }
  if (typeof x.serial !== 'string' || typeof x.secret !== 'string') {
    throw new OtpError('bad-binding', 'binding must carry a serial and a secret');
  }
  if (typeof x.state !== 'object' || x.state === null) {
    throw new OtpError('bad-binding', 'binding must carry a state');
  }
}

function setting(value: unknown, fallback: number, max: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new OtpError(`bad-${name}`, `${name} must be a whole number from 0 to ${max}`);
  }
  return value;
}

function checkContext(context: unknown): asserts context is VerifyContext {
  if (typeof context !== 'object' || context === null) {
    throw new OtpError('bad-context', 'context must be { now }');
  }
}

function paramsOf(b: TotpBinding): Omit<TotpParams, 'secret'> {
  return { algorithm: b.algorithm, digits: b.digits, period: b.period, t0: b.t0 };
}

function isOtpMessage(m: unknown): m is { type: 'otp'; serial: string; code: string } {
  if (typeof m !== 'object' || m === null) return false;
  const x = m as Record<string, unknown>;
  return x.type === 'otp' && typeof x.serial === 'string' && typeof x.code === 'string';
}

function decodeSecret(b64: string): Uint8Array {
  try {
    return fromBase64(b64, 'binding secret');
  } catch (e) {
    throw new OtpError('bad-binding', 'binding secret is not valid base64', { cause: e });
  }
}
