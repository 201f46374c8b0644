/**
 * The audio code reader's firmware: the code display's TOTP token (composed, not copied) plus the
 * reader's keys, settings and speech. It stays pure: instead of audio it emits utterances (what
 * to say, in which language, how fast and how loud, to which output), which the host renders.
 */
import type { Clock } from '../../src/core/clock.js';
import { DeviceError } from '../../src/core/errors.js';
import type { OtpKey } from '../../src/otp/types.js';
import {
  CodeDisplayFirmware,
  type CodeDisplayStatus,
  type LcdFrame,
  type ManufactureOptions,
} from '../code-display/firmware.js';
import {
  FunctionKeys,
  HEADPHONE_SAFE_VOLUME,
  MAX_VOLUME,
  MIN_VOLUME,
  RATE_STEPS,
  messageText,
  volumeGain,
  type FunctionKey,
  type MessageId,
  type ReaderFunction,
} from './layout.js';
import {
  AUDIO_READER_FIRMWARE_VERSION,
  type AudioReaderSettings,
  type AudioReaderState,
  type LastMessage,
  type ReaderPart,
  checkAudioReaderSettings,
  checkAudioReaderState,
  defaultAudioReaderSettings,
} from './state.js';

/** Something the reader says: the host renders it with a speech engine. */
export interface Utterance {
  /** Increases with every utterance of this device. */
  readonly id: number;
  readonly kind: 'code' | 'message';
  /** The code's digits (kind 'code'). */
  readonly code?: string;
  /** Which message (kind 'message'). */
  readonly message?: MessageId;
  /** The text to speak: a code's digits separated by spaces, or the message. */
  readonly text: string;
  readonly lang: 'da' | 'en';
  /** Words (digits) per minute. */
  readonly rateWpm: number;
  /** Volume step 1-8, and its linear gain. */
  readonly volume: number;
  readonly gain: number;
  /** Pause between digits (codes). */
  readonly pauseMs: number;
  /** A short tone after the last digit (codes only). */
  readonly endTone: boolean;
  /** Headphones when plugged in (the speaker is then muted: private listening), else the speaker. */
  readonly output: 'speaker' | 'headphones';
}

/** The keys and events the reader understands. */
export type ReaderKey =
  'red' | 'red-long' | `fn+${FunctionKey}` | FunctionKey | 'jack-in' | 'jack-out' | 'done';

/** What one key did. */
export interface KeyOutcome {
  readonly key: ReaderKey;
  /**
   * What the reader did: 'power-on' (and read the code), 'read', 'stop' (speech interrupted and
   * nothing else), 'power-off', a function name ('repeat', 'slower', ...), 'sticky-on',
   * 'sticky-off', 'headphones-in', 'headphones-out', 'speech-ended', 'latched' (sticky mode
   * waits for a number key), 'ignored' (a number key without the function key), 'off' (the
   * reader is off: nothing happens), or 'dead' (empty battery).
   */
  readonly action: string;
  /** The utterance this key cut short, if it was still speaking. */
  readonly interrupted: number | null;
  readonly utterances: readonly Utterance[];
  readonly lcd: LcdFrame;
}

/** The reader's report on itself: the token's status plus the reader's settings. */
export interface AudioReaderStatus extends CodeDisplayStatus {
  readonly on: boolean;
  readonly lang: 'da' | 'en';
  readonly rateWpm: number;
  readonly rateStep: number;
  readonly volume: number;
  readonly sticky: boolean;
  readonly latched: boolean;
  readonly headphones: boolean;
  readonly speaking: number | null;
  readonly pauseMs: number;
  readonly keys: number;
  readonly utterances: number;
  readonly interruptions: number;
}

/** Options of {@link AudioReaderFirmware.manufacture}: the token's, plus the reader's settings. */
export interface AudioReaderManufactureOptions extends Omit<ManufactureOptions, 'settings'> {
  readonly settings?: Partial<AudioReaderSettings>;
  /** The token's display timeout (ms). */
  readonly displayTimeoutMs?: number;
}

const KEY_PATTERN = /^(red|red-long|fn\+[0-9]|[0-9]|jack-in|jack-out|done)$/;

/** Parses one key name; DeviceError('bad-key-name') naming the accepted forms. */
export function parseReaderKey(s: string): ReaderKey {
  if (typeof s !== 'string' || !KEY_PATTERN.test(s)) {
    throw new DeviceError(
      'bad-key-name',
      `unknown key '${String(s).slice(0, 20)}': use red, red-long, fn+0..fn+9, 0..9, jack-in, jack-out or done`,
    );
  }
  return s as ReaderKey;
}

