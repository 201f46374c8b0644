// WAV writing and reading: our files read by Python's wave module, and every format recorders produce read by us.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AudioError } from '../../src/audio/errors.js';
import { pcmStream } from '../../src/audio/stream.js';
import { decodeWav, encodeWav, type Pcm } from '../../src/audio/wav.js';
import { describeWithTool, toolAvailable } from '../support/tools.js';

const sine = (n: number, rate: number): Int16Array =>
  Int16Array.from({ length: n }, (_, i) =>
    Math.round(Math.sin((2 * Math.PI * 440 * i) / rate) * 20000),
  );

/** Builds a WAV by hand, field by field (RIFF layout), for formats we never write. */
function wav(opts: {
  format: number;
  channels: number;
  rate: number;
  bits: number;
  data: Uint8Array;
  extensible?: boolean;
  extra?: boolean;
}): Uint8Array {
  const align = (opts.bits / 8) * opts.channels;
  const fmtLen = opts.extensible ? 40 : 16;
  const extraChunk = opts.extra ? 8 + 5 + 1 : 0; // a LIST-like chunk of odd length, padded
  const out = new Uint8Array(12 + 8 + fmtLen + extraChunk + 8 + opts.data.length);
  const v = new DataView(out.buffer);
  const put = (o: number, s: string) => [...s].forEach((c, i) => (out[o + i] = c.charCodeAt(0)));
  put(0, 'RIFF');
  v.setUint32(4, out.length - 8, true);
  put(8, 'WAVE');
  put(12, 'fmt ');
  v.setUint32(16, fmtLen, true);
  v.setUint16(20, opts.extensible ? 0xfffe : opts.format, true);
  v.setUint16(22, opts.channels, true);
  v.setUint32(24, opts.rate, true);
  v.setUint32(28, opts.rate * align, true);
  v.setUint16(32, align, true);
  v.setUint16(34, opts.bits, true);
  let o = 36;
  if (opts.extensible) {
    v.setUint16(36, 22, true);
    v.setUint16(38, opts.bits, true);
    v.setUint32(40, 0, true);
    v.setUint16(44, opts.format, true); // GUID's first two bytes carry the format tag
    o = 12 + 8 + 40;
  }
  if (opts.extra) {
    put(o, 'note');
    v.setUint32(o + 4, 5, true);
    put(o + 8, 'hello');
    o += 14;
  }
  put(o, 'data');
  v.setUint32(o + 4, opts.data.length, true);
  out.set(opts.data, o + 8);
  return out;
}

