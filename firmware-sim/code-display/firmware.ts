/** The code display's firmware: a pure, synchronous state machine over an injected reference clock. */
import { type Clock, DriftingClock } from '../../src/core/clock.js';
import { fromHex, wipe } from '../../src/core/bytes.js';
import { DeviceError, OtpError } from '../../src/core/errors.js';
import { generateTotp } from '../../src/otp/generate.js';
import type { OtpKey } from '../../src/otp/types.js';
import {
  type BatteryModel,
  MAX_TIME_MS,
  checkBatteryModel,
  defaultBatteryModel,
  drainTo,
  freshBattery,
  spend,
  viewBattery,
} from '../common/battery.js';
import { lcdText } from '../common/lcd.js';
import {
  CODE_DISPLAY_FIRMWARE_VERSION,
  type CodeDisplaySettings,
  type CodeDisplayState,
  checkCodeDisplayState,
  checkSerial,
  defaultCodeDisplaySettings,
  keyOf,
  storeKey,
} from './state.js';

/** What the LCD shows at one moment. */
export interface LcdFrame {
  /** False when the screen is blank (timed out, never pressed, or a dead battery). */
  readonly on: boolean;
  /** The screen as it reads, e.g. "123 456"; empty when blank. */
  readonly text: string;
  /** The code's digits, or null when blank. */
  readonly code: string | null;
  /** The low-battery sign (only ever lit while the screen is on). */
  readonly lowBattery: boolean;
  /** Device time (ms) of this frame. */
  readonly deviceTime: number;
}

/** What the device reports about itself (the serial line's STATUS, the CLI's `status`). */
export interface CodeDisplayStatus {
  readonly serial: string;
  readonly firmwareVersion: string;
  readonly algorithm: string;
  readonly digits: number;
  readonly period: number;
  /** Device time now (ms). */
  readonly deviceTime: number;
  /** Reference time now (ms). */
  readonly referenceTime: number;
  /** Device time minus reference time (ms): how far the device clock is ahead. */
  readonly offsetMs: number;
  readonly driftPpm: number;
  readonly batteryPercent: number;
  readonly batteryUah: number;
  readonly lowBattery: boolean;
  readonly batteryEmpty: boolean;
  readonly displayOn: boolean;
  readonly displayTimeoutMs: number;
  readonly presses: number;
  readonly clockSets: number;
}

/** What the firmware is given from outside: its reference clock (true time). */
export interface CodeDisplayEnv {
  /**
   * True time as the world sees it; the device's own clock runs from it, off by its drift.
   * Battery self-discharge also follows it.
   */
  readonly reference: Clock;
}

/** Options of {@link CodeDisplayFirmware.manufacture}. */
export interface ManufactureOptions {
  readonly serial: string;
  /** The TOTP key; when absent a random 20-byte SHA1 key is made with `random`. */
  readonly key?: OtpKey;
  readonly reference: Clock;
  /** Crystal error in ppm (default 0). */
  readonly driftPpm?: number;
  /** Device time at manufacture (default: reference time, i.e. set at the factory). */
  readonly deviceTime?: number;
  readonly battery?: Partial<BatteryModel>;
  readonly settings?: Partial<CodeDisplaySettings>;
  /** Randomness for a new key (default: node's CSPRNG via Web Crypto). */
  readonly random?: (bytes: number) => Uint8Array;
}

const cryptoRandom = (n: number): Uint8Array =>
  globalThis.crypto.getRandomValues(new Uint8Array(n));

/**
 * The code display (kodeviser). Behaviour, our documented choices where MitID publishes none:
 *
 * - A press shows the TOTP code of the device clock's current step ("123 456") and (re)starts the
 *   display timeout: a press while a code shows therefore keeps it when the step is the same and
 *   moves on to the new code when the step has rolled over. The code on the screen is the one
 *   computed at the press; it does not change under the user's eyes.
 * - The LCD blanks `displayTimeoutMs` (device clock, default 30 s) after the last press.
 * - The device clock is a {@link DriftingClock} over the reference: it gains `driftPpm` µs per
 *   second of true time, across restarts. `setClock` sets it (and blanks the LCD); `setDrift`
 *   changes the rate, keeping the time continuous.
 * - The battery (see {@link BatteryModel}) drains per press and per day of true time; below its
 *   low threshold the LCD shows a low-battery sign; once it cannot power a press the device is
 *   dead: a press shows nothing, counts nothing and returns a blank frame.
 *
 * Nothing here does I/O; `snapshot()` gives the state to persist.
 */
