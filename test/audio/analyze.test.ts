// The analyser on audio that did not come straight from us: a headphone-jack-like recording, clipping, tones, the SVG.
import { describe, expect, it } from 'vitest';
import { analyzeAudio, analyzeWav, detectTone } from '../../src/audio/analyze.js';
import { resample, sineTone } from '../../src/audio/dsp.js';
import { buildChecklist } from '../../src/audio/checklist.js';
import { connectedDtw, mfcc } from '../../src/audio/features.js';
import { renderAnalysisSvg } from '../../src/audio/svg.js';
import { decodeWav } from '../../src/audio/wav.js';
import { AUDIO_READER_PROFILE } from '../../firmware-sim/audio-reader/index.js';
import { infoOf, seeded, speaker } from './support.js';

/** A 24-bit stereo 44.1 kHz WAV of `x` (-1..1 floats), left and right slightly different. */
function recordingWav(left: Float64Array, right: Float64Array, rate: number): Uint8Array {
  const n = left.length;
  const out = new Uint8Array(44 + n * 6);
  const v = new DataView(out.buffer);
  const put = (o: number, s: string) => [...s].forEach((c, i) => (out[o + i] = c.charCodeAt(0)));
  put(0, 'RIFF');
  v.setUint32(4, out.length - 8, true);
  put(8, 'WAVEfmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true);
  v.setUint16(22, 2, true);
  v.setUint32(24, rate, true);
  v.setUint32(28, rate * 6, true);
  v.setUint16(32, 6, true);
  v.setUint16(34, 24, true);
  put(36, 'data');
  v.setUint32(40, n * 6, true);
  const s24 = (o: number, x: number) => {
    const k = Math.max(-8388608, Math.min(8388607, Math.round(x * 8388608)));
    v.setUint8(o, k & 0xff);
    v.setUint8(o + 1, (k >> 8) & 0xff);
    v.setInt8(o + 2, k >> 16);
  };
  for (let i = 0; i < n; i++) {
    s24(44 + i * 6, left[i]!);
    s24(44 + i * 6 + 3, right[i]!);
  }
  return out;
}

describe('a recording from a headphone jack', () => {
  for (const lang of ['da', 'en'] as const) {
    it(`${lang}: 44.1 kHz 24-bit stereo, 12 dB quieter, hum and hiss, half a second of lead-in: still heard right`, async () => {
      const code = lang === 'da' ? '730815' : '264097';
      const spoken = await speaker.speakCode(code, { lang, pauseMs: 350 });
      const up = resample(spoken.pcm, 44100);
      const rnd = seeded(7);
      const lead = 22050;
      const n = up.samples.length + lead;
      const left = new Float64Array(n);
      const right = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const s = i >= lead ? up.samples[i - lead]! / 32768 : 0;
        const hum = 0.002 * Math.sin((2 * Math.PI * 50 * i) / 44100);
        const hiss = (rnd() - 0.5) * 0.003;
        left[i] = s * 0.25 + hum + hiss;
        right[i] = s * 0.24 + hum - hiss;
      }
      const a = await analyzeWav(recordingWav(left, right, 44100), {
        speaker,
        expect: code,
        profile: AUDIO_READER_PROFILE,
      });
      expect(a.file).toMatchObject({ channels: 2, bitsPerSample: 24, sampleRate: 44100 });
      expect(a.decoded).toBe(code);
      expect(a.matches).toBe(true);
      expect(a.language).toBe(lang);
      for (const p of a.pausesMs) expect(Math.abs(p - 350)).toBeLessThan(40);
      expect(a.endTone.detected).toBe(true);
      expect(Math.abs(a.segments[0]!.startMs - 500 - spoken.timeline[0]!.startMs)).toBeLessThan(25);
      expect(a.levels.speechRmsDbfs).toBeLessThan(-15);
    });
  }
});

describe('levels and tones', () => {
  it('clipping is counted and reported, and the digits are still heard', async () => {
    const spoken = await speaker.speakCode('909090', { lang: 'en' });
    const loud = Int16Array.from(spoken.pcm.samples, (x) =>
      Math.max(-32768, Math.min(32767, x * 6)),
    );
    const pcm = { samples: loud, sampleRate: spoken.pcm.sampleRate };
    const a = await analyzeAudio(pcm, infoOf(pcm), { speaker });
    expect(a.levels.clipping).toBe(true);
    expect(a.levels.clippedSamples).toBeGreaterThan(100);
    expect(a.levels.peakDbfs).toBeCloseTo(0, 1);
    expect(a.checklist.find((c) => c.id === 'level')!.status).toBe('fail');
    expect(a.decoded).toBe('909090');
  });

  it('detectTone finds a sine and its frequency, and rejects speech', async () => {
    for (const f of [440, 1000, 2500]) {
      const t = detectTone({ samples: sineTone(22050, f, 150, 0.5), sampleRate: 22050 });
      expect(Math.abs(t!.freqHz - f)).toBeLessThan(10);
    }
    const digits = await speaker.digits('da');
    for (const d of digits) expect(detectTone(d)).toBeUndefined();
  });
});

