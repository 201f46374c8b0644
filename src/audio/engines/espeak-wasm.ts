/** eSpeak NG compiled to WebAssembly (npm espeak-ng): the embedded engine, no system install. */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
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

/** The slice of the Emscripten module we use. */
interface EspeakModule {
  FS: { readFile(path: string): Uint8Array };
}
type EspeakFactory = (options: Record<string, unknown>) => Promise<EspeakModule>;

/** The WebAssembly API as far as we use it (our lib settings carry no DOM or wasm types). */
type WasmModule = object;
type WasmInstance = object;
interface WasmApi {
  compile(bytes: Uint8Array): Promise<WasmModule>;
  instantiate(module: WasmModule, imports: object): Promise<WasmInstance>;
}
const Wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let loaded: Promise<{ factory: EspeakFactory; wasm: WasmModule }> | undefined;

/**
 * Loads the package once: the JS glue by dynamic import, and the 18 MB WebAssembly module
 * compiled once and shared by every run (each run still gets a fresh instance: the package
 * exposes eSpeak NG's command line, which runs main() once per instance).
 */
function load(): Promise<{ factory: EspeakFactory; wasm: WasmModule }> {
  loaded ??= (async () => {
    try {
      const require = createRequire(import.meta.url);
      const js = require.resolve('espeak-ng');
      // A computed specifier: the package ships no type declarations.
      const name = 'espeak-ng';
      const mod = (await import(name)) as { default: EspeakFactory };
      const wasm = await Wasm.compile(await readFile(join(dirname(js), 'espeak-ng.wasm')));
      return { factory: mod.default, wasm };
    } catch (e) {
      loaded = undefined;
      throw new AudioError(
        'engine-unavailable',
        'the espeak-ng package (WebAssembly) could not be loaded',
        { cause: e },
      );
    }
  })();
  return loaded;
}

/** The installed espeak-ng package's version ('unknown' if it cannot be read). */
function packageVersion(): string {
  try {
    const require = createRequire(import.meta.url);
    const js = require.resolve('espeak-ng');
    const pkg = require(join(dirname(js), '..', 'package.json')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Runs the eSpeak NG command line once with `args`, returning the WAV it wrote. */
async function runEspeak(args: string[]): Promise<Uint8Array> {
  const { factory, wasm } = await load();
  const messages: string[] = [];
  let m: EspeakModule;
  try {
    m = await factory({
      arguments: ['-w', '/out.wav', ...args],
      print: (s: string) => messages.push(s),
      printErr: (s: string) => messages.push(s),
      // Without this the glue sets process.exitCode when eSpeak NG exits non-zero.
      quit: (_status: number, toThrow: unknown) => {
        throw toThrow;
      },
      instantiateWasm(imports: object, done: (i: WasmInstance, m: WasmModule) => void) {
        void Wasm.instantiate(wasm, imports).then((inst) => done(inst, wasm));
        return {};
      },
    });
  } catch (e) {
    const why = messages.find((l) => l.trim() !== '') ?? 'it stopped';
    throw new AudioError(
      'engine-failed',
      `espeak-ng (WebAssembly) failed: ${why.trim().slice(0, 120)}`,
      { cause: e },
    );
  }
  // eSpeak NG reports an unknown voice and carries on with none; nothing it says is a secret.
  const complaint = messages.find((l) => /failed|error|unknown/i.test(l));
  if (complaint) {
    throw new AudioError(
      'engine-failed',
      `espeak-ng (WebAssembly) failed: ${complaint.trim().slice(0, 120)}`,
    );
  }
  try {
    return m.FS.readFile('/out.wav');
  } catch (e) {
    throw new AudioError('engine-failed', 'espeak-ng (WebAssembly) wrote no audio', { cause: e });
  }
}

/** The embedded eSpeak NG engine. */
export class EspeakWasmEngine implements SpeechEngine {
  readonly id = 'espeak-ng-wasm';
  readonly cacheKey = `espeak-ng-wasm@${packageVersion()}`;

  defaultVoice(lang: SpeechLanguage): string {
    return ESPEAK_VOICES[lang];
  }

  async render(request: SpeechRequest): Promise<Pcm> {
    const r = checkSpeechRequest(request);
    const wav = await runEspeak([
      '-v',
      r.voice ?? this.defaultVoice(r.lang),
      '-s',
      String(r.rate),
      '--',
      r.text,
    ]);
    return decodeWav(wav);
  }

  /** Speaks every text in one run, separated by long SSML breaks, and splits the audio there. */
  async renderSeparate(
    texts: readonly string[],
    request: Omit<SpeechRequest, 'text'>,
  ): Promise<Pcm[]> {
    const r = checkSpeechRequest(request);
    const wav = await runEspeak([
      '-m',
      '-v',
      r.voice ?? this.defaultVoice(r.lang),
      '-s',
      String(r.rate),
      '--',
      separatedSsml(texts),
    ]);
    const parts = splitOnSilence(decodeWav(wav), SEPARATE_BREAK_MS / 2);
    if (parts.length === texts.length) return parts;
    // A text with a long silence inside: fall back to one run per text.
    return Promise.all(texts.map((text) => this.render({ ...r, text })));
  }
}
