/** Clocks: the real one, a virtual one advanced by hand, and a drifting device clock. */

/** A source of time in milliseconds since the Unix epoch. */
export interface Clock {
  now(): number;
}

/** The host's wall clock. */
export const systemClock: Clock = Object.freeze({ now: () => Date.now() });

/** Options of {@link VirtualClock}. */
export interface VirtualClockOptions {
  /** Start time, ms since the epoch (default: the host's time now). */
  start?: number;
  /** Rate error in parts per million: +20 means the clock gains 20 µs every second. */
  driftPpm?: number;
}

/**
 * A clock for tests and simulations. "True" time only moves when {@link advance} or {@link set}
 * is called; what {@link now} reports runs `driftPpm` fast (or slow) relative to true time since
 * the last {@link set}.
 */
export class VirtualClock implements Clock {
  #trueNow: number;
  #anchorTrue: number;
  #anchorShown: number;
  #driftPpm: number;

  constructor(options: VirtualClockOptions = {}) {
    const start = options.start ?? Date.now();
    assertTime(start, 'start');
    this.#trueNow = start;
    this.#anchorTrue = start;
    this.#anchorShown = start;
    this.#driftPpm = checkPpm(options.driftPpm ?? 0);
  }

  /** The time this clock shows (true time plus accumulated drift). */
  now(): number {
    return shown(this.#anchorShown, this.#anchorTrue, this.#trueNow, this.#driftPpm);
  }

  /** The true time, without drift. */
  trueNow(): number {
    return this.#trueNow;
  }

  /** Sets true time and the shown time to `ms` (drift starts again from zero). */
  set(ms: number): void {
    assertTime(ms, 'time');
    this.#trueNow = ms;
    this.#anchorTrue = ms;
    this.#anchorShown = ms;
  }

  /** Moves true time forward by `ms` (may be negative for tests of clocks going back). */
  advance(ms: number): void {
    if (!Number.isFinite(ms)) throw new TypeError('advance(ms): ms must be a finite number');
    this.#trueNow += ms;
  }

  get driftPpm(): number {
    return this.#driftPpm;
  }

  /** Changes the rate error from now on, keeping the time shown continuous. */
  set driftPpm(ppm: number) {
    const shownNow = this.now();
    this.#anchorTrue = this.#trueNow;
    this.#anchorShown = shownNow;
    this.#driftPpm = checkPpm(ppm);
  }
}

/** The persistent state of a {@link DriftingClock}: enough to rebuild it after a restart. */
export interface DriftingClockState {
  /** Reference time (ms) at the last setting. */
  anchorReference: number;
  /** Time the device showed (ms) at the last setting. */
  anchorDevice: number;
  /** Rate error in ppm. */
  driftPpm: number;
}

/**
 * A device's own clock: it follows a reference clock (the host's, or a virtual one) at a rate
 * off by `driftPpm`, from the moment it was last set. Its state is plain data so a device file
 * can keep it, and the clock keeps drifting across restarts as a quartz crystal would.
 */
export class DriftingClock implements Clock {
  readonly reference: Clock;
  #state: DriftingClockState;

  constructor(reference: Clock, state?: Partial<DriftingClockState>) {
    this.reference = reference;
    const now = reference.now();
    this.#state = {
      anchorReference: state?.anchorReference ?? now,
      anchorDevice: state?.anchorDevice ?? now,
      driftPpm: checkPpm(state?.driftPpm ?? 0),
    };
    assertTime(this.#state.anchorReference, 'anchorReference');
    assertTime(this.#state.anchorDevice, 'anchorDevice');
  }

  now(): number {
    const s = this.#state;
    return shown(s.anchorDevice, s.anchorReference, this.reference.now(), s.driftPpm);
  }

  /** Sets the device time to `ms` now (as a clock-setting command would). */
  set(ms: number): void {
    assertTime(ms, 'time');
    this.#state = { ...this.#state, anchorReference: this.reference.now(), anchorDevice: ms };
  }

  /** Offset of device time from reference time now, in ms (positive: the device is ahead). */
  offsetMs(): number {
    return this.now() - this.reference.now();
  }

  get driftPpm(): number {
    return this.#state.driftPpm;
  }

  /** A copy of the state, for persisting. */
  state(): DriftingClockState {
    return { ...this.#state };
  }
}

function shown(anchorShown: number, anchorTrue: number, trueNow: number, ppm: number): number {
  const elapsed = trueNow - anchorTrue;
  return Math.floor(anchorShown + elapsed + (elapsed * ppm) / 1e6);
}

function checkPpm(ppm: number): number {
  if (typeof ppm !== 'number' || !Number.isFinite(ppm) || Math.abs(ppm) > 1e6) {
    throw new RangeError('driftPpm must be a finite number between -1e6 and 1e6');
  }
  return ppm;
}

function assertTime(ms: number, name: string): void {
  if (typeof ms !== 'number' || !Number.isFinite(ms))
    throw new TypeError(`${name} must be a finite number of ms`);
}

/**
 * Parses a time given by a user: ISO 8601 (`2026-11-25T12:00:00Z`) or Unix seconds
 * (`1764072000`, fractions allowed). Returns ms since the epoch or throws RangeError.
 */
export function parseTime(input: string): number {
  const s = input.trim();
  if (/^-?\d+(\.\d+)?$/.test(s)) {
    const ms = Math.round(Number(s) * 1000);
    if (Number.isFinite(ms) && ms >= 0) return ms;
  } else if (
    /^\d{4}-\d{2}-\d{2}$/.test(s) ||
    /^\d{4}-\d{2}-\d{2}T.*(Z|[+-]\d{2}:?\d{2})$/i.test(s)
  ) {
    // A time of day needs its zone (Z or ±hh:mm): the host's zone must not change the code.
    const ms = Date.parse(s);
    if (Number.isFinite(ms) && ms >= 0) return ms;
  }
  throw new RangeError(
    `not a time: expected ISO 8601 with a zone (2026-11-25T12:00:00Z) or Unix seconds, got "${s.slice(0, 40)}"`,
  );
}
