/** firmware-sim/audio-reader: the audio code reader's firmware, key layout and persistent state. */
export * from './layout.js';
export * from './state.js';
export * from './firmware.js';
