/** macOS `say`, which can export audio to a file; elsewhere it is refused with a clear error. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AudioError } from '../errors.js';
import {
  checkSpeechRequest,
  type SpeechEngine,
  type SpeechLanguage,
  type SpeechRequest,
} from '../speech.js';
import { decodeWav, type Pcm } from '../wav.js';
import { runTool } from './espeak-system.js';

/** macOS voices for each language (installed with the system). */
export const SAY_VOICES: Readonly<Record<SpeechLanguage, string>> = Object.freeze({
  da: 'Sara',
  en: 'Daniel',
});

/** True where `say` can write a WAV file (macOS). */
export function sayCanExport(platform: NodeJS.Platform = process.platform): boolean {
  return platform === 'darwin';
}

/** The `say` engine (macOS). `say -o file.wav --data-format=LEI16@22050` writes 16-bit PCM. */
export class SayEngine implements SpeechEngine {
  readonly id = 'say';

  constructor(platform: NodeJS.Platform = process.platform) {
    if (!sayCanExport(platform)) {
      throw new AudioError(
        'engine-unavailable',
        `the say engine can export audio only on macOS, not on ${platform}`,
      );
    }
  }

  defaultVoice(lang: SpeechLanguage): string {
    return SAY_VOICES[lang];
  }

  async render(request: SpeechRequest): Promise<Pcm> {
    const r = checkSpeechRequest(request);
    const dir = await mkdtemp(join(tmpdir(), 'mitid-say-'));
    try {
      const out = join(dir, 'out.wav');
      const args = [
        '-v',
        r.voice ?? this.defaultVoice(r.lang),
        '-r',
        String(r.rate),
        '-o',
        out,
        '--data-format=LEI16@22050',
        '--',
        r.text,
      ];
      await runTool('say', args, 'say');
      return decodeWav(new Uint8Array(await readFile(out)));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
