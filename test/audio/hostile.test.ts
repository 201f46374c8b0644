// Hostile input: mangled WAV files and odd audio never crash the reader or the analyser, only AudioError.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { analyzeWav, type AudioAnalysis } from '../../src/audio/analyze.js';
import { AudioError } from '../../src/audio/errors.js';
import { decodeWav, encodeWav } from '../../src/audio/wav.js';
import { speaker } from './support.js';

const valid = encodeWav({
  samples: Int16Array.from({ length: 400 }, (_, i) => Math.round(Math.sin(i / 5) * 9000)),
  sampleRate: 8000,
});

function onlyAudioErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof AudioError)) throw e;
    expect(e.code).toBe('bad-wav');
    expect(e.message).not.toContain('\n');
  }
}

describe('decodeWav on hostile bytes', () => {
  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (b) => onlyAudioErrors(() => decodeWav(b))),
      { numRuns: 2000 },
    );
  });

  it('a valid file with bytes changed, cut short or lengthened', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), {
          maxLength: 8,
        }),
        fc.nat(valid.length),
        fc.uint8Array({ maxLength: 16 }),
        (edits, cut, tail) => {
          const b = new Uint8Array([...valid.slice(0, Math.max(cut, 0)), ...tail]);
          for (const [at, v] of edits) if (at < b.length) b[at] = v;
          onlyAudioErrors(() => decodeWav(b));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('header fields set to extremes', () => {
    for (const [off, bytes] of [
      [4, 4], // RIFF size
      [16, 4], // fmt size
      [22, 2], // channels
      [24, 4], // rate
      [32, 2], // block align
      [34, 2], // bits
      [40, 4], // data size
    ] as const) {
      for (const v of [0, 1, 0xff, 0xffff, 0xffffffff]) {
        const b = valid.slice();
        const dv = new DataView(b.buffer);
        if (bytes === 2) dv.setUint16(off, v & 0xffff, true);
        else dv.setUint32(off, v >>> 0, true);
        onlyAudioErrors(() => decodeWav(b));
      }
    }
  });
});

describe('analyzeWav on audio that is not a spoken code', () => {
  it('silence, a click, pure noise, a tone alone, a 1-sample file: a result or one clear AudioError', async () => {
    const rate = 16000;
    const noise = Int16Array.from({ length: rate }, (_, i) => ((i * 7919) % 2001) - 1000);
    const click = new Int16Array(rate);
    click[100] = 30000;
    const tone = Int16Array.from({ length: rate }, (_, i) =>
      i > 4000 && i < 6400 ? Math.round(Math.sin(i / 2.546) * 12000) : 0,
    );
    for (const samples of [new Int16Array(rate), click, noise, tone, new Int16Array(1)]) {
      const r = await analyzeWav(encodeWav({ samples, sampleRate: rate }), { speaker }).catch(
        (e: unknown) => e,
      );
      if (r instanceof Error) {
        expect(r).toBeInstanceOf(AudioError);
        expect(r.message).not.toContain('\n');
      } else {
        expect(typeof (r as AudioAnalysis).decoded).toBe('string');
      }
    }
  });
});
