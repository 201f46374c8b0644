/**
 * Speech features for matching digits: MFCCs (mel-frequency cepstral coefficients, as in the
 * ETSI ES 201 108 front end: 25 ms Hamming frames every 10 ms, a mel filter bank, log, DCT) at a
 * fixed 16 kHz analysis rate, and dynamic time warping to compare utterances of unequal length.
 */
import { fft, nextPow2, resample } from './dsp.js';
import type { Pcm } from './wav.js';

/** Every signal is resampled to this rate before features, so any recording rate compares. */
export const FEATURE_RATE = 16_000;
const FRAME = 400; // 25 ms
const HOP = 160; // 10 ms
const NFFT = nextPow2(FRAME);
const NMEL = 26;
const NCEP = 13;
const FMIN = 100;
const FMAX = 7000;

const hz2mel = (f: number) => 2595 * Math.log10(1 + f / 700);
const mel2hz = (m: number) => 700 * (10 ** (m / 2595) - 1);

const hamming = Float64Array.from(
  { length: FRAME },
  (_, i) => 0.54 - 0.46 * Math.cos((2 * Math.PI * i) / (FRAME - 1)),
);

/** Triangular mel filters over the FFT bins. */
const filters: Float64Array[] = (() => {
  const lo = hz2mel(FMIN);
  const hi = hz2mel(FMAX);
  const centres = Array.from({ length: NMEL + 2 }, (_, i) =>
    mel2hz(lo + ((hi - lo) * i) / (NMEL + 1)),
  );
  const bin = (f: number) => (f * NFFT) / FEATURE_RATE;
  return Array.from({ length: NMEL }, (_, m) => {
    const w = new Float64Array(NFFT / 2 + 1);
    const [a, b, c] = [bin(centres[m]!), bin(centres[m + 1]!), bin(centres[m + 2]!)];
    for (let k = 0; k < w.length; k++) {
      if (k > a && k <= b) w[k] = (k - a) / (b - a);
      else if (k > b && k < c) w[k] = (c - k) / (c - b);
    }
    return w;
  });
})();

const dct: Float64Array[] = Array.from({ length: NCEP }, (_, k) =>
  Float64Array.from({ length: NMEL }, (_, n) => Math.cos((Math.PI * k * (n + 0.5)) / NMEL)),
);

/**
 * MFCC frames of `pcm` (any rate), without c0, with the segment's mean removed (cepstral mean
 * normalisation: it cancels a recording channel's colouring and the overall level).
 */
export function mfcc(pcm: Pcm, meanNormalise = true): Float64Array[] {
  const x = resample(pcm, FEATURE_RATE).samples;
  const frames: Float64Array[] = [];
  const re = new Float64Array(NFFT);
  const im = new Float64Array(NFFT);
  const power = new Float64Array(NFFT / 2 + 1);
  for (let start = 0; start + FRAME <= Math.max(x.length, FRAME); start += HOP) {
    re.fill(0);
    im.fill(0);
    // Pre-emphasis (0.97) then the window.
    for (let i = 0; i < FRAME; i++) {
      const s = (x[start + i] ?? 0) - 0.97 * (x[start + i - 1] ?? 0);
      re[i] = (s / 32768) * hamming[i]!;
    }
    fft(re, im);
    for (let k = 0; k <= NFFT / 2; k++) power[k] = re[k]! * re[k]! + im[k]! * im[k]!;
    const logMel = new Float64Array(NMEL);
    for (let m = 0; m < NMEL; m++) {
      let e = 0;
      const w = filters[m]!;
      for (let k = 0; k < w.length; k++) e += w[k]! * power[k]!;
      logMel[m] = Math.log(e + 1e-10);
    }
    const c = new Float64Array(NCEP - 1);
    for (let k = 1; k < NCEP; k++) {
      let s = 0;
      const d = dct[k]!;
      for (let n = 0; n < NMEL; n++) s += d[n]! * logMel[n]!;
      c[k - 1] = s;
    }
    frames.push(c);
    if (start + FRAME >= x.length) break;
  }
  if (!meanNormalise) return frames;
  const dim = NCEP - 1;
  const mean = new Float64Array(dim);
  for (const f of frames) for (let i = 0; i < dim; i++) mean[i]! += f[i]!;
  for (let i = 0; i < dim; i++) mean[i]! /= frames.length;
  for (const f of frames) for (let i = 0; i < dim; i++) f[i]! -= mean[i]!;
  return frames;
}

function dist(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    s += d * d;
  }
  return Math.sqrt(s);
}

/**
 * Dynamic time warping distance between two feature sequences, normalised by the length of the
 * warping path so short and long utterances compare (symmetric steps: match, insert, delete).
 */
export function dtw(a: readonly Float64Array[], b: readonly Float64Array[]): number {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) return Infinity;
  // cost and path length, one row at a time
  let prev = new Float64Array(m + 1).fill(Infinity);
  let prevLen = new Float64Array(m + 1);
  let cur = new Float64Array(m + 1);
  let curLen = new Float64Array(m + 1);
  prev[0] = 0;
  for (let i = 1; i <= n; i++) {
    cur.fill(Infinity);
    cur[0] = Infinity;
    for (let j = 1; j <= m; j++) {
      const d = dist(a[i - 1]!, b[j - 1]!);
      let best = prev[j - 1]!;
      let len = prevLen[j - 1]!;
      if (prev[j]! < best) {
        best = prev[j]!;
        len = prevLen[j]!;
      }
      if (cur[j - 1]! < best) {
        best = cur[j - 1]!;
        len = curLen[j - 1]!;
      }
      cur[j] = best + d;
      curLen[j] = len + 1;
    }
    [prev, cur] = [cur, prev];
    [prevLen, curLen] = [curLen, prevLen];
  }
  return prev[m]! / prevLen[m]!;
}

