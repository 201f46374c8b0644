/**
 * The analyser: for any WAV of a spoken code (ours, a physical reader's headphone output, or
 * another engine's), finds speech and pauses, measures levels and timing, hears the digits back
 * by matching each segment against the engine's own renderings of 0-9, and fills the EN 301 549
 * checklist.
 */
import { constantTimeEqualString } from '../core/bytes.js';
import {
  buildChecklist,
  LONG_SEGMENT_FACTOR,
  type ChecklistItem,
  type ReaderProfile,
} from './checklist.js';
import { CodeSpeaker, DIGITS } from './code-speech.js';
import { dbfs, envelope, fft, nextPow2, peak, resample, rms } from './dsp.js';
import { createSpeechEngine } from './engines/index.js';
import { AudioError } from './errors.js';
import {
  connectedDtw,
  dtw,
  FEATURE_RATE,
  mfcc,
  type ConnectedResult,
  type ConnectedWord,
} from './features.js';
import {
  DEFAULT_RATE_WPM,
  MAX_RATE_WPM,
  MIN_RATE_WPM,
  SpeechLanguages,
  type SpeechLanguage,
} from './speech.js';
import { decodeWav, type Pcm, type WavInfo } from './wav.js';

/** Options of {@link analyzeAudio}. */
export interface AnalyzeOptions {
  /** The code the audio should say; only `matches` is reported, never this value. */
  readonly expect?: string;
  /** The language spoken; default 'auto' (both are tried, the closer wins). */
  readonly lang?: SpeechLanguage | 'auto';
  /** Renders the digit templates; default: a shared speaker over the embedded eSpeak NG. */
  readonly speaker?: CodeSpeaker;
  readonly voice?: string;
  /** The reader's documented capabilities, for the checklist's device items. */
  readonly profile?: ReaderProfile;
}

/** One stretch of sound between pauses. */
export interface AnalysedSegment {
  readonly kind: 'digit' | 'tone';
  readonly startMs: number;
  readonly endMs: number;
  readonly durationMs: number;
  readonly peakDbfs: number;
  readonly rmsDbfs: number;
  /** The digit heard ('' for a tone). */
  readonly digit: string;
  /** DTW distance to the best template (lower is closer); 0 for a tone. */
  readonly distance: number;
  /** How much closer the best digit was than the runner-up (0..1; higher is surer). */
  readonly confidence: number;
  /** The tone's frequency (tones only). */
  readonly toneHz?: number;
}

/** Something about the audio that makes its result less sure. */
export interface AnalysisWarning {
  /**
   * `segment-too-long`: speech ran several digits together (it was split at level dips, or
   * could not be); `low-confidence`: a digit was barely closer than the runner-up (under 0.2);
   * `truncated`: the file holds less data than its header says.
   */
  readonly code: 'segment-too-long' | 'low-confidence' | 'truncated';
  readonly detail: string;
}

/** Below this confidence a digit heard is reported with a `low-confidence` warning. */
export const LOW_CONFIDENCE = 0.2;
/** A dip in the level at least this deep (dB) under the peaks either side may split a segment. */
const SPLIT_DIP_DB = 10;

/** Everything the analyser found. */
export interface AudioAnalysis {
  readonly file: WavInfo & { readonly durationMs: number };
  readonly levels: {
    readonly peakDbfs: number;
    /** RMS over the speech segments only. */
    readonly speechRmsDbfs: number;
    readonly clippedSamples: number;
    readonly clipping: boolean;
  };
  readonly segments: readonly AnalysedSegment[];
  /** Silences between consecutive digits (ms). */
  readonly pausesMs: readonly number[];
  readonly timing: {
    readonly meanDigitMs: number | null;
    readonly meanPauseMs: number | null;
    /** Digits per second from the first digit's start to the last digit's end. */
    readonly digitsPerSecond: number | null;
    /** Digits per second of speech alone (pauses left out). */
    readonly articulationDigitsPerSecond: number | null;
    /** The engine rate (words per minute) whose digit lengths fit these best. */
    readonly estimatedWpm: number | null;
  };
  readonly endTone: {
    readonly detected: boolean;
    readonly freqHz?: number;
    readonly durationMs?: number;
    readonly gapMs?: number;
  };
  readonly language: SpeechLanguage;
  /** The digits heard, as a string. */
  readonly decoded: string;
  /** Present when an expected code was given. */
  readonly matches?: boolean;
  readonly checklist: readonly ChecklistItem[];
  readonly warnings: readonly AnalysisWarning[];
}

const HOP_MS = 5;

/**
 * Splits speech that runs digits together (system espeak-ng's default word gap is short enough
 * to leave no silence between them): a segment over {@link LONG_SEGMENT_FACTOR} times the
 * longest template is cut at the deepest dip of its level that lies at least
 * {@link SPLIT_DIP_DB} under the highest level on each side (within one template's length),
 * again and again until every piece is short enough or no such dip is left. With `target`, the
 * longest pieces keep being cut at such dips until there are that many segments.
 */
