/** The code display's persistent state ("flash"): plain JSON-able data, and its full validation. */
import type { DriftingClockState } from '../../src/core/clock.js';
import { fromHex, toHex } from '../../src/core/bytes.js';
import { DeviceError } from '../../src/core/errors.js';
import { HashAlgorithms, type HashAlgorithm, type OtpKey } from '../../src/otp/types.js';
import { type BatteryState, MAX_TIME_MS, checkBatteryState } from '../common/battery.js';

/** Version of the firmware this module emulates; kept in the state it writes. */
export const CODE_DISPLAY_FIRMWARE_VERSION = '1.0.0';

/** The TOTP key as the device keeps it: the secret in hex, the rest public. */
export interface StoredTotpKey {
  readonly type: 'totp';
  /** The raw secret, lower-case hex. */
  readonly secretHex: string;
  readonly algorithm: HashAlgorithm;
  readonly digits: number;
  /** Time step in seconds. */
  readonly period: number;
  /** T0 in Unix seconds. */
  readonly t0: number;
}

/** The code on the screen, and when (device time) it was put there. */
export interface DisplayState {
  readonly code: string;
  /** Device time (ms) of the press that showed it. */
  readonly shownAt: number;
}

/** User-adjustable settings (not published by MitID: our choices, documented in the README). */
export interface CodeDisplaySettings {
  /** How long a code stays on the LCD after a press (device-clock ms). Default 30 000. */
  readonly displayTimeoutMs: number;
}

/** Counters the device keeps. */
export interface CodeDisplayCounters {
  /** Presses that showed a code (a dead device counts nothing). */
  readonly presses: number;
  /** Times the clock was set by command. */
  readonly clockSets: number;
}

/** Everything a code display needs to resume after a restart. */
export interface CodeDisplayState {
  readonly serial: string;
  readonly firmwareVersion: string;
  /** Reference time (ms) when the device was made. */
  readonly manufacturedAt: number;
  readonly key: StoredTotpKey;
  readonly clock: DriftingClockState;
  readonly battery: BatteryState;
  readonly settings: CodeDisplaySettings;
  /** The code showing, or null when the LCD is blank (it also blanks by timeout). */
  readonly display: DisplayState | null;
  readonly counters: CodeDisplayCounters;
}

/** Default {@link CodeDisplaySettings}. */
export const defaultCodeDisplaySettings: CodeDisplaySettings = Object.freeze({
  displayTimeoutMs: 30_000,
});

/** Serial numbers we accept: 1 to 32 letters, digits or dashes (the format is not published). */
export const SERIAL_PATTERN = /^[A-Za-z0-9][A-Za-z0-9-]{0,31}$/;

/** Secrets from 10 bytes (80-bit keys real vendors still ship) to 128 bytes. */
export const MIN_SECRET_BYTES = 10;
export const MAX_SECRET_BYTES = 128;

/** Throws DeviceError(`code`) unless `serial` is a well-formed serial number. */
export function checkSerial(serial: unknown, code = 'bad-serial'): string {
  if (typeof serial !== 'string' || !SERIAL_PATTERN.test(serial)) {
    throw new DeviceError(
      code,
      'serial must be 1-32 letters, digits or dashes, starting with a letter or digit',
    );
  }
  return serial;
}

/**
 * Turns an OtpKey into what the device stores, checking every field a code display can use
 * (TOTP only, 6-8 digits). Messages name fields, never the secret.
 */
export function storeKey(key: OtpKey, code = 'bad-key'): StoredTotpKey {
  if (typeof key !== 'object' || key === null)
    throw new DeviceError(code, 'key must be an OtpKey object');
  if (key.type !== 'totp')
    throw new DeviceError(code, 'a code display needs a TOTP key (type "totp")');
  if (!(key.secret instanceof Uint8Array))
    throw new DeviceError(code, 'key.secret must be a Uint8Array');
  return checkStoredKey(
    {
      type: 'totp',
      secretHex: toHex(key.secret),
      algorithm: key.algorithm ?? 'SHA1',
      digits: key.digits ?? 6,
      period: key.period ?? 30,
      t0: key.t0 ?? 0,
    },
    code,
  );
}

/** The OtpKey of a stored key (a fresh copy of the secret). */
export function keyOf(serial: string, k: StoredTotpKey): OtpKey {
  return {
    serial,
    type: 'totp',
    secret: fromHex(k.secretHex),
    algorithm: k.algorithm,
    digits: k.digits,
    period: k.period,
    t0: k.t0,
  };
}

