import { describe, expect, it } from 'vitest';
import { DriftingClock, VirtualClock, parseTime, systemClock } from '../../src/core/clock.js';
import { DeviceError, MitidError, isMitidError } from '../../src/core/errors.js';

const T = Date.UTC(2026, 10, 25, 12, 0, 0);
const DAY = 86_400_000;

describe('VirtualClock', () => {
  it('moves only when told', () => {
    const c = new VirtualClock({ start: T });
    expect(c.now()).toBe(T);
    c.advance(1500);
    expect(c.now()).toBe(T + 1500);
    c.set(T + 10);
    expect(c.now()).toBe(T + 10);
  });

  it('drifts by ppm: +20 ppm gains 1.728 s a day', () => {
    const c = new VirtualClock({ start: T, driftPpm: 20 });
    c.advance(DAY);
    expect(c.trueNow()).toBe(T + DAY);
    expect(c.now() - c.trueNow()).toBe(1728);
  });

  it('keeps the shown time continuous when the drift changes', () => {
    const c = new VirtualClock({ start: T, driftPpm: -50 });
    c.advance(DAY);
    const before = c.now();
    c.driftPpm = 100;
    expect(c.now()).toBe(before);
    c.advance(DAY);
    expect(c.now() - before).toBe(DAY + 8640);
  });

  it('rejects nonsense', () => {
    expect(() => new VirtualClock({ start: Number.NaN })).toThrow(TypeError);
    expect(() => new VirtualClock({ driftPpm: Infinity })).toThrow(RangeError);
    expect(() => new VirtualClock().advance(Number.POSITIVE_INFINITY)).toThrow(TypeError);
  });
});

describe('DriftingClock', () => {
  it('follows its reference at its own rate and survives a restart from its state', () => {
    const ref = new VirtualClock({ start: T });
    const dev = new DriftingClock(ref, { driftPpm: 30 });
    ref.advance(10 * DAY);
    expect(dev.offsetMs()).toBe(25_920);
    const again = new DriftingClock(ref, dev.state());
    expect(again.now()).toBe(dev.now());
    again.set(ref.now());
    expect(again.offsetMs()).toBe(0);
    ref.advance(DAY);
    expect(again.offsetMs()).toBe(2592);
  });
  it('uses the system clock', () => {
    const dev = new DriftingClock(systemClock);
    expect(Math.abs(dev.now() - Date.now())).toBeLessThan(1000);
  });
});

describe('parseTime', () => {
  it.each([
    ['1764072000', 1764072000000],
    ['1764072000.5', 1764072000500],
    ['2026-11-25T12:00:00Z', T],
    ['2026-11-25T13:00:00+01:00', T],
    ['2026-11-25T12:00:00.000z', T],
    ['2026-11-25', Date.UTC(2026, 10, 25)],
  ])('%s', (s, ms) => expect(parseTime(s)).toBe(ms));
  it.each(['', 'yesterday', '-5', '12:00', '2026-13-45T99:00:00Z', '2026-11-25T12:00:00'])(
    'rejects %j',
    (s) => {
      expect(() => parseTime(s)).toThrow(RangeError);
    },
  );
});

describe('errors', () => {
  it('carry a code and a cause', () => {
    const cause = new Error('inner');
    const e = new DeviceError('bad-device-file', 'not a device file', { cause });
    expect(e).toBeInstanceOf(MitidError);
    expect(e.code).toBe('bad-device-file');
    expect(e.cause).toBe(cause);
    expect(e.name).toBe('DeviceError');
    expect(isMitidError(e)).toBe(true);
    expect(isMitidError(cause)).toBe(false);
  });
});