function splitRunTogether(
  pcm: Pcm,
  segs: RawSegment[],
  longestMs: number,
  shortestMs: number,
  target?: number,
): { segs: RawSegment[]; tooLong: number; split: number } {
  const sr = pcm.sampleRate;
  const hop = Math.max(1, Math.round((sr * HOP_MS) / 1000));
  const maxLen = (LONG_SEGMENT_FACTOR * longestMs * sr) / 1000;
  const minPiece = Math.max(hop * 4, (0.4 * shortestMs * sr) / 1000);
  const reach = Math.max(1, Math.round((longestMs * sr) / 1000 / hop));
  const hp = highPass(pcm, 150);
  const cutAt = (s: RawSegment): number | undefined => {
    const env = envelope(hp.samples.subarray(s.start, s.end), hop, 4 * hop);
    const db = Array.from(env, (e) => 20 * Math.log10(e + 1));
    let best: { at: number; depth: number } | undefined;
    const edge = Math.ceil(minPiece / hop);
    for (let i = edge; i < db.length - edge; i++) {
      if (!(db[i]! <= db[i - 1]! && db[i]! <= db[i + 1]!)) continue;
      let left = -Infinity;
      for (let k = Math.max(0, i - reach); k < i; k++) left = Math.max(left, db[k]!);
      let right = -Infinity;
      for (let k = i + 1; k <= Math.min(db.length - 1, i + reach); k++)
        right = Math.max(right, db[k]!);
      const depth = Math.min(left, right) - db[i]!;
      if (depth >= SPLIT_DIP_DB && (!best || depth > best.depth)) best = { at: i, depth };
    }
    return best ? s.start + best.at * hop + Math.round(hop / 2) : undefined;
  };
  const out = segs.map((s) => ({ ...s }));
  const stuck = new Set<RawSegment>();
  let split = 0;
  const tooLong = out.filter((s) => s.end - s.start > maxLen).length;
  for (let guard = 0; guard < 64; guard++) {
    const want = (s: RawSegment) =>
      !stuck.has(s) && (s.end - s.start > maxLen || (target !== undefined && out.length < target));
    const cands = out.filter(want).sort((a, b) => b.end - b.start - (a.end - a.start));
    const s = cands[0];
    if (!s) break;
    const at = cutAt(s);
    if (at === undefined) {
      stuck.add(s);
      continue;
    }
    const k = out.indexOf(s);
    out.splice(k, 1, { start: s.start, end: at }, { start: at, end: s.end });
    split++;
  }
  return { segs: out, tooLong, split };
}

/** Per digit, how much worse (relative) a parse may be when it has one digit more, blind. */
const CONNECTED_DIGIT_PENALTY = 0.01;
/** Segments closer than this (ms) belong to one run of speech (our pauses are 150 ms or more). */
const RUN_GAP_MS = 100;
/**
 * Blind, digits are first counted with templates this short (ms, on average): a template may be
 * stretched at will but squeezed only twofold, so templates shorter than the speech let every
 * digit of fast run-together speech find its own word, where slower ones merge two into one.
 */
const COUNT_TEMPLATE_MS = 160;
/** The count is then checked with templates this fraction of the mean digit length it gave. */
const RECOUNT_FRACTION = 0.6;

/** Speech segments closer than {@link RUN_GAP_MS} grouped into runs, in order. */
function groupRuns(segs: RawSegment[], sampleRate: number): RawSegment[][] {
  const runs: RawSegment[][] = [];
  for (const s of segs) {
    const last = runs[runs.length - 1];
    const prev = last?.[last.length - 1];
    if (last && prev && ((s.start - prev.end) / sampleRate) * 1000 < RUN_GAP_MS) last.push(s);
    else runs.push([s]);
  }
  return runs;
}

/** Speaks each text (digits, run together as a list) with the engine: for analysis by synthesis. */
type SayDigits = (texts: string[], lang: SpeechLanguage, rate: number) => Promise<Pcm[]>;

/** A copy of `frames` with their mean removed (cepstral mean normalisation). */
function normalise(frames: readonly Float64Array[]): Float64Array[] {
  const dim = frames[0]?.length ?? 0;
  const mean = new Float64Array(dim);
  for (const f of frames) for (let i = 0; i < dim; i++) mean[i]! += f[i]!;
  for (let i = 0; i < dim; i++) mean[i]! /= Math.max(1, frames.length);
  return frames.map((f) => f.map((v, i) => v - mean[i]!));
}

/**
 * The features of each code said run together by the engine at `rate`, keyed by the code.
 * Undefined when the engine fails (the parse then stands on the templates alone).
 */
async function sayBack(
  say: SayDigits,
  lang: SpeechLanguage,
  rate: number,
  codes: string[],
): Promise<Map<string, Float64Array[]> | undefined> {
  const unique = [...new Set(codes)];
  try {
    const pcms = await say(
      unique.map((c) => c.split('').join(' ')),
      lang,
      rate,
    );
    return new Map(unique.map((c, i) => [c, mfcc(pcms[i]!)]));
  } catch {
    return undefined;
  }
}

/** One run parsed: the run's segments, its span, and the words found in it. */
interface RunParse {
  run: RawSegment[];
  span: RawSegment;
  frames: number;
  words: ConnectedWord[];
}

