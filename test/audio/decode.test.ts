// The analyser hears our spoken codes back, digit for digit, and measures the pauses and rate that made them.
import { describe, expect, it } from 'vitest';
import { analyzeAudio, analyzeWav } from '../../src/audio/analyze.js';
import { encodeWav } from '../../src/audio/wav.js';
import { infoOf, randomCode, seeded, speaker } from './support.js';

describe('200 random codes per language decode back to themselves', () => {
  for (const lang of ['da', 'en'] as const) {
    it(`${lang}: every one of 200 codes`, async () => {
      const rnd = seeded(lang === 'da' ? 1 : 2);
      const wrong: string[] = [];
      for (let i = 0; i < 200; i++) {
        const code = randomCode(rnd);
        const spoken = await speaker.speakCode(code, { lang });
        // Through the file format too: what a user gets is the WAV.
        const a = await analyzeWav(encodeWav(spoken.pcm), { speaker, expect: code });
        if (a.decoded !== code || a.matches !== true || a.language !== lang) wrong.push(`${i}`);
      }
      expect(wrong).toEqual([]);
    }, 600_000);
  }
});

describe('the analyser measures what the settings made', () => {
  for (const [lang, rate, pauseMs] of [
    ['da', 150, 400],
    ['da', 100, 250],
    ['en', 250, 600],
    ['en', 175, 150],
  ] as const) {
    it(`${lang} at ${rate} wpm with ${pauseMs} ms pauses`, async () => {
      const code = '5038271946'.slice(0, lang === 'da' ? 6 : 8);
      const spoken = await speaker.speakCode(code, { lang, rate, pauseMs });
      const a = await analyzeAudio(spoken.pcm, infoOf(spoken.pcm), { speaker, lang });
      expect(a.decoded).toBe(code);
      expect(a.pausesMs).toHaveLength(code.length - 1);
      for (const p of a.pausesMs) expect(Math.abs(p - pauseMs)).toBeLessThan(15);
      // Each digit's measured length is the rendered digit's length.
      const digits = a.segments.filter((s) => s.kind === 'digit');
      const truth = spoken.timeline.filter((t) => t.kind === 'digit');
      digits.forEach((d, i) => {
        expect(Math.abs(d.startMs - truth[i]!.startMs)).toBeLessThan(10);
        expect(Math.abs(d.endMs - truth[i]!.endMs)).toBeLessThan(10);
      });
      expect(Math.abs(a.timing.estimatedWpm! - rate) / rate).toBeLessThan(0.05);
      // Digits per second from the first digit's start to the last one's end.
      const span = truth[truth.length - 1]!.endMs - truth[0]!.startMs;
      expect(a.timing.digitsPerSecond!).toBeCloseTo((code.length * 1000) / span, 1);
      expect(a.endTone.detected).toBe(true);
      expect(a.endTone.freqHz).toBeGreaterThan(990);
      expect(a.endTone.freqHz).toBeLessThan(1010);
      expect(Math.abs(a.endTone.durationMs! - 150)).toBeLessThan(15);
      expect(Math.abs(a.endTone.gapMs! - pauseMs)).toBeLessThan(15);
    }, 120_000);
  }

  it('a code without an end tone reports none; a code with a different expected value does not match', async () => {
    const spoken = await speaker.speakCode('246810', { lang: 'en', endTone: false });
    const a = await analyzeAudio(spoken.pcm, infoOf(spoken.pcm), { speaker, expect: '246811' });
    expect(a.endTone.detected).toBe(false);
    expect(a.decoded).toBe('246810');
    expect(a.matches).toBe(false);
    // The expected code is never echoed back.
    expect(JSON.stringify(a)).not.toContain('246811');
  });
});

describe('the ends of the rate range', () => {
  // At 80 wpm English "seven" has a silence inside longer than a short pause; at 450 wpm a digit
  // lasts some 60 ms. Both must still decode, in the right language, with the pauses measured.
  for (const lang of ['da', 'en'] as const) {
    for (const rate of [80, 450]) {
      it(`${lang} at ${rate} wpm, pauses of 150 and 400 ms: 10 random codes each`, async () => {
        const rnd = seeded(rate + (lang === 'da' ? 1 : 2));
        const wrong: string[] = [];
        for (const pauseMs of [150, 400]) {
          for (let i = 0; i < 10; i++) {
            const code = randomCode(rnd);
            const spoken = await speaker.speakCode(code, { lang, rate, pauseMs });
            const a = await analyzeAudio(spoken.pcm, infoOf(spoken.pcm), { speaker });
            if (a.decoded !== code || a.language !== lang) wrong.push(`${pauseMs}/${i}`);
            for (const p of a.pausesMs) expect(Math.abs(p - pauseMs)).toBeLessThan(15);
          }
        }
        expect(wrong).toEqual([]);
      }, 600_000);
    }
  }
});
