// Playback without a sound card: the probe says so and playing gives a clear error, in-process and in a child.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { AudioError } from '../../src/audio/errors.js';
import { playPcm, probeSoundDevice, probeSpeakerInChild } from '../../src/audio/playback.js';
import { SayEngine, createSpeechEngine, sayCanExport } from '../../src/audio/engines/index.js';

const CARDS =
  ' 0 [PCH            ]: HDA-Intel - HDA Intel PCH\n                      HDA Intel PCH at 0xf7f10000 irq 32\n';

describe('probeSpeakerInChild (aplay missing)', () => {
  it('a module that aborts its process on load, or exits non-zero, means no device; a clean load means one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mitid-speaker-probe-'));
    try {
      const aborts = join(dir, 'aborts.cjs');
      await writeFile(aborts, 'process.abort();\n');
      const a = probeSpeakerInChild(aborts);
      expect(a.available).toBe(false);
      expect(a.reason).toMatch(/killed by SIGABRT|exited with/);
      const fails = join(dir, 'fails.cjs');
      await writeFile(fails, 'process.exit(4);\n');
      expect(probeSpeakerInChild(fails)).toMatchObject({ available: false });
      expect(probeSpeakerInChild(fails).reason).toContain('exited with 4');
      // A stand-in with speaker's shape that opens fine.
      const opens = join(dir, 'opens.cjs');
      await writeFile(
        opens,
        "const { EventEmitter } = require('node:events');\nmodule.exports = class extends EventEmitter {};\n",
      );
      expect(probeSpeakerInChild(opens).available).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('probeSoundDevice', () => {
  it('reads machines described to it', () => {
    expect(probeSoundDevice({ platform: 'linux', asoundCards: undefined }).available).toBe(false);
    expect(
      probeSoundDevice({ platform: 'linux', asoundCards: '--- no soundcards ---\n' }).available,
    ).toBe(false);
    expect(
      probeSoundDevice({
        platform: 'linux',
        asoundCards: CARDS,
        aplayList: 'null\n    Discard all samples\n',
      }).available,
    ).toBe(false);
    expect(
      probeSoundDevice({
        platform: 'linux',
        asoundCards: CARDS,
        aplayList: 'null\ndefault\n    Default ALSA Output\n',
      }).available,
    ).toBe(true);
    // A listed card without aplay is not taken on trust: the child-process probe decides.
    expect(
      probeSoundDevice({
        platform: 'linux',
        asoundCards: CARDS,
        aplayList: undefined,
        speakerProbe: () => ({ available: false, reason: 'test' }),
      }).available,
    ).toBe(false);
    expect(
      probeSoundDevice({
        platform: 'linux',
        asoundCards: CARDS,
        aplayList: undefined,
        speakerProbe: () => ({ available: true, reason: 'test' }),
      }).available,
    ).toBe(true);
    expect(probeSoundDevice({ platform: 'darwin' }).available).toBe(true);
    expect(probeSoundDevice({ platform: 'freebsd' }).available).toBe(false);
  });

  it('agrees with this machine', () => {
    const p = probeSoundDevice();
    if (process.platform === 'linux' && !existsSync('/proc/asound/cards'))
      expect(p.available).toBe(false);
    expect(p.reason).not.toContain('\n');
  });
});

describe('playPcm', () => {
  const pcm = { samples: new Int16Array(2205), sampleRate: 22050 };

  it('without a device: AudioError no-sound-device, and speaker is never loaded', async () => {
    const err = await playPcm(pcm, {
      probe: { available: false, reason: 'ALSA lists no sound cards' },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AudioError);
    expect((err as AudioError).code).toBe('no-sound-device');
    expect((err as AudioError).message).toMatch(/^cannot play audio: ALSA lists no sound cards/);
  });

  it('with a device but without the optional speaker package: engine-unavailable, not a crash', async () => {
    const err = await playPcm(pcm, { probe: { available: true, reason: 'test' } }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AudioError);
    expect(['engine-unavailable', 'playback-failed']).toContain((err as AudioError).code);
  });

  it('on this machine, in a fresh process, playPcm ends with a clear error or plays: the process survives', async () => {
    // The real modules, transpiled as they are, run in a child so a native abort could not hide.
    const dir = await mkdtemp(join(tmpdir(), 'mitid-play-'));
    try {
      for (const f of [
        'src/audio/playback',
        'src/audio/errors',
        'src/audio/stream',
        'src/core/errors',
      ]) {
        const js = ts.transpileModule(await readFile(`${f}.ts`, 'utf8'), {
          compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
        }).outputText;
        await mkdir(join(dir, dirname(f)), { recursive: true });
        await writeFile(
          join(dir, `${f}.mjs`),
          js.replace(/from '(\.[^']+)\.js'/g, "from '$1.mjs'"),
        );
      }
      await writeFile(join(dir, 'package.json'), '{"type":"module"}');
      const script = [
        `const { playPcm } = await import(${JSON.stringify(pathToFileURL(join(dir, 'src/audio/playback.mjs')).href)});`,
        'try { await playPcm({ samples: new Int16Array(100), sampleRate: 22050 }); console.log("played"); }',
        'catch (e) { console.log(e.code + ": " + e.message); }',
        'console.log("alive");',
      ].join('\n');
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        encoding: 'utf8',
      });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('alive');
      if (!probeSoundDevice().available)
        expect(r.stdout).toMatch(/^no-sound-device: cannot play audio: /);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('engines', () => {
  it('say is refused off macOS with a clear error', () => {
    if (sayCanExport()) return;
    expect(() => new SayEngine()).toThrowError(/only on macOS/);
    expect(() => createSpeechEngine('say')).toThrowError(AudioError);
  });

  it('unknown engine names and bad requests are AudioError bad-option', async () => {
    expect(() => createSpeechEngine('festival')).toThrowError(/speech engine must be one of/);
    const e = createSpeechEngine('espeak-ng-wasm');
    await expect(e.render({ text: '1', lang: 'de' as 'da', rate: 150 })).rejects.toMatchObject({
      code: 'bad-option',
    });
    await expect(e.render({ text: '1', lang: 'da', rate: 20 })).rejects.toMatchObject({
      code: 'bad-option',
    });
    await expect(
      e.render({ text: '1', lang: 'da', rate: 150, voice: '../x' }),
    ).rejects.toMatchObject({ code: 'bad-option' });
  });

  it('a render leaves the process exit code alone (the glue would set it when eSpeak NG exits)', async () => {
    const e = createSpeechEngine('espeak-ng-wasm');
    const before = process.exitCode;
    // eSpeak NG falls back to its default voice for a name it does not know, as the system one does.
    const pcm = await e.render({ text: '1', lang: 'da', rate: 150, voice: 'no-such-voice' });
    expect(pcm.samples.length).toBeGreaterThan(1000);
    expect(process.exitCode).toBe(before);
  });
});
