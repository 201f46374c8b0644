/** The system's eSpeak NG (Debian package espeak-ng), spawned with --stdout. */
import { spawn } from 'node:child_process';
import { AudioError } from '../errors.js';
import {
  ESPEAK_VOICES,
  SEPARATE_BREAK_MS,
  checkSpeechRequest,
  separatedSsml,
  type SpeechEngine,
  type SpeechLanguage,
  type SpeechRequest,
} from '../speech.js';
import { splitOnSilence } from '../dsp.js';
import { decodeWav, type Pcm } from '../wav.js';

/** Runs `command args...` and returns its stdout; AudioError when it is missing or fails. */
export function runTool(
  command: string,
  args: string[],
  name: string,
  timeoutMs = 30_000,
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const errs: Buffer[] = [];
    let child;
    try {
      child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    } catch (e) {
      reject(new AudioError('engine-unavailable', `${name} could not be started`, { cause: e }));
      return;
    }
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => errs.push(c));
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(
        e.code === 'ENOENT'
          ? new AudioError(
              'engine-unavailable',
              `${name} is not installed (${command} not found)`,
              { cause: e },
            )
          : new AudioError('engine-failed', `${name} could not be run: ${e.message}`, { cause: e }),
      );
    });
    child.on('close', (status, signal) => {
      if (status === 0) {
        resolve(new Uint8Array(Buffer.concat(chunks)));
        return;
      }
      const why =
        Buffer.concat(errs).toString('utf8').split('\n')[0]?.trim() || `exit ${status ?? signal}`;
      reject(new AudioError('engine-failed', `${name} failed: ${why.slice(0, 120)}`));
    });
  });
}

/** The system eSpeak NG, found on PATH (or at `command`). */
export class EspeakSystemEngine implements SpeechEngine {
  readonly id = 'espeak-ng';
  readonly command: string;

  constructor(command = 'espeak-ng') {
    this.command = command;
  }

  defaultVoice(lang: SpeechLanguage): string {
    return ESPEAK_VOICES[lang];
  }

  async render(request: SpeechRequest): Promise<Pcm> {
    const r = checkSpeechRequest(request);
    const args = [
      '-v',
      r.voice ?? this.defaultVoice(r.lang),
      '-s',
      String(r.rate),
      '--stdout',
      '--',
      r.text,
    ];
    return decodeWav(await runTool(this.command, args, 'espeak-ng'));
  }

  async renderSeparate(
    texts: readonly string[],
    request: Omit<SpeechRequest, 'text'>,
  ): Promise<Pcm[]> {
    const r = checkSpeechRequest(request);
    const args = [
      '-m',
      '-v',
      r.voice ?? this.defaultVoice(r.lang),
      '-s',
      String(r.rate),
      '--stdout',
      '--',
      separatedSsml(texts),
    ];
    const parts = splitOnSilence(
      decodeWav(await runTool(this.command, args, 'espeak-ng')),
      SEPARATE_BREAK_MS / 2,
    );
    if (parts.length === texts.length) return parts;
    return Promise.all(texts.map((text) => this.render({ ...r, text })));
  }
}
