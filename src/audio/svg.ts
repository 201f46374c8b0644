/** Draws an analysed WAV for people: the waveform, each segment shaded, and the digits heard. */
import type { AudioAnalysis } from './analyze.js';
import type { Pcm } from './wav.js';

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Options of {@link renderAnalysisSvg}. */
export interface SvgOptions {
  readonly width?: number;
  readonly height?: number;
  readonly title?: string;
}

/**
 * An SVG of `pcm` with the analysis on top: min/max waveform per pixel column, a shaded band
 * per segment (digits blue, the end tone orange) labelled with the digit heard and its length,
 * pause lengths between digits, and a time axis in seconds.
 */
export function renderAnalysisSvg(
  pcm: Pcm,
  analysis: AudioAnalysis,
  options: SvgOptions = {},
): string {
  const width = options.width ?? 1200;
  const height = options.height ?? 300;
  const top = 40;
  const bottom = height - 30;
  const mid = (top + bottom) / 2;
  const half = (bottom - top) / 2;
  const totalMs = analysis.file.durationMs || 1;
  const xOf = (msAt: number) => ((msAt / totalMs) * width).toFixed(1);
  const x = pcm.samples;
  const per = Math.max(1, x.length / width);
  let path = '';
  for (let c = 0; c < width; c++) {
    const a = Math.floor(c * per);
    const b = Math.min(x.length, Math.max(a + 1, Math.floor((c + 1) * per)));
    let lo = 0;
    let hi = 0;
    for (let i = a; i < b; i++) {
      const v = x[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    path += `M${c} ${(mid - (hi / 32768) * half).toFixed(1)}V${(mid - (lo / 32768) * half).toFixed(1)}`;
  }
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  parts.push(
    `<title>${esc(options.title ?? `Spoken code, heard as ${analysis.decoded} (${analysis.language})`)}</title>`,
  );
  parts.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  for (const s of analysis.segments) {
    const fill = s.kind === 'tone' ? '#f5a623' : '#4a90d9';
    const x0 = xOf(s.startMs);
    const w = Math.max(1, ((s.endMs - s.startMs) / totalMs) * width).toFixed(1);
    const label = s.kind === 'tone' ? `tone ${s.toneHz ?? ''} Hz` : s.digit;
    parts.push(
      `<rect x="${x0}" y="${top}" width="${w}" height="${bottom - top}" fill="${fill}" fill-opacity="0.18"/>`,
    );
    parts.push(
      `<text x="${xOf((s.startMs + s.endMs) / 2)}" y="${top - 18}" text-anchor="middle" font-size="${s.kind === 'tone' ? 12 : 20}" font-weight="bold">${esc(label)}</text>`,
    );
    parts.push(
      `<text x="${xOf((s.startMs + s.endMs) / 2)}" y="${top - 4}" text-anchor="middle" fill="#555">${Math.round(s.durationMs)} ms</text>`,
    );
  }
  const digits = analysis.segments.filter((s) => s.kind === 'digit');
  analysis.pausesMs.forEach((p, k) => {
    const a = digits[k]!.endMs;
    const b = digits[k + 1]!.startMs;
    parts.push(
      `<text x="${xOf((a + b) / 2)}" y="${bottom - 6}" text-anchor="middle" fill="#888">${Math.round(p)} ms</text>`,
    );
  });
  parts.push(`<path d="${path}" stroke="#222" stroke-width="1" fill="none"/>`);
  parts.push(`<line x1="0" y1="${bottom}" x2="${width}" y2="${bottom}" stroke="#999"/>`);
  for (let s = 0; s * 1000 <= totalMs; s += totalMs > 20_000 ? 5 : 1) {
    parts.push(`<text x="${xOf(s * 1000)}" y="${height - 10}" fill="#555">${s} s</text>`);
  }
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