export class CodeDisplayFirmware {
  #s: CodeDisplayState;
  readonly #reference: Clock;
  #clock: DriftingClock;

  /** Resumes a device from `state` (checked; a bad state throws DeviceError 'bad-state'). */
  constructor(state: CodeDisplayState, env: CodeDisplayEnv) {
    if (typeof env !== 'object' || env === null || typeof env.reference?.now !== 'function') {
      throw new TypeError('env.reference must be a Clock');
    }
    this.#s = checkCodeDisplayState(state, 'bad-state');
    this.#reference = env.reference;
    this.#clock = new DriftingClock(env.reference, this.#s.clock);
  }

  /** Makes a new device, as the factory does: key loaded, clock set, fresh battery. */
  static manufacture(opts: ManufactureOptions): CodeDisplayFirmware {
    if (typeof opts !== 'object' || opts === null) throw new TypeError('options must be an object');
    const serial = checkSerial(opts.serial);
    if (typeof opts.reference?.now !== 'function') throw new TypeError('reference must be a Clock');
    const now = referenceNow(opts.reference);
    let key;
    if (opts.key === undefined) {
      const random = opts.random ?? cryptoRandom;
      const secret = random(20);
      if (!(secret instanceof Uint8Array) || secret.length !== 20) {
        throw new TypeError('random(20) must return 20 bytes');
      }
      key = storeKey({
        serial,
        type: 'totp',
        secret,
        algorithm: 'SHA1',
        digits: 6,
        period: 30,
        t0: 0,
      });
    } else {
      key = storeKey(opts.key);
      if (opts.key.serial !== undefined && opts.key.serial !== '' && opts.key.serial !== serial) {
        throw new DeviceError('serial-mismatch', 'key.serial differs from the serial given');
      }
    }
    const deviceTime = opts.deviceTime ?? now;
    checkDeviceTime(deviceTime);
    const driftPpm = opts.driftPpm ?? 0;
    checkPpm(driftPpm);
    const model = checkBatteryModel({ ...defaultBatteryModel, ...opts.battery });
    const settings = { ...defaultCodeDisplaySettings, ...opts.settings };
    const state: CodeDisplayState = {
      serial,
      firmwareVersion: CODE_DISPLAY_FIRMWARE_VERSION,
      manufacturedAt: now,
      key,
      clock: { anchorReference: now, anchorDevice: deviceTime, driftPpm },
      battery: freshBattery(model, now),
      settings,
      display: null,
      counters: { presses: 0, clockSets: 0 },
    };
    // The constructor checks everything again, settings included, with the same messages.
    try {
      return new CodeDisplayFirmware(state, { reference: opts.reference });
    } catch (e) {
      if (e instanceof DeviceError && e.code === 'bad-state')
        throw new DeviceError('bad-option', e.message);
      throw e;
    }
  }

  /** The serial number printed on the back. */
  get serial(): string {
    return this.#s.serial;
  }

