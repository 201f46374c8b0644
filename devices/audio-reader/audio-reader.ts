/** The audio code reader as host software sees it: an Authenticator whose proof is the code it speaks, WAV attached. */
import { randomBytes } from 'node:crypto';
import type {
  Authenticator,
  OtpBindRequest,
  OtpBindResponse,
  OtpChallenge,
  OtpProof,
} from '../../src/core/authenticator.js';
import type { Clock } from '../../src/core/clock.js';
import { DeviceError } from '../../src/core/errors.js';
import type { OtpKey } from '../../src/otp/types.js';
import { CodeSpeaker, type TimelineEntry } from '../../src/audio/code-speech.js';
import { applyGain, trimSilence } from '../../src/audio/dsp.js';
import { createSpeechEngine } from '../../src/audio/engines/index.js';
import { encodeWav, type Pcm } from '../../src/audio/wav.js';
import type { BatteryModel } from '../../firmware-sim/common/battery.js';
import { MAX_TIME_MS } from '../../firmware-sim/common/battery.js';
import type { LcdFrame } from '../../firmware-sim/code-display/firmware.js';
import {
  AudioReaderFirmware,
  type AudioReaderSettings,
  type AudioReaderState,
  type AudioReaderStatus,
  type KeyOutcome,
  type Utterance,
  checkAudioReaderState,
} from '../../firmware-sim/audio-reader/index.js';
import { type DeviceFileSchema, readDeviceFile, writeDeviceFile } from '../device-file.js';
import { checkReference, checkRequest } from '../options.js';

/** How an audio reader's state sits in its device file: `token` and `reader` beside the header. */
export const audioReaderFileSchema: DeviceFileSchema<'audio-reader', AudioReaderState> = {
  kind: 'audio-reader',
  parse: (body) => checkAudioReaderState(body, 'bad-device-file'),
};

/** Options of {@link AudioReader.create}. */
export interface AudioReaderCreateOptions {
  readonly serial: string;
  /** Where the device file goes; it must not exist yet. */
  readonly out: string;
  /** The TOTP key; default: a random 20-byte SHA1 key, 6 digits, 30 s. */
  readonly key?: OtpKey;
  /** The language it speaks at first (default Danish). */
  readonly lang?: 'da' | 'en';
  readonly settings?: Partial<AudioReaderSettings>;
  readonly reference?: Clock;
  readonly driftPpm?: number;
  readonly deviceTime?: number;
  readonly battery?: Partial<BatteryModel>;
  /** Renders what the reader says; default: the embedded eSpeak NG, shared. */
  readonly speech?: CodeSpeaker;
}

/** Options of {@link AudioReader.open}. */
export interface AudioReaderOpenOptions {
  readonly reference?: Clock;
  readonly speech?: CodeSpeaker;
}

/** An utterance made audible. */
export interface RenderedUtterance {
  readonly utterance: Utterance;
  readonly pcm: Pcm;
  /** Where each digit and the end tone are (codes only). */
  readonly timeline: readonly TimelineEntry[];
}

let sharedSpeech: CodeSpeaker | undefined;

/** The shared speaker over the embedded engine (made on first use). */
export function defaultReaderSpeech(): CodeSpeaker {
  return (sharedSpeech ??= new CodeSpeaker(createSpeechEngine('espeak-ng-wasm')));
}

/**
 * A virtual audio code reader (kodeoplæser) kept in a device file. Every key is saved before it
 * returns. Methods that take `at` (host ms) act as if the key were pressed then, exactly as the
 * code display's do.
 */
export class AudioReader implements Authenticator<'audio-reader'> {
  readonly kind = 'audio-reader' as const;
  readonly serial: string;
  readonly path: string;
  readonly speech: CodeSpeaker;
  readonly #fw: AudioReaderFirmware;
  readonly #base: Clock;
  #at: number | undefined;
  #closed = false;
  #writes: Promise<void> = Promise.resolve();

