/** The audio layer's error: every failure of speech, WAV, playback or analysis carries a stable code. */
import { MitidError, type MitidErrorOptions } from '../core/errors.js';

/**
 * Stable codes of {@link AudioError}:
 * - `bad-wav`: a WAV file that is malformed, truncated or in a format we do not read;
 * - `bad-option`: a rate, pause, language, voice or code out of range;
 * - `engine-unavailable`: the speech engine is not installed or cannot export audio here;
 * - `engine-failed`: the engine ran but produced no usable audio;
 * - `no-sound-device`: live playback was asked for on a machine without a sound device;
 * - `playback-failed`: the sound device refused the audio.
 */
export const AudioErrorCodes = [
  'bad-wav',
  'bad-option',
  'engine-unavailable',
  'engine-failed',
  'no-sound-device',
  'playback-failed',
] as const;
export type AudioErrorCode = (typeof AudioErrorCodes)[number];

/** An error of the audio layer (speech engines, WAV, playback, analyser). */
export class AudioError extends MitidError {
  declare readonly code: AudioErrorCode;
  constructor(code: AudioErrorCode, message: string, options: MitidErrorOptions = {}) {
    super(code, message, options);
  }
}
