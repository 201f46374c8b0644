/**
 * Live playback through the optional `speaker` package, only after a safe probe: speaker's
 * native ALSA backend aborts the whole process on load when there is no default device, so we
 * look first (ALSA's own card list and `aplay -L`, or a child process elsewhere) and load it
 * only when a device exists.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { AudioError } from './errors.js';
import { pcmStream } from './stream.js';
import type { Pcm } from './wav.js';

/** What the probe found. */
export interface SoundDeviceProbe {
  readonly available: boolean;
  /** One line saying why (shown to users). */
  readonly reason: string;
}

/** Inputs of {@link probeSoundDevice}, injectable so tests can describe other machines. */
export interface ProbeEnvironment {
  readonly platform?: NodeJS.Platform;
  /** Contents of /proc/asound/cards, or undefined when it does not exist. */
  readonly asoundCards?: string | undefined;
  /** Output of `aplay -L`, or undefined when aplay is not installed. */
  readonly aplayList?: string | undefined;
  /** The check run when aplay is missing; default {@link probeSpeakerInChild}. */
  readonly speakerProbe?: () => SoundDeviceProbe;
}

/** Where the optional `speaker` package is, or undefined when it is not installed. */
function speakerPath(): string | undefined {
  try {
    return createRequire(import.meta.url).resolve('speaker');
  } catch {
    return undefined;
  }
}

/**
 * Loads `speaker` (or the module at `modulePath`) and opens an output in a child process: its
 * ALSA backend aborts the process it loads in when there is no default device, so only a clean
 * exit of the child means a device. A non-zero exit, a signal or a timeout mean none.
 */
export function probeSpeakerInChild(
  modulePath: string | undefined = speakerPath(),
): SoundDeviceProbe {
  if (modulePath === undefined)
    return {
      available: false,
      reason: 'aplay is not installed and the optional npm package speaker is not either',
    };
  const script = [
    `const Speaker = require(${JSON.stringify(modulePath)});`,
    'const S = Speaker.default ?? Speaker;',
    'const s = new S({ channels: 1, bitDepth: 16, sampleRate: 22050 });',
    "s.on('error', () => process.exit(3));",
    'setTimeout(() => process.exit(0), 100);',
  ].join('\n');
  const r = spawnSync(process.execPath, ['-e', script], { stdio: 'ignore', timeout: 10_000 });
  if (r.error || r.signal !== null || r.status !== 0) {
    const how =
      r.signal !== null ? `was killed by ${r.signal}` : `exited with ${r.status ?? 'an error'}`;
    return { available: false, reason: `no usable default output (a test load of speaker ${how})` };
  }
  return { available: true, reason: 'speaker opened the default output in a test process' };
}

function readCards(): string | undefined {
  try {
    return readFileSync('/proc/asound/cards', 'utf8');
  } catch {
    return undefined;
  }
}

function aplayList(): string | undefined {
  const r = spawnSync('aplay', ['-L'], { encoding: 'utf8', timeout: 5000 });
  return r.status === 0 ? r.stdout : undefined;
}

/**
 * Says whether a sound device exists, without loading any native audio code in this process.
 * Linux: a card in /proc/asound/cards, and a `default` or `sysdefault` PCM in `aplay -L`; without
 * aplay, a test load of speaker in a child process ({@link probeSpeakerInChild}). macOS and
 * Windows always have a default output.
 */
export function probeSoundDevice(env: ProbeEnvironment = {}): SoundDeviceProbe {
  const platform = env.platform ?? process.platform;
  if (platform === 'darwin' || platform === 'win32')
    return { available: true, reason: 'system default output' };
  if (platform !== 'linux') return { available: false, reason: `no sound support on ${platform}` };
  const cards = 'asoundCards' in env ? env.asoundCards : readCards();
  if (cards === undefined)
    return { available: false, reason: 'no ALSA sound cards (/proc/asound/cards is missing)' };
  if (!/^\s*\d+\s*\[/m.test(cards))
    return { available: false, reason: 'ALSA lists no sound cards' };
  const list = 'aplayList' in env ? env.aplayList : aplayList();
  // A card listed is not a default device: without aplay to ask, try speaker in a child process.
  if (list === undefined) return (env.speakerProbe ?? probeSpeakerInChild)();
  if (!/^(default|sysdefault)(:|$)/m.test(list)) {
    return { available: false, reason: 'ALSA has no default output device' };
  }
  return { available: true, reason: 'ALSA sound card found' };
}

/** Options of {@link playPcm}. */
export interface PlayOptions {
  /** Stops playback (interrupting speech). */
  readonly signal?: AbortSignal;
  /** The probe result to trust; default: {@link probeSoundDevice}(). */
  readonly probe?: SoundDeviceProbe;
}

interface SpeakerLike extends NodeJS.WritableStream {
  close?(flush: boolean): void;
}
type SpeakerCtor = new (o: {
  channels: number;
  bitDepth: number;
  sampleRate: number;
}) => SpeakerLike;

/**
 * Plays `pcm` on the default output and resolves when it has been played (or was aborted).
 * AudioError('no-sound-device') when the probe finds none; AudioError('engine-unavailable')
 * when the optional `speaker` package is not installed.
 */
export async function playPcm(
  pcm: Pcm,
  options: PlayOptions = {},
): Promise<{ interrupted: boolean }> {
  const probe = options.probe ?? probeSoundDevice();
  if (!probe.available)
    throw new AudioError(
      'no-sound-device',
      `cannot play audio: ${probe.reason}; write a WAV file instead`,
    );
  let Speaker: SpeakerCtor;
  try {
    // A computed specifier: speaker is optional and must not load unless a device exists.
    const name = 'speaker';
    const mod = (await import(name)) as { default: SpeakerCtor };
    Speaker = mod.default;
  } catch (e) {
    throw new AudioError(
      'engine-unavailable',
      'live playback needs the optional npm package speaker',
      { cause: e },
    );
  }
  return new Promise((resolve, reject) => {
    let out: SpeakerLike;
    try {
      out = new Speaker({ channels: 1, bitDepth: 16, sampleRate: pcm.sampleRate });
    } catch (e) {
      reject(new AudioError('playback-failed', 'the sound device refused the audio', { cause: e }));
      return;
    }
    const src = pcmStream(pcm);
    let interrupted = false;
    const stop = () => {
      interrupted = true;
      src.unpipe(out);
      src.destroy();
      out.close?.(false);
      resolve({ interrupted });
    };
    if (options.signal?.aborted) return stop();
    options.signal?.addEventListener('abort', stop, { once: true });
    out.on('error', (e: unknown) =>
      reject(new AudioError('playback-failed', 'the sound device failed', { cause: e })),
    );
    out.on('close', () => {
      options.signal?.removeEventListener('abort', stop);
      resolve({ interrupted });
    });
    src.pipe(out);
  });
}
