// The code display firmware on its own: codes, drift, blanking, battery, state, hostile inputs.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CodeDisplayFirmware,
  type CodeDisplayState,
  checkCodeDisplayState,
} from '../../firmware-sim/code-display/index.js';
import { VirtualClock } from '../../src/core/clock.js';
import { DeviceError, MitidError } from '../../src/core/errors.js';
import type { OtpKey } from '../../src/otp/types.js';
import { independentStep, independentTotp } from '../contract/independent-totp.js';

const START = Date.UTC(2026, 10, 25, 12, 0, 0); // 2026-11-25T12:00:00Z, on a 30 s boundary
const DAY = 86_400_000;
// RFC 6238 Appendix B's SHA1 seed, "12345678901234567890".
const RFC_SECRET = new TextEncoder().encode('12345678901234567890');

function key(over: Partial<OtpKey> = {}): OtpKey {
  return {
    serial: 'CD-1',
    type: 'totp',
    secret: RFC_SECRET,
    algorithm: 'SHA1',
    digits: 6,
    period: 30,
    t0: 0,
    ...over,
  };
}

function make(opts: { driftPpm?: number; start?: number; over?: Partial<OtpKey> } = {}) {
  const ref = new VirtualClock({ start: opts.start ?? START });
  const fw = CodeDisplayFirmware.manufacture({
    serial: 'CD-1',
    key: key(opts.over),
    reference: ref,
    driftPpm: opts.driftPpm ?? 0,
  });
  return { ref, fw };
}

const spec = { secret: RFC_SECRET, algorithm: 'SHA1', digits: 6, period: 30, t0: 0 } as const;