describe('encodeWav / decodeWav', () => {
  it('round-trips 16-bit mono exactly', () => {
    const pcm: Pcm = { samples: sine(1000, 22050), sampleRate: 22050 };
    const back = decodeWav(encodeWav(pcm));
    expect(back.sampleRate).toBe(22050);
    expect(Array.from(back.samples)).toEqual(Array.from(pcm.samples));
    expect(back.info).toEqual({
      format: 1,
      channels: 1,
      bitsPerSample: 16,
      sampleRate: 22050,
      frames: 1000,
    });
  });

  it('reads stereo (averaged), 8-bit unsigned, 24-bit, 32-bit float, float64, extensible, other rates and extra chunks', () => {
    const n = 480;
    const s = sine(n, 48000);
    // stereo 16-bit, right channel silent: the mono mix is half the left
    const st = new DataView(new ArrayBuffer(n * 4));
    s.forEach((x, i) => st.setInt16(i * 4, x, true));
    const a = decodeWav(
      wav({
        format: 1,
        channels: 2,
        rate: 48000,
        bits: 16,
        data: new Uint8Array(st.buffer),
        extra: true,
      }),
    );
    expect(a.info.channels).toBe(2);
    a.samples.forEach((x, i) => expect(Math.abs(x - s[i]! / 2)).toBeLessThanOrEqual(1));
    // 8-bit unsigned
    const u8 = Uint8Array.from(s, (x) => Math.round(x / 256) + 128);
    const b = decodeWav(wav({ format: 1, channels: 1, rate: 8000, bits: 8, data: u8 }));
    b.samples.forEach((x, i) => expect(Math.abs(x - s[i]!)).toBeLessThanOrEqual(256));
    expect(b.sampleRate).toBe(8000);
    // 24-bit
    const d24 = new Uint8Array(n * 3);
    s.forEach((x, i) => {
      const v = x * 256;
      d24[i * 3] = v & 0xff;
      d24[i * 3 + 1] = (v >> 8) & 0xff;
      d24[i * 3 + 2] = (v >> 16) & 0xff;
    });
    const c = decodeWav(
      wav({ format: 1, channels: 1, rate: 44100, bits: 24, data: d24, extensible: true }),
    );
    expect(Array.from(c.samples)).toEqual(Array.from(s));
    // 32-bit float and float64
    const f32 = new Float32Array(Array.from(s, (x) => x / 32768));
    const d = decodeWav(
      wav({ format: 3, channels: 1, rate: 16000, bits: 32, data: new Uint8Array(f32.buffer) }),
    );
    d.samples.forEach((x, i) => expect(Math.abs(x - s[i]!)).toBeLessThanOrEqual(1));
    expect(d.info.format).toBe(3);
    const f64 = new Float64Array(Array.from(s, (x) => x / 32768));
    const e = decodeWav(
      wav({ format: 3, channels: 1, rate: 96000, bits: 64, data: new Uint8Array(f64.buffer) }),
    );
    expect(Array.from(e.samples)).toEqual(Array.from(s));
  });

  const bad: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['not RIFF', new TextEncoder().encode('RIFX....WAVEfmt ')],
    ['RIFF without chunks', new TextEncoder().encode('RIFF\x04\x00\x00\x00WAVE')],
    ['a-law', wav({ format: 6, channels: 1, rate: 8000, bits: 8, data: new Uint8Array(10) })],
    ['12-bit', wav({ format: 1, channels: 1, rate: 8000, bits: 12, data: new Uint8Array(10) })],
    ['0 channels', wav({ format: 1, channels: 0, rate: 8000, bits: 16, data: new Uint8Array(10) })],
    ['rate 0', wav({ format: 1, channels: 1, rate: 0, bits: 16, data: new Uint8Array(10) })],
    ['truncated fmt', encodeWav({ samples: new Int16Array(4), sampleRate: 8000 }).slice(0, 24)],
    ['no data chunk', encodeWav({ samples: new Int16Array(4), sampleRate: 8000 }).slice(0, 36)],
  ];
  for (const [name, bytes] of bad) {
    it(`rejects ${name} with AudioError bad-wav and one line`, () => {
      let err: unknown;
      try {
        decodeWav(bytes);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(AudioError);
      expect((err as AudioError).code).toBe('bad-wav');
      expect((err as AudioError).message).not.toContain('\n');
    });
  }

  it('a truncated data chunk (a recorder stopped mid-write) reads what is there', () => {
    const full = encodeWav({ samples: sine(100, 8000), sampleRate: 8000 });
    expect(decodeWav(full.slice(0, 44 + 101)).samples.length).toBe(50);
  });

  it('pcmStream gives the samples as s16le bytes', async () => {
    const pcm: Pcm = { samples: sine(5000, 22050), sampleRate: 22050 };
    const chunks: Buffer[] = [];
    for await (const c of pcmStream(pcm, 20)) chunks.push(c as Buffer);
    expect(chunks.length).toBeGreaterThan(5);
    const all = Buffer.concat(chunks);
    expect(all.length).toBe(10_000);
    expect(all.readInt16LE(2 * 1234)).toBe(pcm.samples[1234]);
  });
});

describeWithTool(
  'python3',
  toolAvailable('python3'),
  "our WAV read by Python's wave module",
  () => {
    it('has the header fields and samples Python finds', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'mitid-wav-'));
      try {
        const pcm: Pcm = { samples: sine(2205, 22050), sampleRate: 22050 };
        const path = join(dir, 'x.wav');
        await writeFile(path, encodeWav(pcm));
        const py = [
          'import sys, wave, struct',
          'w = wave.open(sys.argv[1])',
          'f = w.readframes(w.getnframes())',
          'print(w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes(), struct.unpack("<h", f[200:202])[0])',
        ].join('\n');
        const r = spawnSync('python3', ['-c', py, path], { encoding: 'utf8' });
        expect(r.status).toBe(0);
        expect(r.stdout.trim()).toBe(`1 2 22050 2205 ${pcm.samples[100]}`);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  },
);