  private constructor(
    path: string,
    state: AudioReaderState,
    reference: Clock,
    speech: CodeSpeaker | undefined,
  ) {
    this.path = path;
    this.#base = reference;
    const ref: Clock = { now: () => this.#at ?? this.#base.now() };
    this.#fw = new AudioReaderFirmware(state, { reference: ref });
    this.serial = this.#fw.serial;
    this.speech = speech ?? defaultReaderSpeech();
  }

  /** Makes a new reader and its device file (refusing to replace an existing one). */
  static async create(options: AudioReaderCreateOptions): Promise<AudioReader> {
    if (typeof options !== 'object' || options === null)
      throw new DeviceError('bad-option', 'options must be an object');
    const reference = checkReference(options.reference);
    if (options.lang !== undefined && options.lang !== 'da' && options.lang !== 'en') {
      throw new DeviceError('bad-option', 'lang must be "da" or "en"');
    }
    const fw = AudioReaderFirmware.manufacture({
      serial: options.serial,
      key: options.key,
      reference,
      driftPpm: options.driftPpm,
      deviceTime: options.deviceTime,
      battery: options.battery,
      settings: { ...options.settings, ...(options.lang ? { lang: options.lang } : {}) },
      random: (n) => new Uint8Array(randomBytes(n)),
    });
    const state = fw.snapshot();
    await writeDeviceFile(
      options.out,
      { kind: 'audio-reader', serial: fw.serial, ...state },
      { exclusive: true },
    );
    return new AudioReader(options.out, state, reference, options.speech);
  }

  /** Opens a reader from its device file. */
  static async open(path: string, options: AudioReaderOpenOptions = {}): Promise<AudioReader> {
    const reference = checkReference(options?.reference);
    const file = await readDeviceFile(path, audioReaderFileSchema);
    return new AudioReader(
      path,
      checkAudioReaderState(file, 'bad-device-file'),
      reference,
      options.speech,
    );
  }

  /** Makes a new reader around an imported key (serial from `key.serial`). */
  static async fromKey(
    key: OtpKey,
    out: string,
    options: Omit<AudioReaderCreateOptions, 'serial' | 'key' | 'out'> = {},
  ): Promise<AudioReader> {
    if (typeof key !== 'object' || key === null)
      throw new DeviceError('bad-key', 'key must be an OtpKey object');
    return AudioReader.create({ ...options, serial: key.serial, key, out });
  }

  /**
   * The red key, as the code display's button: reads the code aloud (the utterance is not
   * rendered here; see {@link speak}) and returns the screen. Speech still running is let finish.
   */
  async press(at?: number): Promise<LcdFrame> {
    const o = this.#with(at, () => {
      this.#fw.speechEnded();
      const out = this.#fw.key('red');
      // Nothing is rendered here; the user hears it out before the next command.
      this.#fw.speechEnded();
      return out;
    });
    await this.#save();
    return o.lcd;
  }

  /** Lets the speech in progress finish (the host played or wrote all of it); saved. */
  async finishSpeech(): Promise<void> {
    this.#with(undefined, () => this.#fw.speechEnded());
    await this.#save();
  }

  /** Presses one key (see AudioReaderFirmware) at host time `at`; saved. */
  async key(name: string, at?: number): Promise<KeyOutcome> {
    const out = this.#with(at, () => this.#fw.key(name));
    await this.#save();
    return out;
  }

  /**
   * Presses keys one after another, as quickly as a hand can: each key comes while the previous
   * answer is still being spoken (so it interrupts it) unless the sequence says `done` between.
   */
  async keys(sequence: string | readonly string[], at?: number): Promise<KeyOutcome[]> {
    const names =
      typeof sequence === 'string' ? sequence.trim().split(/\s+/).filter(Boolean) : [...sequence];
    if (names.length === 0) throw new DeviceError('bad-key-name', 'no keys given');
    const out: KeyOutcome[] = [];
    try {
      for (const n of names) out.push(this.#with(at, () => this.#fw.key(n)));
    } finally {
      await this.#save();
    }
    return out;
  }

  /** Makes an utterance audible with the speech engine (at its rate, volume and language). */
  async render(u: Utterance): Promise<RenderedUtterance> {
    if (u.kind === 'code') {
      const spoken = await this.speech.speakCode(u.code!, {
        lang: u.lang,
        rate: u.rateWpm,
        pauseMs: u.pauseMs,
        endTone: u.endTone ? undefined : false,
      });
      return {
        utterance: u,
        pcm: { samples: applyGain(spoken.pcm.samples, u.gain), sampleRate: spoken.pcm.sampleRate },
        timeline: spoken.timeline,
      };
    }
    const raw = trimSilence(
      await this.speech.engine.render({ text: u.text, lang: u.lang, rate: u.rateWpm }),
    );
    return {
      utterance: u,
      pcm: { samples: applyGain(raw.samples, u.gain), sampleRate: raw.sampleRate },
      timeline: [],
    };
  }

  /**
   * Reads the code aloud (the red key: turning the reader on if it is off) and renders it. Speech
   * still running is first let finish, so the press reads rather than stops. `once` speaks this
   * code in another language or rate without changing the reader's settings.
   */
  async speak(
    at?: number,
    once: { readonly lang?: 'da' | 'en'; readonly rateWpm?: number } = {},
  ): Promise<{
    code: string;
    deviceTime: number;
    wav: Uint8Array;
    rendered: RenderedUtterance;
    outcome: KeyOutcome;
  }> {
    const outcome = this.#with(at, () => {
      this.#fw.speechEnded();
      return this.#fw.key('red');
    });
    await this.#save();
    const u = outcome.utterances.find((x) => x.kind === 'code');
    if (!u || outcome.lcd.code === null)
      throw new DeviceError('battery-empty', 'the battery is empty: the reader stays silent');
    const rendered = await this.render({ ...u, ...once });
    // The whole code has been rendered: as far as the reader knows, it has been said.
    await this.finishSpeech();
    return {
      code: u.code!,
      deviceTime: outcome.lcd.deviceTime,
      wav: encodeWav(rendered.pcm),
      rendered,
      outcome,
    };
  }

  /** Binding: the user reads the serial and the code the reader speaks. */
  async bind(request: OtpBindRequest = {}): Promise<OtpBindResponse> {
    const s = await this.speak(checkRequest(request, 'bind request'));
    return { type: 'otp', serial: this.serial, code: s.code, deviceTime: s.deviceTime };
  }

  /** A login: the code the reader speaks, with the spoken WAV attached. */
  async prove(challenge: OtpChallenge = {}): Promise<OtpProof> {
    const s = await this.speak(checkRequest(challenge, 'challenge'));
    return {
      type: 'otp',
      serial: this.serial,
      code: s.code,
      deviceTime: s.deviceTime,
      audio: s.wav,
    };
  }

  lcd(at?: number): LcdFrame {
    return this.#with(at, () => this.#fw.lcd());
  }

  status(at?: number): AudioReaderStatus {
    return this.#with(at, () => this.#fw.status());
  }

  async configure(settings: Partial<AudioReaderSettings>): Promise<void> {
    this.#with(undefined, () => this.#fw.configure(settings));
    await this.#save();
  }

  async setClock(deviceMs: number, at?: number): Promise<void> {
    this.#with(at, () => this.#fw.setClock(deviceMs));
    await this.#save();
  }

  async setDrift(ppm: number, at?: number): Promise<void> {
    this.#with(at, () => this.#fw.setDrift(ppm));
    await this.#save();
  }

  exportKey(): OtpKey {
    this.#open();
    return this.#fw.exportKey();
  }

  snapshot(): AudioReaderState {
    this.#open();
    return this.#fw.snapshot();
  }

  /** Saves and closes. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) {
      await this.#writes.catch(() => undefined);
      return;
    }
    await this.#save();
    this.#closed = true;
  }

  #open(): void {
    if (this.#closed) throw new DeviceError('closed', `audio reader ${this.serial} is closed`);
  }

  #with<T>(at: number | undefined, fn: () => T): T {
    this.#open();
    if (
      at !== undefined &&
      (typeof at !== 'number' || !Number.isFinite(at) || at < 0 || at > MAX_TIME_MS)
    ) {
      throw new DeviceError('bad-time', 'at must be a host time in ms from 0 to 8.64e15');
    }
    this.#at = at;
    try {
      return fn();
    } finally {
      this.#at = undefined;
    }
  }

  #save(): Promise<void> {
    const state = this.#fw.snapshot();
    const write = this.#writes
      .catch(() => undefined)
      .then(async () => {
        await writeDeviceFile(this.path, { kind: 'audio-reader', serial: this.serial, ...state });
      });
    this.#writes = write;
    return write;
  }
}
