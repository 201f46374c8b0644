/**
 * The EN 301 549 (V3.2.1) checklist for speech output of closed functionality, filled from two
 * sources that are kept apart: what the reader's documentation says it can do (a profile), and
 * what the sound itself shows.
 */

/** What a reader documents about itself (the audio reader's firmware exports its own). */
export interface ReaderProfile {
  readonly name: string;
  /** How the user repeats the last message (e.g. 'fn+0'), or null when it cannot. */
  readonly repeat: string | null;
  /** True when a key press stops speech in progress. */
  readonly interruptible: boolean;
  /** Rate steps a user can choose (words per minute); one entry means fixed. */
  readonly rateSteps: readonly number[];
  /** Volume steps a user can choose; one entry means fixed. */
  readonly volumeSteps: readonly number[];
  /** Languages the user can pick (BCP 47). */
  readonly languages: readonly string[];
  /** True when a headphone jack exists and the speaker is muted while it is used. */
  readonly privateListening: boolean;
  /** True when connecting headphones resets the volume to a safe level. */
  readonly volumeResetOnHeadphones: boolean;
  /** True when every function is reachable without pressing two keys at once. */
  readonly noSimultaneousActions: boolean;
}

/** Where an item's verdict comes from. */
export type ChecklistSource = 'device-profile' | 'sound';
/** An item's verdict; `not-assessed` when its source was not given (no profile, no expected code). */
export type ChecklistStatus = 'pass' | 'fail' | 'not-assessed';

/** One line of the checklist. */
export interface ChecklistItem {
  readonly id: string;
  /** The EN 301 549 clause, or 'practice' for accessibility practice that no clause requires. */
  readonly clause: string;
  readonly title: string;
  readonly source: ChecklistSource;
  readonly status: ChecklistStatus;
  readonly detail: string;
}

/** What the sound showed, as the checklist needs it. */
export interface SoundFacts {
  readonly digitSegments: number;
  /** The longest speech segment, ms. */
  readonly longestSegmentMs?: number;
  /** The longest of the engine's own renderings of 0-9 at the rate heard, ms. */
  readonly longestTemplateMs?: number;
  readonly decoded: string;
  readonly expected?: string;
  readonly language: string;
  readonly minPauseMs: number | null;
  readonly endTone: boolean;
  readonly clipping: boolean;
  readonly speechRmsDbfs: number;
}

const ok = (b: boolean): ChecklistStatus => (b ? 'pass' : 'fail');

/** A speech segment longer than this many times the longest rendered digit is not one digit. */
export const LONG_SEGMENT_FACTOR = 1.6;