/**
 * The audio code reader (kodeoplæser). Behaviour (docs/audio-reader.md is the user's version):
 *
 * - red: when off, turns on and reads the code aloud; when on, reads the code aloud (the code
 *   display's rules: a new code once the time step has moved on); while speaking, stops the
 *   speech and does nothing else. In sticky mode it also latches the function key.
 * - red-long (held 3 s): when on, says goodbye and turns off; when off, turns on and toggles
 *   sticky mode (a single key, so sticky mode needs no two keys at once either).
 * - fn+N (hold red, press N) runs function N (layout.ts); in sticky mode red then N does the same.
 *   Any key while speaking first interrupts the speech.
 * - fn+0 replays the last message (the last code or information), with today's rate and volume.
 * - Feedback words ("faster", "louder", ...) are spoken at the new setting and do not replace
 *   the message fn+0 replays.
 * - jack-in: speech goes to the headphones only (speaker muted) and a loud volume is brought
 *   down to a safe step; jack-out: back to the speaker.
 * - The reader turns off `autoOffMs` after its last key.
 */
export class AudioReaderFirmware {
  readonly #token: CodeDisplayFirmware;
  #r: ReaderPart;

  /** Resumes a reader from `state` (checked; DeviceError 'bad-state' when it is not valid). */
  constructor(state: AudioReaderState, env: { readonly reference: Clock }) {
    const s = checkAudioReaderState(state, 'bad-state');
    this.#token = new CodeDisplayFirmware(s.token, env);
    this.#r = s.reader;
  }

  /** Makes a new reader, as the factory does (off, default settings unless given). */
  static manufacture(opts: AudioReaderManufactureOptions): AudioReaderFirmware {
    if (typeof opts !== 'object' || opts === null) throw new TypeError('options must be an object');
    const { settings, displayTimeoutMs, ...tokenOpts } = opts;
    const token = CodeDisplayFirmware.manufacture({
      ...tokenOpts,
      ...(displayTimeoutMs !== undefined ? { settings: { displayTimeoutMs } } : {}),
    });
    let readerSettings: AudioReaderSettings;
    try {
      readerSettings = checkAudioReaderSettings(
        { ...defaultAudioReaderSettings, ...settings },
        'bad-option',
      );
    } catch (e) {
      throw e instanceof DeviceError ? new DeviceError('bad-option', e.message) : e;
    }
    const t = token.snapshot();
    const state: AudioReaderState = {
      token: t,
      reader: {
        firmwareVersion: AUDIO_READER_FIRMWARE_VERSION,
        settings: readerSettings,
        power: { on: false, lastActivity: t.clock.anchorDevice },
        headphones: false,
        latched: false,
        speaking: null,
        lastMessage: null,
        counters: { keys: 0, utterances: 0, interruptions: 0 },
      },
    };
    return new AudioReaderFirmware(state, { reference: opts.reference });
  }

  get serial(): string {
    return this.#token.serial;
  }

