/** Picks a speech engine by name: the one place where embedded versus system speech is chosen. */
import { AudioError } from '../errors.js';
import type { SpeechEngine } from '../speech.js';
import { EspeakSystemEngine } from './espeak-system.js';
import { EspeakWasmEngine } from './espeak-wasm.js';
import { SayEngine } from './say.js';

export { EspeakSystemEngine, runTool } from './espeak-system.js';
export { EspeakWasmEngine } from './espeak-wasm.js';
export { SAY_VOICES, SayEngine, sayCanExport } from './say.js';

/** Engine names accepted by {@link createSpeechEngine}. */
export const SpeechEngineNames = ['espeak-ng-wasm', 'espeak-ng', 'say'] as const;
export type SpeechEngineName = (typeof SpeechEngineNames)[number];

const shared = new Map<SpeechEngineName, SpeechEngine>();

/**
 * The engine called `name` (default: the embedded eSpeak NG), one shared instance per name so
 * the WebAssembly module is compiled once per process.
 */
export function createSpeechEngine(name: string = 'espeak-ng-wasm'): SpeechEngine {
  if (!(SpeechEngineNames as readonly string[]).includes(name)) {
    throw new AudioError(
      'bad-option',
      `speech engine must be one of ${SpeechEngineNames.join(', ')}`,
    );
  }
  const n = name as SpeechEngineName;
  let e = shared.get(n);
  if (!e) {
    e =
      n === 'espeak-ng-wasm'
        ? new EspeakWasmEngine()
        : n === 'espeak-ng'
          ? new EspeakSystemEngine()
          : new SayEngine();
    shared.set(n, e);
  }
  return e;
}