/** One digit found by {@link connectedDtw}: which template, over which input frames. */
export interface ConnectedWord {
  readonly template: number;
  /** First input frame (inclusive) and last (exclusive). */
  readonly start: number;
  readonly end: number;
}

/** Per digit count, the best sequence of templates spanning the input and its cost per frame. */
export interface ConnectedResult {
  /** `byCount[k]` holds the best k-word parse (undefined where none fits). */
  readonly byCount: readonly ({ cost: number; words: ConnectedWord[] } | undefined)[];
}

/**
 * Connected-word recognition by level building (one level per word) over a one-pass DTW:
 * every input frame is consumed exactly once, by a template frame (steps of 0, 1 or 2 template
 * frames, so a template may be said up to twice as fast or slower) or by a short
 * silence/transition model between words at `gapCost` a frame. Costs are sums of frame
 * distances, so parses of any word count compare after division by the input length. With
 * `sequence`, level k may only use template `sequence[k - 1]` (a forced alignment of known words).
 */
export function connectedDtw(
  input: readonly Float64Array[],
  templates: readonly (readonly Float64Array[])[],
  maxWords: number,
  gapCost?: number,
  sequence?: readonly number[],
): ConnectedResult {
  const T = input.length;
  const nT = templates.length;
  // Local distances, input frame by template frame.
  const local = templates.map((tp) => input.map((f) => Float64Array.from(tp, (g) => dist(f, g))));
  let gc = gapCost;
  if (gc === undefined) {
    let s = 0;
    for (let t = 0; t < T; t++) {
      let m = Infinity;
      for (const lt of local) for (const v of lt[t]!) m = Math.min(m, v);
      s += m;
    }
    gc = (1.6 * s) / Math.max(1, T);
  }
  // E[k][t]: best cost of frames 0..t with k words, the last ending at t; G adds trailing gap.
  const E: Float64Array[] = [];
  const eFrom: { tpl: Int32Array; start: Int32Array }[] = [];
  const G: Float64Array[] = [];
  const gFrom: Int32Array[] = [];
  // Level 0: only gap frames.
  const g0 = new Float64Array(T);
  const g0From = new Int32Array(T).fill(-1);
  for (let t = 0; t < T; t++) g0[t] = (t + 1) * gc;
  G.push(g0);
  gFrom.push(g0From);
  E.push(new Float64Array(T).fill(Infinity));
  eFrom.push({ tpl: new Int32Array(T), start: new Int32Array(T) });
  for (let k = 1; k <= maxWords; k++) {
    const Ek = new Float64Array(T).fill(Infinity);
    const eTpl = new Int32Array(T).fill(-1);
    const eStart = new Int32Array(T).fill(-1);
    const prevG = G[k - 1]!;
    for (let d = 0; d < nT; d++) {
      if (sequence && sequence[k - 1] !== d) continue;
      const L = templates[d]!.length;
      if (L === 0) continue;
      const ld = local[d]!;
      let prev = new Float64Array(L).fill(Infinity);
      let prevS = new Int32Array(L);
      let cur = new Float64Array(L);
      let curS = new Int32Array(L);
      for (let t = 0; t < T; t++) {
        // Entry: a word starts at frame t after the previous level (with its gap) ended at t-1.
        const entry = k === 1 && t === 0 ? 0 : t > 0 ? prevG[t - 1]! : Infinity;
        const lt = ld[t]!;
        for (let j = 0; j < L; j++) {
          let best = prev[j]!;
          let s = prevS[j]!;
          if (j >= 1 && prev[j - 1]! < best) {
            best = prev[j - 1]!;
            s = prevS[j - 1]!;
          }
          if (j >= 2 && prev[j - 2]! < best) {
            best = prev[j - 2]!;
            s = prevS[j - 2]!;
          }
          if (j <= 1 && entry < best) {
            best = entry;
            s = t;
          }
          cur[j] = best + lt[j]!;
          curS[j] = s;
        }
        if (cur[L - 1]! < Ek[t]!) {
          Ek[t] = cur[L - 1]!;
          eTpl[t] = d;
          eStart[t] = curS[L - 1]!;
        }
        [prev, cur] = [cur, prev];
        [prevS, curS] = [curS, prevS];
      }
    }
    const Gk = new Float64Array(T);
    const gk = new Int32Array(T);
    for (let t = 0; t < T; t++) {
      const stay = t > 0 ? Gk[t - 1]! + gc : Infinity;
      if (Ek[t]! <= stay) {
        Gk[t] = Ek[t]!;
        gk[t] = t;
      } else {
        Gk[t] = stay;
        gk[t] = gk[t - 1]!;
      }
    }
    E.push(Ek);
    eFrom.push({ tpl: eTpl, start: eStart });
    G.push(Gk);
    gFrom.push(gk);
  }
  const byCount: ({ cost: number; words: ConnectedWord[] } | undefined)[] = [undefined];
  for (let k = 1; k <= maxWords; k++) {
    const total = G[k]![T - 1]!;
    if (!Number.isFinite(total)) {
      byCount.push(undefined);
      continue;
    }
    const words: ConnectedWord[] = [];
    let t = gFrom[k]![T - 1]!;
    for (let level = k; level >= 1; level--) {
      const tpl = eFrom[level]!.tpl[t]!;
      const start = eFrom[level]!.start[t]!;
      words.unshift({ template: tpl, start, end: t + 1 });
      if (level > 1) t = gFrom[level - 1]![start - 1]!;
    }
    byCount.push({ cost: total / T, words });
  }
  return { byCount };
}
