/** Lockout of authenticators after wrong proofs: a pure state step the store applies in one transaction. */

/**
 * The lockout rules. MITID.md: the 3rd wrong code in a row blocks the device for a while; continued
 * misuse blocks it for good. NIST SP 800-63B §5.2.2: no more than 100 consecutive failed attempts.
 * The period and the "for good" count are not published: these defaults are our choice.
 */
export interface LockoutPolicy {
  /** Wrong proofs in a row that block temporarily. */
  readonly failuresBeforeTemporaryBlock: number;
  /** How long a temporary block lasts, ms. */
  readonly temporaryBlockMs: number;
  /** Wrong proofs since the last good one that block for good (at most 100). */
  readonly failuresBeforePermanentBlock: number;
}

/** 3 in a row → 15 minutes; 9 without a good one (three rounds) → blocked for good. */
export const defaultLockoutPolicy: LockoutPolicy = Object.freeze({
  failuresBeforeTemporaryBlock: 3,
  temporaryBlockMs: 15 * 60_000,
  failuresBeforePermanentBlock: 9,
});

/** Checks a policy; throws RangeError naming the bad field. */
export function checkLockoutPolicy(p: LockoutPolicy): LockoutPolicy {
  if (!Number.isInteger(p.failuresBeforeTemporaryBlock) || p.failuresBeforeTemporaryBlock < 1) {
    throw new RangeError('failuresBeforeTemporaryBlock must be a whole number of at least 1');
  }
  if (!Number.isFinite(p.temporaryBlockMs) || p.temporaryBlockMs < 0)
    throw new RangeError('temporaryBlockMs must be at least 0');
  if (
    !Number.isInteger(p.failuresBeforePermanentBlock) ||
    p.failuresBeforePermanentBlock < p.failuresBeforeTemporaryBlock ||
    p.failuresBeforePermanentBlock > 100
  ) {
    throw new RangeError(
      'failuresBeforePermanentBlock must be from failuresBeforeTemporaryBlock to 100 (NIST SP 800-63B §5.2.2)',
    );
  }
  return p;
}

/** The counters kept per authenticator. */
export interface LockoutState {
  /** Wrong in a row since the last good proof or the end of the last temporary block. */
  readonly failCount: number;
  /** Wrong since the last good proof. */
  readonly totalFailCount: number;
  readonly blockedUntil: number | null;
  readonly blockedAt: number | null;
}

/** A fresh authenticator's counters. */
export const freshLockoutState: LockoutState = Object.freeze({
  failCount: 0,
  totalFailCount: 0,
  blockedUntil: null,
  blockedAt: null,
});

/** Where an authenticator stands at `now`. */
export type LockoutStatus = 'open' | 'temporarily-blocked' | 'blocked';

/** Where an authenticator stands at `now`. */
export function lockoutStatus(s: LockoutState, now: number): LockoutStatus {
  if (s.blockedAt !== null) return 'blocked';
  if (s.blockedUntil !== null && now < s.blockedUntil) return 'temporarily-blocked';
  return 'open';
}

/**
 * The counters after one proof was checked at `now`. Call it only when the status was `open`
 * (a blocked device's proofs are refused unchecked and counted nowhere).
 */
export function afterAttempt(
  s: LockoutState,
  verified: boolean,
  now: number,
  policy: LockoutPolicy = defaultLockoutPolicy,
): LockoutState {
  if (verified)
    return { failCount: 0, totalFailCount: 0, blockedUntil: null, blockedAt: s.blockedAt };
  const total = s.totalFailCount + 1;
  // A temporary block that has run out starts a new round of tries.
  const inRow = (s.blockedUntil !== null && now >= s.blockedUntil ? 0 : s.failCount) + 1;
  if (total >= policy.failuresBeforePermanentBlock) {
    return { failCount: inRow, totalFailCount: total, blockedUntil: null, blockedAt: now };
  }
  if (inRow >= policy.failuresBeforeTemporaryBlock) {
    return {
      failCount: 0,
      totalFailCount: total,
      blockedUntil: now + policy.temporaryBlockMs,
      blockedAt: null,
    };
  }
  return {
    failCount: inRow,
    totalFailCount: total,
    blockedUntil: s.blockedUntil !== null && now >= s.blockedUntil ? null : s.blockedUntil,
    blockedAt: null,
  };
}
