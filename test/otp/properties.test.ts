/** fast-check properties of the verification engine: windows, replay, look-ahead, resync, drift. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DriftingClock, VirtualClock } from '../../src/core/clock.js';
import { generateHotp, generateTotp } from '../../src/otp/generate.js';
import type { HashAlgorithm, TotpParams } from '../../src/otp/types.js';
import {
  initialHotpState,
  initialTotpState,
  resyncHotp,
  resyncTotp,
  verifyHotp,
  verifyTotp,
} from '../../src/otp/verify.js';
import type { TotpState } from '../../src/otp/verify.js';

const params = fc.record({
  secret: fc.uint8Array({ minLength: 10, maxLength: 64 }),
  algorithm: fc.constantFrom<HashAlgorithm>('SHA1', 'SHA256', 'SHA512'),
  digits: fc.constantFrom(6, 7, 8),
  period: fc.constantFrom(30, 60, 10),
  t0: fc.constantFrom(0, 1_000_000),
});
/** Server times from 2001 to 2286, with milliseconds. */
const time = fc.integer({ min: 1_000_000_000_000, max: 9_999_999_999_999 });

/** The time `steps` steps away from `ms`, in the middle of that step. */
function shift(p: TotpParams, ms: number, steps: number): number {
  return ms + steps * (p.period ?? 30) * 1000;
}

/** Strings that are mostly digits: ASCII ones, other scripts' digits, spaces, signs, NUL. */
const nearMiss = fc.oneof(
  fc.string({
    maxLength: 12,
    unit: fc.constantFrom('0', '1', '5', '9', '١', '５', '४', ' ', '\n', '-', '+', 'e', '\0'),
  }),
  fc.string({ maxLength: 12 }),
  fc.stringMatching(/^[0-9]{1,12}$/),
);

