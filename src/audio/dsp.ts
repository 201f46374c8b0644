/** Signal processing: levels, silence trimming, energy envelopes, a sine tone, and an FFT. */
import type { Pcm } from './wav.js';

/** dBFS of an amplitude relative to 16-bit full scale (32768); -Infinity for silence. */
export function dbfs(amplitude: number): number {
  return amplitude > 0 ? 20 * Math.log10(amplitude / 32768) : -Infinity;
}

/** Peak absolute sample value of `x[from, to)`. */
export function peak(x: Int16Array, from = 0, to = x.length): number {
  let p = 0;
  for (let i = from; i < to; i++) {
    const a = Math.abs(x[i]!);
    if (a > p) p = a;
  }
  return p;
}

/** Root mean square of `x[from, to)`. */
export function rms(x: Int16Array, from = 0, to = x.length): number {
  if (to <= from) return 0;
  let s = 0;
  for (let i = from; i < to; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s / (to - from));
}

/**
 * RMS per hop of `hop` samples, over windows of `win` samples centred on each hop: the energy
 * envelope the segmenters read.
 */
export function envelope(x: Int16Array, hop: number, win: number): Float64Array {
  const n = Math.ceil(x.length / hop);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const c = i * hop + hop / 2;
    const a = Math.max(0, Math.floor(c - win / 2));
    const b = Math.min(x.length, Math.floor(c + win / 2));
    out[i] = rms(x, a, b);
  }
  return out;
}

/**
 * The threshold under which audio counts as silence when trimming a rendered digit: 1 % of
 * full scale (-40 dBFS) in RMS over 5 ms. The analyser's speech threshold is set above it, so a
 * pause we assemble measures as what was asked.
 */
export const TRIM_THRESHOLD = 328;

/** The sample range `[start, end)` of `pcm` that is not silence (RMS over 5 ms windows). */
export function nonSilentRange(pcm: Pcm, threshold = TRIM_THRESHOLD): [number, number] {
  const x = pcm.samples;
  const hop = Math.max(1, Math.round(pcm.sampleRate / 1000)); // 1 ms resolution
  const win = Math.max(2, Math.round(pcm.sampleRate / 200)); // 5 ms window
  const env = envelope(x, hop, win);
  let first = -1;
  let last = -1;
  for (let i = 0; i < env.length; i++) {
    if (env[i]! >= threshold) {
      if (first < 0) first = i;
      last = i;
    }
  }
  if (first < 0) return [0, 0];
  return [first * hop, Math.min(x.length, (last + 1) * hop)];
}

/** `pcm` without leading and trailing silence, with a 2 ms fade at each end against clicks. */
export function trimSilence(pcm: Pcm, threshold = TRIM_THRESHOLD): Pcm {
  const [a, b] = nonSilentRange(pcm, threshold);
  const samples = pcm.samples.slice(a, b);
  fadeEnds(samples, Math.round(pcm.sampleRate / 500));
  return { samples, sampleRate: pcm.sampleRate };
}

/** Fades the first and last `n` samples of `x` in place (linear). */
export function fadeEnds(x: Int16Array, n: number): void {
  const m = Math.min(n, Math.floor(x.length / 2));
  for (let i = 0; i < m; i++) {
    const g = i / m;
    x[i] = Math.round(x[i]! * g);
    x[x.length - 1 - i] = Math.round(x[x.length - 1 - i]! * g);
  }
}

/** A sine tone of `freq` Hz for `ms` at `amplitude` (0..1 of full scale), with 5 ms ramps. */
export function sineTone(
  sampleRate: number,
  freq: number,
  ms: number,
  amplitude: number,
): Int16Array {
  const n = Math.round((sampleRate * ms) / 1000);
  const out = new Int16Array(n);
  const ramp = Math.min(Math.round(sampleRate / 200), Math.floor(n / 2));
  for (let i = 0; i < n; i++) {
    let g = amplitude;
    if (i < ramp) g *= i / ramp;
    else if (i >= n - ramp) g *= (n - 1 - i) / ramp;
    out[i] = Math.round(Math.sin((2 * Math.PI * freq * i) / sampleRate) * g * 32767);
  }
  return out;
}

/** Multiplies samples by `gain`, saturating at full scale. */
export function applyGain(x: Int16Array, gain: number): Int16Array {
  const out = new Int16Array(x.length);
  for (let i = 0; i < x.length; i++)
    out[i] = Math.max(-32768, Math.min(32767, Math.round(x[i]! * gain)));
  return out;
}

/** Linear-interpolation resampling of `pcm` to `rate` (enough for levels and features). */
export function resample(pcm: Pcm, rate: number): Pcm {
  if (pcm.sampleRate === rate) return pcm;
  const n = Math.floor((pcm.samples.length * rate) / pcm.sampleRate);
  const out = new Int16Array(n);
  const step = pcm.sampleRate / rate;
  for (let i = 0; i < n; i++) {
    const p = i * step;
    const j = Math.floor(p);
    const f = p - j;
    const a = pcm.samples[j] ?? 0;
    const b = pcm.samples[j + 1] ?? a;
    out[i] = Math.round(a + (b - a) * f);
  }
  return { samples: out, sampleRate: rate };
}

/** In-place iterative radix-2 FFT of (re, im); length must be a power of two. */
export function fft(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j]!, re[i]!];
      [im[i], im[j]] = [im[j]!, im[i]!];
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = (-2 * Math.PI) / len;
    const wr = Math.cos(ang);
    const wi = Math.sin(ang);
    for (let i = 0; i < n; i += len) {
      let cr = 1;
      let ci = 0;
      for (let k = 0; k < len / 2; k++) {
        const a = i + k;
        const b = a + len / 2;
        const tr = re[b]! * cr - im[b]! * ci;
        const ti = re[b]! * ci + im[b]! * cr;
        re[b] = re[a]! - tr;
        im[b] = im[a]! - ti;
        re[a] = re[a]! + tr;
        im[a] = im[a]! + ti;
        const t = cr * wr - ci * wi;
        ci = cr * wi + ci * wr;
        cr = t;
      }
    }
  }
}

/** The smallest power of two >= n. */
export function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p <<= 1;
  return p;
}

/**
 * Splits `pcm` at silences of at least `minGapMs` (RMS under `threshold`) into the sounding
 * parts between them, each still with its own edges (trim them afterwards).
 */
export function splitOnSilence(pcm: Pcm, minGapMs: number, threshold = TRIM_THRESHOLD): Pcm[] {
  const hop = Math.max(1, Math.round(pcm.sampleRate / 200)); // 5 ms
  const env = envelope(pcm.samples, hop, hop);
  const minGap = Math.ceil(minGapMs / 5);
  const parts: Pcm[] = [];
  let start = -1;
  let quiet = 0;
  for (let i = 0; i <= env.length; i++) {
    const loud = i < env.length && env[i]! >= threshold;
    if (loud) {
      if (start < 0) start = i;
      quiet = 0;
    } else if (start >= 0) {
      quiet++;
      if (quiet >= minGap || i === env.length) {
        const end = i - quiet + 1;
        parts.push({
          samples: pcm.samples.slice(start * hop, Math.min(pcm.samples.length, end * hop)),
          sampleRate: pcm.sampleRate,
        });
        start = -1;
        quiet = 0;
      }
    }
  }
  return parts;
}
