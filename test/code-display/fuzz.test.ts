// fast-check fuzzing of everything that reads state from outside: only clear DeviceErrors, never the secret.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CodeDisplay, codeDisplayFileSchema } from '../../devices/code-display/index.js';
import { readDeviceFile } from '../../devices/device-file.js';
import {
  CodeDisplayFirmware,
  checkCodeDisplayState,
} from '../../firmware-sim/code-display/index.js';
import { VirtualClock } from '../../src/core/clock.js';
import { DeviceError } from '../../src/core/errors.js';
import { independentTotp } from '../contract/independent-totp.js';

const START = Date.UTC(2026, 10, 25, 10, 0, 0);
const SECRET_HEX = '9f8e7d6c5b4a39281706f5e4d3c2b1a0ffeeddcc';
const ref = new VirtualClock({ start: START });
const good = CodeDisplayFirmware.manufacture({
  serial: 'CD-FUZZ',
  reference: ref,
  key: {
    serial: 'CD-FUZZ',
    type: 'totp',
    secret: Uint8Array.from(Buffer.from(SECRET_HEX, 'hex')),
    algorithm: 'SHA1',
    digits: 6,
  },
}).snapshot();

/** Replaces the value at a random path of `o` (objects only) with `v`. */
function mutate(o: unknown, picks: number[], v: unknown): unknown {
  if (typeof o !== 'object' || o === null || picks.length === 0) return v;
  const keys = Object.keys(o);
  if (keys.length === 0) return v;
  const k = keys[picks[0]! % keys.length]!;
  return {
    ...(o as Record<string, unknown>),
    [k]: mutate((o as Record<string, unknown>)[k], picks.slice(1), v),
  };
}

function safe(e: unknown): void {
  expect(e).toBeInstanceOf(DeviceError);
  const msg = (e as Error).message;
  expect(msg).not.toContain(SECRET_HEX.slice(0, 8));
  expect(msg.includes('\n')).toBe(false);
  expect(msg.length).toBeLessThan(200);
}

describe('fuzzing the state checks', () => {
  it('anything at all: a state back, or a DeviceError', () => {
    fc.assert(
      fc.property(fc.anything(), (x) => {
        try {
          checkCodeDisplayState(x);
        } catch (e) {
          safe(e);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('a good state with one value replaced: a state that works, or a DeviceError naming a field', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
        fc.oneof(fc.jsonValue(), fc.constantFrom(NaN, -1, 1e300, '', [], {}, null, '__proto__')),
        (picks, v) => {
          const s = mutate(good, picks, v);
          let checked;
          try {
            checked = checkCodeDisplayState(s);
          } catch (e) {
            safe(e);
            return;
          }
          // What passes the checks runs: a press gives a code or a clear error.
          const fw = new CodeDisplayFirmware(checked, {
            reference: new VirtualClock({ start: START }),
          });
          try {
            const f = fw.press();
            if (f.code !== null) {
              const k = checked.key;
              const key = {
                secret: Buffer.from(k.secretHex, 'hex'),
                algorithm: k.algorithm,
                digits: k.digits,
                period: k.period,
                t0: k.t0,
              };
              expect(f.code).toBe(independentTotp(key, f.deviceTime));
            }
          } catch (e) {
            safe(e);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('fuzzing device files on disk', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mitid-cd-fuzz-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('random bytes, and good files cut or flipped anywhere: only DeviceErrors', async () => {
    const text = JSON.stringify({
      format: 'mitid-sim.device',
      version: 1,
      kind: 'code-display',
      ...good,
    });
    const path = join(dir, 'fuzz.json');
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
          fc.nat().map((n) => Buffer.from(text.slice(0, n % text.length))),
          fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })).map(([n, x]) => {
            const b = Buffer.from(text);
            const i = n % b.length;
            b[i] = b[i]! ^ x;
            return b;
          }),
        ),
        async (bytes) => {
          await writeFile(path, bytes);
          try {
            const f = await readDeviceFile(path, codeDisplayFileSchema);
            // A flip that still reads must have produced a well-formed device.
            expect(checkCodeDisplayState(f).serial).toBe(f.serial);
          } catch (e) {
            safe(e);
          }
          await CodeDisplay.open(path, { reference: ref }).then(
            (d) => d.close(),
            (e: unknown) => safe(e),
          );
        },
      ),
      { numRuns: 150 },
    );
  });
});