describe('digits kept on disk', () => {
  it('a second speaker reads the first one’s digits from the cache; a damaged or altered file is rendered again', async () => {
    const { CodeSpeaker } = await import('../../src/audio/code-speech.js');
    const { createSpeechEngine } = await import('../../src/audio/engines/index.js');
    const { readdir, readFile, stat } = await import('node:fs/promises');
    const dir = await mkdtemp(join(tmpdir(), 'mitid-digits-'));
    try {
      const engine = createSpeechEngine('espeak-ng-wasm');
      const opts = { cacheDir: dir, cacheRates: [133] };
      const a = await new CodeSpeaker(engine, opts).digits('en', 133);
      const files = await readdir(dir);
      expect(files).toEqual([`${engine.cacheKey}-en-en-133.digits.json`]);
      if (process.platform !== 'win32') {
        expect((await stat(join(dir, files[0]!))).mode & 0o077).toBe(0);
      }
      let renders = 0;
      const counting = {
        ...engine,
        id: engine.id,
        cacheKey: engine.cacheKey,
        defaultVoice: engine.defaultVoice.bind(engine),
        render: engine.render.bind(engine),
        renderSeparate: (...args: Parameters<NonNullable<typeof engine.renderSeparate>>) => (
          renders++,
          engine.renderSeparate!(...args)
        ),
      };
      const b = await new CodeSpeaker(counting, opts).digits('en', 133);
      expect(renders).toBe(0);
      expect(b.map((d) => Array.from(d.samples))).toEqual(a.map((d) => Array.from(d.samples)));
      const file = join(dir, files[0]!);
      const good = await readFile(file, 'utf8');
      // Cut short: rendered again.
      await writeFile(file, '{"sampleRate": 22050, "digits": ["AAA"]}');
      const c = await new CodeSpeaker(counting, opts).digits('en', 133);
      expect(renders).toBe(1);
      expect(c[3]!.samples.length).toBe(a[3]!.samples.length);
      // Well formed, but digit 3 swapped for digit 8 (the checksum no longer fits): rendered again.
      const j = JSON.parse(good) as { digits: string[] };
      j.digits[3] = j.digits[8]!;
      await writeFile(file, JSON.stringify(j));
      const d = await new CodeSpeaker(counting, opts).digits('en', 133);
      expect(renders).toBe(2);
      expect(Array.from(d[3]!.samples)).toEqual(Array.from(a[3]!.samples));
      // The file for another engine build, copied under this build's name: rendered again.
      const other = JSON.parse(good) as { key: string };
      other.key = other.key.replace(engine.cacheKey!, 'espeak-ng-wasm@0.0.0');
      await writeFile(file, JSON.stringify(other));
      await new CodeSpeaker(counting, opts).digits('en', 133);
      expect(renders).toBe(3);
      // After the re-render the file is good again.
      await new CodeSpeaker(counting, opts).digits('en', 133);
      expect(renders).toBe(3);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('only the rates asked for go to disk; others stay in memory', async () => {
    const { CodeSpeaker } = await import('../../src/audio/code-speech.js');
    const { createSpeechEngine } = await import('../../src/audio/engines/index.js');
    const { readdir } = await import('node:fs/promises');
    const dir = await mkdtemp(join(tmpdir(), 'mitid-digits-'));
    try {
      const s = new CodeSpeaker(createSpeechEngine('espeak-ng-wasm'), {
        cacheDir: dir,
        cacheRates: [150],
      });
      await s.digits('en', 137);
      expect(await readdir(dir)).toEqual([]);
      await s.digits('en', 150);
      expect(await readdir(dir)).toHaveLength(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(process.platform === 'win32')(
    'a group- or world-writable cache directory is refused: the digits stay in memory',
    async () => {
      const { CodeSpeaker, defaultDigitCacheDir, safeCacheDir } =
        await import('../../src/audio/code-speech.js');
      const { createSpeechEngine } = await import('../../src/audio/engines/index.js');
      const { chmod, mkdir, readdir, stat, symlink } = await import('node:fs/promises');
      const root = await mkdtemp(join(tmpdir(), 'mitid-digits-'));
      try {
        const shared = join(root, 'shared');
        await mkdir(shared);
        await chmod(shared, 0o777);
        expect(await safeCacheDir(shared)).toBe(false);
        const s = new CodeSpeaker(createSpeechEngine('espeak-ng-wasm'), {
          cacheDir: shared,
          cacheRates: [150],
        });
        expect((await s.digits('en', 150)).length).toBe(10);
        expect(await readdir(shared)).toEqual([]);
        // A link to a directory is not the directory.
        const own = join(root, 'own');
        expect(await safeCacheDir(own)).toBe(true);
        expect((await stat(own)).mode & 0o777).toBe(0o700);
        await symlink(own, join(root, 'link'));
        expect(await safeCacheDir(join(root, 'link'))).toBe(false);
        // The default is this user's own directory, not one shared by everyone.
        expect(defaultDigitCacheDir()).toBe(
          join(tmpdir(), `mitid-sim-digits-${process.getuid?.() ?? ''}`),
        );
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    },
  );
});
