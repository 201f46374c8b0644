// The audio verbs run through the CLI's own router in-process: exact forms, JSON, exit codes, one-line errors.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { allCommands } from '../../src/cli/commands/index.js';
import { commands as audioCommands } from '../../src/cli/commands/audio.js';
import { probeSoundDevice } from '../../src/audio/playback.js';
import { decodeWav, encodeWav } from '../../src/audio/wav.js';
import { independentTotp } from '../contract/independent-totp.js';
import { fromHex } from '../../src/core/bytes.js';

// The audio module may or may not be registered in the shared list yet: add it once.
const commands = [...allCommands.filter((c) => !audioCommands.includes(c)), ...audioCommands];

async function cli(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const status = await runCli(
    args,
    { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) },
    commands,
  );
  return { status, stdout, stderr };
}

function oneLineError(r: { status: number; stdout: string; stderr: string }, pattern: RegExp) {
  expect(r.status).not.toBe(0);
  expect(r.stderr).toMatch(/^mitid-sim: [^\n]+\n$/);
  expect(r.stderr).toMatch(pattern);
}

let dir: string;
let dev: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mitid-audio-cli-'));
  dev = join(dir, 'reader.json');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('device create audio-reader / speak / audio analyze', () => {
  it('makes a reader, speaks its code at a time, and the analyser hears that code', async () => {
    const made = await cli(
      'device',
      'create',
      'audio-reader',
      '--serial',
      'AR-CLI-1',
      '--out',
      dev,
      '--lang',
      'en',
      '--json',
    );
    expect(made.status).toBe(0);
    expect(JSON.parse(made.stdout)).toMatchObject({
      kind: 'audio-reader',
      serial: 'AR-CLI-1',
      lang: 'en',
    });
    const file = JSON.parse(await readFile(dev, 'utf8'));
    const key = {
      secret: fromHex(file.token.key.secretHex),
      algorithm: 'SHA1' as const,
      digits: 6,
      period: 30,
      t0: 0,
    };

    const wav = join(dir, 'code.wav');
    const at = '2026-11-25T12:00:00Z';
    const s = await cli('speak', dev, '--out', wav, '--at', at, '--rate', '175', '--json');
    expect(s.stderr).toBe('');
    expect(s.status).toBe(0);
    const spoken = JSON.parse(s.stdout);
    expect(spoken.code).toBe(independentTotp(key, Date.parse(at)));
    expect(spoken).toMatchObject({ lang: 'en', rateWpm: 175, serial: 'AR-CLI-1' });
    expect(decodeWav(new Uint8Array(await readFile(wav))).sampleRate).toBe(spoken.sampleRate);

    const svg = join(dir, 'code.svg');
    const a = await cli('audio', 'analyze', wav, '--expect', spoken.code, '--json', '--svg', svg);
    expect(a.status).toBe(0);
    const an = JSON.parse(a.stdout);
    expect(an.decoded).toBe(spoken.code);
    expect(an.matches).toBe(true);
    expect(an.warnings).toEqual([]);
    expect(an.language).toBe('en');
    expect(Math.abs(an.timing.estimatedWpm - 175)).toBeLessThan(9);
    const pic = await readFile(svg, 'utf8');
    expect(pic).toMatch(/^<svg /);
    for (const d of spoken.code) expect(pic).toContain(`font-weight="bold">${d}</text>`);
    expect(pic).toContain('tone 1000 Hz');

    // The device items are not vouched for on any file: only with --profile emulated.
    expect(
      an.checklist.filter((c: { source: string }) => c.source === 'device-profile'),
    ).not.toEqual([]);
    for (const c of an.checklist.filter((c: { source: string }) => c.source === 'device-profile'))
      expect(c.status).toBe('not-assessed');
    const human = await cli('audio', 'analyze', wav);
    expect(human.status).toBe(0);
    expect(human.stdout).toContain(`heard: ${spoken.code} (en)`);
    expect(human.stdout).toMatch(/\[\?\] 5\.9 +No simultaneous key presses needed/);
    const vouched = await cli('audio', 'analyze', wav, '--profile', 'emulated');
    expect(vouched.status).toBe(0);
    expect(vouched.stdout).toMatch(/\[x\] 5\.9 +No simultaneous key presses needed/);
    const help = await cli('audio', 'analyze', '--help');
    expect(help.stdout).toContain('--profile emulated');

    const wrong = String((Number(spoken.code[0]) + 1) % 10) + spoken.code.slice(1);
    const mismatch = await cli('audio', 'analyze', wav, '--expect', wrong, '--json');
    expect(mismatch.status).toBe(1);
    expect(JSON.parse(mismatch.stdout).matches).toBe(false);
    expect(mismatch.stdout).not.toContain(wrong);
  });

  it('speak --lang da speaks Danish this once; the reader keeps English', async () => {
    const wav = join(dir, 'da.wav');
    const s = await cli('speak', dev, '--out', wav, '--lang', 'da', '--json');
    expect(s.status).toBe(0);
    expect(JSON.parse(s.stdout).lang).toBe('da');
    const a = JSON.parse((await cli('audio', 'analyze', wav, '--json')).stdout);
    expect(a.language).toBe('da');
    expect(JSON.parse(await readFile(dev, 'utf8')).reader.settings.lang).toBe('en');
  });

  it('speak --play without a sound device writes the WAV and then fails with one clear line', async () => {
    if (probeSoundDevice().available) return;
    const wav = join(dir, 'play.wav');
    const r = await cli('speak', dev, '--out', wav, '--play');
    oneLineError({ ...r, stdout: '' }, /cannot play audio: .*write a WAV file instead/);
    expect((await readFile(wav)).length).toBeGreaterThan(44);
  });

  it('press and show work on an audio reader through the device factory', async () => {
    const press = commands.find((c) => c.path.join(' ') === 'press');
    if (!press) return; // the press verb is not in this build
    const r = await cli('press', dev, '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/\d{6}/);
    const show = await cli('show', dev, '--json');
    expect(show.stderr).toBe('');
    expect(show.status).toBe(0);
  });

  it('device export and device import --kind audio-reader carry a reader’s key', async () => {
    if (!commands.some((c) => c.path.join(' ') === 'device export')) return;
    const csv = join(dir, 'seed.csv');
    const ex = await cli('device', 'export', dev, '--format', 'csv', '--out', csv);
    expect(ex.status).toBe(0);
    const im = await cli(
      'device',
      'import',
      csv,
      '--kind',
      'audio-reader',
      '--out-dir',
      join(dir, 'imported'),
      '--json',
    );
    expect(im.stderr).toBe('');
    expect(im.status).toBe(0);
    const copy = join(dir, 'imported', 'AR-CLI-1.json');
    const f = JSON.parse(await readFile(copy, 'utf8'));
    expect(f.kind).toBe('audio-reader');
    expect(f.token.key.secretHex).toBe(JSON.parse(await readFile(dev, 'utf8')).token.key.secretHex);
    // The copy speaks the code of the original's key (the original is left untouched).
    const at = '2026-11-25T13:00:00Z';
    const b = JSON.parse(
      (await cli('speak', copy, '--out', join(dir, 'b.wav'), '--at', at, '--json')).stdout,
    );
    const key = {
      secret: fromHex(f.token.key.secretHex),
      algorithm: 'SHA1' as const,
      digits: 6,
      period: 30,
      t0: 0,
    };
    expect(b.code).toBe(independentTotp(key, Date.parse(at)));
  });

  it('the documented one-key-at-a-time sequence works from the command line', async () => {
    const file = join(dir, 'sticky.json');
    expect(
      (await cli('device', 'create', 'audio-reader', '--serial', 'AR-STICKY', '--out', file))
        .status,
    ).toBe(0);
    const r = await cli('keys', file, 'red-long red 1 done red 0', '--json');
    expect(r.status).toBe(0);
    const actions = JSON.parse(r.stdout).outcomes.map((o: { action: string }) => o.action);
    expect(actions).toEqual(['sticky-on', 'stop', 'slower', 'speech-ended', 'read', 'repeat']);
  });
});

describe('keys', () => {
  it('reports what each key did, saving the settings', async () => {
    const r = await cli('keys', dev, 'red fn+3 fn+3', 'done', 'fn+7', '--json');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout).outcomes;
    // The reader is normally still on from the commands before ('read'); it turns itself off two
    // minutes after its last key, so on a very slow run red turns it on instead.
    expect(['read', 'power-on']).toContain(out[0].action);
    expect(out.slice(1).map((o: { action: string }) => o.action)).toEqual([
      'faster',
      'faster',
      'speech-ended',
      'danish',
    ]);
    expect(out[1].interrupted).not.toBeNull();
    expect(out[4].interrupted).toBeNull();
    const st = JSON.parse(await readFile(dev, 'utf8')).reader.settings;
    expect(st).toMatchObject({ lang: 'da', rateStep: 4 });
    const human = await cli('keys', dev, 'fn+0');
    expect(human.stdout).toMatch(
      /^fn\+0: repeat .*says the code \d{6} digit by digit, then a tone \(da, 200 wpm/,
    );
  });

  it('--out-dir writes each utterance as a WAV that decodes to what was said', async () => {
    const out = join(dir, 'keys');
    const r = await cli('keys', dev, 'done fn+0', '--out-dir', out, '--json');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    const u = j.outcomes[1].utterances[0];
    const a = JSON.parse(
      (await cli('audio', 'analyze', j.files[0], '--json', '--lang', 'da')).stdout,
    );
    expect(a.decoded).toBe(u.code);
  });
});

describe('error paths: one line, no stack, a clear reason', () => {
  const cases: [string, string[], RegExp][] = [
    [
      'missing --serial',
      ['device', 'create', 'audio-reader', '--out', 'x.json'],
      /--serial is required/,
    ],
    [
      'bad --lang',
      ['device', 'create', 'audio-reader', '--serial', 'A1', '--out', 'x.json', '--lang', 'de'],
      /--lang must be da or en/,
    ],
    [
      'bad serial',
      ['device', 'create', 'audio-reader', '--serial', '-bad', '--out', 'SUB/x.json'],
      /serial/,
    ],
    ['speak without --out', ['speak', 'DEV'], /--out is required/],
    [
      'speak, no such device file',
      ['speak', 'SUB/none.json', '--out', 'SUB/o.wav'],
      /no such device file/,
    ],
    [
      'speak --rate out of range',
      ['speak', 'DEV', '--out', 'SUB/o.wav', '--rate', '20'],
      /--rate must be a whole number/,
    ],
    [
      'speak --at nonsense',
      ['speak', 'DEV', '--out', 'SUB/o.wav', '--at', 'yesterday'],
      /--at must be ISO 8601/,
    ],
    [
      'speak --engine unknown',
      ['speak', 'DEV', '--out', 'SUB/o.wav', '--engine', 'festival'],
      /--engine must be one of/,
    ],
    ['keys without a sequence', ['keys', 'DEV'], /missing argument/],
    ['keys with an unknown key', ['keys', 'DEV', 'red blue'], /unknown key 'blue'/],
    ['analyze a missing file', ['audio', 'analyze', 'SUB/none.wav'], /no such file or directory/],
    [
      'analyze a non-WAV',
      ['audio', 'analyze', 'SUB/text.wav'],
      /not a WAV file we can read: no RIFF\/WAVE signature/,
    ],
    ['analyze silence', ['audio', 'analyze', 'SUB/silence.wav'], /no speech found/],
    [
      'analyze --expect letters',
      ['audio', 'analyze', 'SUB/silence.wav', '--expect', '12ab'],
      /--expect must be 1 to 16 digits/,
    ],
    [
      'analyze --profile of another reader',
      ['audio', 'analyze', 'SUB/silence.wav', '--profile', 'physical'],
      /--profile must be emulated/,
    ],
    [
      'analyze --lang fr',
      ['audio', 'analyze', 'SUB/silence.wav', '--lang', 'fr'],
      /--lang must be da or en or auto/,
    ],
    [
      'a code display file given to speak',
      ['speak', 'SUB/cd.json', '--out', 'SUB/o.wav'],
      /holds a code-display, not a audio-reader|not an? audio-reader/,
    ],
  ];
  beforeAll(async () => {
    await writeFile(join(dir, 'text.wav'), 'hello, not audio');
    await writeFile(
      join(dir, 'silence.wav'),
      encodeWav({ samples: new Int16Array(22050), sampleRate: 22050 }),
    );
    await writeFile(
      join(dir, 'cd.json'),
      JSON.stringify({
        format: 'mitid-sim.device',
        version: 1,
        kind: 'code-display',
        serial: 'CD1',
      }),
    );
  });
  for (const [name, args, pattern] of cases) {
    it(name, async () => {
      const fixed = args.map((a) => (a === 'DEV' ? dev : a.replace(/^SUB\//, `${dir}/`)));
      const r = await cli(...fixed);
      oneLineError(r, pattern);
      expect(r.stderr).not.toContain('internal error');
    });
  }
});
