/** The audio reader's persistent state: the code display's token state plus the reader's own. */
import { DeviceError } from '../../src/core/errors.js';
import { type CodeDisplayState, checkCodeDisplayState } from '../code-display/state.js';
import { MAX_TIME_MS } from '../common/battery.js';
import {
  DEFAULT_RATE_STEP,
  DEFAULT_VOLUME,
  MAX_VOLUME,
  MIN_VOLUME,
  MessageIds,
  RATE_STEPS,
  type MessageId,
} from './layout.js';

/** Version of the reader firmware this module emulates. */
export const AUDIO_READER_FIRMWARE_VERSION = '1.0.0';

/** What the user (and a service command) can set. */
export interface AudioReaderSettings {
  readonly lang: 'da' | 'en';
  /** Index into RATE_STEPS. */
  readonly rateStep: number;
  /** 1-8 (VOLUME_STEPS). */
  readonly volume: number;
  /** Sticky function key (EN 301 549 §5.9): red, then a number key, acts as red + that key. */
  readonly sticky: boolean;
  /** Silence between spoken digits (ms). */
  readonly pauseMs: number;
  /** The reader turns itself off this long after the last key (device clock, ms). */
  readonly autoOffMs: number;
}

/** The message fn+0 replays: the last code read, or the last information spoken. */
export type LastMessage =
  | { readonly kind: 'code'; readonly code: string }
  | {
      readonly kind: 'message';
      readonly id: MessageId;
      readonly args: Readonly<Record<string, string | number>>;
    };

/** The reader's own part of the state. */
export interface ReaderPart {
  readonly firmwareVersion: string;
  readonly settings: AudioReaderSettings;
  /** On, and the device time of the last key (for the automatic power-off). */
  readonly power: { readonly on: boolean; readonly lastActivity: number };
  readonly headphones: boolean;
  /** Sticky mode: red was pressed and the next number key is a function key. */
  readonly latched: boolean;
  /** The utterance being spoken, if any (the host says when it ends). */
  readonly speaking: number | null;
  readonly lastMessage: LastMessage | null;
  readonly counters: {
    readonly keys: number;
    readonly utterances: number;
    readonly interruptions: number;
  };
}

/** Everything an audio reader keeps across restarts. */
export interface AudioReaderState {
  readonly token: CodeDisplayState;
  readonly reader: ReaderPart;
}

/** Default {@link AudioReaderSettings}. */
export const defaultAudioReaderSettings: AudioReaderSettings = Object.freeze({
  lang: 'da',
  rateStep: DEFAULT_RATE_STEP,
  volume: DEFAULT_VOLUME,
  sticky: false,
  pauseMs: 400,
  autoOffMs: 120_000,
});

function obj(x: unknown, name: string, code: string): Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x))
    throw new DeviceError(code, `${name} must be an object`);
  return x as Record<string, unknown>;
}
function int(x: unknown, min: number, max: number, name: string, code: string): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) {
    throw new DeviceError(code, `${name} must be a whole number from ${min} to ${max}`);
  }
  return x;
}
function bool(x: unknown, name: string, code: string): boolean {
  if (typeof x !== 'boolean') throw new DeviceError(code, `${name} must be true or false`);
  return x;
}

/** Checks reader settings; DeviceError(`code`) naming the field. */
export function checkAudioReaderSettings(x: unknown, code: string): AudioReaderSettings {
  const s = obj(x, 'settings', code);
  if (s.lang !== 'da' && s.lang !== 'en')
    throw new DeviceError(code, 'settings.lang must be "da" or "en"');
  return {
    lang: s.lang,
    rateStep: int(s.rateStep, 0, RATE_STEPS.length - 1, 'settings.rateStep', code),
    volume: int(s.volume, MIN_VOLUME, MAX_VOLUME, 'settings.volume', code),
    sticky: bool(s.sticky, 'settings.sticky', code),
    pauseMs: int(s.pauseMs, 150, 3000, 'settings.pauseMs', code),
    autoOffMs: int(s.autoOffMs, 5_000, 3_600_000, 'settings.autoOffMs', code),
  };
}

function checkLast(x: unknown, digits: number, code: string): LastMessage | null {
  if (x === null) return null;
  const m = obj(x, 'reader.lastMessage', code);
  if (m.kind === 'code') {
    if (typeof m.code !== 'string' || m.code.length !== digits || !/^\d+$/.test(m.code)) {
      throw new DeviceError(code, 'reader.lastMessage.code must be a string of key.digits digits');
    }
    return { kind: 'code', code: m.code };
  }
  if (m.kind === 'message') {
    if (typeof m.id !== 'string' || !(MessageIds as readonly string[]).includes(m.id)) {
      throw new DeviceError(code, 'reader.lastMessage.id is not a known message');
    }
    const a = obj(m.args, 'reader.lastMessage.args', code);
    const args: Record<string, string | number> = {};
    for (const [k, v] of Object.entries(a)) {
      if (
        !/^\w{1,16}$/.test(k) ||
        !(
          (typeof v === 'number' && Number.isFinite(v)) ||
          (typeof v === 'string' && v.length <= 32)
        )
      ) {
        throw new DeviceError(
          code,
          'reader.lastMessage.args must map names to short strings or numbers',
        );
      }
      args[k] = v;
    }
    return { kind: 'message', id: m.id as MessageId, args };
  }
  throw new DeviceError(code, 'reader.lastMessage.kind must be "code" or "message"');
}

/** Checks a whole reader state (from a device file or a caller); returns a checked deep copy. */
export function checkAudioReaderState(x: unknown, code = 'bad-state'): AudioReaderState {
  const s = obj(x, 'state', code);
  const token = checkCodeDisplayState(s.token, code);
  const r = obj(s.reader, 'reader', code);
  if (
    typeof r.firmwareVersion !== 'string' ||
    !/^\d{1,4}\.\d{1,4}\.\d{1,4}$/.test(r.firmwareVersion)
  ) {
    throw new DeviceError(code, 'reader.firmwareVersion must look like 1.0.0');
  }
  const p = obj(r.power, 'reader.power', code);
  const last = p.lastActivity;
  if (typeof last !== 'number' || !Number.isFinite(last) || last < 0 || last > MAX_TIME_MS) {
    throw new DeviceError(code, 'reader.power.lastActivity must be a time in ms');
  }
  const speaking =
    r.speaking === null
      ? null
      : int(r.speaking, 1, Number.MAX_SAFE_INTEGER, 'reader.speaking', code);
  const n = obj(r.counters, 'reader.counters', code);
  const big = Number.MAX_SAFE_INTEGER;
  return {
    token,
    reader: {
      firmwareVersion: r.firmwareVersion,
      settings: checkAudioReaderSettings(r.settings, code),
      power: { on: bool(p.on, 'reader.power.on', code), lastActivity: last },
      headphones: bool(r.headphones, 'reader.headphones', code),
      latched: bool(r.latched, 'reader.latched', code),
      speaking,
      lastMessage: checkLast(r.lastMessage, token.key.digits, code),
      counters: {
        keys: int(n.keys, 0, big, 'reader.counters.keys', code),
        utterances: int(n.utterances, 0, big, 'reader.counters.utterances', code),
        interruptions: int(n.interruptions, 0, big, 'reader.counters.interruptions', code),
      },
    },
  };
}
