/** devices/audio-reader: the audio code reader as an Authenticator over its emulated firmware. */
export * from './audio-reader.js';
export { registerAudioReader } from './register.js';
