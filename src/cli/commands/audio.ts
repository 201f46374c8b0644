/** The audio code reader's verbs: make one, hear its code as a WAV, press its keys, analyse any spoken code. */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { parseTime } from '../../core/clock.js';
import { UsageError } from '../../core/errors.js';
import { analyzeWav, type AudioAnalysis } from '../../audio/analyze.js';
import { CodeSpeaker, defaultDigitCacheDir } from '../../audio/code-speech.js';
import { createSpeechEngine, SpeechEngineNames } from '../../audio/engines/index.js';
import { playPcm } from '../../audio/playback.js';
import { MAX_RATE_WPM, MIN_RATE_WPM } from '../../audio/speech.js';
import { renderAnalysisSvg } from '../../audio/svg.js';
import { join } from 'node:path';
import { decodeWav, durationMs, encodeWav } from '../../audio/wav.js';
import { AudioReader, registerAudioReader } from '../../../devices/audio-reader/index.js';
import {
  AUDIO_READER_PROFILE,
  RATE_STEPS,
  type KeyOutcome,
  type Utterance,
} from '../../../firmware-sim/audio-reader/index.js';
import { flag, printJson, req, str, type Command, type CommandContext } from '../command.js';

// `press`, `show`, `device import|export` reach audio readers through the device factory.
registerAudioReader();

function atOption(ctx: CommandContext): number | undefined {
  const at = str(ctx, 'at');
  if (at === undefined) return undefined;
  try {
    return parseTime(at);
  } catch {
    throw new UsageError(
      'usage',
      `--at must be ISO 8601 (2026-11-25T12:00:00Z) or Unix seconds, got "${at.slice(0, 40)}"`,
    );
  }
}

function langOption(ctx: CommandContext, allowAuto = false): 'da' | 'en' | 'auto' | undefined {
  const lang = str(ctx, 'lang');
  if (lang === undefined) return undefined;
  if (lang === 'da' || lang === 'en' || (allowAuto && lang === 'auto')) return lang;
  throw new UsageError('usage', `--lang must be da or en${allowAuto ? ' or auto' : ''}`);
}

function speakerOption(ctx: CommandContext): CodeSpeaker {
  const name = str(ctx, 'engine') ?? 'espeak-ng-wasm';
  if (!(SpeechEngineNames as readonly string[]).includes(name)) {
    throw new UsageError('usage', `--engine must be one of ${SpeechEngineNames.join(', ')}`);
  }
  // Digits rendered by one run are kept on disk for the next (engines with a fixed build only),
  // for the reader's own rate steps: the analyser's estimated rates stay in memory.
  return new CodeSpeaker(createSpeechEngine(name), {
    cacheDir: defaultDigitCacheDir(),
    cacheRates: RATE_STEPS,
  });
}

function describeUtterance(u: Utterance): string {
  const what = u.kind === 'code' ? `the code ${u.code} digit by digit, then a tone` : `"${u.text}"`;
  return `says ${what} (${u.lang}, ${u.rateWpm} wpm, volume ${u.volume}, ${u.output})`;
}