describe('code display firmware', () => {
  it('shows RFC 6238 Appendix B codes (SHA1, last 6 digits) when set to those times', () => {
    // RFC 6238 App. B gives 8-digit codes; a 6-digit token shows their last six digits.
    const table: [number, string][] = [
      [59, '287082'],
      [1111111109, '081804'],
      [1111111111, '050471'],
      [1234567890, '005924'],
      [2000000000, '279037'],
    ];
    const { fw } = make();
    for (const [t, code] of table) {
      fw.setClock(t * 1000);
      const f = fw.press();
      expect(f.code).toBe(code);
      expect(f.text).toBe(`${code.slice(0, 3)} ${code.slice(3)}`);
    }
  });

  it('starts blank, shows a code on a press, and blanks after the 30 s timeout', () => {
    const { ref, fw } = make();
    expect(fw.lcd()).toMatchObject({ on: false, text: '', code: null });
    const f = fw.press();
    expect(f.on).toBe(true);
    expect(f.code).toBe(independentTotp(spec, START));
    ref.advance(29_999);
    expect(fw.lcd().code).toBe(f.code);
    ref.advance(1);
    expect(fw.lcd()).toMatchObject({ on: false, code: null });
    expect(fw.status().displayOn).toBe(false);
  });

  it('keeps the code on a second press within the step, and moves on once the step rolls over', () => {
    const { ref, fw } = make();
    const first = fw.press();
    ref.advance(10_000);
    expect(fw.press().code).toBe(first.code);
    ref.advance(25_000); // 35 s after the first press: the timeout restarted at 10 s, new step
    expect(fw.lcd().code).toBe(first.code);
    const next = fw.press();
    expect(next.code).toBe(independentTotp(spec, START + 35_000));
    expect(next.code).not.toBe(first.code);
    expect(fw.status().presses).toBe(3);
  });

  it('drifts: +20 ppm for 30 days puts the device 51.84 s ahead, two steps later', () => {
    const { ref, fw } = make({ driftPpm: 20 });
    ref.advance(30 * DAY);
    const f = fw.press();
    const s = fw.status();
    expect(s.offsetMs).toBe(51_840);
    expect(f.deviceTime).toBe(START + 30 * DAY + 51_840);
    expect(independentStep(spec, f.deviceTime) - independentStep(spec, ref.now())).toBe(1);
    expect(f.code).toBe(independentTotp(spec, START + 30 * DAY + 51_840));
    expect(f.code).not.toBe(independentTotp(spec, START + 30 * DAY));
  });

  it('a slow crystal falls behind; setClock corrects it and counts the setting', () => {
    const { ref, fw } = make({ driftPpm: -50 });
    ref.advance(10 * DAY);
    expect(fw.status().offsetMs).toBe(-43_200);
    fw.press();
    fw.setClock(ref.now());
    expect(fw.lcd().on).toBe(false); // setting the clock blanks the screen
    expect(fw.status()).toMatchObject({ offsetMs: 0, clockSets: 1 });
    ref.advance(DAY);
    expect(fw.status().offsetMs).toBe(-4_320);
  });

  it('setDrift changes the rate from now on, keeping the time continuous', () => {
    const { ref, fw } = make({ driftPpm: 100 });
    ref.advance(DAY);
    const before = fw.status().deviceTime;
    fw.setDrift(-100);
    expect(fw.status().deviceTime).toBe(before);
    ref.advance(DAY);
    expect(fw.status().offsetMs).toBe(0);
  });

  it('runs the battery down with presses and with time, shows low battery, then dies', () => {
    const ref = new VirtualClock({ start: START });
    const fw = CodeDisplayFirmware.manufacture({
      serial: 'CD-2',
      key: key({ serial: 'CD-2' }),
      reference: ref,
      battery: { capacityUah: 1000, pressCostUah: 10, idleUahPerDay: 100, lowPercent: 10 },
    });
    for (let i = 0; i < 50; i++) fw.press(); // 500 µAh
    expect(fw.status()).toMatchObject({ batteryUah: 500, batteryPercent: 50, lowBattery: false });
    ref.advance(4 * DAY); // 400 µAh of idle drain
    expect(fw.status()).toMatchObject({ batteryUah: 100, batteryPercent: 10, lowBattery: false });
    const f = fw.press();
    expect(f).toMatchObject({ on: true, lowBattery: true });
    expect(fw.status().batteryPercent).toBe(9);
    for (let i = 0; i < 9; i++) expect(fw.press().on).toBe(true);
    expect(fw.status()).toMatchObject({ batteryUah: 0, batteryEmpty: true, presses: 60 });
    const dead = fw.press();
    expect(dead).toMatchObject({ on: false, text: '', code: null, lowBattery: false });
    expect(fw.lcd().on).toBe(false);
    expect(fw.status().presses).toBe(60);
    fw.replaceBattery();
    expect(fw.press().on).toBe(true);
    expect(fw.status().batteryPercent).toBe(99);
  });

  it('idle drain only counts true time forwards', () => {
    const { ref, fw } = make();
    ref.advance(DAY);
    fw.press();
    const after = fw.status().batteryUah;
    ref.advance(-DAY / 2);
    fw.press();
    expect(fw.status().batteryUah).toBe(after - 10);
  });

  it('low battery is shown only while the screen is on', () => {
    const ref = new VirtualClock({ start: START });
    const fw = CodeDisplayFirmware.manufacture({
      serial: 'CD-3',
      key: key({ serial: 'CD-3' }),
      reference: ref,
      battery: { capacityUah: 100, pressCostUah: 1, idleUahPerDay: 0, lowPercent: 99.5 },
    });
    expect(fw.press().lowBattery).toBe(true);
    ref.advance(60_000);
    expect(fw.lcd()).toMatchObject({ on: false, lowBattery: false });
    expect(fw.status().lowBattery).toBe(true);
  });

  it('resumes from a JSON round trip of its snapshot, drift and all', () => {
    const { ref, fw } = make({ driftPpm: 35 });
    fw.press();
    ref.advance(7 * DAY);
    fw.press();
    const json = JSON.parse(JSON.stringify(fw.snapshot())) as CodeDisplayState;
    const again = new CodeDisplayFirmware(json, { reference: ref });
    expect(again.status()).toEqual(fw.status());
    expect(again.lcd()).toEqual(fw.lcd());
    ref.advance(3 * DAY);
    expect(again.press()).toEqual(fw.press());
  });

  it('honours SHA256, SHA512, 8 digits, another period and T0', () => {
    const secret = new Uint8Array(32).map((_, i) => i * 7 + 1);
    for (const algorithm of ['SHA256', 'SHA512'] as const) {
      const over = { secret, algorithm, digits: 8, period: 60, t0: 1000 };
      const { fw } = make({ over });
      const f = fw.press();
      expect(f.code).toBe(independentTotp({ ...over }, START));
      expect(f.text).toMatch(/^\d{4} \d{4}$/);
    }
  });

  it('property: the code at any moment equals independent TOTP at device time', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 10, maxLength: 64 }),
        fc.constantFrom('SHA1', 'SHA256', 'SHA512'),
        fc.integer({ min: 6, max: 8 }),
        fc.integer({ min: 1, max: 120 }),
        fc.integer({ min: 0, max: 4_000_000_000_000 }),
        fc.integer({ min: -200, max: 200 }),
        fc.integer({ min: 0, max: 400 * DAY }),
        (secret, algorithm, digits, period, start, driftPpm, later) => {
          const over = { secret, algorithm, digits, period, t0: 0 };
          const { ref, fw } = make({ over, start, driftPpm });
          ref.advance(later);
          const f = fw.press();
          const expected = start + later + Math.floor((later * driftPpm) / 1e6);
          expect(f.deviceTime).toBe(Math.floor(start + later + (later * driftPpm) / 1e6));
          expect(Math.abs(f.deviceTime - expected)).toBeLessThanOrEqual(1);
          expect(f.code).toBe(independentTotp(over, f.deviceTime));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('code display firmware: hostile inputs', () => {
  const ref = new VirtualClock({ start: START });
  const bad = (fn: () => unknown, code: string): void => {
    let err: unknown;
    try {
      fn();
    } catch (e) {
      err = e;
    }
    expect(err, code).toBeInstanceOf(MitidError);
    expect((err as MitidError).code).toBe(code);
    expect((err as Error).message).not.toMatch(/3132333435/); // never the secret
    expect((err as Error).message.includes('\n')).toBe(false);
  };

  it('manufacture refuses bad serials, keys, drift, times and settings', () => {
    const m = (o: Record<string, unknown>) => () =>
      CodeDisplayFirmware.manufacture({
        serial: 'CD-1',
        key: key(),
        reference: ref,
        ...o,
      } as never);
    for (const serial of ['', ' CD', 'a'.repeat(33), 'CD 1', 'ÆØÅ', 42, null])
      bad(m({ serial }), 'bad-serial');
    bad(m({ key: key({ type: 'hotp' }) }), 'bad-key');
    bad(m({ key: key({ secret: new Uint8Array(9) }) }), 'bad-key');
    bad(m({ key: key({ secret: new Uint8Array(129) }) }), 'bad-key');
    bad(m({ key: key({ secret: 'abc' as never }) }), 'bad-key');
    bad(m({ key: key({ algorithm: 'MD5' as never }) }), 'bad-key');
    bad(m({ key: key({ digits: 5 }) }), 'bad-key');
    bad(m({ key: key({ digits: 9 }) }), 'bad-key');
    bad(m({ key: key({ period: 0 }) }), 'bad-key');
    bad(m({ key: key({ period: 1.5 }) }), 'bad-key');
    bad(m({ key: key({ t0: -1 }) }), 'bad-key');
    bad(m({ key: key({ serial: 'OTHER' }) }), 'serial-mismatch');
    bad(m({ key: null }), 'bad-key');
    for (const driftPpm of [NaN, Infinity, 2e6, '5']) bad(m({ driftPpm }), 'bad-drift');
    for (const deviceTime of [NaN, -1, 9e15, '0']) bad(m({ deviceTime }), 'bad-time');
    bad(m({ settings: { displayTimeoutMs: 0 } }), 'bad-option');
    bad(m({ settings: { displayTimeoutMs: 'x' } }), 'bad-option');
    bad(m({ battery: { capacityUah: -1 } }), 'bad-option');
    bad(m({ battery: { lowPercent: 101 } }), 'bad-option');
    expect(() => CodeDisplayFirmware.manufacture(null as never)).toThrow(TypeError);
    expect(m({ reference: {} })).toThrow(TypeError);
  });

  it('commands refuse bad values and leave the device as it was', () => {
    const { fw } = make();
    const before = fw.snapshot();
    for (const t of [NaN, -5, Infinity, 1e16, '1' as never, null as never])
      bad(() => fw.setClock(t), 'bad-time');
    for (const p of [NaN, 1e7, -1e7, undefined as never]) bad(() => fw.setDrift(p), 'bad-drift');
    bad(() => fw.configure({ displayTimeoutMs: 10 }), 'bad-option');
    expect(() => fw.configure(null as never)).toThrow(TypeError);
    expect(fw.snapshot()).toEqual(before);
  });

  it('a reference clock gone wrong gives a clear error, not a crash', () => {
    const broken = { now: () => NaN };
    const fw = new CodeDisplayFirmware(make().fw.snapshot(), { reference: { now: () => START } });
    expect(fw.press().on).toBe(true);
    bad(() => new CodeDisplayFirmware(fw.snapshot(), { reference: broken }).press(), 'bad-time');
    expect(() => new CodeDisplayFirmware(fw.snapshot(), null as never)).toThrow(TypeError);
  });

  it('a device clock before T0 gives clock-invalid on a press', () => {
    const { fw } = make({ over: { t0: 2_000_000_000 } });
    bad(() => fw.press(), 'clock-invalid');
  });

  it('refuses a corrupt state, naming the field and not the secret', () => {
    const good = make().fw.snapshot();
    const cases: [string, (s: Record<string, unknown>) => void][] = [
      [
        'key.secretHex',
        (s) => ((s.key as Record<string, unknown>).secretHex = 'zz31323334353637383930'),
      ],
      ['key.secretHex', (s) => ((s.key as Record<string, unknown>).secretHex = 123)],
      ['key.digits', (s) => ((s.key as Record<string, unknown>).digits = 'six')],
      ['clock.driftPpm', (s) => ((s.clock as Record<string, unknown>).driftPpm = null)],
      ['clock.anchorDevice', (s) => ((s.clock as Record<string, unknown>).anchorDevice = -1)],
      ['battery.remainingUah', (s) => ((s.battery as Record<string, unknown>).remainingUah = 1e12)],
      ['battery must be an object', (s) => (s.battery = [])],
      ['display.code', (s) => (s.display = { code: '12', shownAt: 0 })],
      ['counters.presses', (s) => ((s.counters as Record<string, unknown>).presses = -1)],
      ['settings must be an object', (s) => delete s.settings],
      ['serial', (s) => (s.serial = '')],
      ['firmwareVersion', (s) => (s.firmwareVersion = '__proto__')],
    ];
    for (const [field, mutate] of cases) {
      const s = structuredClone(good) as unknown as Record<string, unknown>;
      mutate(s);
      expect(() => checkCodeDisplayState(s)).toThrow(DeviceError);
      try {
        checkCodeDisplayState(s);
      } catch (e) {
        expect((e as DeviceError).code).toBe('bad-state');
        expect((e as Error).message).toContain(field);
        expect((e as Error).message).not.toContain(good.key.secretHex);
      }
    }
    for (const s of [null, undefined, 0, 'x', [], {}])
      expect(() => checkCodeDisplayState(s)).toThrow(DeviceError);
  });
});