/**
 * Parses digits said without pauses between them as connected digits ({@link connectedDtw}
 * against each language's ten templates) and cuts the speech at the word edges of the best
 * parse. It applies when a segment is over {@link LONG_SEGMENT_FACTOR} times the longest
 * template, or when segments follow one another closer than any pause we make (a run), or, told
 * the code, when fewer segments were found than it has digits; then every run is parsed.
 *
 * Told the count, the runs together get exactly that many digits, shared out for the least
 * total cost, with templates at the rate that fits that many digits into the speech. Blind, each
 * run's count is the one of least cost per frame (after a small per-digit penalty) with short
 * templates ({@link COUNT_TEMPLATE_MS}), checked again with templates fitted to the digit length
 * that count implies; the digits are then read with templates at that length. The language
 * whose final parse costs least wins. Undefined when none of this applies.
 */
async function connectedSplit(
  pcm: Pcm,
  segs: RawSegment[],
  tsFor: (lang: SpeechLanguage, rate: number) => Promise<Template[]>,
  langs: SpeechLanguage[],
  longestMs: number,
  target: number | undefined,
  say: SayDigits | undefined,
): Promise<
  | { segs: RawSegment[]; lang: SpeechLanguage; digitAt: Map<string, string>; tooLong: number }
  | undefined
