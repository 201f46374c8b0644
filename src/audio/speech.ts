/** The speech port: engines that render text in Danish or English at a rate, as mono 16-bit PCM. */
import { AudioError } from './errors.js';
import type { Pcm } from './wav.js';

/** The languages the audio code reader speaks. */
export const SpeechLanguages = ['da', 'en'] as const;
export type SpeechLanguage = (typeof SpeechLanguages)[number];

/** True when `s` names a language we speak. */
export function isSpeechLanguage(s: unknown): s is SpeechLanguage {
  return typeof s === 'string' && (SpeechLanguages as readonly string[]).includes(s);
}

/**
 * Speech rate limits in words per minute, as eSpeak NG counts them (its `-s` option accepts
 * 80 to 450; a spoken digit is one word).
 */
export const MIN_RATE_WPM = 80;
export const MAX_RATE_WPM = 450;
/** The rate a fresh reader speaks at (eSpeak NG's own default is 175; slower suits codes). */
export const DEFAULT_RATE_WPM = 150;

/** What to say and how. */
export interface SpeechRequest {
  readonly text: string;
  readonly lang: SpeechLanguage;
  /** Words per minute, {@link MIN_RATE_WPM} to {@link MAX_RATE_WPM}. */
  readonly rate: number;
  /** Engine-specific voice name; default: the engine's voice for `lang`. */
  readonly voice?: string;
}

/**
 * A speech engine. `render` speaks one text; `renderSeparate` speaks several texts so that each
 * comes back on its own (engines that can do it in one run override it: starting an engine is
 * what costs time).
 */
export interface SpeechEngine {
  /** Stable name: 'espeak-ng-wasm', 'espeak-ng', 'say'. */
  readonly id: string;
  /**
   * Names this exact engine build (e.g. 'espeak-ng-wasm@1.0.2') when its output is fixed by it,
   * so renderings may be kept on disk across runs; undefined when it is not (a system install).
   */
  readonly cacheKey?: string;
  /** The voice used for `lang` when a request names none. */
  defaultVoice(lang: SpeechLanguage): string;
  render(request: SpeechRequest): Promise<Pcm>;
  renderSeparate?(texts: readonly string[], request: Omit<SpeechRequest, 'text'>): Promise<Pcm[]>;
}

const VOICE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_+-]{0,47}$/;

/** Checks a request's fields; throws AudioError('bad-option') naming the field. */
export function checkSpeechRequest<T extends Omit<SpeechRequest, 'text'> & { text?: string }>(
  r: T,
): T {
  if (!isSpeechLanguage(r.lang))
    throw new AudioError('bad-option', `language must be one of ${SpeechLanguages.join(', ')}`);
  if (
    typeof r.rate !== 'number' ||
    !Number.isInteger(r.rate) ||
    r.rate < MIN_RATE_WPM ||
    r.rate > MAX_RATE_WPM
  ) {
    throw new AudioError(
      'bad-option',
      `rate must be a whole number of words per minute from ${MIN_RATE_WPM} to ${MAX_RATE_WPM}`,
    );
  }
  if (r.voice !== undefined && (typeof r.voice !== 'string' || !VOICE_PATTERN.test(r.voice))) {
    throw new AudioError(
      'bad-option',
      'voice must be 1-48 letters, digits, dashes, underscores or plus signs',
    );
  }
  if (
    r.text !== undefined &&
    (typeof r.text !== 'string' || r.text.length === 0 || r.text.length > 10_000)
  ) {
    throw new AudioError('bad-option', 'text must be 1 to 10000 characters');
  }
  return r;
}

/** eSpeak NG's voice for each language: Danish, and British English. */
export const ESPEAK_VOICES: Readonly<Record<SpeechLanguage, string>> = Object.freeze({
  da: 'da',
  en: 'en',
});

/** Escapes text for SSML. */
export function ssmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The gap eSpeak NG puts between texts spoken in one run, long enough to split on reliably. */
export const SEPARATE_BREAK_MS = 700;

/** SSML that speaks `texts` one after another with a long break between them. */
export function separatedSsml(texts: readonly string[]): string {
  const parts = texts.map((t) => `<s>${ssmlEscape(t)}</s>`);
  return `<speak>${parts.join(`<break time="${SEPARATE_BREAK_MS}ms"/>`)}</speak>`;
}
