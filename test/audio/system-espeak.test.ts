// Independent peer: WAVs made by the system's espeak-ng (not by us) are heard back by the analyser.
import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { analyzeWav } from '../../src/audio/analyze.js';
import { CodeSpeaker } from '../../src/audio/code-speech.js';
import { EspeakSystemEngine } from '../../src/audio/engines/index.js';
import { decodeWav, encodeWav } from '../../src/audio/wav.js';
import { describeWithTool, toolAvailable } from '../support/tools.js';
import { infoOf, speaker } from './support.js';

function espeak(args: string[]): Uint8Array {
  const r = spawnSync('espeak-ng', [...args, '--stdout'], { maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`espeak-ng failed: ${r.stderr.toString()}`);
  return new Uint8Array(r.stdout);
}

describeWithTool(
  'espeak-ng',
  toolAvailable('espeak-ng'),
  'analyser on audio made by system espeak-ng',
  () => {
    for (const [voice, lang, rate, gap, text] of [
      ['da', 'da', 150, 30, '1 2 3 4 5 6'],
      ['da', 'da', 120, 40, '9 0 8 7 6 5'],
      ['da', 'da', 220, 25, '0 4 4 1 7 3 2 8'],
      ['en', 'en', 150, 30, '1 2 3 4 5 6'],
      ['en', 'en', 110, 40, '7 3 9 0 2 8'],
      ['en-us', 'en', 175, 25, '6 5 4 3 2 1 0 9 8 7'],
    ] as const) {
      const code = text.replace(/ /g, '');
      it(`espeak-ng -v ${voice} -s ${rate} -g ${gap} "${text}" is heard as ${code}`, async () => {
        const wav = espeak(['-v', voice, '-s', String(rate), '-g', String(gap), text]);
        const a = await analyzeWav(wav, { speaker, expect: code });
        expect(a.decoded).toBe(code);
        expect(a.matches).toBe(true);
        expect(a.language).toBe(lang);
        expect(a.endTone.detected).toBe(false);
        // eSpeak NG's -g is in units of 10 ms at its default rate (175 wpm), scaled with the rate.
        const gapMs = (gap * 10 * 175) / rate;
        for (const p of a.pausesMs) expect(p).toBeGreaterThan(gapMs * 0.8);
      });
    }

    // eSpeak NG's defaults (no -g): the digits run together with no silence between them. The
    // analyser parses such speech as connected digits, and says so: a segment-too-long warning,
    // and the checklist does not call it digit by digit.
    for (const voice of ['da', 'en'] as const) {
      it(`espeak-ng -v ${voice} "4 8 1 5 9 2" with default settings is flagged as run together`, async () => {
        const wav = espeak(['-v', voice, '4 8 1 5 9 2']);
        const a = await analyzeWav(wav, { speaker, lang: voice, expect: '481592' });
        expect(a.decoded).toBe('481592');
        expect(a.warnings.map((w) => w.code)).toContain('segment-too-long');
        expect(a.checklist.find((c) => c.id === 'digit-by-digit')!.status).toBe('fail');
        // Without the code: the same digits, and the checklist still does not vouch for it.
        const blind = await analyzeWav(wav, { speaker, lang: voice });
        expect(blind.decoded).toBe('481592');
        expect(blind.checklist.find((c) => c.id === 'digit-by-digit')!.status).toBe('fail');
      });
    }

    // Run-together speech is parsed as connected digits (level-building DTW over the ten
    // templates). Codes come from a seeded generator, so a failure names a code to replay.
    const codes = (seed: number, n: number): string[] => {
      let x = seed;
      return Array.from({ length: n }, () => {
        x = (x * 1103515245 + 12345) % 2147483648;
        return String(x % 1_000_000).padStart(6, '0');
      });
    };
    for (const rate of [undefined, 200] as const) {
      for (const code of codes(rate ?? 7, 5)) {
        const args = ['-v', 'da', ...(rate ? ['-s', String(rate)] : []), code.split('').join(' ')];
        it(`espeak-ng ${args.join(' ')} (no -g) is heard as ${code} when the code is given`, async () => {
          const a = await analyzeWav(espeak(args), { speaker, expect: code });
          expect(a.decoded).toBe(code);
          expect(a.matches).toBe(true);
          expect(a.language).toBe('da');
          expect(a.warnings.map((w) => w.code)).toContain('segment-too-long');
        });
      }
      for (const code of codes(rate ?? 7, 5)) {
        const args = ['-v', 'en', ...(rate ? ['-s', String(rate)] : []), code.split('').join(' ')];
        it(`espeak-ng ${args.join(' ')} (no -g) is heard as ${code} when the code is given`, async () => {
          const a = await analyzeWav(espeak(args), { speaker, lang: 'en', expect: code });
          expect(a.decoded).toBe(code);
          expect(a.segments.filter((s) => s.kind === 'digit')).toHaveLength(6);
          expect(a.warnings.map((w) => w.code)).toContain('segment-too-long');
        });
      }
    }

    // The count is free without the code: 20 random codes per language, eSpeak NG's defaults
    // (175 wpm, no word gap), every one heard exactly, in its language.
    for (const voice of ['da', 'en'] as const) {
      it(`espeak-ng -v ${voice} with default settings: 20 random codes heard exactly without the code`, async () => {
        const wrong: string[] = [];
        for (const code of codes(voice === 'da' ? 11 : 12, 20)) {
          const a = await analyzeWav(espeak(['-v', voice, code.split('').join(' ')]), { speaker });
          if (a.decoded !== code || a.language !== voice) wrong.push(`${code}: ${a.decoded}`);
        }
        expect(wrong).toEqual([]);
      }, 600_000);
    }

    it('digits run together are flagged: a warning, and digit by digit fails', async () => {
      const wav = espeak(['-v', 'en', '4 8 1 5 9 2']);
      const a = await analyzeWav(wav, { speaker, lang: 'en' });
      expect(a.warnings.map((w) => w.code)).toContain('segment-too-long');
      const spaced = await analyzeWav(espeak(['-v', 'en', '-g', '30', '4 8 1 5 9 2']), {
        speaker,
        lang: 'en',
      });
      expect(spaced.warnings.map((w) => w.code)).not.toContain('segment-too-long');
    });

    it('a file cut short is analysed with a truncated warning; a streamed header is not one', async () => {
      const wav = espeak(['-v', 'en', '-g', '30', '4 8 1 5 9 2']);
      expect((await analyzeWav(wav, { speaker })).warnings.map((w) => w.code)).not.toContain(
        'truncated',
      );
      const whole = encodeWav(decodeWav(wav));
      const cut = whole.subarray(0, whole.length - 2000);
      const a = await analyzeWav(cut, { speaker });
      expect(a.warnings.find((w) => w.code === 'truncated')!.detail).toContain('2000 bytes');
    });

    it('the rate it reports follows the -s that made the audio', async () => {
      const slow = await analyzeWav(espeak(['-v', 'en', '-s', '100', '-g', '30', '4 7 1 8 2 9']), {
        speaker,
      });
      const fast = await analyzeWav(espeak(['-v', 'en', '-s', '250', '-g', '30', '4 7 1 8 2 9']), {
        speaker,
      });
      expect(slow.decoded).toBe('471829');
      expect(fast.decoded).toBe('471829');
      // The estimate is calibrated on digits said alone (as the reader says them); eSpeak NG says
      // a list some 20-30 % faster, so the absolute figure is within 35 %, and the ratio of the two
      // rates is kept within 15 %.
      expect(Math.abs(slow.timing.estimatedWpm! - 100) / 100).toBeLessThan(0.35);
      expect(Math.abs(fast.timing.estimatedWpm! - 250) / 250).toBeLessThan(0.35);
      const ratio = fast.timing.estimatedWpm! / slow.timing.estimatedWpm!;
      expect(Math.abs(ratio - 2.5) / 2.5).toBeLessThan(0.15);
      expect(fast.timing.articulationDigitsPerSecond!).toBeGreaterThan(
        slow.timing.articulationDigitsPerSecond! * 1.8,
      );
    });

    it('the system engine behind the port renders the same digits the embedded one does', async () => {
      const sys = new CodeSpeaker(new EspeakSystemEngine());
      const spoken = await sys.speakCode('318540', { lang: 'da', rate: 150 });
      const a = await analyzeWav(encodeWav(spoken.pcm), { speaker, expect: '318540' });
      expect(a.matches).toBe(true);
      expect(decodeWav(espeak(['-v', 'da', '5'])).sampleRate).toBe(spoken.pcm.sampleRate);
      expect(infoOf(spoken.pcm).channels).toBe(1);
    });
  },
);