> {
  const sr = pcm.sampleRate;
  const lenMs = (s: RawSegment) => ((s.end - s.start) / sr) * 1000;
  const tooLong = segs.filter((s) => lenMs(s) > LONG_SEGMENT_FACTOR * longestMs).length;
  const runs = groupRuns(segs, sr);
  const joined = runs.some((r) => r.length > 1);
  const short = target !== undefined && segs.length < target && target <= 16;
  // One or two runs of speech may be a whole code run together however long they last.
  const few = runs.length <= 2;
  if (tooLong === 0 && !joined && !short && !few) return undefined;
  const spans = runs.map((r) => ({ start: r[0]!.start, end: r[r.length - 1]!.end }));
  const feats = spans.map((s) =>
    mfcc({ samples: pcm.samples.subarray(s.start, s.end), sampleRate: sr }, false),
  );
  const totalMs = spans.reduce((a, s) => a + lenMs(s), 0);
  const need = target;
  const constrained = need !== undefined && need >= runs.length;
  const clampRate = (r: number) => Math.round(Math.min(MAX_RATE_WPM, Math.max(MIN_RATE_WPM, r)));
  const maxFor = (i: number) =>
    Math.max(
      1,
      Math.min(16, constrained ? need - runs.length + 1 : Math.ceil(lenMs(spans[i]!) / 60)),
    );
  const parseAll = (ts: Template[]) =>
    feats.map((f, i) =>
      connectedDtw(
        f,
        ts.map((t) => t.rawFeatures),
        maxFor(i),
      ),
    );
  let best: { cost: number; lang: SpeechLanguage; ts: Template[]; parts: RunParse[] } | undefined;
  for (const lang of langs) {
    const base = await tsFor(lang, DEFAULT_RATE_WPM);
    const meanMs = base.reduce((a, t) => a + t.durationMs, 0) / base.length;
    // Template length scales inversely with the rate.
    // Rates on a grid of 5 % steps, so the templates rendered for one file serve the next.
    const rateFor = (ms: number) =>
      clampRate(DEFAULT_RATE_WPM * 1.05 ** Math.round(Math.log(meanMs / ms) / Math.log(1.05)));
    const at = async (ms: number) => {
      const r = rateFor(ms);
      return r === DEFAULT_RATE_WPM ? base : tsFor(lang, r);
    };
    if (constrained) {
      // Share `need` digits out over the runs (each at least one) for the least total.
      for (const f of [0.8, 1, 1.25]) {
        const ts = await at((totalMs / need) * f);
        const parses = parseAll(ts);
        let table = new Map<number, { c: number; ks: number[] }>([[0, { c: 0, ks: [] }]]);
        parses.forEach((p, i) => {
          const next = new Map<number, { c: number; ks: number[] }>();
          for (const [used, v] of table) {
            p.byCount.forEach((b, k) => {
              if (!b || used + k > need) return;
              const c = v.c + b.cost * feats[i]!.length;
              const o = next.get(used + k);
              if (!o || c < o.c) next.set(used + k, { c, ks: [...v.ks, k] });
            });
          }
          table = next;
        });
        const end = table.get(need);
        if (!end) continue;
        const frames = feats.reduce((a, x) => a + x.length, 0);
        const cost = end.c / Math.max(1, frames);
        if (!best || cost < best.cost) {
          best = {
            cost,
            lang,
            ts,
            parts: parses.map((p, i) => ({
              run: runs[i]!,
              span: spans[i]!,
              frames: feats[i]!.length,
              words: p.byCount[end.ks[i]!]!.words,
            })),
          };
        }
      }
      continue;
    }
    // Blind: count with short templates, recount with templates fitted to that count, read.
    const countWith = (parses: ConnectedResult[]) =>
      parses.map((p) => {
        let pick = 1;
        let score = Infinity;
        p.byCount.forEach((b, k) => {
          if (!b) return;
          const s = b.cost * (1 + CONNECTED_DIGIT_PENALTY * k);
          if (s < score) {
            score = s;
            pick = k;
          }
        });
        return pick;
      });
    const sum = (ks: number[]) => ks.reduce((a, k) => a + k, 0);
    const countTs = await at(COUNT_TEMPLATE_MS);
    const countParses = parseAll(countTs);
    const recountTs = await at((RECOUNT_FRACTION * totalMs) / sum(countWith(countParses)));
    const recount = parseAll(recountTs);
    const counts = countWith(recount);
    const readMs = totalMs / sum(counts);
    const ts = await at(readMs);
    const parses = parseAll(ts);
    // Each run's hypotheses: the parses near the count found (with the counting, checking and
    // reading templates), and each of the likeliest with one digit left out.
    const textOf = (ws: readonly ConnectedWord[], tpl: Template[]) =>
      ws.map((w) => tpl[w.template]!.digit).join('');
    const hyps = parses.map((p, i) => {
      const hs = new Set<string>();
      const c = counts[i]!;
      for (const [res, tpl] of [
        [p, ts],
        [recount[i]!, recountTs],
        [countParses[i]!, countTs],
      ] as const) {
        for (const k of [c, c - 1, c + 1, c - 2, c + 2]) {
          const b = res.byCount[k];
          if (b) hs.add(textOf(b.words, tpl));
        }
      }
      for (const k of [c, c + 1]) {
        const b = p.byCount[k];
        if (!b || k < 2) continue;
        const t = textOf(b.words, ts);
        for (let j = 0; j < t.length; j++) hs.add(t.slice(0, j) + t.slice(j + 1));
      }
      return [...hs];
    });
    if (hyps.some((h) => h.length === 0)) continue;
    let cost = 0;
    let frames = 0;
    const parts: RunParse[] = [];
    const texts = hyps.flat();
    let heard = say ? await sayBack(say, lang, rateFor(readMs), texts) : undefined;
    // Said at another pace than the audio's, the engine's reading is said again at that pace.
    if (heard && say) {
      const said = hyps.map((hs) => heard!.get(hs[0]!)!.length);
      const ratio = said.reduce((a, n) => a + n, 0) / feats.reduce((a, f) => a + f.length, 0);
      if (Math.abs(ratio - 1) > 0.1) {
        const again = await sayBack(say, lang, clampRate(rateFor(readMs) * ratio), texts);
        if (again) heard = again;
      }
    }
    for (const [i, hs] of hyps.entries()) {
      // Analysis by synthesis: each hypothesis said run together by the engine, compared whole;
      // without the engine, the count found stands.
      let text = textOf(parses[i]!.byCount[counts[i]!]?.words ?? [], ts);
      let c = parses[i]!.byCount[counts[i]!]?.cost ?? Infinity;
      if (heard) {
        const mine = normalise(feats[i]!);
        c = Infinity;
        for (const h of hs) {
          const d = dtw(mine, heard.get(h)!);
          if (d < c) {
            c = d;
            text = h;
          }
        }
      }
      if (!Number.isFinite(c) || text === '') break;
      // The words' edges: the chosen digits aligned to the run in their order.
      const seq = [...text].map((d) => ts.findIndex((t) => t.digit === d));
      const aligned = connectedDtw(
        feats[i]!,
        ts.map((t) => t.rawFeatures),
        seq.length,
        undefined,
        seq,
      ).byCount[seq.length];
      if (!aligned) break;
      cost += c * feats[i]!.length;
      frames += feats[i]!.length;
      parts.push({
        run: runs[i]!,
        span: spans[i]!,
        frames: feats[i]!.length,
        words: aligned.words,
      });
    }
    if (parts.length !== runs.length) continue;
    cost /= Math.max(1, frames);
    if (!best || cost < best.cost) best = { cost, lang, ts, parts };
  }
  if (!best) return undefined;
  const chosen: { lang: SpeechLanguage; ts: Template[]; parts: RunParse[] } = best;
  const digitAt = new Map<string, string>();
  const out: RawSegment[] = [];
  for (const part of chosen.parts) {
    const s = part.span;
    // Feature frames are 10 ms apart from the run's start.
    const at = (frame: number) => Math.min(s.end, s.start + Math.round((frame * sr) / 100));
    part.words.forEach((w, i) => {
      let start = i === 0 ? s.start : at(w.start);
      let end = i === part.words.length - 1 ? s.end : at(w.end);
      // A piece keeps only the sound in it: the silences between the run's segments are pauses.
      const inside = part.run.filter((g) => g.end > start && g.start < end);
      if (inside.length > 0) {
        start = Math.max(start, inside[0]!.start);
        end = Math.min(end, inside[inside.length - 1]!.end);
      }
      if (end <= start) return;
      digitAt.set(`${start}:${end}`, chosen.ts[w.template]!.digit);
      out.push({ start, end });
    });
  }
  return { segs: out, lang: chosen.lang, digitAt, tooLong };
}

interface RawSegment {
  start: number; // samples
  end: number;
}

/**
 * Energy segmentation with hysteresis: a segment starts when the 10 ms RMS envelope rises over
 * the high threshold and ends when it falls under the low one; both follow the recording's own
 * noise floor and peak, so a quiet headphone recording segments like a loud file. Edges are then
 * refined to the sample.
 */