describe('TOTP window', () => {
  it('a code made at t verifies inside the window and fails outside it', () => {
    fc.assert(
      fc.property(
        params,
        time,
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: -6, max: 6 }),
        (p, now, window, offset) => {
          const code = generateTotp(p, shift(p, now, offset));
          const inWindow: string[] = [];
          for (let k = -window; k <= window; k++) inWindow.push(generateTotp(p, shift(p, now, k)));
          const r = verifyTotp(p, initialTotpState(), code, now, { window });
          // A code outside the window may still equal one inside it (a 10^-digits collision).
          expect(r.ok).toBe(Math.abs(offset) <= window || inWindow.includes(code));
          expect(r.reason).toBe(r.ok ? 'ok' : 'wrong-code');
          if (!r.ok) expect(r.state).toEqual(initialTotpState());
        },
      ),
      { numRuns: 300 },
    );
  });

  it('no code verifies twice, and accepted steps only increase', () => {
    fc.assert(
      fc.property(
        params,
        time,
        fc.array(fc.integer({ min: -1, max: 1 }), { minLength: 1, maxLength: 12 }),
        (p, now, offsets) => {
          let state: TotpState = initialTotpState();
          const accepted: number[] = [];
          for (const o of offsets) {
            const code = generateTotp(p, shift(p, now, o));
            const r = verifyTotp(p, state, code, now);
            if (r.ok) {
              accepted.push(r.step!);
              // The very same code again is always refused.
              const again = verifyTotp(p, r.state, code, now);
              expect(again.ok).toBe(false);
              expect(again.reason).toBe('replayed');
            } else {
              // Already used, or (after the drift moved the window) outside it: never "ok".
              expect(['replayed', 'wrong-code']).toContain(r.reason);
              expect(r.state).toEqual(state);
            }
            state = r.state;
          }
          for (let i = 1; i < accepted.length; i++)
            expect(accepted[i]!).toBeGreaterThan(accepted[i - 1]!);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('any input that is not exactly `digits` ASCII digits is malformed and changes nothing', () => {
    fc.assert(
      fc.property(params, time, nearMiss, (p, now, input) => {
        fc.pre(!new RegExp(`^[0-9]{${p.digits}}$`).test(input));
        const state = { lastStep: 5, driftSteps: 0 };
        const r = verifyTotp(p, state, input, now);
        expect(r).toEqual({ ok: false, reason: 'malformed', state });
      }),
      { numRuns: 300 },
    );
  });
});

describe('HOTP look-ahead', () => {
  it('accepts the code at counter c + k exactly when k <= lookAhead, and moves past it', () => {
    fc.assert(
      fc.property(
        params,
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.integer({ min: 0, max: 12 }),
        fc.integer({ min: 0, max: 15 }),
        (p, c, lookAhead, k) => {
          const code = generateHotp(p, c + k);
          const ahead: string[] = [];
          for (let i = 0; i <= lookAhead; i++) ahead.push(generateHotp(p, c + i));
          const r = verifyHotp(p, { counter: c }, code, { lookAhead });
          expect(r.ok).toBe(k <= lookAhead || ahead.includes(code));
          if (r.ok && ahead.indexOf(code) === k) expect(r.state).toEqual({ counter: c + k + 1 });
          if (r.ok) {
            // Again: accepted only if the same digits recur at a later counter in reach.
            let recurs = false;
            for (let i = 1; i <= lookAhead + 1; i++) {
              recurs ||= generateHotp(p, r.counter! + i) === code;
            }
            expect(verifyHotp(p, r.state, code, { lookAhead }).ok).toBe(recurs);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a used counter is refused as replayed', () => {
    fc.assert(
      fc.property(params, fc.integer({ min: 1, max: 2 ** 40 }), (p, c) => {
        const used = generateHotp(p, c - 1);
        const fresh: string[] = [];
        for (let i = 0; i <= 10; i++) fresh.push(generateHotp(p, c + i));
        fc.pre(!fresh.includes(used));
        expect(verifyHotp(p, { counter: c }, used).reason).toBe('replayed');
      }),
      { numRuns: 100 },
    );
  });
});

describe('resync', () => {
  it('HOTP: two consecutive codes up to 100 ahead set the counter after them (RFC 4226 §7.4)', () => {
    fc.assert(
      fc.property(
        params,
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.integer({ min: 0, max: 99 }),
        (p, c, k) => {
          const r = resyncHotp(
            p,
            initialHotpState(c),
            generateHotp(p, c + k),
            generateHotp(p, c + k + 1),
          );
          expect(r.ok).toBe(true);
          expect(r.counter).toBeLessThanOrEqual(c + k + 1);
          if (r.counter === c + k + 1) {
            expect(r.state).toEqual({ counter: c + k + 2 });
            // The next code is accepted with no look-ahead at all.
            expect(verifyHotp(p, r.state, generateHotp(p, c + k + 2), { lookAhead: 0 }).ok).toBe(
              true,
            );
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('HOTP: the pair in the wrong order, or not consecutive, is refused', () => {
    fc.assert(
      fc.property(
        params,
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.integer({ min: 0, max: 90 }),
        (p, c, k) => {
          const a = generateHotp(p, c + k);
          const b = generateHotp(p, c + k + 1);
          const skip = generateHotp(p, c + k + 2);
          fc.pre(a !== b && b !== skip && a !== skip);
          expect(resyncHotp(p, initialHotpState(c), b, a).ok).toBe(false);
          expect(resyncHotp(p, initialHotpState(c), a, skip).ok).toBe(false);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('TOTP: two codes at consecutive steps of a clock off by d steps set the drift to d', () => {
    fc.assert(
      fc.property(params, time, fc.integer({ min: -99, max: 99 }), (p, now, d) => {
        const c1 = generateTotp(p, shift(p, now, d - 1));
        const c2 = generateTotp(p, shift(p, now, d));
        const r = resyncTotp(p, initialTotpState(), c1, c2, now);
        expect(r.ok).toBe(true);
        // A 10^-2·digits chance of a second pair nearer the centre aside, the drift is d.
        if (r.state.driftSteps === d) {
          // Later logins are looked for around the drifted clock, with the usual window of 1.
          const later = shift(p, now, 40);
          const login = verifyTotp(p, r.state, generateTotp(p, shift(p, later, d)), later);
          expect(login.ok).toBe(true);
          expect(login.state.driftSteps).toBe(d);
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe('drift tracking', () => {
  it('follows a code display whose quartz gains 200 ppm over 120 daily logins, up to the bound', () => {
    const p: TotpParams = { secret: new TextEncoder().encode('drift-tracking-secret'), period: 30 };
    const server = new VirtualClock({ start: Date.UTC(2026, 0, 1) });
    const device = new DriftingClock(server, { driftPpm: 200 });
    const maxDriftSteps = 40;
    let tracked: TotpState = initialTotpState();
    let untracked = 0;
    const outcomes: boolean[] = [];
    for (let day = 0; day < 120; day++) {
      server.advance(86_400_000);
      const code = generateTotp(p, device.now());
      const r = verifyTotp(p, tracked, code, server.now(), { maxDriftSteps });
      outcomes.push(r.ok);
      tracked = r.state;
      if (verifyTotp(p, initialTotpState(), code, server.now()).ok) untracked++;
      const aheadSteps = Math.floor(device.offsetMs() / 30_000);
      // Accepted while the device is within the bound plus the window; never beyond it.
      if (aheadSteps <= maxDriftSteps) expect(r.ok).toBe(true);
      if (aheadSteps > maxDriftSteps + 2) expect(r.ok).toBe(false);
      expect(Math.abs(tracked.driftSteps)).toBeLessThanOrEqual(maxDriftSteps);
    }
    // 200 ppm is 17.28 s a day: after 120 days the device is 69 steps ahead, past the bound.
    expect(Math.floor(device.offsetMs() / 30_000)).toBe(69);
    // Tracked: every login until the bound (40 steps, near day 69) passes, none well after it.
    expect(outcomes.slice(0, 69).every(Boolean)).toBe(true);
    expect(outcomes.slice(75).some(Boolean)).toBe(false);
    // Untracked: only the first days pass.
    expect(untracked).toBeLessThan(5);
  });
});
