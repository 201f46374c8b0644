/** HOTP (RFC 4226) and TOTP (RFC 6238) verification: constant-work windows, drift, replay, resync. */
import { OtpError } from '../core/errors.js';
import type { VerifyReason } from '../core/authenticator.js';
import type { HotpParams, TotpParams } from './types.js';
import { toPrepared } from './verify-engine.js';
import type { PreparedOtpKey } from './verify-engine.js';

/** Why a code check failed; `ok` when it did not. Safe to log: it never names a code. */
export type OtpCheckReason = Extract<VerifyReason, 'ok' | 'wrong-code' | 'replayed' | 'malformed'>;

/**
 * What a TOTP validator remembers about one token, as plain JSON so a database can store it in
 * the transaction that read it.
 */
export interface TotpState {
  /** The time step T of the last accepted code; codes at or before it are refused (replay). */
  readonly lastStep: number | null;
  /**
   * How many time steps the token's clock was ahead (+) or behind (-) at the last accepted code
   * (RFC 6238 §6); the next window is centred on it.
   */
  readonly driftSteps: number;
}

/** What an HOTP validator remembers about one token (RFC 4226 §7.2). */
export interface HotpState {
  /** The next counter expected; every counter below it has been used (replay). */
  readonly counter: number;
}

/** The state of a TOTP token nobody has used yet. */
export function initialTotpState(): TotpState {
  return { lastStep: null, driftSteps: 0 };
}

/** The state of an HOTP token whose next counter is `counter` (default 0). */
export function initialHotpState(counter = 0): HotpState {
  if (!Number.isSafeInteger(counter) || counter < 0) {
    throw new OtpError('bad-state', 'HOTP counter must be a non-negative safe integer');
  }
  return { counter };
}

/** Options of {@link verifyTotp}. */
export interface TotpVerifyOptions {
  /**
   * Steps accepted either side of the centre (RFC 6238 §5.2 recommends at most one step of
   * network delay); default 1, at most 50.
   */
  readonly window?: number;
  /** Bound on the remembered drift, in steps either way; default 100 (50 minutes at 30 s). */
  readonly maxDriftSteps?: number;
}

/** Options of {@link resyncTotp}. */
export interface TotpResyncOptions {
  /** Steps searched either side of the server's current step; default 100, at most 1000. */
  readonly range?: number;
  /** Bound on the remembered drift; default: `range`. */
  readonly maxDriftSteps?: number;
}

/** Options of {@link verifyHotp}. */
export interface HotpVerifyOptions {
  /**
   * Counters accepted beyond the expected one (RFC 4226 §7.4 look-ahead window s); default 10,
   * at most 1000.
   */
  readonly lookAhead?: number;
  /**
   * Used counters also checked, only to tell a replayed code from a wrong one (never accepted);
   * default 1, at most 100.
   */
  readonly lookBehind?: number;
}

/** Options of {@link resyncHotp}. */
export interface HotpResyncOptions {
  /** Counters searched for the pair, from the expected one (RFC 4226 §7.4); default 100. */
  readonly lookAhead?: number;
}

/** The result of a TOTP check: never throws for a wrong or malformed code. */
export interface TotpCheck {
  readonly ok: boolean;
  readonly reason: OtpCheckReason;
  /** The time step of the accepted code (for resync: of the second code). */
  readonly step?: number;
  /** The state to store, whatever `ok` is (unchanged unless a code was accepted). */
  readonly state: TotpState;
}

/** The result of an HOTP check. */
export interface HotpCheck {
  readonly ok: boolean;
  readonly reason: OtpCheckReason;
  /** The counter of the accepted code (for resync: of the second code). */
  readonly counter?: number;
  /** The state to store, whatever `ok` is. */
  readonly state: HotpState;
}

// ---------------------------------------------------------------------------------------------
// Checks of what the caller passes: programming errors, so they throw OtpError.

function optInt(value: unknown, fallback: number, min: number, max: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new OtpError(`bad-${name}`, `${name} must be a whole number from ${min} to ${max}`);
  }
  return value;
}

function checkTotpState(state: unknown, maxDrift: number): TotpState {
  if (typeof state !== 'object' || state === null) {
    throw new OtpError('bad-state', 'TOTP state must be an object');
  }
  const { lastStep, driftSteps } = state as Record<string, unknown>;
  if (lastStep !== null && (!Number.isSafeInteger(lastStep) || (lastStep as number) < 0)) {
    throw new OtpError('bad-state', 'TOTP state lastStep must be null or a non-negative integer');
  }
  if (!Number.isSafeInteger(driftSteps)) {
    throw new OtpError('bad-state', 'TOTP state driftSteps must be an integer');
  }
  // A drift stored under a looser bound is pulled back inside the current one.
  return { lastStep: lastStep as number | null, driftSteps: clamp(driftSteps as number, maxDrift) };
}

