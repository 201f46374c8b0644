/**
 * Audio figures: how fast a spoken 6-digit code's WAV is ready once the digits are cached, against
 * copying the finished samples into a WAV (the limit) and spawning system espeak-ng per code (the
 * peer a user would otherwise pick). The description carries the real-time fraction: time to
 * have the WAV over the length of the audio in it (goal: under 0.02).
 */
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { CodeSpeaker } from '../../src/audio/code-speech.js';
import { createSpeechEngine } from '../../src/audio/engines/index.js';
import { durationMs, encodeWav, wavHeader } from '../../src/audio/wav.js';
import type { BenchCase, BenchModule, Contender } from './harness.js';
import { median } from './harness.js';

/** Codes of the workload: fixed, so every contender says the same digits. */
const CODES = Array.from({ length: 64 }, (_, i) =>
  String((i * 7_919_113 + 104_729) % 1_000_000).padStart(6, '0'),
);

function hasEspeak(): boolean {
  return spawnSync('espeak-ng', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Measures the real-time fraction directly: median time to a WAV over the audio's length. */
async function realtimeFraction(
  speaker: CodeSpeaker,
  lang: 'da' | 'en',
): Promise<{ fraction: number; audioMs: number }> {
  const fractions: number[] = [];
  const lengths: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    const s = await speaker.speakCode(CODES[i % CODES.length]!, { lang });
    encodeWav(s.pcm);
    const ms = performance.now() - t;
    lengths.push(durationMs(s.pcm));
    fractions.push(ms / durationMs(s.pcm));
  }
  return { fraction: median(fractions), audioMs: median(lengths) };
}

async function speakCase(lang: 'da' | 'en'): Promise<BenchCase> {
  const speaker = new CodeSpeaker(createSpeechEngine('espeak-ng-wasm'));
  await speaker.digits(lang); // warm: the digits are rendered once and cached
  const rt = await realtimeFraction(speaker, lang);
  // The limit: the same number of finished samples copied behind a WAV header, no speech work.
  const finished = (await speaker.speakCode(CODES[0]!, { lang })).pcm;
  const ours: Contender = {
    label: 'mitid-sim speakCode + encodeWav (cached digits)',
    async run(n) {
      let bytes = 0;
      for (let i = 0; i < n; i++) {
        const s = await speaker.speakCode(CODES[i % CODES.length]!, { lang });
        bytes += encodeWav(s.pcm).length;
      }
      return bytes;
    },
  };
  const limit: Contender = {
    label: 'copy finished samples into a WAV',
    run(n) {
      let bytes = 0;
      for (let i = 0; i < n; i++) {
        const out = new Uint8Array(44 + finished.samples.length * 2);
        out.set(wavHeader(finished.sampleRate, finished.samples.length * 2));
        out.set(
          new Uint8Array(
            finished.samples.buffer,
            finished.samples.byteOffset,
            finished.samples.byteLength,
          ),
          44,
        );
        bytes += out.length;
      }
      return bytes;
    },
  };
  const peer: Contender | undefined = hasEspeak()
    ? {
        label: 'spawn espeak-ng --stdout per code',
        run(n) {
          let bytes = 0;
          for (let i = 0; i < n; i++) {
            const text = CODES[i % CODES.length]!.split('').join(' ');
            const r = spawnSync('espeak-ng', [
              '-v',
              lang,
              '-s',
              '150',
              '-g',
              '30',
              '--stdout',
              text,
            ]);
            bytes += r.stdout.length;
          }
          return bytes;
        },
      }
    : undefined;
  return {
    name: `audio.speak.code6.${lang}.warm`,
    description: `a 6-digit code's WAV in ${lang === 'da' ? 'Danish' : 'English'}, digits cached: ready in ${rt.fraction.toFixed(4)} of its own ${(rt.audioMs / 1000).toFixed(1)} s (goal < 0.02)`,
    unit: 'codes/s',
    ours,
    limit,
    ...(peer ? { peer } : {}),
    // The peer waits on a child process: wall time for all three.
    clock: 'wall',
    async check() {
      const s = await speaker.speakCode('123456', { lang });
      if (s.timeline.filter((t) => t.kind === 'digit').length !== 6)
        throw new Error('six digits were not spoken');
      if (rt.fraction >= 0.02)
        throw new Error(`real-time fraction ${rt.fraction.toFixed(4)} misses the 0.02 goal`);
    },
  };
}

/** The audio group. */
export const audioBench: BenchModule = {
  group: 'audio',
  async cases() {
    return [await speakCase('da'), await speakCase('en')];
  },
};