/** Builds the checklist. Items from a missing profile are `not-assessed`, never guessed. */
export function buildChecklist(sound: SoundFacts, profile?: ReaderProfile): ChecklistItem[] {
  const items: ChecklistItem[] = [];
  const fromProfile = (
    id: string,
    clause: string,
    title: string,
    test: (p: ReaderProfile) => [boolean, string],
  ) => {
    if (!profile) {
      items.push({
        id,
        clause,
        title,
        source: 'device-profile',
        status: 'not-assessed',
        detail: 'no device profile given',
      });
      return;
    }
    const [pass, detail] = test(profile);
    items.push({
      id,
      clause,
      title,
      source: 'device-profile',
      status: ok(pass),
      detail: `${profile.name}: ${detail}`,
    });
  };
  fromProfile('repeatable', '5.1.3.4', 'Speech can be repeated', (p) => [
    p.repeat !== null,
    p.repeat ? `repeat with ${p.repeat}` : 'no repeat function',
  ]);
  fromProfile('interruptible', '5.1.3.4', 'Speech can be interrupted', (p) => [
    p.interruptible,
    p.interruptible ? 'any key press stops speech' : 'speech cannot be stopped',
  ]);
  fromProfile('rate', 'practice', 'Speech rate adjustable', (p) => [
    p.rateSteps.length > 1,
    `${p.rateSteps.length} rate steps (${p.rateSteps.join(', ')} wpm)`,
  ]);
  fromProfile('volume', '5.1.3.11, 5.1.3.12', 'Volume adjustable without vision', (p) => [
    p.volumeSteps.length > 1,
    `${p.volumeSteps.length} volume steps`,
  ]);
  fromProfile('volume-reset', '5.1.3.13', 'Volume reset when headphones are connected', (p) => [
    p.volumeResetOnHeadphones,
    p.volumeResetOnHeadphones ? 'resets to a moderate level' : 'keeps the last volume',
  ]);
  fromProfile('language', '5.1.3.14', 'Spoken language selectable', (p) => [
    p.languages.length > 1,
    `languages: ${p.languages.join(', ')}`,
  ]);
  fromProfile('private-listening', '5.1.3.9', 'Private listening for private data', (p) => [
    p.privateListening,
    p.privateListening ? 'headphone jack; speaker muted while headphones are in' : 'speaker only',
  ]);
  fromProfile('no-simultaneous', '5.9', 'No simultaneous key presses needed', (p) => [
    p.noSimultaneousActions,
    p.noSimultaneousActions
      ? 'latching function key reaches every function one key at a time'
      : 'some functions need two keys at once',
  ]);
  if (profile) {
    const lang = profile.languages.includes(sound.language);
    items.push({
      id: 'language-heard',
      clause: '5.1.3.14',
      title: 'Speech is in a language the reader offers',
      source: 'sound',
      status: ok(lang),
      detail: `heard ${sound.language}`,
    });
  }
  // A segment much longer than any single digit is several digits run together (or a number
  // said as a number); a count other than the expected code's length is not digit by digit either.
  const tooLong =
    sound.longestSegmentMs !== undefined &&
    sound.longestTemplateMs !== undefined &&
    sound.longestTemplateMs > 0 &&
    sound.longestSegmentMs > LONG_SEGMENT_FACTOR * sound.longestTemplateMs;
  const wrongCount = sound.expected !== undefined && sound.digitSegments !== sound.expected.length;
  const digitByDigit =
    sound.digitSegments > 0 &&
    sound.digitSegments === sound.decoded.length &&
    !tooLong &&
    !wrongCount;
  const why = [
    ...(tooLong
      ? [
          `a segment of ${Math.round(sound.longestSegmentMs!)} ms is over ${LONG_SEGMENT_FACTOR}x the longest digit (${Math.round(sound.longestTemplateMs!)} ms)`,
        ]
      : []),
    ...(wrongCount ? ['not as many as the expected code has digits'] : []),
  ];
  items.push({
    id: 'digit-by-digit',
    clause: 'practice',
    title: 'Code spoken digit by digit',
    source: 'sound',
    status: ok(digitByDigit),
    detail: `${sound.digitSegments} separate spoken digits${why.length > 0 ? `; ${why.join('; ')}` : ''}`,
  });
  items.push({
    id: 'pauses',
    clause: 'practice',
    title: 'Pauses between digits (at least 150 ms)',
    source: 'sound',
    status: sound.minPauseMs === null ? 'not-assessed' : ok(sound.minPauseMs >= 150),
    detail:
      sound.minPauseMs === null
        ? 'fewer than two digits'
        : `shortest pause ${Math.round(sound.minPauseMs)} ms`,
  });
  items.push({
    id: 'correlation',
    clause: '5.1.3.3',
    title: 'Spoken digits equal the code on the screen',
    source: 'sound',
    status: sound.expected === undefined ? 'not-assessed' : ok(sound.expected === sound.decoded),
    detail:
      sound.expected === undefined
        ? 'no expected code given'
        : sound.expected === sound.decoded
          ? 'all digits heard as shown'
          : 'the digits heard differ from the expected code',
  });
  items.push({
    id: 'end-tone',
    clause: 'practice',
    title: 'A tone marks the end of the code',
    source: 'sound',
    status: ok(sound.endTone),
    detail: sound.endTone ? 'end tone heard' : 'no end tone',
  });
  const audible = sound.speechRmsDbfs > -45;
  items.push({
    id: 'level',
    clause: 'practice',
    title: 'Clear level: audible, not clipped',
    source: 'sound',
    status: ok(audible && !sound.clipping),
    detail: `speech RMS ${sound.speechRmsDbfs.toFixed(1)} dBFS${sound.clipping ? ', clipping' : ''}`,
  });
  return items;
}