export function segmentSpeech(input: Pcm): RawSegment[] {
  // Mains hum and DC carry no speech but raise the floor: segment a high-passed copy.
  const pcm = highPass(input, 150);
  const hop = Math.max(1, Math.round((pcm.sampleRate * HOP_MS) / 1000));
  const env = envelope(pcm.samples, hop, 2 * hop);
  if (env.length === 0) return [];
  const sorted = Float64Array.from(env).sort();
  const noise = sorted[Math.floor(sorted.length * 0.1)]!;
  const top = sorted[sorted.length - 1]!;
  const low = Math.max(noise * 2.5, top * 10 ** (-45 / 20), 16);
  const high = Math.max(low * 3, top * 10 ** (-30 / 20));
  const segs: RawSegment[] = [];
  let i = 0;
  while (i < env.length) {
    if (env[i]! < high) {
      i++;
      continue;
    }
    let a = i;
    while (a > 0 && env[a - 1]! >= low) a--;
    let b = i;
    while (b < env.length && env[b]! >= low) b++;
    segs.push({ start: a * hop, end: Math.min(pcm.samples.length, b * hop) });
    i = b;
  }
  // Refine each edge to the first and last sample over the low threshold.
  const x = pcm.samples;
  const lowAmp = low;
  for (const s of segs) {
    const from = Math.max(0, s.start - hop);
    const to = Math.min(x.length, s.end + hop);
    let a = from;
    while (a < to && Math.abs(x[a]!) < lowAmp) a++;
    let b = to;
    while (b > a && Math.abs(x[b - 1]!) < lowAmp) b--;
    s.start = a;
    s.end = b;
  }
  // Drop clicks shorter than 25 ms.
  const minLen = (pcm.sampleRate * 25) / 1000;
  return segs.filter((s) => s.end - s.start >= minLen);
}

/** A second-order Butterworth high-pass at `hz` (RBJ biquad), as a new Pcm. */
export function highPass(pcm: Pcm, hz: number): Pcm {
  const w = (2 * Math.PI * hz) / pcm.sampleRate;
  const alpha = Math.sin(w) / Math.SQRT2;
  const cos = Math.cos(w);
  const a0 = 1 + alpha;
  const b0 = (1 + cos) / 2 / a0;
  const b1 = -(1 + cos) / a0;
  const b2 = b0;
  const a1 = (-2 * cos) / a0;
  const a2 = (1 - alpha) / a0;
  const x = pcm.samples;
  const out = new Int16Array(x.length);
  let x1 = 0;
  let x2 = 0;
  let y1 = 0;
  let y2 = 0;
  for (let i = 0; i < x.length; i++) {
    const x0 = x[i]!;
    const y0 = b0 * x0 + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
    out[i] = Math.max(-32768, Math.min(32767, Math.round(y0)));
    x2 = x1;
    x1 = x0;
    y2 = y1;
    y1 = y0;
  }
  return { samples: out, sampleRate: pcm.sampleRate };
}

/** Merges segments split by a stop closure inside a word: gaps well under the typical pause. */
function mergeClosures(segs: RawSegment[], sampleRate: number, target?: number): RawSegment[] {
  const out = segs.map((s) => ({ ...s }));
  const gapMs = (k: number) => ((out[k + 1]!.start - out[k]!.end) / sampleRate) * 1000;
  const gaps = () => out.slice(0, -1).map((_, k) => gapMs(k));
  const g0 = gaps().sort((a, b) => a - b);
  const median = g0.length > 0 ? g0[Math.floor(g0.length / 2)]! : 0;
  const limit = Math.min(120, Math.max(40, 0.45 * median));
  const mergeAt = (k: number) => {
    out[k] = { start: out[k]!.start, end: out[k + 1]!.end };
    out.splice(k + 1, 1);
  };
  for (let k = 0; k < out.length - 1;) {
    if (gapMs(k) < limit) mergeAt(k);
    else k++;
  }
  // With an expected length, close the smallest gaps until the count fits.
  if (target !== undefined) {
    while (out.length > target && out.length > 1) {
      const g = gaps();
      mergeAt(g.indexOf(Math.min(...g)));
    }
  }
  return out;
}

/** A tone, if `pcm` is one: over 70 % of its energy within ±40 Hz of one spectral peak. */
export function detectTone(pcm: Pcm): { freqHz: number } | undefined {
  const x = resample(pcm, FEATURE_RATE).samples;
  if (x.length < 256) return undefined;
  const n = Math.min(nextPow2(x.length) / 2 >= 256 ? nextPow2(x.length) / 2 : 256, 8192);
  const off = Math.max(0, Math.floor((x.length - n) / 2));
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  for (let i = 0; i < n; i++)
    re[i] = (x[off + i] ?? 0) * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1)));
  fft(re, im);
  const p = new Float64Array(n / 2);
  let total = 0;
  let best = 1;
  for (let k = 1; k < n / 2; k++) {
    p[k] = re[k]! * re[k]! + im[k]! * im[k]!;
    total += p[k]!;
    if (p[k]! > p[best]!) best = k;
  }
  const width = Math.max(2, Math.ceil((40 * n) / FEATURE_RATE));
  let near = 0;
  for (let k = Math.max(1, best - width); k <= Math.min(n / 2 - 1, best + width); k++)
    near += p[k]!;
  if (total === 0 || near / total < 0.7) return undefined;
  // Parabolic interpolation of the peak on log power.
  const [l, c, r] = [
    Math.log(p[best - 1]! + 1e-9),
    Math.log(p[best]! + 1e-9),
    Math.log(p[best + 1]! + 1e-9),
  ];
  const delta = (l - r) / (2 * (l - 2 * c + r) || 1);
  return { freqHz: Math.round(((best + delta) * FEATURE_RATE) / n) };
}

