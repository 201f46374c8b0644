// Model-based property: random presses, clock settings, drift changes and restarts against a plain model.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CodeDisplay } from '../../devices/code-display/index.js';
import { VirtualClock } from '../../src/core/clock.js';
import { independentTotp } from '../contract/independent-totp.js';

const START = Date.UTC(2026, 10, 25, 12, 0, 0);
const DAY = 86_400_000;

type Op =
  | { op: 'press'; dt: number }
  | { op: 'setClock'; dt: number; skew: number }
  | { op: 'setDrift'; dt: number; ppm: number }
  | { op: 'reopen' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('press' as const),
      dt: fc.integer({ min: 0, max: 40 * DAY }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('setClock' as const),
      dt: fc.integer({ min: 0, max: DAY }),
      skew: fc.integer({ min: -600_000, max: 600_000 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('setDrift' as const),
      dt: fc.integer({ min: 0, max: DAY }),
      ppm: fc.integer({ min: -100, max: 100 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ op: 'reopen' as const }) },
);

let dir: string;
let n = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mitid-cd-model-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('virtual code display against a model', () => {
  it('property: codes, device time, press count and battery follow the documented rules', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 10, maxLength: 40 }),
        fc.integer({ min: -80, max: 80 }),
        fc.array(opArb, { minLength: 1, maxLength: 10 }),
        async (secret, ppm0, ops) => {
          const key = { secret, algorithm: 'SHA1', digits: 6, period: 30, t0: 0 } as const;
          const path = join(dir, `m${++n}.json`);
          let dev = await CodeDisplay.create({
            serial: `CD-M${n}`,
            key: { serial: `CD-M${n}`, type: 'totp', ...key },
            out: path,
            reference: new VirtualClock({ start: START }),
            driftPpm: ppm0,
            battery: {
              capacityUah: 1_000_000,
              pressCostUah: 7,
              idleUahPerDay: 100,
              lowPercent: 10,
            },
          });
          // The model: the clock rule from the README, a press counter, and the coulomb count.
          let anchorRef = START;
          let anchorDev = START;
          let ppm = ppm0;
          let now = START;
          let presses = 0;
          let spent = 0;
          const devAt = (t: number): number =>
            Math.floor(anchorDev + (t - anchorRef) + ((t - anchorRef) * ppm) / 1e6);
          try {
            for (const o of ops) {
              if (o.op === 'reopen') {
                await dev.close();
                dev = await CodeDisplay.open(path);
                continue;
              }
              now += o.dt;
              if (o.op === 'press') {
                const f = await dev.press(now);
                presses++;
                spent += 7;
                expect(f.deviceTime).toBe(devAt(now));
                expect(f.code).toBe(independentTotp(key, devAt(now)));
                expect(f.text).toBe(`${f.code!.slice(0, 3)} ${f.code!.slice(3)}`);
              } else if (o.op === 'setClock') {
                await dev.setClock(now + o.skew, now);
                anchorRef = now;
                anchorDev = now + o.skew;
              } else {
                await dev.setDrift(o.ppm, now);
                anchorDev = devAt(now);
                anchorRef = now;
                ppm = o.ppm;
              }
              const s = dev.status(now);
              expect(s.deviceTime).toBe(devAt(now));
              expect(s.presses).toBe(presses);
              expect(s.batteryUah).toBeCloseTo(1_000_000 - spent - ((now - START) / DAY) * 100, 3);
            }
          } finally {
            await dev.close();
          }
        },
      ),
      { numRuns: 20 },
    );
  });
});
