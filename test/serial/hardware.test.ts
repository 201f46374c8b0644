/** A physical test jig on a real serial port, only when asked: HW_TESTS=1 MITID_JIG_PORT=<tty>. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SerialCodeDisplay } from '../../devices/code-display/serial.js';
import { fromHex } from '../../src/core/bytes.js';
import { independentTotp } from '../contract/independent-totp.js';

// The jig's token key is optional: with it (hex, SHA1, 6 digits, 30 s) the codes are checked
// exactly; without it only their form and the protocol are.
const port = process.env.MITID_JIG_PORT;
const secretHex = process.env.MITID_JIG_SECRET_HEX;
const wanted = process.env.HW_TESTS === '1' && port !== undefined && port !== '';

describe.skipIf(!wanted)('serial: physical jig (HW_TESTS=1, MITID_JIG_PORT)', () => {
  let display: SerialCodeDisplay;
  beforeAll(async () => {
    display = await SerialCodeDisplay.open(port as string, { pressTimeoutMs: 20_000 });
  });
  afterAll(async () => {
    await display?.close();
  });

  it('identifies as a code display', () => {
    expect(display.kind).toBe('code-display');
    expect(display.serial.length).toBeGreaterThan(0);
  });

  it('bind and prove give codes the token made at the time the jig read them', async () => {
    for (const r of [await display.bind({}), await display.prove({})]) {
      expect(r.serial).toBe(display.serial);
      expect(r.code).toMatch(/^\d{6,8}$/);
      expect(Math.abs(r.deviceTime - Date.now())).toBeLessThan(120_000);
      if (secretHex) {
        const key = {
          secret: fromHex(secretHex),
          algorithm: 'SHA1',
          digits: 6,
          period: 30,
          t0: 0,
        } as const;
        // The token's own clock may be off by a step from the jig's.
        const near = [-30_000, 0, 30_000].map((d) => independentTotp(key, r.deviceTime + d));
        expect(near).toContain(r.code);
      }
    }
  });

  it('reads the display and reports its status', async () => {
    const lcd = await display.lcd();
    expect(typeof lcd.on).toBe('boolean');
    const status = await display.status();
    expect(Number.isSafeInteger(status.deviceTime)).toBe(true);
  });
});
