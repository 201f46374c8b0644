/** Cross-check against oathtool (OATH Toolkit), an independent implementation, on random keys. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { generateHotp, generateTotp } from '../../src/otp/generate.js';
import type { HashAlgorithm } from '../../src/otp/types.js';
import {
  initialHotpState,
  initialTotpState,
  prepareOtpKey,
  verifyHotp,
  verifyTotp,
} from '../../src/otp/verify.js';
import { describeWithTool, toolAvailable } from '../support/tools.js';

/** Codes per oathtool spawn: -w W prints W + 1 consecutive codes. */
const WIDTH = 11;

const run = promisify(execFile);

/** Runs oathtool once per argument list, a few at a time: spawning, not hashing, is the cost. */
async function oathtoolAll(argLists: string[][]): Promise<string[][]> {
  const out: string[][] = new Array<string[]>(argLists.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < argLists.length) {
      const i = next++;
      const { stdout } = await run('oathtool', argLists[i]!, { timeout: 20_000 });
      const lines = stdout.trim().split('\n');
      expect(lines).toHaveLength(WIDTH + 1);
      out[i] = lines;
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  return out;
}

const totpCase = fc.record({
  secret: fc.uint8Array({ minLength: 1, maxLength: 64 }),
  algorithm: fc.constantFrom<HashAlgorithm>('SHA1', 'SHA256', 'SHA512'),
  digits: fc.constantFrom(6, 7, 8),
  period: fc.oneof(fc.constant(30), fc.constant(60), fc.integer({ min: 1, max: 600 })),
  t0: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2_000_000_000 })),
  // Seconds after T0, up to the year 2200 and beyond 2^32 steps for small periods.
  after: fc.integer({ min: 0, max: 7_000_000_000 }),
  // Milliseconds within the second: the engine must floor them as RFC 6238 §4.2 does.
  ms: fc.integer({ min: 0, max: 999 }),
});

const hotpCase = fc.record({
  secret: fc.uint8Array({ minLength: 1, maxLength: 64 }),
  digits: fc.constantFrom(6, 7, 8),
  counter: fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 2 ** 52 })),
});

describeWithTool('oathtool', toolAvailable('oathtool'), 'oathtool as an independent peer', () => {
  it('agrees on TOTP for 150 random keys, times, algorithms, digits, periods and T0 (1800 codes)', async () => {
    const cases = fc.sample(totpCase, { numRuns: 150, seed: 6238 });
    const outputs = await oathtoolAll(
      cases.map((c) => [
        `--totp=${c.algorithm.toLowerCase()}`,
        `--digits=${c.digits}`,
        `--time-step-size=${c.period}s`,
        `--start-time=@${c.t0}`,
        `--now=@${c.t0 + c.after}`,
        `--window=${WIDTH}`,
        Buffer.from(c.secret).toString('hex'),
      ]),
    );
    cases.forEach((c, n) => {
      const codes = outputs[n]!;
      const params = {
        secret: c.secret,
        algorithm: c.algorithm,
        digits: c.digits,
        period: c.period,
        t0: c.t0,
      };
      const key = prepareOtpKey(params);
      const step = Math.floor(c.after / c.period);
      codes.forEach((code, i) => {
        const at = (c.t0 + (step + i) * c.period) * 1000 + c.ms;
        const tag = `${c.algorithm}/${c.digits}/${c.period}s/T0=${c.t0} step ${step + i}`;
        expect(generateTotp(params, at), tag).toBe(code);
        // Exactly at its own step, with no window.
        const exact = verifyTotp(key, initialTotpState(), code, at, { window: 0 });
        expect(exact.step, tag).toBe(step + i);
      });
      // oathtool's codes for steps step+1 .. step+3, verified at `step+2` with window 1 and
      // the replay state carried along: each accepted once, in order.
      let state = initialTotpState();
      const centre = (c.t0 + (step + 2) * c.period) * 1000;
      for (const i of [1, 2, 3]) {
        const r = verifyTotp(key, state, codes[i]!, centre);
        expect(r.ok).toBe(true);
        expect(r.step).toBe(step + i);
        state = r.state;
      }
      // One step outside the window is refused (unless the code collides with one inside).
      const outside = codes[4]!;
      if (!codes.slice(1, 4).includes(outside)) {
        expect(verifyTotp(key, initialTotpState(), outside, centre).reason).toBe('wrong-code');
      }
    });
  });

  it('agrees on HOTP for 100 random keys, counters and digits (1200 codes)', async () => {
    const cases = fc.sample(hotpCase, { numRuns: 100, seed: 4226 });
    const outputs = await oathtoolAll(
      cases.map((c) => {
        const hex = Buffer.from(c.secret).toString('hex');
        return [
          '--hotp',
          `--digits=${c.digits}`,
          `--counter=${c.counter}`,
          `--window=${WIDTH}`,
          hex,
        ];
      }),
    );
    cases.forEach((c, n) => {
      const codes = outputs[n]!;
      const params = { secret: c.secret, digits: c.digits };
      codes.forEach((code, i) => {
        expect(generateHotp(params, c.counter + i)).toBe(code);
      });
      // The last code, found from the first counter by look-ahead, moves the counter past it.
      const r = verifyHotp(params, initialHotpState(c.counter), codes[WIDTH]!, {
        lookAhead: WIDTH,
      });
      expect(r.ok).toBe(true);
      expect(r.state.counter).toBe(c.counter + WIDTH + 1);
    });
  });
});
