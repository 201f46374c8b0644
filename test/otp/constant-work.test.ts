/**
 * The engine computes and compares every offset before deciding: counts the real node:crypto
 * HMACs and constant-time comparisons each call makes, wherever (or whether) the code matches.
 */
import type * as NodeCrypto from 'node:crypto';
import { beforeEach, describe, expect, it, vi } from 'vitest';

// Wraps (does not replace) node:crypto's createHmac and timingSafeEqual to count the calls.
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof NodeCrypto>();
  return {
    ...real,
    createHmac: vi.fn(real.createHmac),
    timingSafeEqual: vi.fn(real.timingSafeEqual),
  };
});

const crypto = await import('node:crypto');
const { generateHotp, generateTotp } = await import('../../src/otp/generate.js');
const { prepareOtpKey, resyncHotp, resyncTotp, verifyHotp, verifyTotp } =
  await import('../../src/otp/verify.js');

const hmacs = vi.mocked(crypto.createHmac);
const compares = vi.mocked(crypto.timingSafeEqual);

const NOW = Date.UTC(2026, 10, 25, 12, 0, 10);
const params = { secret: new TextEncoder().encode('constant-work-secret'), digits: 8 };
const key = prepareOtpKey(params);
const at = (steps: number): number => NOW + steps * 30_000;

/** Codes to try against a ±w window: one at every offset, a replay, wrong and malformed ones. */
function inputs(w: number): [string, string][] {
  const out: [string, string][] = [];
  for (let k = -w - 1; k <= w + 1; k++) out.push([`offset ${k}`, generateTotp(params, at(k))]);
  out.push(
    ['wrong', '00000000'],
    ['short', '123'],
    ['long', '1'.repeat(10_000)],
    ['unicode', '١٢٣٤٥٦٧٨'],
  );
  return out;
}

/** Calls made by `f` alone (generation in the test is not counted). */
function count(f: () => unknown): { hmac: number; compare: number } {
  hmacs.mockClear();
  compares.mockClear();
  f();
  return { hmac: hmacs.mock.calls.length, compare: compares.mock.calls.length };
}

describe('every offset, every time', () => {
  beforeEach(() => {
    hmacs.mockClear();
  });

  it.each([0, 1, 2, 5])('TOTP window ±%i: 2w+1 HMACs and comparisons for any code', (w) => {
    const seen = new Set<string>();
    for (const [, code] of inputs(w)) {
      const c = count(() =>
        verifyTotp(key, { lastStep: null, driftSteps: 0 }, code, NOW, { window: w }),
      );
      seen.add(`${c.hmac}/${c.compare}`);
    }
    expect([...seen]).toEqual([`${2 * w + 1}/${2 * w + 1}`]);
  });

  it('TOTP: a replay and a drifted centre cost the same', () => {
    const code = generateTotp(params, NOW);
    const states = [
      { lastStep: null, driftSteps: 0 },
      { lastStep: Math.floor(NOW / 30_000), driftSteps: 0 },
      { lastStep: null, driftSteps: 7 },
      { lastStep: null, driftSteps: -100 },
    ];
    for (const s of states)
      expect(count(() => verifyTotp(key, s, code, NOW))).toEqual({ hmac: 3, compare: 3 });
  });

  it('TOTP near T0: steps before 0 are still computed (and never match)', () => {
    const early = prepareOtpKey({
      secret: new TextEncoder().encode('constant-work-secret'),
      t0: 1000,
    });
    expect(
      count(() => verifyTotp(early, { lastStep: null, driftSteps: -5 }, '123456', 1_000_000)),
    ).toEqual({
      hmac: 3,
      compare: 3,
    });
  });

  it('HOTP: lookBehind + lookAhead + 1 HMACs for any code', () => {
    const seen = new Set<string>();
    for (let k = -3; k <= 13; k++) {
      const code = k < 0 && 50 + k < 0 ? 'x' : generateHotp(params, 50 + k);
      const c = count(() =>
        verifyHotp(key, { counter: 50 }, code, { lookAhead: 10, lookBehind: 2 }),
      );
      seen.add(`${c.hmac}/${c.compare}`);
    }
    for (const code of ['', 'abc', '99999999']) {
      const c = count(() =>
        verifyHotp(key, { counter: 50 }, code, { lookAhead: 10, lookBehind: 2 }),
      );
      seen.add(`${c.hmac}/${c.compare}`);
    }
    // At counter 0 the used counters below it do not exist, and still cost the same.
    const c0 = count(() =>
      verifyHotp(key, { counter: 0 }, generateHotp(params, 0), { lookAhead: 10, lookBehind: 2 }),
    );
    seen.add(`${c0.hmac}/${c0.compare}`);
    expect([...seen]).toEqual(['13/13']);
  });

  it('resync: the whole range, two comparisons per step, wherever the pair is', () => {
    const seen = new Set<string>();
    for (const d of [-20, -1, 0, 5, 20]) {
      const c = count(() =>
        resyncTotp(
          key,
          { lastStep: null, driftSteps: 0 },
          generateTotp(params, at(d - 1)),
          generateTotp(params, at(d)),
          NOW,
          {
            range: 20,
          },
        ),
      );
      seen.add(`${c.hmac}/${c.compare}`);
    }
    seen.add(
      Object.values(
        count(() =>
          resyncTotp(key, { lastStep: null, driftSteps: 0 }, 'bad', '1', NOW, { range: 20 }),
        ),
      ).join('/'),
    );
    expect([...seen]).toEqual(['41/82']);
    const h = new Set<string>();
    for (const k of [0, 50, 99]) {
      h.add(
        Object.values(
          count(() =>
            resyncHotp(
              key,
              { counter: 7 },
              generateHotp(params, 7 + k),
              generateHotp(params, 8 + k),
            ),
          ),
        ).join('/'),
      );
    }
    h.add(Object.values(count(() => resyncHotp(key, { counter: 7 }, '', ''))).join('/'));
    expect([...h]).toEqual(['102/204']);
  });

  it('the counts are of real work: a correct code is found among them', () => {
    expect(
      verifyTotp(key, { lastStep: null, driftSteps: 0 }, generateTotp(params, at(1)), NOW).step,
    ).toBe(Math.floor(at(1) / 30_000));
  });
});
