// The AudioReader device: the OTP contract, its proof's WAV heard back as the code, keys saved in its device file.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AudioReader } from '../../devices/audio-reader/index.js';
import { analyzeWav } from '../../src/audio/analyze.js';
import { encodeWav } from '../../src/audio/wav.js';
import { VirtualClock } from '../../src/core/clock.js';
import { AUDIO_READER_PROFILE } from '../../firmware-sim/audio-reader/index.js';
import { describeAuthenticatorContract } from '../contract/authenticator-contract.js';
import { independentTotp } from '../contract/independent-totp.js';
import { speaker } from '../audio/support.js';

const START = Date.UTC(2026, 10, 25, 9, 0, 0);
const secret = new Uint8Array(20).map((_, i) => (i * 41 + 7) & 0xff);
const key = { secret, algorithm: 'SHA1' as const, digits: 6, period: 30, t0: 0 };

describeAuthenticatorContract('virtual audio reader', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mitid-ar-contract-'));
  const path = join(dir, 'reader.json');
  const made = new VirtualClock({ start: START });
  let created = false;
  return {
    kind: 'audio-reader' as const,
    serial: 'AR-CONTRACT-1',
    key,
    start: START + 3_600_000,
    deviceTimeAt: (at: number) => at,
    async open() {
      if (created) return AudioReader.open(path, { speech: speaker });
      created = true;
      return AudioReader.create({
        serial: 'AR-CONTRACT-1',
        key: { serial: 'AR-CONTRACT-1', type: 'totp', ...key },
        out: path,
        reference: made,
        speech: speaker,
      });
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('AudioReader', () => {
  it('its proof carries a WAV that the analyser hears as the code, in the reader’s language, with the checklist filled', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mitid-ar-'));
    try {
      const path = join(dir, 'r.json');
      const r = await AudioReader.create({
        serial: 'AR-1',
        key: { serial: 'AR-1', type: 'totp', ...key },
        out: path,
        lang: 'en',
        speech: speaker,
      });
      for (const at of [START, START + 60_000, START + 90_000]) {
        const proof = await r.prove({ at });
        expect(proof.code).toBe(independentTotp(key, at));
        const a = await analyzeWav(proof.audio!, {
          speaker,
          expect: proof.code,
          profile: AUDIO_READER_PROFILE,
        });
        expect(a.decoded).toBe(proof.code);
        expect(a.matches).toBe(true);
        expect(a.language).toBe('en');
        expect(a.endTone.detected).toBe(true);
        const byId = Object.fromEntries(a.checklist.map((c) => [c.id, c]));
        expect(byId['repeatable']).toMatchObject({
          source: 'device-profile',
          status: 'pass',
          clause: '5.1.3.4',
        });
        expect(byId['no-simultaneous']).toMatchObject({
          source: 'device-profile',
          status: 'pass',
          clause: '5.9',
        });
        expect(byId['correlation']).toMatchObject({
          source: 'sound',
          status: 'pass',
          clause: '5.1.3.3',
        });
        expect(byId['digit-by-digit']).toMatchObject({ source: 'sound', status: 'pass' });
        expect(a.checklist.every((c) => c.status !== 'fail')).toBe(true);
      }
      await r.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keys are saved in the device file and a reopened reader goes on from there', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mitid-ar-'));
    try {
      const path = join(dir, 'r.json');
      const r = await AudioReader.create({ serial: 'AR-2', out: path, speech: speaker });
      const outs = await r.keys('red fn+3 fn+3 fn+9 fn+6', START);
      expect(outs.map((o) => o.action)).toEqual([
        'power-on',
        'faster',
        'faster',
        'english',
        'louder',
      ]);
      // Each key came while the previous answer was being spoken.
      expect(outs.slice(1).every((o) => o.interrupted !== null)).toBe(true);
      await r.close();
      const file = JSON.parse(await readFile(path, 'utf8'));
      expect(file).toMatchObject({
        format: 'mitid-sim.device',
        kind: 'audio-reader',
        serial: 'AR-2',
      });
      expect(file.reader.settings).toMatchObject({ lang: 'en', rateStep: 4, volume: 6 });
      const again = await AudioReader.open(path, { speech: speaker });
      const rep = await again.key('fn+0', START + 1000);
      expect(rep.action).toBe('repeat');
      expect(rep.utterances[0]!.rateWpm).toBe(200);
      const rendered = await again.render(rep.utterances[0]!);
      const a = await analyzeWav(encodeWav(rendered.pcm), { speaker, lang: 'en' });
      expect(a.decoded).toBe(rep.utterances[0]!.code);
      expect(Math.abs(a.timing.estimatedWpm! - 200) / 200).toBeLessThan(0.05);
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('volume steps change the level by 3 dB each', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mitid-ar-'));
    try {
      const r = await AudioReader.create({
        serial: 'AR-3',
        out: join(dir, 'r.json'),
        speech: speaker,
      });
      const loud = await r.speak(START);
      await r.keys('fn+4 fn+4', START);
      const quiet = await r.speak(START);
      const la = await analyzeWav(loud.wav, { speaker });
      const qa = await analyzeWav(quiet.wav, { speaker });
      expect(la.levels.speechRmsDbfs - qa.levels.speechRmsDbfs).toBeCloseTo(6, 0);
      expect(qa.decoded).toBe(quiet.code);
      await r.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
