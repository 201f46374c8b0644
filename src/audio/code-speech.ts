/** Codes spoken digit by digit: each digit rendered once per voice and rate, cached, and assembled. */
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, open, rename, unlink, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { AudioError } from './errors.js';
import { sineTone, trimSilence } from './dsp.js';
import {
  DEFAULT_RATE_WPM,
  checkSpeechRequest,
  type SpeechEngine,
  type SpeechLanguage,
} from './speech.js';
import type { Pcm } from './wav.js';

/** The ten digits, as the engine is asked to say them. */
export const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] as const;

/** Pause limits between digits (ms): long enough to count digits, short enough to remember them. */
export const MIN_PAUSE_MS = 150;
export const MAX_PAUSE_MS = 3000;

/** The end tone: a short sine beep after the last digit (our choice; the real tone is not published). */
export interface EndTone {
  readonly freqHz: number;
  readonly ms: number;
  /** 0..1 of full scale. */
  readonly amplitude: number;
}
/** Default {@link EndTone}: 1 kHz for 150 ms at half scale. */
export const DEFAULT_END_TONE: EndTone = Object.freeze({ freqHz: 1000, ms: 150, amplitude: 0.5 });

/** How to speak a code. */
export interface SpeakCodeOptions {
  readonly lang: SpeechLanguage;
  /** Words (digits) per minute, 80-450; default {@link DEFAULT_RATE_WPM}. */
  readonly rate?: number;
  readonly voice?: string;
  /** Silence between digits, ms; default 400. */
  readonly pauseMs?: number;
  /** Silence before the first digit and after the end tone, ms; default 100. */
  readonly edgeMs?: number;
  /** The end tone, or false for none; default {@link DEFAULT_END_TONE}. */
  readonly endTone?: EndTone | false;
  /** Silence between the last digit and the end tone, ms; default: `pauseMs`. */
  readonly tonePauseMs?: number;
}

/** Where each part of a spoken code lies in its audio. */
export interface TimelineEntry {
  readonly kind: 'digit' | 'tone';
  /** The digit, or '' for the tone. */
  readonly digit: string;
  readonly startMs: number;
  readonly endMs: number;
}

/** A spoken code: its audio, where each digit is, and the settings that made it. */
export interface SpokenCode {
  readonly pcm: Pcm;
  readonly timeline: readonly TimelineEntry[];
  readonly settings: {
    readonly engine: string;
    readonly lang: SpeechLanguage;
    readonly voice: string;
    readonly rate: number;
    readonly pauseMs: number;
    readonly endTone: EndTone | false;
  };
}

function checkMs(x: unknown, min: number, max: number, name: string): number {
  if (typeof x !== 'number' || !Number.isFinite(x) || x < min || x > max) {
    throw new AudioError(
      'bad-option',
      `${name} must be a number of milliseconds from ${min} to ${max}`,
    );
  }
  return x;
}

/** Checks an end tone; AudioError('bad-option') naming the field. */
export function checkEndTone(t: EndTone | false): EndTone | false {
  if (t === false) return false;
  if (typeof t !== 'object' || t === null)
    throw new AudioError('bad-option', 'endTone must be an object or false');
  if (typeof t.freqHz !== 'number' || !(t.freqHz >= 200 && t.freqHz <= 4000)) {
    throw new AudioError('bad-option', 'endTone.freqHz must be from 200 to 4000');
  }
  checkMs(t.ms, 30, 1000, 'endTone.ms');
  if (typeof t.amplitude !== 'number' || !(t.amplitude > 0 && t.amplitude <= 1)) {
    throw new AudioError('bad-option', 'endTone.amplitude must be above 0 and at most 1');
  }
  return t;
}

/**
 * Speaks codes with one engine. The ten digits are rendered once per (language, voice, rate) in
 * a single engine run, trimmed of silence and kept; a code is then plain sample copying, so its
 * WAV is ready in well under a millisecond per digit.
 */
export class CodeSpeaker {
  readonly engine: SpeechEngine;
  /**
   * Where rendered digits are also kept across runs (engines with a cacheKey only). Used only
   * when it is a directory of this user that nobody else may write to (see {@link safeCacheDir});
   * otherwise the digits stay in memory.
   */
  readonly cacheDir: string | undefined;
  /** The rates whose digits are kept on disk; other rates are kept in memory only. */
  readonly cacheRates: ReadonlySet<number>;
  readonly #cache = new Map<string, Promise<readonly Pcm[]>>();
  #dirReady: Promise<boolean> | undefined;

  constructor(
    engine: SpeechEngine,
    options: { readonly cacheDir?: string; readonly cacheRates?: readonly number[] } = {},
  ) {
    this.engine = engine;
    this.cacheDir = options.cacheDir;
    this.cacheRates = new Set(options.cacheRates ?? [DEFAULT_RATE_WPM]);
  }