let sharedSpeaker: CodeSpeaker | undefined;
const templateCache = new WeakMap<CodeSpeaker, Map<string, Promise<Template[]>>>();

interface Template {
  digit: string;
  features: Float64Array[];
  /** Without cepstral mean normalisation: pieces of a longer utterance compare to these. */
  rawFeatures: Float64Array[];
  durationMs: number;
  /** The longest silence inside this rendering (a weak consonant, a stop closure), ms. */
  gapMs: number;
}

/** The longest silence between the parts of one rendered digit, as the segmenter sees it. */
function internalGapMs(d: Pcm): number {
  const parts = segmentSpeech(d);
  let g = 0;
  for (let k = 1; k < parts.length; k++) g = Math.max(g, parts[k]!.start - parts[k - 1]!.end);
  return (g / d.sampleRate) * 1000;
}

function templates(
  speaker: CodeSpeaker,
  lang: SpeechLanguage,
  rate: number,
  voice?: string,
): Promise<Template[]> {
  let m = templateCache.get(speaker);
  if (!m) templateCache.set(speaker, (m = new Map()));
  const key = `${lang}\u0000${voice ?? ''}\u0000${rate}`;
  let p = m.get(key);
  if (!p) {
    p = speaker.digits(lang, rate, voice).then((ds) =>
      ds.map((d, i) => ({
        digit: DIGITS[i]!,
        features: mfcc(d),
        rawFeatures: mfcc(d, false),
        durationMs: (d.samples.length / d.sampleRate) * 1000,
        gapMs: internalGapMs(d),
      })),
    );
    m.set(key, p);
    p.catch(() => m.delete(key));
  }
  return p;
}

interface Decoding {
  lang: SpeechLanguage;
  digits: {
    digit: string;
    distance: number;
    confidence: number;
    durationMs: number;
    templateMs: number;
  }[];
  total: number;
}

async function decodeWith(
  speaker: CodeSpeaker,
  lang: SpeechLanguage,
  rate: number,
  voice: string | undefined,
  feats: Float64Array[][],
  durs: number[],
  forced?: ReadonlyMap<number, string>,
): Promise<Decoding> {
  const ts = await templates(speaker, lang, rate, voice);
  let total = 0;
  const digits = feats.map((f, i) => {
    const scored = ts.map((t) => ({ t, d: dtw(f, t.features) })).sort((a, b) => a.d - b.d);
    // A piece of connected speech keeps the digit the whole-segment parse gave it: its edges
    // are the parse's, and alone it lacks the context that made the parse sure.
    const want = forced?.get(i);
    const k =
      want === undefined
        ? 0
        : Math.max(
            0,
            scored.findIndex((x) => x.t.digit === want),
          );
    const best = scored[k]!;
    const second = scored[k === 0 ? 1 : 0]!;
    total += best.d;
    return {
      digit: best.t.digit,
      distance: best.d,
      confidence: second.d > 0 ? Math.max(0, Math.min(1, (second.d - best.d) / second.d)) : 0,
      durationMs: durs[i]!,
      templateMs: best.t.durationMs,
    };
  });
  return { lang, digits, total };
}

/** The median of `xs` (which must not be empty). */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Analyses a WAV file's bytes. */
export async function analyzeWav(
  wav: Uint8Array,
  options: AnalyzeOptions = {},
): Promise<AudioAnalysis> {
  const decoded = decodeWav(wav);
  return analyzeAudio(decoded, decoded.info, options);
}