  /** The button: shows the current code (see the class comment for the rules). */
  press(): LcdFrame {
    const ref = referenceNow(this.#reference);
    const battery = drainTo(this.#s.battery, ref);
    const deviceTime = this.#clock.now();
    if (viewBattery(battery, ref).empty) {
      this.#s = { ...this.#s, battery, display: null };
      return blank(deviceTime);
    }
    const code = this.#codeAt(deviceTime);
    this.#s = {
      ...this.#s,
      battery: spend(battery, battery.model.pressCostUah),
      display: { code, shownAt: deviceTime },
      counters: { ...this.#s.counters, presses: this.#s.counters.presses + 1 },
    };
    return this.lcd();
  }

  /** What the LCD shows now. Reading it changes nothing. */
  lcd(): LcdFrame {
    const ref = referenceNow(this.#reference);
    const deviceTime = this.#clock.now();
    const d = this.#s.display;
    const battery = viewBattery(this.#s.battery, ref);
    const age = d === null ? -1 : deviceTime - d.shownAt;
    // The press that showed the code paid for its whole timeout, so a cell that ran empty on
    // that very press still shows it; the next press finds the device dead.
    if (d === null || age < 0 || age >= this.#s.settings.displayTimeoutMs) {
      return blank(deviceTime);
    }
    return { on: true, text: lcdText(d.code), code: d.code, lowBattery: battery.low, deviceTime };
  }

  /** The device's report on itself. Reading it changes nothing. */
  status(): CodeDisplayStatus {
    const ref = referenceNow(this.#reference);
    const deviceTime = this.#clock.now();
    const b = viewBattery(this.#s.battery, ref);
    const s = this.#s;
    return {
      serial: s.serial,
      firmwareVersion: s.firmwareVersion,
      algorithm: s.key.algorithm,
      digits: s.key.digits,
      period: s.key.period,
      deviceTime,
      referenceTime: ref,
      offsetMs: deviceTime - ref,
      driftPpm: s.clock.driftPpm,
      batteryPercent: b.percent,
      batteryUah: b.remainingUah,
      lowBattery: b.low,
      batteryEmpty: b.empty,
      displayOn: this.lcd().on,
      displayTimeoutMs: s.settings.displayTimeoutMs,
      presses: s.counters.presses,
      clockSets: s.counters.clockSets,
    };
  }

  /** Sets the device clock to `deviceMs` now (the clock-setting command). Blanks the LCD. */
  setClock(deviceMs: number): void {
    checkDeviceTime(deviceMs);
    referenceNow(this.#reference);
    this.#clock.set(deviceMs);
    this.#s = {
      ...this.#s,
      clock: this.#clock.state(),
      display: null,
      counters: { ...this.#s.counters, clockSets: this.#s.counters.clockSets + 1 },
    };
  }

  /** Sets the crystal's rate error (ppm) from now on; the device time stays continuous. */
  setDrift(ppm: number): void {
    checkPpm(ppm);
    const clock = {
      anchorReference: referenceNow(this.#reference),
      anchorDevice: this.#clock.now(),
      driftPpm: ppm,
    };
    this.#clock = new DriftingClock(this.#reference, clock);
    this.#s = { ...this.#s, clock };
  }

  /** Changes settings (a service command); checked like a device file. */
  configure(settings: Partial<CodeDisplaySettings>): void {
    if (typeof settings !== 'object' || settings === null)
      throw new TypeError('settings must be an object');
    const next = { ...this.#s, settings: { ...this.#s.settings, ...settings } };
    try {
      this.#s = checkCodeDisplayState(next, 'bad-option');
    } catch (e) {
      throw e instanceof DeviceError ? new DeviceError('bad-option', e.message) : e;
    }
  }

  /** A fresh cell of the same model, as a service technician would fit. */
  replaceBattery(): void {
    const ref = referenceNow(this.#reference);
    this.#s = { ...this.#s, battery: freshBattery(this.#s.battery.model, ref), display: null };
  }

  /** The state to persist: plain JSON-able data, a copy. */
  snapshot(): CodeDisplayState {
    return structuredClone(this.#s);
  }

  /** The key inside (for the host's seed export; a real token never gives it out). */
  exportKey(): OtpKey {
    return keyOf(this.#s.serial, this.#s.key);
  }

  #codeAt(deviceTime: number): string {
    const k = this.#s.key;
    const secret = fromHex(k.secretHex);
    try {
      return generateTotp(
        {
          secret,
          algorithm: k.algorithm,
          digits: k.digits,
          period: k.period,
          t0: k.t0,
        },
        deviceTime,
      );
    } catch (e) {
      if (e instanceof OtpError && e.code === 'bad-time') {
        throw new DeviceError(
          'clock-invalid',
          "the device clock is before the key's T0; set the clock",
          { cause: e },
        );
      }
      throw e;
    } finally {
      // The key lives in the state as hex; this working copy need not outlive the HMAC.
      wipe(secret);
    }
  }
}

function blank(deviceTime: number): LcdFrame {
  return { on: false, text: '', code: null, lowBattery: false, deviceTime };
}

function referenceNow(reference: Clock): number {
  const t = reference.now();
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 0 || t > MAX_TIME_MS) {
    throw new DeviceError('bad-time', 'the reference clock gave a time outside 0..8.64e15 ms');
  }
  return t;
}

function checkDeviceTime(ms: unknown): asserts ms is number {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > MAX_TIME_MS) {
    throw new DeviceError('bad-time', 'device time must be a number of ms from 0 to 8.64e15');
  }
}

function checkPpm(ppm: unknown): asserts ppm is number {
  if (typeof ppm !== 'number' || !Number.isFinite(ppm) || Math.abs(ppm) > 1e6) {
    throw new DeviceError('bad-drift', 'driftPpm must be a number from -1e6 to 1e6');
  }
}