  /** The trimmed renderings of 0-9 for this language, voice and rate (cached). */
  digits(
    lang: SpeechLanguage,
    rate: number = DEFAULT_RATE_WPM,
    voice?: string,
  ): Promise<readonly Pcm[]> {
    checkSpeechRequest({ lang, rate, voice });
    const v = voice ?? this.engine.defaultVoice(lang);
    const key = `${lang}\u0000${v}\u0000${rate}`;
    let p = this.#cache.get(key);
    if (!p) {
      p = this.#renderDigits(lang, rate, v);
      this.#cache.set(key, p);
      // A failed render is not cached: the next call tries again.
      p.catch(() => this.#cache.delete(key));
    }
    return p;
  }

  async #renderDigits(lang: SpeechLanguage, rate: number, voice: string): Promise<readonly Pcm[]> {
    const build = this.engine.cacheKey;
    const dir = this.cacheDir;
    // Only the rates asked for (a reader's own steps) go to disk: an analyser estimates a rate
    // per file, and those would pile up one file each.
    const onDisk =
      dir !== undefined &&
      build !== undefined &&
      this.cacheRates.has(rate) &&
      (await (this.#dirReady ??= safeCacheDir(dir)));
    const key = `${build}\u0000${lang}\u0000${voice}\u0000${rate}`;
    const file = onDisk
      ? join(dir, `${safeName(build)}-${lang}-${safeName(voice)}-${rate}.digits.json`)
      : undefined;
    if (file) {
      const kept = await readDigitFile(file, key);
      if (kept) return Object.freeze(kept);
    }
    const out = await this.#renderFresh(lang, rate, voice);
    if (file) await writeDigitFile(file, key, out);
    return out;
  }

  async #renderFresh(lang: SpeechLanguage, rate: number, voice: string): Promise<readonly Pcm[]> {
    const req = { lang, rate, voice };
    const raw = this.engine.renderSeparate
      ? await this.engine.renderSeparate(DIGITS, req)
      : await Promise.all(DIGITS.map((text) => this.engine.render({ ...req, text })));
    const out = raw.map((p) => trimSilence(p));
    const rate0 = out[0]?.sampleRate;
    if (out.some((p) => p.samples.length === 0 || p.sampleRate !== rate0)) {
      throw new AudioError('engine-failed', `${this.engine.id} produced no audio for a digit`);
    }
    return Object.freeze(out);
  }

  /** Speaks `code` (digits only) digit by digit with exact pauses and an end tone. */
  async speakCode(code: string, options: SpeakCodeOptions): Promise<SpokenCode> {
    if (typeof code !== 'string' || !/^\d{1,16}$/.test(code)) {
      throw new AudioError('bad-option', 'code must be 1 to 16 digits');
    }
    const rate = options.rate ?? DEFAULT_RATE_WPM;
    const pauseMs = checkMs(options.pauseMs ?? 400, MIN_PAUSE_MS, MAX_PAUSE_MS, 'pauseMs');
    const edgeMs = checkMs(options.edgeMs ?? 100, 0, 5000, 'edgeMs');
    const endTone = checkEndTone(options.endTone ?? DEFAULT_END_TONE);
    const tonePauseMs = checkMs(
      options.tonePauseMs ?? pauseMs,
      MIN_PAUSE_MS,
      MAX_PAUSE_MS,
      'tonePauseMs',
    );
    const digits = await this.digits(options.lang, rate, options.voice);
    const sr = digits[0]!.sampleRate;
    const samplesOf = (ms: number) => Math.round((ms * sr) / 1000);
    const tone = endTone ? sineTone(sr, endTone.freqHz, endTone.ms, endTone.amplitude) : undefined;
    const pause = samplesOf(pauseMs);
    const edge = samplesOf(edgeMs);
    let total = 2 * edge + pause * (code.length - 1);
    for (const ch of code) total += digits[Number(ch)]!.samples.length;
    if (tone) total += samplesOf(tonePauseMs) + tone.length;
    const samples = new Int16Array(total);
    const timeline: TimelineEntry[] = [];
    const ms = (n: number) => (n / sr) * 1000;
    let at = edge;
    for (let i = 0; i < code.length; i++) {
      const d = digits[Number(code[i])]!;
      samples.set(d.samples, at);
      timeline.push({
        kind: 'digit',
        digit: code[i]!,
        startMs: ms(at),
        endMs: ms(at + d.samples.length),
      });
      at += d.samples.length + (i < code.length - 1 ? pause : 0);
    }
    if (tone) {
      at += samplesOf(tonePauseMs);
      samples.set(tone, at);
      timeline.push({ kind: 'tone', digit: '', startMs: ms(at), endMs: ms(at + tone.length) });
    }
    return {
      pcm: { samples, sampleRate: sr },
      timeline,
      settings: {
        engine: this.engine.id,
        lang: options.lang,
        voice: options.voice ?? this.engine.defaultVoice(options.lang),
        rate,
        pauseMs,
        endTone,
      },
    };
  }
}

/** The format tag of a digit file; a file with another tag is rendered again. */
const DIGIT_FILE_FORMAT = 'mitid-sim-digits/2';
/** No digit file is larger: ten digits of at most 20 s each at 384 kHz would be far more. */
const MAX_DIGIT_FILE_BYTES = 32 * 1024 * 1024;

/** A file-name-safe form of an engine build or voice name. */
function safeName(x: string): string {
  return x.replace(/[^A-Za-z0-9.@_+-]/g, '_');
}

/** SHA-256 (hex) over the cache key, the sample rate and every digit's samples (little-endian). */
function digitsDigest(key: string, sampleRate: number, digits: readonly Buffer[]): string {
  const h = createHash('sha256');
  h.update(`${DIGIT_FILE_FORMAT}\u0000${key}\u0000${sampleRate}`);
  for (const d of digits) {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(d.length);
    h.update(len);
    h.update(d);
  }
  return h.digest('hex');
}

/**
 * Makes (mode 0700) or checks the digit cache directory: it must be a real directory (not a
 * link), owned by this user, and not writable by group or others, since anyone who can write
 * there could make the reader speak digits of their choosing. False means: keep digits in memory.
 */
export async function safeCacheDir(dir: string): Promise<boolean> {
  try {
    await mkdir(dir, { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
    const st = await lstat(dir);
    if (!st.isDirectory()) return false;
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid) return false;
    return process.platform === 'win32' || (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/**
 * Reads ten cached digits; undefined when the file is missing, is not a plain file, or is not
 * exactly what {@link writeDigitFile} wrote for this key (format, lengths and the SHA-256 of the
 * content): such a file is rendered again, never trusted.
 */
async function readDigitFile(file: string, key: string): Promise<Pcm[] | undefined> {
  try {
    const st = await lstat(file);
    if (!st.isFile() || st.size > MAX_DIGIT_FILE_BYTES) return undefined;
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid) return undefined;
    const fh = await open(file, 'r');
    let text: string;
    try {
      text = await fh.readFile('utf8');
    } finally {
      await fh.close();
    }
    const j = JSON.parse(text) as Record<string, unknown>;
    if (j.format !== DIGIT_FILE_FORMAT || j.key !== key) return undefined;
    const sr = j.sampleRate;
    if (typeof sr !== 'number' || !Number.isInteger(sr) || sr < 1000 || sr > 384_000)
      return undefined;
    if (!Array.isArray(j.digits) || j.digits.length !== 10) return undefined;
    const raw: Buffer[] = [];
    for (const d of j.digits) {
      if (typeof d !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(d)) return undefined;
      const b = Buffer.from(d, 'base64');
      if (b.length === 0 || b.length % 2 !== 0 || b.length > sr * 2 * 20) return undefined;
      raw.push(b);
    }
    const want = digitsDigest(key, sr, raw);
    if (typeof j.sha256 !== 'string' || j.sha256 !== want) return undefined;
    return raw.map((b) => {
      const samples = new Int16Array(b.length / 2);
      for (let i = 0; i < samples.length; i++) samples[i] = b.readInt16LE(i * 2);
      return { samples, sampleRate: sr };
    });
  } catch {
    return undefined;
  }
}

/** Writes ten digits atomically (a temporary file renamed into place); a failure only costs speed. */
async function writeDigitFile(file: string, key: string, digits: readonly Pcm[]): Promise<void> {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const sr = digits[0]!.sampleRate;
    const raw = digits.map((d) => {
      const b = Buffer.alloc(d.samples.length * 2);
      d.samples.forEach((x, i) => b.writeInt16LE(x, i * 2));
      return b;
    });
    const body = {
      format: DIGIT_FILE_FORMAT,
      key,
      sampleRate: sr,
      sha256: digitsDigest(key, sr, raw),
      digits: raw.map((b) => b.toString('base64')),
    };
    // 'wx': never follow or reuse a file someone else put at the temporary name.
    await writeFile(tmp, JSON.stringify(body), { mode: 0o600, flag: 'wx' });
    await rename(tmp, file);
  } catch {
    await unlink(tmp).catch(() => undefined);
  }
}

/**
 * The default place for cached digits: a directory of this user's own under the system's
 * temporary directory (`mitid-sim-digits-UID`), checked by {@link safeCacheDir} before use.
 */
export function defaultDigitCacheDir(): string {
  let who: string | number | undefined = process.getuid?.();
  if (who === undefined) {
    try {
      who = safeName(userInfo().username);
    } catch {
      who = 'user';
    }
  }
  return join(tmpdir(), `mitid-sim-digits-${who}`);
}
