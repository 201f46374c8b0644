/** A coulomb-counting battery model shared by the battery-powered tokens (code display, audio reader). */
import { DeviceError } from '../../src/core/errors.js';

const MS_PER_DAY = 86_400_000;

/**
 * The fixed parameters of a battery and its load, in micro-ampere-hours (µAh). The defaults are
 * ours (no vendor publishes them): a CR2032 coin cell of 220 mAh, 10 µAh for one press (about
 * 1 mA for the 30 s the LCD shows, plus the HMAC), and 50 µAh a day for sleep current and
 * self-discharge, which gives a token that idles for about 12 years or shows some 20 000 codes.
 */
export interface BatteryModel {
  /** Charge of a fresh cell (µAh). */
  readonly capacityUah: number;
  /** Charge one button press costs (µAh). */
  readonly pressCostUah: number;
  /** Charge lost per day of true time, pressed or not (µAh). */
  readonly idleUahPerDay: number;
  /** Below this percentage the LCD shows the low-battery sign. */
  readonly lowPercent: number;
}

/** The model of a fresh CR2032 coin cell (see {@link BatteryModel}). */
export const defaultBatteryModel: BatteryModel = Object.freeze({
  capacityUah: 220_000,
  pressCostUah: 10,
  idleUahPerDay: 50,
  lowPercent: 10,
});

/** A battery's state: its model, the charge left, and the true time it was last brought up to date. */
export interface BatteryState {
  readonly model: BatteryModel;
  /** Charge left (µAh), never negative. */
  readonly remainingUah: number;
  /** Reference time (ms) up to which idle drain has been counted. */
  readonly lastReference: number;
}

/** What a battery looks like from outside at one moment. */
export interface BatteryView {
  readonly remainingUah: number;
  /** 0 to 100, one decimal. */
  readonly percent: number;
  /** True below {@link BatteryModel.lowPercent}. */
  readonly low: boolean;
  /** True when the cell cannot power one more press: the device is dead. */
  readonly empty: boolean;
}

/** A fresh battery at reference time `now`. */
export function freshBattery(model: BatteryModel, now: number): BatteryState {
  return {
    model: { ...checkBatteryModel(model) },
    remainingUah: model.capacityUah,
    lastReference: now,
  };
}

/**
 * The battery brought up to reference time `now`. Idle drain counts true time only forwards: a
 * reference that steps back (a test pressing "at" an earlier time) drains nothing, so charge
 * never comes back.
 */
export function drainTo(b: BatteryState, now: number): BatteryState {
  const elapsed = now - b.lastReference;
  if (!(elapsed > 0)) return b;
  const drained = (elapsed / MS_PER_DAY) * b.model.idleUahPerDay;
  return { ...b, remainingUah: Math.max(0, b.remainingUah - drained), lastReference: now };
}

/** The battery after spending `uah` (never below zero). */
export function spend(b: BatteryState, uah: number): BatteryState {
  return { ...b, remainingUah: Math.max(0, b.remainingUah - uah) };
}

/** What the battery looks like at reference time `now`, without changing it. */
export function viewBattery(b: BatteryState, now: number): BatteryView {
  const { remainingUah, model } = drainTo(b, now);
  const percent = Math.round((remainingUah / model.capacityUah) * 1000) / 10;
  return {
    remainingUah,
    percent,
    low: percent < model.lowPercent,
    empty: remainingUah < model.pressCostUah,
  };
}

/**
 * Checks a battery model from outside (options or a device file); throws DeviceError with `code`
 * naming the field.
 */
export function checkBatteryModel(m: unknown, code = 'bad-option'): BatteryModel {
  if (typeof m !== 'object' || m === null)
    throw new DeviceError(code, 'battery model must be an object');
  const r = m as Record<string, unknown>;
  const num = (name: keyof BatteryModel, min: number, max: number): number => {
    const v = r[name];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
      throw new DeviceError(code, `battery.${name} must be a number from ${min} to ${max}`);
    }
    return v;
  };
  const model: BatteryModel = {
    capacityUah: num('capacityUah', 1, 1e9),
    pressCostUah: num('pressCostUah', 0, 1e9),
    idleUahPerDay: num('idleUahPerDay', 0, 1e9),
    lowPercent: num('lowPercent', 0, 100),
  };
  return model;
}

/** Checks a stored battery state; throws DeviceError with `code` naming the field. */
export function checkBatteryState(b: unknown, code: string): BatteryState {
  if (typeof b !== 'object' || b === null || Array.isArray(b)) {
    throw new DeviceError(code, 'battery must be an object');
  }
  const r = b as Record<string, unknown>;
  const model = checkBatteryModel(r.model, code);
  const remaining = r.remainingUah;
  if (
    typeof remaining !== 'number' ||
    !Number.isFinite(remaining) ||
    remaining < 0 ||
    remaining > model.capacityUah
  ) {
    throw new DeviceError(code, 'battery.remainingUah must be a number from 0 to the capacity');
  }
  const last = r.lastReference;
  if (typeof last !== 'number' || !Number.isFinite(last) || last < 0 || last > MAX_TIME_MS) {
    throw new DeviceError(code, 'battery.lastReference must be a time in ms');
  }
  return { model, remainingUah: remaining, lastReference: last };
}

/** The largest time ECMAScript dates reach (ms since the epoch); times beyond are refused. */
export const MAX_TIME_MS = 8.64e15;