function obj(x: unknown, name: string, code: string): Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) {
    throw new DeviceError(code, `${name} must be an object`);
  }
  return x as Record<string, unknown>;
}

function int(x: unknown, min: number, max: number, name: string, code: string): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) {
    throw new DeviceError(code, `${name} must be a whole number from ${min} to ${max}`);
  }
  return x;
}

function time(x: unknown, name: string, code: string): number {
  if (typeof x !== 'number' || !Number.isFinite(x) || x < 0 || x > MAX_TIME_MS) {
    throw new DeviceError(code, `${name} must be a time in ms since the epoch`);
  }
  return x;
}

/** Checks a stored key; throws DeviceError(`code`) naming the field (never its value). */
export function checkStoredKey(x: unknown, code: string): StoredTotpKey {
  const k = obj(x, 'key', code);
  if (k.type !== 'totp') throw new DeviceError(code, 'key.type must be "totp"');
  const hex = k.secretHex;
  if (typeof hex !== 'string' || hex.length % 2 !== 0 || !/^[0-9a-f]*$/.test(hex)) {
    throw new DeviceError(code, 'key.secretHex must be lower-case hex');
  }
  const bytes = hex.length / 2;
  if (bytes < MIN_SECRET_BYTES || bytes > MAX_SECRET_BYTES) {
    throw new DeviceError(
      code,
      `key secret must be ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} bytes`,
    );
  }
  if (
    typeof k.algorithm !== 'string' ||
    !(HashAlgorithms as readonly string[]).includes(k.algorithm)
  ) {
    throw new DeviceError(code, `key.algorithm must be one of ${HashAlgorithms.join(', ')}`);
  }
  return {
    type: 'totp',
    secretHex: hex,
    algorithm: k.algorithm as HashAlgorithm,
    digits: int(k.digits, 6, 8, 'key.digits', code),
    period: int(k.period, 1, 86_400, 'key.period', code),
    t0: int(k.t0, 0, Math.floor(MAX_TIME_MS / 1000), 'key.t0', code),
  };
}

/**
 * Checks a whole state (from a device file or a caller) and returns a deep copy of it; throws
 * DeviceError(`code`) naming the first bad field. The copy holds only the known fields.
 */
export function checkCodeDisplayState(x: unknown, code = 'bad-state'): CodeDisplayState {
  const s = obj(x, 'state', code);
  const serial = checkSerial(s.serial, code);
  if (
    typeof s.firmwareVersion !== 'string' ||
    !/^\d{1,4}\.\d{1,4}\.\d{1,4}$/.test(s.firmwareVersion)
  ) {
    throw new DeviceError(code, 'firmwareVersion must look like 1.0.0');
  }
  const key = checkStoredKey(s.key, code);
  const c = obj(s.clock, 'clock', code);
  const driftPpm = c.driftPpm;
  if (typeof driftPpm !== 'number' || !Number.isFinite(driftPpm) || Math.abs(driftPpm) > 1e6) {
    throw new DeviceError(code, 'clock.driftPpm must be a number from -1e6 to 1e6');
  }
  const clock: DriftingClockState = {
    anchorReference: time(c.anchorReference, 'clock.anchorReference', code),
    anchorDevice: time(c.anchorDevice, 'clock.anchorDevice', code),
    driftPpm,
  };
  const battery = checkBatteryState(s.battery, code);
  const st = obj(s.settings, 'settings', code);
  const settings: CodeDisplaySettings = {
    displayTimeoutMs: int(st.displayTimeoutMs, 1_000, 3_600_000, 'settings.displayTimeoutMs', code),
  };
  let display: DisplayState | null = null;
  if (s.display !== null) {
    const d = obj(s.display, 'display', code);
    if (typeof d.code !== 'string' || d.code.length !== key.digits || !/^\d+$/.test(d.code)) {
      throw new DeviceError(code, 'display.code must be a string of key.digits digits');
    }
    display = { code: d.code, shownAt: time(d.shownAt, 'display.shownAt', code) };
  }
  const n = obj(s.counters, 'counters', code);
  const counters: CodeDisplayCounters = {
    presses: int(n.presses, 0, Number.MAX_SAFE_INTEGER, 'counters.presses', code),
    clockSets: int(n.clockSets, 0, Number.MAX_SAFE_INTEGER, 'counters.clockSets', code),
  };
  return {
    serial,
    firmwareVersion: s.firmwareVersion,
    manufacturedAt: time(s.manufacturedAt, 'manufacturedAt', code),
    key,
    clock,
    battery,
    settings,
    display,
    counters,
  };
}
