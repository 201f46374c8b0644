/** src/audio: speech engines, spoken codes, WAV, PCM streams, safe playback, and the analyser. */
export * from './errors.js';
export * from './wav.js';
export * from './speech.js';
export * from './dsp.js';
export * from './code-speech.js';
export * from './stream.js';
export * from './playback.js';
export * from './features.js';
export * from './checklist.js';
export * from './analyze.js';
export * from './svg.js';
export * from './engines/index.js';