  /** Presses a key (see the class comment); returns what the reader did. */
  key(name: string): KeyOutcome {
    const key = parseReaderKey(name);
    if (key === 'done') {
      const was = this.#r.speaking;
      this.#r = { ...this.#r, speaking: null };
      return this.#outcome(key, was === null ? 'ignored' : 'speech-ended', null, []);
    }
    if (key === 'jack-in' || key === 'jack-out') return this.#jack(key);
    if (this.#token.status().batteryEmpty) return this.#outcome(key, 'dead', null, []);
    const now = this.#token.status().deviceTime;
    const wasOn = this.#isOn(now);
    this.#r = { ...this.#r, counters: { ...this.#r.counters, keys: this.#r.counters.keys + 1 } };
    // Any key while speaking cuts the speech short first.
    const interrupted = wasOn ? this.#r.speaking : null;
    if (interrupted !== null) {
      this.#r = {
        ...this.#r,
        speaking: null,
        counters: { ...this.#r.counters, interruptions: this.#r.counters.interruptions + 1 },
      };
    }
    if (!wasOn) this.#r = { ...this.#r, speaking: null, latched: false };
    this.#r = { ...this.#r, power: { on: this.#r.power.on, lastActivity: now } };

    if (key === 'red') {
      if (!wasOn) {
        // Sticky mode latches on this press too: red, 3 from off is fn+3 (as red, 3 is when on).
        this.#r = {
          ...this.#r,
          power: { on: true, lastActivity: now },
          latched: this.#r.settings.sticky,
        };
        return this.#readCode(key, 'power-on', interrupted);
      }
      const latched = this.#r.settings.sticky;
      if (interrupted !== null) {
        this.#r = { ...this.#r, latched };
        return this.#outcome(key, 'stop', interrupted, []);
      }
      const out = this.#readCode(key, 'read', interrupted);
      this.#r = { ...this.#r, latched };
      return out;
    }
    if (key === 'red-long') {
      if (wasOn) {
        const u = this.#say('goodbye');
        this.#r = {
          ...this.#r,
          power: { on: false, lastActivity: now },
          latched: false,
          speaking: null,
        };
        return this.#outcome(key, 'power-off', interrupted, [u]);
      }
      this.#r = { ...this.#r, power: { on: true, lastActivity: now } };
      return this.#fn(key, '5', interrupted);
    }
    if (!wasOn) return this.#outcome(key, 'off', null, []);
    if (key.startsWith('fn+')) {
      this.#r = { ...this.#r, latched: false };
      return this.#fn(key, key.slice(3) as FunctionKey, interrupted);
    }
    // A number key alone: a function key only when sticky mode has latched red.
    if (this.#r.latched) {
      this.#r = { ...this.#r, latched: false };
      return this.#fn(key, key as FunctionKey, interrupted);
    }
    return this.#outcome(key, interrupted !== null ? 'stop' : 'ignored', interrupted, []);
  }

  /** The host says the current utterance has been spoken to its end. */
  speechEnded(): void {
    this.#r = { ...this.#r, speaking: null };
  }

  /** What the screen shows (the code display's LCD: the code read aloud is shown too). */
  lcd(): LcdFrame {
    return this.#frame();
  }

  /** The reader's report on itself. */
  status(): AudioReaderStatus {
    const t = this.#token.status();
    const r = this.#r;
    return {
      ...t,
      displayOn: this.#frame().on,
      firmwareVersion: r.firmwareVersion,
      on: this.#isOn(t.deviceTime),
      lang: r.settings.lang,
      rateWpm: RATE_STEPS[r.settings.rateStep]!,
      rateStep: r.settings.rateStep,
      volume: r.settings.volume,
      sticky: r.settings.sticky,
      latched: r.latched,
      headphones: r.headphones,
      speaking: r.speaking,
      pauseMs: r.settings.pauseMs,
      keys: r.counters.keys,
      utterances: r.counters.utterances,
      interruptions: r.counters.interruptions,
    };
  }

  /** Changes settings (a service command), checked like a device file. */
  configure(settings: Partial<AudioReaderSettings>): void {
    if (typeof settings !== 'object' || settings === null)
      throw new TypeError('settings must be an object');
    try {
      const next = checkAudioReaderSettings({ ...this.#r.settings, ...settings }, 'bad-option');
      this.#r = { ...this.#r, settings: next };
    } catch (e) {
      throw e instanceof DeviceError ? new DeviceError('bad-option', e.message) : e;
    }
  }

  /** Sets the device clock (the token's clock-setting command). */
  setClock(deviceMs: number): void {
    this.#token.setClock(deviceMs);
  }

  /** Sets the crystal's rate error (ppm). */
  setDrift(ppm: number): void {
    this.#token.setDrift(ppm);
  }

  replaceBattery(): void {
    this.#token.replaceBattery();
  }

  /** The state to persist (a copy). */
  snapshot(): AudioReaderState {
    return { token: this.#token.snapshot(), reader: structuredClone(this.#r) };
  }

  /** The key inside (for seed export). */
  exportKey(): OtpKey {
    return this.#token.exportKey();
  }

  #isOn(deviceNow: number): boolean {
    const p = this.#r.power;
    const idle = deviceNow - p.lastActivity;
    return p.on && idle >= 0 && idle < this.#r.settings.autoOffMs;
  }

  #jack(key: 'jack-in' | 'jack-out'): KeyOutcome {
    const plug = key === 'jack-in';
    // Switching the output cuts the speech (no code may leak through the speaker).
    const interrupted = this.#r.speaking;
    const volume = plug
      ? Math.min(this.#r.settings.volume, HEADPHONE_SAFE_VOLUME)
      : this.#r.settings.volume;
    this.#r = {
      ...this.#r,
      headphones: plug,
      speaking: null,
      settings: { ...this.#r.settings, volume },
      counters:
        interrupted === null
          ? this.#r.counters
          : { ...this.#r.counters, interruptions: this.#r.counters.interruptions + 1 },
    };
    return this.#outcome(key, plug ? 'headphones-in' : 'headphones-out', interrupted, []);
  }

  #readCode(key: ReaderKey, action: string, interrupted: number | null): KeyOutcome {
    const frame = this.#token.press();
    if (frame.code === null) return this.#outcome(key, 'dead', interrupted, []);
    const code = frame.code;
    this.#r = { ...this.#r, lastMessage: { kind: 'code', code } };
    const out = [this.#utter({ kind: 'code', code })];
    if (frame.lowBattery) out.push(this.#say('battery-low'));
    return this.#outcome(key, action, interrupted, out);
  }

  #fn(key: ReaderKey, digit: FunctionKey, interrupted: number | null): KeyOutcome {
    const fn: ReaderFunction = FunctionKeys[digit];
    const s = this.#r.settings;
    const set = (patch: Partial<AudioReaderSettings>) => {
      this.#r = { ...this.#r, settings: { ...s, ...patch } };
    };
    const said = (id: MessageId, action: string = fn) =>
      this.#outcome(key, action, interrupted, [this.#say(id)]);
    switch (fn) {
      case 'repeat': {
        const last = this.#r.lastMessage;
        if (last === null) return said('no-message');
        return this.#outcome(key, fn, interrupted, [this.#utter(last)]);
      }
      case 'slower':
        if (s.rateStep === 0) return said('slowest');
        set({ rateStep: s.rateStep - 1 });
        return said('slower');
      case 'faster':
        if (s.rateStep === RATE_STEPS.length - 1) return said('fastest');
        set({ rateStep: s.rateStep + 1 });
        return said('faster');
      case 'quieter':
        if (s.volume === MIN_VOLUME) return said('quietest');
        set({ volume: s.volume - 1 });
        return said('quieter');
      case 'louder':
        if (s.volume === MAX_VOLUME) return said('loudest');
        set({ volume: s.volume + 1 });
        return said('louder');
      case 'danish':
        set({ lang: 'da' });
        return said('danish');
      case 'english':
        set({ lang: 'en' });
        return said('english');
      case 'sticky': {
        const on = !s.sticky;
        set({ sticky: on });
        this.#r = { ...this.#r, latched: false };
        return said(on ? 'sticky-on' : 'sticky-off', on ? 'sticky-on' : 'sticky-off');
      }
      case 'settings':
      case 'help': {
        const b = this.#token.status();
        const args: Record<string, number> =
          fn === 'settings'
            ? { rate: s.rateStep + 1, volume: s.volume, battery: Math.round(b.batteryPercent) }
            : {};
        const msg: LastMessage = { kind: 'message', id: fn, args };
        this.#r = { ...this.#r, lastMessage: msg };
        return this.#outcome(key, fn, interrupted, [this.#utter(msg)]);
      }
    }
  }

  #say(id: MessageId): Utterance {
    return this.#utter({ kind: 'message', id, args: {} });
  }

  #utter(m: LastMessage): Utterance {
    const s = this.#r.settings;
    const id = this.#r.counters.utterances + 1;
    this.#r = { ...this.#r, speaking: id, counters: { ...this.#r.counters, utterances: id } };
    const common = {
      id,
      lang: s.lang,
      rateWpm: RATE_STEPS[s.rateStep]!,
      volume: s.volume,
      gain: volumeGain(s.volume),
      pauseMs: s.pauseMs,
      output: this.#r.headphones ? ('headphones' as const) : ('speaker' as const),
    };
    if (m.kind === 'code') {
      return {
        ...common,
        kind: 'code',
        code: m.code,
        text: m.code.split('').join(' '),
        endTone: true,
      };
    }
    return {
      ...common,
      kind: 'message',
      message: m.id,
      text: messageText(m.id, s.lang, m.args),
      endTone: false,
    };
  }

  #outcome(
    key: ReaderKey,
    action: string,
    interrupted: number | null,
    utterances: Utterance[],
  ): KeyOutcome {
    return { key, action, interrupted, utterances, lcd: this.#frame() };
  }

  /** The token's LCD while the reader is on; a blank screen once it is off (held red, auto-off). */
  #frame(): LcdFrame {
    const frame = this.#token.lcd();
    if (!frame.on || this.#isOn(frame.deviceTime)) return frame;
    return { on: false, text: '', code: null, lowBattery: false, deviceTime: frame.deviceTime };
  }
}
