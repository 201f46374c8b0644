/**
 * The audio code reader's keys: the documented layout (docs/audio-reader.md), the spoken
 * messages in Danish and English, and the reader's profile for the analyser's checklist.
 */
import type { ReaderProfile } from '../../src/audio/checklist.js';

/**
 * The keypad, as on a telephone: the red function key sits in the lower right corner (one raised
 * dot), 0 beside it.
 *
 * ```
 *   1   2   3        left column turns down, right column turns up
 *   4   5   6
 *   7   8   9
 *       0  (red)
 * ```
 */
export const KEYPAD = [
  ['1', '2', '3'],
  ['4', '5', '6'],
  ['7', '8', '9'],
  ['', '0', 'red'],
] as const;

/** What each function key does (hold red, press the key; or in sticky mode: red, then the key). */
export const FunctionKeys = {
  '0': 'repeat',
  '1': 'slower',
  '3': 'faster',
  '4': 'quieter',
  '6': 'louder',
  '7': 'danish',
  '9': 'english',
  '2': 'settings',
  '5': 'sticky',
  '8': 'help',
} as const;
export type FunctionKey = keyof typeof FunctionKeys;
export type ReaderFunction = (typeof FunctionKeys)[FunctionKey];

/** Speech rate steps in words (digits) per minute; index 2 (150) is the default. */
export const RATE_STEPS = [100, 125, 150, 175, 200, 250, 300] as const;
export const DEFAULT_RATE_STEP = 2;
/** Volume steps 1-8; a step is 3 dB, step 8 is full scale. */
export const VOLUME_STEPS = [1, 2, 3, 4, 5, 6, 7, 8] as const;
export const MIN_VOLUME = 1;
export const MAX_VOLUME = 8;
export const DEFAULT_VOLUME = 5;
/**
 * The volume headphones get when they are plugged in (EN 301 549 §5.1.3.13: volume reset for
 * private listening). Louder settings are brought down to it; quieter ones are kept.
 */
export const HEADPHONE_SAFE_VOLUME = 4;

/** Linear gain of a volume step: 3 dB per step below step 8 (full scale). */
export function volumeGain(step: number): number {
  return 10 ** ((-3 * (8 - step)) / 20);
}

/** The messages the reader speaks (besides codes). */
export const MessageIds = [
  'slower',
  'faster',
  'slowest',
  'fastest',
  'quieter',
  'louder',
  'quietest',
  'loudest',
  'danish',
  'english',
  'settings',
  'sticky-on',
  'sticky-off',
  'help',
  'no-message',
  'battery-low',
  'goodbye',
] as const;
export type MessageId = (typeof MessageIds)[number];

type Texts = Readonly<Record<MessageId, string>>;

/** Danish texts; `{rate}`, `{volume}` and `{battery}` are filled in when spoken. */
const DA: Texts = {
  slower: 'Langsommere',
  faster: 'Hurtigere',
  slowest: 'Langsomst',
  fastest: 'Hurtigst',
  quieter: 'Lavere',
  louder: 'Højere',
  quietest: 'Laveste lydstyrke',
  loudest: 'Højeste lydstyrke',
  danish: 'Dansk',
  english: 'English',
  settings: 'Hastighed {rate}. Lydstyrke {volume}. Batteri {battery} procent.',
  'sticky-on': 'Fast funktionstast til. Tryk på den røde tast og derefter en tal-tast.',
  'sticky-off': 'Fast funktionstast fra.',
  help: 'Hold den røde tast og tryk: 0 gentag, 1 og 3 hastighed, 4 og 6 lydstyrke, 7 dansk, 9 engelsk, 2 indstillinger, 5 fast funktionstast, 8 hjælp.',
  'no-message': 'Ingen besked at gentage',
  'battery-low': 'Batteriet er næsten tomt',
  goodbye: 'Farvel',
};

const EN: Texts = {
  slower: 'Slower',
  faster: 'Faster',
  slowest: 'Slowest',
  fastest: 'Fastest',
  quieter: 'Quieter',
  louder: 'Louder',
  quietest: 'Lowest volume',
  loudest: 'Highest volume',
  danish: 'Dansk',
  english: 'English',
  settings: 'Speed {rate}. Volume {volume}. Battery {battery} percent.',
  'sticky-on': 'Sticky function key on. Press the red key, then a number key.',
  'sticky-off': 'Sticky function key off.',
  help: 'Hold the red key and press: 0 repeat, 1 and 3 speed, 4 and 6 volume, 7 Danish, 9 English, 2 settings, 5 sticky function key, 8 help.',
  'no-message': 'No message to repeat',
  'battery-low': 'The battery is nearly empty',
  goodbye: 'Goodbye',
};

/** The text of `id` in `lang`, with its placeholders filled. */
export function messageText(
  id: MessageId,
  lang: 'da' | 'en',
  args: Readonly<Record<string, string | number>> = {},
): string {
  const t = (lang === 'da' ? DA : EN)[id];
  return t.replace(/\{(\w+)\}/g, (_m, k: string) => String(args[k] ?? ''));
}

/** The reader's documented capabilities, for the analyser's EN 301 549 checklist. */
export const AUDIO_READER_PROFILE: ReaderProfile = Object.freeze({
  name: 'mitid-sim audio code reader',
  repeat: 'fn+0',
  interruptible: true,
  rateSteps: RATE_STEPS,
  volumeSteps: VOLUME_STEPS,
  languages: ['da', 'en'],
  privateListening: true,
  volumeResetOnHeadphones: true,
  noSimultaneousActions: true,
});