/** Analyses mono PCM (with what its file held, for the report). */
export async function analyzeAudio(
  pcm: Pcm,
  info: WavInfo,
  options: AnalyzeOptions = {},
): Promise<AudioAnalysis> {
  if (options.expect !== undefined && !/^\d{1,16}$/.test(options.expect)) {
    throw new AudioError('bad-option', 'the expected code must be 1 to 16 digits');
  }
  const langOpt = options.lang ?? 'auto';
  if (langOpt !== 'auto' && !(SpeechLanguages as readonly string[]).includes(langOpt)) {
    throw new AudioError(
      'bad-option',
      `language must be auto or one of ${SpeechLanguages.join(', ')}`,
    );
  }
  const speaker =
    options.speaker ?? (sharedSpeaker ??= new CodeSpeaker(createSpeechEngine('espeak-ng-wasm')));
  const sr = pcm.sampleRate;
  const ms = (n: number) => (n / sr) * 1000;
  const x = pcm.samples;

  // 1. Segments, and which of them are tones.
  let raw = segmentSpeech(pcm);
  const toneOf = new Map<RawSegment, number>();
  for (const s of raw) {
    const t = detectTone({ samples: x.subarray(s.start, s.end), sampleRate: sr });
    if (t) toneOf.set(s, t.freqHz);
  }
  let speech = mergeClosures(
    raw.filter((s) => !toneOf.has(s)),
    sr,
  );
  if (speech.length === 0) {
    throw new AudioError('bad-wav', 'no speech found in the audio');
  }
  // Digits run together (no silence between them) are cut apart at the dips of the level.
  const langsToTry: SpeechLanguage[] = langOpt === 'auto' ? [...SpeechLanguages] : [langOpt];
  let longestMs = 0;
  let shortestMs = Infinity;
  for (const l of langsToTry) {
    for (const t of await templates(speaker, l, DEFAULT_RATE_WPM, options.voice)) {
      longestMs = Math.max(longestMs, t.durationMs);
      shortestMs = Math.min(shortestMs, t.durationMs);
    }
  }
  // As heard, before any cutting (the checklist judges the speech, not our parse of it).
  const longestBeforeMs = Math.max(...speech.map((sg) => ms(sg.end - sg.start)));
  // Segments far longer than any digit are parsed as connected digits (level-building DTW).
  const connected = await connectedSplit(
    pcm,
    speech,
    (l, r) => templates(speaker, l, r, options.voice),
    langsToTry,
    longestMs,
    options.expect?.length,
    (texts, lang, rate) => {
      const req = { lang, rate, ...(options.voice !== undefined ? { voice: options.voice } : {}) };
      const e = speaker.engine;
      return e.renderSeparate
        ? e.renderSeparate(texts, req)
        : Promise.all(texts.map((text) => e.render({ ...req, text })));
    },
  );
  if (connected) speech = connected.segs;
  // Only when told the code and fewer segments were found than it has digits: a slow speaker's
  // digits are long too, and without the count there is no telling them from digits run together.
  const cut = connected
    ? { segs: speech, tooLong: connected.tooLong, split: 0 }
    : options.expect !== undefined && speech.length < options.expect.length
      ? splitRunTogether(pcm, speech, longestMs, shortestMs, options.expect.length)
      : { segs: speech, tooLong: 0, split: 0 };
  speech = cut.segs;
  const joins = new Set(speech.slice(1).filter((b, k) => b.start === speech[k]!.end));

  // 2. Features, then the digits: templates at the default rate first, then at the rate the
  // durations point to (DTW absorbs tempo, but closer templates give surer matches and a rate).
  const featuresOf = (s: RawSegment) =>
    mfcc({ samples: x.subarray(s.start, s.end), sampleRate: sr });
  let feats = speech.map(featuresOf);
  let durs = speech.map((s) => ms(s.end - s.start));
  // The connected parse has already chosen the language (its pieces' edges are that language's).
  const langs: SpeechLanguage[] = connected
    ? [connected.lang]
    : langOpt === 'auto'
      ? [...SpeechLanguages]
      : [langOpt];
  const forcedNow = () => {
    if (!connected) return undefined;
    const m = new Map<number, string>();
    speech.forEach((s, i) => {
      const d = connected.digitAt.get(`${s.start}:${s.end}`);
      if (d !== undefined) m.set(i, d);
    });
    return m;
  };
  const estimate = (d: Decoding, r: number) => {
    const ratio = median(d.digits.map((g) => g.templateMs / g.durationMs));
    return Math.round(Math.min(MAX_RATE_WPM, Math.max(MIN_RATE_WPM, r * ratio)));
  };
  // Each language gets its own rate before the languages are compared: at an extreme rate the
  // default-rate templates of the wrong language can be the closer ones.
  let best: { dec: Decoding; rateAt: number } | undefined;
  for (const lang of langs) {
    let d = await decodeWith(
      speaker,
      lang,
      DEFAULT_RATE_WPM,
      options.voice,
      feats,
      durs,
      forcedNow(),
    );
    let r = DEFAULT_RATE_WPM;
    for (let round = 0; round < 2; round++) {
      const est = estimate(d, r);
      if (Math.abs(est - r) / r < 0.03) break;
      r = est;
      d = await decodeWith(speaker, lang, r, options.voice, feats, durs, forcedNow());
    }
    if (!best || d.total < best.dec.total) best = { dec: d, rateAt: r };
  }
  let dec = best!.dec;
  const rateAt = best!.rateAt;
  const redo = async () => {
    feats = speech.map(featuresOf);
    durs = speech.map((s) => ms(s.end - s.start));
    dec = await decodeWith(speaker, dec.lang, rateAt, options.voice, feats, durs, forcedNow());
  };

  // 3. Words with a silence inside (slow "seven" has one longer than a short pause): where two
  // neighbours are closer than the longest such silence of the engine's own digits, and the two
  // together match a digit better than each alone does, they were one digit.
  // Pieces of a connected parse stay as parsed.
  const fromParse = (s: RawSegment) => connected?.digitAt.has(`${s.start}:${s.end}`) ?? false;
  const ts = await templates(speaker, dec.lang, rateAt, options.voice);
  const inner = Math.max(...ts.map((t) => t.gapMs));
  if (inner > 0) {
    let merged = false;
    for (let k = 0; k < speech.length - 1;) {
      const a = speech[k]!;
      const b = speech[k + 1]!;
      if (
        !joins.has(b) &&
        !fromParse(a) &&
        !fromParse(b) &&
        ms(b.start - a.end) <= inner * 1.3 + 20
      ) {
        const f = featuresOf({ start: a.start, end: b.end });
        const together = Math.min(...ts.map((t) => dtw(f, t.features)));
        if (together < (dec.digits[k]!.distance + dec.digits[k + 1]!.distance) / 2) {
          speech.splice(k, 2, { start: a.start, end: b.end });
          dec.digits.splice(k, 2, { ...dec.digits[k]!, distance: together });
          merged = true;
          continue;
        }
      }
      k++;
    }
    if (merged) await redo();
  }
  // With an expected length, close the smallest gaps until the count fits.
  if (options.expect !== undefined && speech.length > options.expect.length) {
    speech = mergeClosures(speech, sr, options.expect.length);
    await redo();
  }
  raw = [...speech, ...raw.filter((s) => toneOf.has(s))].sort((a, b) => a.start - b.start);
  const estimatedWpm = estimate(dec, rateAt);

  // 3. Levels and timing.
  const p = peak(x);
  let clipped = 0;
  for (let i = 0; i < x.length; i++) if (x[i]! >= 32767 || x[i]! <= -32768) clipped++;
  let sumSq = 0;
  let nSpeech = 0;
  for (const s of speech) {
    const r = rms(x, s.start, s.end);
    sumSq += r * r * (s.end - s.start);
    nSpeech += s.end - s.start;
  }
  const pausesMs = speech.slice(1).map((s, k) => ms(s.start - speech[k]!.end));
  const lastSpeech = speech[speech.length - 1]!;
  const tones = raw.filter((s) => toneOf.has(s) && s.start >= lastSpeech.end);
  const tone = tones[0];
  const span = ms(lastSpeech.end - speech[0]!.start);
  const speechMs = durs.reduce((a, b) => a + b, 0);

  const segments: AnalysedSegment[] = raw.map((s) => {
    const base = {
      startMs: ms(s.start),
      endMs: ms(s.end),
      durationMs: ms(s.end - s.start),
      peakDbfs: dbfs(peak(x, s.start, s.end)),
      rmsDbfs: dbfs(rms(x, s.start, s.end)),
    };
    const k = speech.indexOf(s);
    if (k < 0)
      return {
        kind: 'tone' as const,
        ...base,
        digit: '',
        distance: 0,
        confidence: 1,
        toneHz: toneOf.get(s)!,
      };
    const g = dec.digits[k]!;
    return {
      kind: 'digit' as const,
      ...base,
      digit: g.digit,
      distance: g.distance,
      confidence: g.confidence,
    };
  });
  const heard = dec.digits.map((g) => g.digit).join('');
  const matches =
    options.expect === undefined ? undefined : constantTimeEqualString(heard, options.expect);
  const speechRmsDbfs = nSpeech > 0 ? dbfs(Math.sqrt(sumSq / nSpeech)) : -Infinity;
  const longestTemplateMs = Math.max(
    ...(await templates(speaker, dec.lang, rateAt, options.voice)).map((t) => t.durationMs),
  );
  const checklist = buildChecklist(
    {
      digitSegments: speech.length,
      // As heard, before any cutting: digits run together are not digit by digit.
      longestSegmentMs: Math.max(longestBeforeMs, ...durs),
      longestTemplateMs,
      decoded: heard,
      ...(options.expect !== undefined ? { expected: options.expect } : {}),
      language: dec.lang,
      minPauseMs: pausesMs.length > 0 ? Math.min(...pausesMs) : null,
      endTone: tone !== undefined,
      clipping: clipped > 0,
      speechRmsDbfs,
    },
    options.profile,
  );
  const warnings: AnalysisWarning[] = [];
  const longestNow = Math.max(...durs);
  if (
    connected ||
    cut.split > 0 ||
    Math.max(longestBeforeMs, longestNow) > LONG_SEGMENT_FACTOR * longestTemplateMs
  ) {
    warnings.push({
      code: 'segment-too-long',
      detail: connected
        ? `speech ran digits together: ${connected.tooLong} segment(s) parsed as connected digits`
        : cut.split > 0
          ? `speech ran digits together: split ${cut.split} time(s) at dips in the level`
          : `a segment of ${Math.round(longestNow)} ms is over ${LONG_SEGMENT_FACTOR}x the longest digit`,
    });
  }
  const unsure = dec.digits.filter((g) => g.confidence < LOW_CONFIDENCE).length;
  if (unsure > 0) {
    warnings.push({
      code: 'low-confidence',
      detail: `${unsure} digit(s) heard with confidence under ${LOW_CONFIDENCE}`,
    });
  }
  if (info.missingBytes !== undefined) {
    warnings.push({
      code: 'truncated',
      detail: `the file holds ${info.missingBytes} bytes less audio than its header says`,
    });
  }
  return {
    file: { ...info, durationMs: ms(x.length) },
    levels: { peakDbfs: dbfs(p), speechRmsDbfs, clippedSamples: clipped, clipping: clipped > 0 },
    segments,
    pausesMs,
    timing: {
      meanDigitMs: speechMs / speech.length,
      meanPauseMs:
        pausesMs.length > 0 ? pausesMs.reduce((a, b) => a + b, 0) / pausesMs.length : null,
      digitsPerSecond: span > 0 ? (speech.length * 1000) / span : null,
      articulationDigitsPerSecond: speechMs > 0 ? (speech.length * 1000) / speechMs : null,
      estimatedWpm,
    },
    endTone: tone
      ? {
          detected: true,
          freqHz: toneOf.get(tone)!,
          durationMs: ms(tone.end - tone.start),
          gapMs: ms(tone.start - lastSpeech.end),
        }
      : { detected: false },
    language: dec.lang,
    decoded: heard,
    ...(matches !== undefined ? { matches } : {}),
    checklist,
    warnings,
  };
}
