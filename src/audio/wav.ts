/** RIFF/WAVE: a 16-bit PCM mono writer, and a reader for the PCM and float formats recorders produce. */
import { AudioError } from './errors.js';

/** Mono 16-bit PCM audio: the currency of the audio layer. */
export interface Pcm {
  readonly samples: Int16Array;
  /** Samples per second. */
  readonly sampleRate: number;
}

/** What a WAV file held before it was turned into mono 16-bit PCM. */
export interface WavInfo {
  /** 1 = integer PCM, 3 = IEEE float (WAVE_FORMAT_EXTENSIBLE is resolved to one of these). */
  readonly format: 1 | 3;
  readonly channels: number;
  readonly bitsPerSample: number;
  readonly sampleRate: number;
  /** Sample frames (one sample per channel each). */
  readonly frames: number;
  /**
   * Bytes the data chunk's header promised that the file does not hold (a cut-off file); absent
   * when it holds them all, or when the size was left unset by a streaming writer (0x7fff0000 or
   * more, as `espeak-ng --stdout` writes).
   */
  readonly missingBytes?: number;
}

/** Data sizes from here up are a streaming writer's "unknown", not a promise. */
const STREAMED_SIZE = 0x7fff0000;

/** A decoded WAV: mono 16-bit PCM (channels averaged) and what the file held. */
export interface DecodedWav extends Pcm {
  readonly info: WavInfo;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const MIN_RATE = 1000;
const MAX_RATE = 384_000;

function checkPcm(pcm: Pcm): void {
  if (!(pcm.samples instanceof Int16Array))
    throw new TypeError('pcm.samples must be an Int16Array');
  if (!Number.isInteger(pcm.sampleRate) || pcm.sampleRate < MIN_RATE || pcm.sampleRate > MAX_RATE) {
    throw new RangeError(`pcm.sampleRate must be an integer from ${MIN_RATE} to ${MAX_RATE}`);
  }
}

/** The 44-byte canonical header (RIFF, "fmt " chunk of 16 bytes, "data") for 16-bit mono PCM. */
export function wavHeader(sampleRate: number, dataBytes: number): Uint8Array {
  const h = new Uint8Array(44);
  const v = new DataView(h.buffer);
  const ascii = (off: number, s: string) => {
    for (let i = 0; i < s.length; i++) h[off + i] = s.charCodeAt(i);
  };
  ascii(0, 'RIFF');
  v.setUint32(4, 36 + dataBytes, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true); // WAVE_FORMAT_PCM
  v.setUint16(22, 1, true); // mono
  v.setUint32(24, sampleRate, true);
  v.setUint32(28, sampleRate * 2, true); // byte rate
  v.setUint16(32, 2, true); // block align
  v.setUint16(34, 16, true);
  ascii(36, 'data');
  v.setUint32(40, dataBytes, true);
  return h;
}

/** Encodes mono 16-bit PCM as a canonical WAV file. */
export function encodeWav(pcm: Pcm): Uint8Array {
  checkPcm(pcm);
  const dataBytes = pcm.samples.length * 2;
  const out = new Uint8Array(44 + dataBytes);
  out.set(wavHeader(pcm.sampleRate, dataBytes), 0);
  if (LITTLE_ENDIAN) {
    // WAV is little-endian: on such hosts the samples' bytes are already in file order.
    const x = pcm.samples;
    out.set(new Uint8Array(x.buffer, x.byteOffset, x.byteLength), 44);
  } else {
    const v = new DataView(out.buffer);
    for (let i = 0; i < pcm.samples.length; i++) v.setInt16(44 + i * 2, pcm.samples[i]!, true);
  }
  return out;
}

function fourcc(b: Uint8Array, off: number): string {
  return String.fromCharCode(b[off]!, b[off + 1]!, b[off + 2]!, b[off + 3]!);
}

/**
 * Decodes a WAV file: integer PCM of 8, 16, 24 or 32 bits, or IEEE float of 32 or 64 bits, any
 * number of channels (averaged to mono), any rate from 1 kHz to 384 kHz; WAVE_FORMAT_EXTENSIBLE
 * is read through its sub-format GUID. Throws AudioError('bad-wav') with one line on anything
 * else. A data chunk longer than the file (as streaming recorders leave it) is read to the end.
 */
export function decodeWav(bytes: Uint8Array): DecodedWav {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('wav must be a Uint8Array');
  const bad = (why: string): never => {
    throw new AudioError('bad-wav', `not a WAV file we can read: ${why}`);
  };
  if (bytes.length < 12) bad('too short for a RIFF header');
  if (fourcc(bytes, 0) !== 'RIFF' || fourcc(bytes, 8) !== 'WAVE') bad('no RIFF/WAVE signature');
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 12;
  let fmt:
    { format: number; channels: number; rate: number; align: number; bits: number } | undefined;
  let data: { start: number; length: number; missing: number } | undefined;
  while (off + 8 <= bytes.length) {
    const id = fourcc(bytes, off);
    const size = v.getUint32(off + 4, true);
    const body = off + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > bytes.length) bad('fmt chunk is truncated');
      let format = v.getUint16(body, true);
      const channels = v.getUint16(body + 2, true);
      const rate = v.getUint32(body + 4, true);
      const align = v.getUint16(body + 12, true);
      const bits = v.getUint16(body + 14, true);
      if (format === 0xfffe) {
        // WAVE_FORMAT_EXTENSIBLE: the real format is the first two bytes of the sub-format GUID.
        if (size < 40 || body + 40 > bytes.length) bad('extensible fmt chunk is truncated');
        format = v.getUint16(body + 24, true);
      }
      fmt = { format, channels, rate, align, bits };
    } else if (id === 'data') {
      if (!fmt) bad('data chunk comes before the fmt chunk');
      const held = bytes.length - body;
      data = {
        start: body,
        length: Math.min(size, held),
        missing: size > held && size < STREAMED_SIZE ? size - held : 0,
      };
      break;
    }
    // Chunks are padded to an even length (RIFF).
    off = body + size + (size % 2);
  }
  if (!fmt) bad('no fmt chunk');
  if (!data) bad('no data chunk');
  const f = fmt!;
  const d = data!;
  if (f.format !== 1 && f.format !== 3)
    bad(`format tag ${f.format} is neither PCM (1) nor float (3)`);
  if (f.channels < 1 || f.channels > 32) bad(`${f.channels} channels`);
  if (f.rate < MIN_RATE || f.rate > MAX_RATE) bad(`sample rate ${f.rate} Hz is out of range`);
  const okBits = f.format === 1 ? [8, 16, 24, 32] : [32, 64];
  if (!okBits.includes(f.bits))
    bad(`${f.bits}-bit ${f.format === 1 ? 'PCM' : 'float'} is not supported`);
  const bytesPer = f.bits / 8;
  if (f.align !== bytesPer * f.channels) bad('block align does not match channels and bits');
  const frames = Math.floor(d.length / f.align);
  const samples = new Int16Array(frames);
  const read = (p: number): number => {
    // Each reader returns a value in [-1, 1).
    if (f.format === 3) return f.bits === 32 ? v.getFloat32(p, true) : v.getFloat64(p, true);
    switch (f.bits) {
      case 8:
        return (v.getUint8(p) - 128) / 128; // 8-bit WAV is unsigned
      case 16:
        return v.getInt16(p, true) / 32768;
      case 24: {
        const x = v.getUint8(p) | (v.getUint8(p + 1) << 8) | (v.getInt8(p + 2) << 16);
        return x / 8388608;
      }
      default:
        return v.getInt32(p, true) / 2147483648;
    }
  };
  for (let i = 0; i < frames; i++) {
    let sum = 0;
    const base = d.start + i * f.align;
    for (let c = 0; c < f.channels; c++) sum += read(base + c * bytesPer);
    const x = Number.isFinite(sum) ? sum / f.channels : 0;
    samples[i] = Math.max(-32768, Math.min(32767, Math.round(x * 32768)));
  }
  return {
    samples,
    sampleRate: f.rate,
    info: {
      format: f.format as 1 | 3,
      channels: f.channels,
      bitsPerSample: f.bits,
      sampleRate: f.rate,
      frames,
      ...(d.missing > 0 ? { missingBytes: d.missing } : {}),
    },
  };
}

/** Duration of `pcm` in milliseconds. */
export function durationMs(pcm: Pcm): number {
  return (pcm.samples.length / pcm.sampleRate) * 1000;
}
