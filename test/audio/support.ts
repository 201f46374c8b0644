// Shared pieces of the audio tests: one speaker over the embedded engine, and a seeded random source.
import { CodeSpeaker } from '../../src/audio/code-speech.js';
import { createSpeechEngine } from '../../src/audio/engines/index.js';
import type { WavInfo } from '../../src/audio/wav.js';
import type { Pcm } from '../../src/audio/wav.js';

/** One speaker for the whole test file, so the digits are rendered once. */
export const speaker = new CodeSpeaker(createSpeechEngine('espeak-ng-wasm'));

/** A small deterministic PRNG (mulberry32), so a failing code can be reproduced. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random code of `n` digits from `rnd`. */
export function randomCode(rnd: () => number, n = 6): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String(Math.floor(rnd() * 10));
  return s;
}

/** The WavInfo of mono 16-bit PCM. */
export function infoOf(pcm: Pcm): WavInfo {
  return {
    format: 1,
    channels: 1,
    bitsPerSample: 16,
    sampleRate: pcm.sampleRate,
    frames: pcm.samples.length,
  };
}