function checkHotpState(state: unknown): HotpState {
  if (typeof state !== 'object' || state === null) {
    throw new OtpError('bad-state', 'HOTP state must be an object');
  }
  const { counter } = state as Record<string, unknown>;
  if (!Number.isSafeInteger(counter) || (counter as number) < 0) {
    throw new OtpError('bad-state', 'HOTP state counter must be a non-negative safe integer');
  }
  return { counter: counter as number };
}

/** RFC 6238 §4.2: T = floor((Current Unix time - T0) / X), with whole seconds as in §4.1. */
function currentStep(key: PreparedOtpKey, timeMs: unknown): number {
  if (typeof timeMs !== 'number' || !Number.isFinite(timeMs) || timeMs < 0) {
    throw new OtpError('bad-time', 'time must be a finite, non-negative number of ms');
  }
  const seconds = Math.floor(timeMs / 1000);
  if (seconds < key.t0) throw new OtpError('bad-time', 'time is before T0');
  const step = Math.floor((seconds - key.t0) / key.period);
  // Steps must stay exact integers, with room for a window or resync range either side.
  if (step > Number.MAX_SAFE_INTEGER - 200_000) {
    throw new OtpError('bad-time', 'time is too far in the future');
  }
  return step;
}

function clamp(x: number, bound: number): number {
  return Math.max(-bound, Math.min(bound, x));
}

// ---------------------------------------------------------------------------------------------
// TOTP

/**
 * Verifies a TOTP code at `timeMs` (the server's clock). The window is centred on the current
 * step plus the remembered drift, and every step in it is computed and compared before anything
 * is decided. A code is accepted once: steps at or before `state.lastStep` are refused as
 * replays. On success the state records the step and the drift it showed.
 *
 * Throws OtpError only for bad parameters, state, options or time; a wrong, replayed or
 * malformed code is a result.
 */
export function verifyTotp(
  params: TotpParams | PreparedOtpKey,
  state: TotpState,
  code: string,
  timeMs: number,
  opts: TotpVerifyOptions = {},
): TotpCheck {
  const key = toPrepared(params);
  const window = optInt(opts.window, 1, 0, 50, 'window');
  const maxDrift = optInt(opts.maxDriftSteps, 100, 0, 100_000, 'maxDriftSteps');
  const prior = checkTotpState(state, maxDrift);
  const now = currentStep(key, timeMs);
  const wellFormed = key.load(0, code);

  // RFC 6238 §6: look where the token's clock was last seen, not only where ours is.
  const first = now + prior.driftSteps - window;
  const count = 2 * window + 1;
  const matches = key.scan(first, count, 1);

  // Decide only now that every step has been compared. Prefer the match nearest the centre.
  let accepted = -1;
  let bestDistance = Infinity;
  let replayed = 0;
  for (let i = 0; i < count; i++) {
    const step = first + i;
    const fresh = prior.lastStep === null || step > prior.lastStep;
    const m = matches[i]!;
    if (m === 1 && fresh && Math.abs(i - window) < bestDistance) {
      accepted = step;
      bestDistance = Math.abs(i - window);
    }
    if (!fresh) replayed |= m;
  }
  if (!wellFormed) return { ok: false, reason: 'malformed', state: prior };
  if (accepted >= 0) {
    return {
      ok: true,
      reason: 'ok',
      step: accepted,
      state: { lastStep: accepted, driftSteps: clamp(accepted - now, maxDrift) },
    };
  }
  return { ok: false, reason: replayed === 1 ? 'replayed' : 'wrong-code', state: prior };
}

/**
 * Resynchronises a TOTP token from two codes the user read at consecutive time steps (press,
 * wait for the next code, press again). Searches `range` steps either side of the server's
 * current step, ignoring the remembered drift, for a step s where code1 is the code at s and
 * code2 the code at s + 1, both after `state.lastStep`; then records s + 1 as the last step and
 * its offset as the drift. Every step in the range is computed and compared before deciding.
 */