const createAudioReader: Command = {
  path: ['device', 'create', 'audio-reader'],
  summary: 'make a virtual audio code reader (a new random TOTP key) in a device file',
  usage:
    'device create audio-reader --serial SERIAL --out FILE [--lang da|en] [--drift PPM] [--json]',
  help: `Options:
  --serial SERIAL   the serial number printed on the device (letters, digits, dashes)
  --out FILE        the device file to write; it must not exist
  --lang da|en      the language it speaks at first (default da; fn+7 / fn+9 change it)
  --drift PPM       the crystal's rate error in parts per million (default 0)
  --json            print what was made as JSON`,
  options: {
    serial: { type: 'string' },
    out: { type: 'string' },
    lang: { type: 'string' },
    drift: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(ctx) {
    const serial = req(ctx, 'serial');
    const out = req(ctx, 'out');
    const lang = langOption(ctx) as 'da' | 'en' | undefined;
    const driftText = str(ctx, 'drift');
    const driftPpm = driftText === undefined ? 0 : Number(driftText);
    if (!Number.isFinite(driftPpm))
      throw new UsageError('usage', '--drift must be a number of ppm');
    const dev = await AudioReader.create({ serial, out, driftPpm, ...(lang ? { lang } : {}) });
    const s = dev.status();
    await dev.close();
    if (flag(ctx, 'json')) {
      printJson(ctx, {
        kind: dev.kind,
        serial,
        file: out,
        lang: s.lang,
        rateWpm: s.rateWpm,
        volume: s.volume,
        digits: s.digits,
        period: s.period,
      });
    } else ctx.io.stdout(`made audio code reader ${serial} (${s.lang}) in ${out}\n`);
  },
};

const speak: Command = {
  path: ['speak'],
  summary: "press an audio reader's red key and write the code it speaks as a WAV",
  usage: 'speak FILE --out WAV [--at TIME] [--lang da|en] [--rate N] [--play] [--json]',
  help: `Options:
  --out WAV         where the spoken code goes (16-bit PCM mono WAV)
  --at TIME         press at this host time (ISO 8601 or Unix seconds) instead of now
  --lang da|en      speak this language this once (the reader's setting is kept)
  --rate N          speak at N words per minute this once (${MIN_RATE_WPM}-${MAX_RATE_WPM})
  --engine NAME     espeak-ng-wasm (default, embedded), espeak-ng (system) or say (macOS)
  --play            also play it on the sound device (needs one, and the npm package speaker)
  --json            print the code, timings and settings as JSON`,
  positionals: [1, 1],
  options: {
    out: { type: 'string' },
    at: { type: 'string' },
    lang: { type: 'string' },
    rate: { type: 'string' },
    engine: { type: 'string' },
    play: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  async run(ctx) {
    const out = req(ctx, 'out');
    const at = atOption(ctx);
    const lang = langOption(ctx) as 'da' | 'en' | undefined;
    const rateText = str(ctx, 'rate');
    const rate = rateText === undefined ? undefined : Number(rateText);
    if (
      rate !== undefined &&
      (!Number.isInteger(rate) || rate < MIN_RATE_WPM || rate > MAX_RATE_WPM)
    ) {
      throw new UsageError(
        'usage',
        `--rate must be a whole number of words per minute from ${MIN_RATE_WPM} to ${MAX_RATE_WPM}`,
      );
    }
    const speech = speakerOption(ctx);
    const dev = await AudioReader.open(ctx.positionals[0]!, { speech });
    let spoken;
    try {
      spoken = await dev.speak(at, {
        ...(lang ? { lang } : {}),
        ...(rate ? { rateWpm: rate } : {}),
      });
      await writeFile(out, spoken.wav);
    } finally {
      await dev.close();
    }
    const { code, rendered } = spoken;
    const u = rendered.utterance;
    if (flag(ctx, 'json')) {
      printJson(ctx, {
        serial: dev.serial,
        code,
        deviceTime: spoken.deviceTime,
        file: out,
        durationMs: Math.round(durationMs(rendered.pcm)),
        sampleRate: rendered.pcm.sampleRate,
        lang: u.lang,
        rateWpm: u.rateWpm,
        pauseMs: u.pauseMs,
        volume: u.volume,
        output: u.output,
        engine: speech.engine.id,
        timeline: rendered.timeline.map((t) => ({
          ...t,
          startMs: Math.round(t.startMs),
          endMs: Math.round(t.endMs),
        })),
      });
    } else {
      ctx.io.stdout(
        `${dev.serial} says ${code} (${u.lang}, ${u.rateWpm} wpm): ${out}, ${(durationMs(rendered.pcm) / 1000).toFixed(2)} s\n`,
      );
    }
    if (flag(ctx, 'play')) await playPcm(rendered.pcm, { signal: ctx.signal });
  },
};

function outcomeLine(o: KeyOutcome): string {
  const parts = [`${o.key}: ${o.action}`];
  if (o.interrupted !== null) parts.push('(interrupted the speech)');
  for (const u of o.utterances) parts.push(`— ${describeUtterance(u)}`);
  if (o.lcd.on) parts.push(`[screen: ${o.lcd.text}]`);
  return parts.join(' ');
}

const keys: Command = {
  path: ['keys'],
  summary: "press an audio reader's keys in turn and report what it did",
  usage: 'keys FILE SEQUENCE... [--at TIME] [--out-dir DIR] [--json]',
  help: `SEQUENCE is keys separated by spaces (one argument or several):
  red         the red key: on, read the code aloud; while speaking: stop
  red-long    hold red 3 s: off (when on); on and sticky mode toggled (when off)
  fn+N        hold red and press N: 0 repeat, 1 slower, 3 faster, 4 quieter, 6 louder,
              7 Danish, 9 English, 2 settings, 5 sticky function key, 8 help
  N           a number key alone: in sticky mode, after red, the same as fn+N
  jack-in, jack-out   headphones plugged in (speaker muted, volume made safe) or out
  done        let the speech in progress finish (otherwise the next key interrupts it)
Keys follow each other quickly: each interrupts the previous answer unless 'done' comes between;
the last answer is let finish.

Options:
  --at TIME      press at this host time instead of now
  --out-dir DIR  also write what is spoken, one WAV per utterance (DIR/NN-kind.wav)
  --json         print each key's outcome as JSON`,
  positionals: [2, 64],
  options: { at: { type: 'string' }, 'out-dir': { type: 'string' }, json: { type: 'boolean' } },
  async run(ctx) {
    const at = atOption(ctx);
    const names = ctx.positionals
      .slice(1)
      .flatMap((p) => p.trim().split(/\s+/))
      .filter(Boolean);
    const outDir = str(ctx, 'out-dir');
    const dev = await AudioReader.open(ctx.positionals[0]!, { speech: speakerOption(ctx) });
    let outcomes: KeyOutcome[];
    const files: string[] = [];
    try {
      outcomes = await dev.keys(names, at);
      // By the next command the last answer has long been spoken.
      await dev.finishSpeech();
      if (outDir !== undefined) {
        await mkdir(outDir, { recursive: true });
        for (const u of outcomes.flatMap((o) => o.utterances)) {
          const r = await dev.render(u);
          const f = join(
            outDir,
            `${String(u.id).padStart(2, '0')}-${u.kind === 'code' ? 'code' : u.message}.wav`,
          );
          await writeFile(f, encodeWav(r.pcm));
          files.push(f);
        }
      }
    } finally {
      await dev.close();
    }
    if (flag(ctx, 'json')) {
      printJson(ctx, { serial: dev.serial, outcomes, ...(outDir !== undefined ? { files } : {}) });
    } else {
      for (const o of outcomes) ctx.io.stdout(`${outcomeLine(o)}\n`);
      for (const f of files) ctx.io.stdout(`wrote ${f}\n`);
    }
  },
};

function report(a: AudioAnalysis): string {
  const r = (x: number | null | undefined, d = 0) =>
    x === null || x === undefined ? '-' : x.toFixed(d);
  const lines = [
    `heard: ${a.decoded} (${a.language})${a.matches === undefined ? '' : a.matches ? ' — matches the expected code' : ' — does NOT match the expected code'}`,
    `file: ${a.file.sampleRate} Hz, ${a.file.channels} ch, ${a.file.bitsPerSample}-bit ${a.file.format === 3 ? 'float' : 'PCM'}, ${r(a.file.durationMs / 1000, 2)} s`,
    `levels: peak ${r(a.levels.peakDbfs, 1)} dBFS, speech RMS ${r(a.levels.speechRmsDbfs, 1)} dBFS, ${a.levels.clipping ? `${a.levels.clippedSamples} clipped samples` : 'no clipping'}`,
    `timing: ${r(a.timing.digitsPerSecond, 2)} digits/s (${r(a.timing.articulationDigitsPerSecond, 2)} while speaking), about ${r(a.timing.estimatedWpm)} wpm, mean digit ${r(a.timing.meanDigitMs)} ms, mean pause ${r(a.timing.meanPauseMs)} ms`,
    `end tone: ${a.endTone.detected ? `${a.endTone.freqHz} Hz, ${r(a.endTone.durationMs)} ms, ${r(a.endTone.gapMs)} ms after the last digit` : 'none'}`,
    'segments:',
    ...a.segments.map(
      (s) =>
        `  ${r(s.startMs).padStart(6)}-${r(s.endMs).padEnd(6)} ms  ${s.kind === 'tone' ? `tone ${s.toneHz} Hz` : `digit ${s.digit} (confidence ${r(s.confidence, 2)})`}  ${r(s.durationMs)} ms, RMS ${r(s.rmsDbfs, 1)} dBFS`,
    ),
    `pauses: ${a.pausesMs.map((p) => `${Math.round(p)}`).join(', ') || '-'} ms`,
    ...a.warnings.map((w) => `warning (${w.code}): ${w.detail}`),
    'EN 301 549 checklist (source: device-profile = what the reader documents; sound = measured here):',
    ...a.checklist.map(
      (c) =>
        `  [${c.status === 'pass' ? 'x' : c.status === 'fail' ? ' ' : '?'}] ${c.clause.padEnd(18)} ${c.title} — ${c.detail} (${c.source})`,
    ),
  ];
  return lines.join('\n') + '\n';
}

const analyze: Command = {
  path: ['audio', 'analyze'],
  summary:
    'analyse a WAV of a spoken code: segments, levels, timing, the digits heard, EN 301 549 checklist',
  usage:
    'audio analyze WAV [--expect CODE] [--lang auto|da|en] [--profile emulated] [--json] [--svg PATH]',
  help: `Works on any WAV: made here, by system espeak-ng, or recorded from a reader's headphone jack
(PCM 8/16/24/32-bit or float, any channels and rate). The digits are heard by matching each
segment against the speech engine's own digits 0-9. The checklist's sound items are measured;
its device items (repeat, interrupt, rate, volume, language, private listening, one key at a
time) cannot be heard in a file: they are 'not-assessed' unless --profile emulated says the file
comes from the emulated reader, whose documented behaviour then answers them.

Options:
  --expect CODE   also say whether the digits heard equal CODE (exit status 1 when they do not)
  --lang L        auto (default: both are tried), da or en
  --engine NAME   engine whose digits are the templates (default espeak-ng-wasm)
  --profile emulated
                  judge the device items by the emulated reader's documented profile (only
                  for audio made by this emulator; never for a recording of another reader)
  --svg PATH      draw the waveform with the segments and the digits heard
  --json          print everything as JSON`,
  positionals: [1, 1],
  options: {
    expect: { type: 'string' },
    lang: { type: 'string' },
    engine: { type: 'string' },
    profile: { type: 'string' },
    svg: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(ctx) {
    const expect = str(ctx, 'expect');
    const profile = str(ctx, 'profile');
    if (profile !== undefined && profile !== 'emulated')
      throw new UsageError('usage', '--profile must be emulated');
    if (expect !== undefined && !/^\d{1,16}$/.test(expect))
      throw new UsageError('usage', '--expect must be 1 to 16 digits');
    const lang = langOption(ctx, true) ?? 'auto';
    const speaker = speakerOption(ctx);
    const bytes = new Uint8Array(await readFile(ctx.positionals[0]!));
    const a = await analyzeWav(bytes, {
      speaker,
      lang,
      // The device items are vouched for only when the user says the audio is the emulator's.
      ...(profile === 'emulated' ? { profile: AUDIO_READER_PROFILE } : {}),
      ...(expect !== undefined ? { expect } : {}),
    });
    const svg = str(ctx, 'svg');
    if (svg !== undefined) await writeFile(svg, renderAnalysisSvg(decodeWav(bytes), a));
    if (flag(ctx, 'json')) printJson(ctx, a);
    else ctx.io.stdout(report(a));
    return a.matches === false ? 1 : 0;
  },
};

export const commands: Command[] = [createAudioReader, speak, keys, analyze];