describe('checklist and SVG', () => {
  it('connectedDtw parses templates back to back into their sequence, at the count asked', async () => {
    const ds = await speaker.digits('da');
    const tpl = ds.map((d) => mfcc(d, false));
    const seq = [3, 0, 7, 7, 1];
    const parts = seq.map((d) => ds[d]!.samples);
    const samples = new Int16Array(parts.reduce((a, p) => a + p.length, 0));
    let at = 0;
    for (const p of parts) {
      samples.set(p, at);
      at += p.length;
    }
    const input = mfcc({ samples, sampleRate: ds[0]!.sampleRate }, false);
    const r = connectedDtw(input, tpl, 7);
    const five = r.byCount[5]!;
    expect(five.words.map((w) => w.template)).toEqual(seq);
    // Words tile the input in order, each inside it.
    for (let i = 1; i < five.words.length; i++)
      expect(five.words[i]!.start).toBeGreaterThanOrEqual(five.words[i - 1]!.end);
    expect(five.words[4]!.end).toBe(input.length);
    expect(r.byCount[0]).toBeUndefined();
  });

  it('"digit by digit" fails on digits run together (a segment far longer than any digit)', async () => {
    // 4, then 8 1 5 back to back with no pause (one long stretch of speech), then 9 2 6 3.
    const ds = await speaker.digits('en');
    const sr = ds[0]!.sampleRate;
    const gap = new Int16Array(Math.round(sr * 0.4));
    const parts = [gap, ds[4]!.samples, gap, ds[8]!.samples, ds[1]!.samples, ds[5]!.samples];
    for (const d of [9, 2, 6, 3]) parts.push(gap, ds[d]!.samples);
    parts.push(gap);
    const samples = new Int16Array(parts.reduce((a, p) => a + p.length, 0));
    let at = 0;
    for (const p of parts) {
      samples.set(p, at);
      at += p.length;
    }
    const pcm = { samples, sampleRate: sr };
    const a = await analyzeAudio(pcm, infoOf(pcm), { speaker, lang: 'en' });
    const item = a.checklist.find((c) => c.id === 'digit-by-digit')!;
    expect(item.status).toBe('fail');
    expect(item.detail).toMatch(/longest digit/);
    // Told the code, the count alone also tells: three digits cannot be one segment.
    // The engine's own code, digit by digit, passes.
    const spoken = await speaker.speakCode('481', { lang: 'en' });
    const good = await analyzeAudio(spoken.pcm, infoOf(spoken.pcm), { speaker, lang: 'en' });
    expect(good.checklist.find((c) => c.id === 'digit-by-digit')!.status).toBe('pass');
  });

  it('"digit by digit" fails when the segments do not number the expected code’s digits', () => {
    const facts = {
      digitSegments: 5,
      decoded: '12345',
      language: 'en',
      minPauseMs: 400,
      endTone: true,
      clipping: false,
      speechRmsDbfs: -20,
      longestSegmentMs: 400,
      longestTemplateMs: 450,
    };
    const item = (f: Parameters<typeof buildChecklist>[0]) =>
      buildChecklist(f).find((c) => c.id === 'digit-by-digit')!;
    expect(item(facts).status).toBe('pass');
    expect(item({ ...facts, expected: '12345' }).status).toBe('pass');
    expect(item({ ...facts, expected: '123456' }).status).toBe('fail');
    expect(item({ ...facts, expected: '123456' }).detail).not.toContain('123456');
    expect(item({ ...facts, longestSegmentMs: 450 * 1.7 }).status).toBe('fail');
  });

  it('without a profile the device items are not assessed; with it, each item says its source', async () => {
    const spoken = await speaker.speakCode('112233', { lang: 'da' });
    const bare = await analyzeAudio(spoken.pcm, infoOf(spoken.pcm), { speaker });
    const device = bare.checklist.filter((c) => c.source === 'device-profile');
    expect(device.length).toBeGreaterThanOrEqual(8);
    expect(device.every((c) => c.status === 'not-assessed')).toBe(true);
    expect(bare.checklist.find((c) => c.id === 'correlation')!.status).toBe('not-assessed');
    const full = await analyzeAudio(spoken.pcm, infoOf(spoken.pcm), {
      speaker,
      profile: AUDIO_READER_PROFILE,
      expect: '112233',
    });
    expect(full.checklist.every((c) => c.status === 'pass')).toBe(true);
    expect(new Set(full.checklist.map((c) => c.clause))).toEqual(
      new Set([
        '5.1.3.4',
        'practice',
        '5.1.3.11, 5.1.3.12',
        '5.1.3.13',
        '5.1.3.14',
        '5.1.3.9',
        '5.9',
        '5.1.3.3',
      ]),
    );
  });

  it('the SVG marks every segment with the digit heard and its length, and the pauses', async () => {
    const spoken = await speaker.speakCode('4071', { lang: 'en', pauseMs: 500 });
    const a = await analyzeAudio(spoken.pcm, infoOf(spoken.pcm), { speaker });
    const svg = renderAnalysisSvg(spoken.pcm, a);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect((svg.match(/<rect x=/g) ?? []).length).toBe(5); // four digits and the tone
    for (const d of '4071') expect(svg).toContain(`font-weight="bold">${d}</text>`);
    for (const p of a.pausesMs) expect(svg).toContain(`>${Math.round(p)} ms</text>`);
    expect(svg).toContain('<title>Spoken code, heard as 4071 (en)</title>');
  });

  it('a WAV of a single digit and a file with one channel of silence are handled', async () => {
    const d = (await speaker.digits('en'))[7]!;
    const padded = new Int16Array(d.samples.length + 4410);
    padded.set(d.samples, 2205);
    const one = { samples: padded, sampleRate: d.sampleRate };
    const a = await analyzeAudio(one, infoOf(one), { speaker, lang: 'en' });
    expect(a.decoded).toBe('7');
    expect(a.pausesMs).toEqual([]);
    expect(a.timing.meanPauseMs).toBeNull();
    expect(
      decodeWav(
        new Uint8Array(0).length === 0
          ? recordingWav(new Float64Array(10), new Float64Array(10), 8000)
          : new Uint8Array(),
      ).info.channels,
    ).toBe(2);
  });
});