export function resyncTotp(
  params: TotpParams | PreparedOtpKey,
  state: TotpState,
  code1: string,
  code2: string,
  timeMs: number,
  opts: TotpResyncOptions = {},
): TotpCheck {
  const key = toPrepared(params);
  const range = optInt(opts.range, 100, 1, 1000, 'range');
  const maxDrift = optInt(opts.maxDriftSteps, range, 0, 100_000, 'maxDriftSteps');
  const prior = checkTotpState(state, maxDrift);
  const now = currentStep(key, timeMs);
  const wellFormed1 = key.load(0, code1);
  const wellFormed2 = key.load(1, code2);

  const first = now - range;
  const count = 2 * range + 1;
  const matches = key.scan(first, count, 2);

  let accepted = -1;
  let bestDistance = Infinity;
  let replayed = 0;
  for (let i = 0; i + 1 < count; i++) {
    const second = first + i + 1;
    const pair = matches[i * 2]! & matches[(i + 1) * 2 + 1]!;
    const fresh = prior.lastStep === null || second - 1 > prior.lastStep;
    if (pair === 1 && fresh && Math.abs(second - now) < bestDistance) {
      accepted = second;
      bestDistance = Math.abs(second - now);
    }
    if (!fresh) replayed |= pair;
  }
  if (!wellFormed1 || !wellFormed2) return { ok: false, reason: 'malformed', state: prior };
  if (accepted >= 0 && Math.abs(accepted - now) <= maxDrift) {
    return {
      ok: true,
      reason: 'ok',
      step: accepted,
      state: { lastStep: accepted, driftSteps: accepted - now },
    };
  }
  return { ok: false, reason: replayed === 1 ? 'replayed' : 'wrong-code', state: prior };
}

// ---------------------------------------------------------------------------------------------
// HOTP

/**
 * Verifies an HOTP code against the counters `state.counter .. state.counter + lookAhead`
 * (RFC 4226 §7.2, §7.4), computing and comparing all of them (and `lookBehind` used counters,
 * to report replays) before deciding. On success the next expected counter is the one after the
 * accepted code, so no counter is accepted twice.
 */
export function verifyHotp(
  params: HotpParams | PreparedOtpKey,
  state: HotpState,
  code: string,
  opts: HotpVerifyOptions = {},
): HotpCheck {
  const key = toPrepared(params);
  const lookAhead = optInt(opts.lookAhead, 10, 0, 1000, 'lookAhead');
  const lookBehind = optInt(opts.lookBehind, 1, 0, 100, 'lookBehind');
  const prior = checkHotpState(state);
  const wellFormed = key.load(0, code);

  const first = prior.counter - lookBehind;
  const count = lookBehind + lookAhead + 1;
  const matches = key.scan(first, count, 1);

  // RFC 4226 §7.2: the first match at or after the expected counter wins.
  let accepted = -1;
  let replayed = 0;
  for (let i = count - 1; i >= 0; i--) {
    const counter = first + i;
    const m = matches[i]!;
    if (counter >= prior.counter) {
      if (m === 1) accepted = counter;
    } else {
      replayed |= m;
    }
  }
  if (!wellFormed) return { ok: false, reason: 'malformed', state: prior };
  if (accepted >= 0 && accepted < Number.MAX_SAFE_INTEGER) {
    return { ok: true, reason: 'ok', counter: accepted, state: { counter: accepted + 1 } };
  }
  return { ok: false, reason: replayed === 1 ? 'replayed' : 'wrong-code', state: prior };
}

/**
 * Resynchronises an HOTP token from two consecutive codes (RFC 4226 §7.4): searches counters
 * `state.counter .. state.counter + lookAhead` for c with code1 at c and code2 at c + 1, all of
 * them computed and compared first, and on success expects c + 2 next.
 */
export function resyncHotp(
  params: HotpParams | PreparedOtpKey,
  state: HotpState,
  code1: string,
  code2: string,
  opts: HotpResyncOptions = {},
): HotpCheck {
  const key = toPrepared(params);
  const lookAhead = optInt(opts.lookAhead, 100, 1, 10_000, 'lookAhead');
  const prior = checkHotpState(state);
  const wellFormed1 = key.load(0, code1);
  const wellFormed2 = key.load(1, code2);

  const first = prior.counter;
  const count = lookAhead + 2;
  const matches = key.scan(first, count, 2);

  let accepted = -1;
  for (let i = count - 2; i >= 0; i--) {
    if ((matches[i * 2]! & matches[(i + 1) * 2 + 1]!) === 1) accepted = first + i + 1;
  }
  if (!wellFormed1 || !wellFormed2) return { ok: false, reason: 'malformed', state: prior };
  if (accepted >= 0 && accepted < Number.MAX_SAFE_INTEGER) {
    return { ok: true, reason: 'ok', counter: accepted, state: { counter: accepted + 1 } };
  }
  return { ok: false, reason: 'wrong-code', state: prior };
}
