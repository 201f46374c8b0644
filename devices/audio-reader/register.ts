/** Plugs the audio reader into the OTP device factory, so `press`, `show`, import and export know it. */
import { registerOtpKind } from '../factory.js';
import { AudioReader } from './audio-reader.js';

let done = false;

/** Registers the audio reader with the device factory (idempotent). */
export function registerAudioReader(): void {
  if (done) return;
  done = true;
  registerOtpKind(
    'audio-reader',
    (path, options) => AudioReader.open(path, options),
    (key, out, options) => AudioReader.fromKey(key, out, options),
  );
}
