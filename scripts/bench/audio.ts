/**
 * Audio figures: how fast a spoken 6-digit code's WAV is ready once the digits are cached, against
 * copying the finished samples into a WAV (the limit) and spawning system espeak-ng per code (the
 * peer a user would otherwise pick); and, from the same timed slices, the real-time fraction: time
 * to have the WAV over the length of the audio in it (goal: under 0.02), ours and the peer's.
 */
import { spawnSync } from 'node:child_process';
import { CodeSpeaker } from '../../src/audio/code-speech.js';
import { createSpeechEngine } from '../../src/audio/engines/index.js';
import { durationMs, encodeWav, wavHeader } from '../../src/audio/wav.js';
import type { BenchCase, BenchModule, Contender, Figure, TrialRates } from './harness.js';
import { median } from './harness.js';

/** Codes of the workload: fixed, so every contender says the same digits. */
const CODES = Array.from({ length: 64 }, (_, i) =>
  String((i * 7_919_113 + 104_729) % 1_000_000).padStart(6, '0'),
);

function hasEspeak(): boolean {
  return spawnSync('espeak-ng', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** The goal for the real-time fraction: a code's WAV ready in under 2 % of its own length. */
const GOAL_FRACTION = 0.02;

/** Seconds of audio in a WAV that espeak-ng streamed to stdout (its header's sizes are unset). */
function streamedWavSeconds(wav: Uint8Array): number {
  if (wav.length < 44) return 0;
  const rate = new DataView(wav.buffer, wav.byteOffset, wav.byteLength).getUint32(24, true);
  return rate > 0 ? (wav.length - 44) / (rate * 2) : 0;
}

/** Mean length (s) of the audio each contender made, over every operation it ran. */
class AudioLength {
  #seconds = 0;
  #count = 0;
  add(seconds: number): void {
    this.#seconds += seconds;
    this.#count += 1;
  }
  get mean(): number {
    return this.#count === 0 ? Number.NaN : this.#seconds / this.#count;
  }
}

/**
 * The real-time fraction of one trial: time for one operation (1 / rate) over the length of the
 * audio that operation made. It is worked out from the same timed slices as the codes/s figure.
 */
function fraction(rate: number, audioSeconds: number): number {
  return 1 / (rate * audioSeconds);
}

function realtimeFigures(
  lang: 'da' | 'en',
  rates: TrialRates,
  base: { trials: number; clock: 'cpu' | 'wall' },
  ours: { label: string; audio: AudioLength },
  peer: { label: string; audio: AudioLength } | undefined,
): Figure[] {
  const name = `audio.speak.code6.${lang}.realtime`;
  const language = lang === 'da' ? 'Danish' : 'English';
  const mine = rates.ours.map((r) => fraction(r, ours.audio.mean));
  const value = median(mine);
  const common = { name, value, unit: 'of audio length', precision: 2, ...base };
  const toGoal = mine.map((f) => f / GOAL_FRACTION);
  const figures: Figure[] = [
    {
      ...common,
      description: `time to a 6-digit code's WAV in ${language} (digits cached) over the ${ours.audio.mean.toPrecision(2)} s of audio in it: ${value.toPrecision(2)}; the ratio is that over the goal ${GOAL_FRACTION} (below 1 meets it)`,
      ratio: median(toGoal),
      against: 'goal',
      againstLabel: `goal ${GOAL_FRACTION}`,
      againstValue: GOAL_FRACTION,
      ratioRange: [Math.min(...toGoal), Math.max(...toGoal)],
    },
  ];
  if (peer && rates.peer) {
    const theirs = rates.peer.map((r) => fraction(r, peer.audio.mean));
    const toPeer = mine.map((f, t) => f / theirs[t]!);
    figures.push({
      ...common,
      description: `the same fraction over the peer's (${peer.label}, ${median(theirs).toPrecision(2)} of its ${peer.audio.mean.toPrecision(2)} s): below 1 is quicker than the peer`,
      ratio: median(toPeer),
      against: 'peer',
      againstLabel: `${peer.label} fraction`,
      againstValue: median(theirs),
      ratioRange: [Math.min(...toPeer), Math.max(...toPeer)],
    });
  }
  return figures;
}

async function speakCase(lang: 'da' | 'en'): Promise<BenchCase> {
  const speaker = new CodeSpeaker(createSpeechEngine('espeak-ng-wasm'));
  await speaker.digits(lang); // warm: the digits are rendered once and cached
  const ourAudio = new AudioLength();
  const peerAudio = new AudioLength();
  // The limit: the same number of finished samples copied behind a WAV header, no speech work.
  const finished = (await speaker.speakCode(CODES[0]!, { lang })).pcm;
  const ours: Contender = {
    label: 'mitid-sim speakCode + encodeWav (cached digits)',
    async run(n) {
      let bytes = 0;
      for (let i = 0; i < n; i++) {
        const s = await speaker.speakCode(CODES[i % CODES.length]!, { lang });
        bytes += encodeWav(s.pcm).length;
        ourAudio.add(durationMs(s.pcm) / 1000);
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
            peerAudio.add(streamedWavSeconds(r.stdout));
          }
          return bytes;
        },
      }
    : undefined;
  return {
    name: `audio.speak.code6.${lang}.warm`,
    description: `a 6-digit code's WAV in ${lang === 'da' ? 'Danish' : 'English'}, digits cached (its real-time fraction is the next figure)`,
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
    },
    derive(rates, base) {
      return realtimeFigures(
        lang,
        rates,
        base,
        { label: ours.label, audio: ourAudio },
        peer ? { label: peer.label, audio: peerAudio } : undefined,
      );
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
