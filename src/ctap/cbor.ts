/** CBOR (RFC 8949) with the CTAP2 canonical form (CTAP 2.1 §8), strict by default. */
import { pooledBytes } from '../hid/pool.js';
import { CtapError, CtapStatus } from './status.js';

/** A map key CTAP uses: an integer or a text string (CTAP 2.1 §8 allows no other key types). */
export type CborKey = number | string;
/** A decoded CBOR map. */
export type CborMap = Map<CborKey, unknown>;

/** A tagged item (RFC 8949 §3.4); only produced or accepted when tags are allowed. */
export class CborTag {
  constructor(
    readonly tag: number | bigint,
    readonly value: unknown,
  ) {}
}

/** A simple value other than false/true/null/undefined (RFC 8949 §3.3). */
export class CborSimple {
  constructor(readonly value: number) {
    if (!Number.isInteger(value) || value < 0 || value > 255 || (value >= 24 && value < 32)) {
      throw new RangeError(`CBOR simple value must be 0..23 or 32..255, got ${value}`);
    }
  }
}

/** Options of {@link decodeCbor}. */
export interface CborDecodeOptions {
  /**
   * Reject what the CTAP2 canonical form forbids (CTAP 2.1 §8): integers, lengths and simple
   * values not in their shortest form, map keys out of the length-first order of RFC 7049 §3.9
   * (which also rejects duplicates), tags, floats. Default true.
   */
  canonical?: boolean;
  /** Accept tagged items (as {@link CborTag}). Default: `!canonical`. */
  allowTags?: boolean;
  /** Accept floating-point numbers. Default: `!canonical`. */
  allowFloats?: boolean;
  /** Accept indefinite-length strings, arrays and maps (never in canonical mode). Default false. */
  allowIndefinite?: boolean;
  /**
   * Deepest nesting of arrays and maps. CTAP 2.1 §8 limits messages to four levels; default 16
   * here, the firmware asks for 4.
   */
  maxDepth?: number;
  /** Largest byte or text string, and largest array or map count. Default 65536. */
  maxLength?: number;
}

/** The result of {@link decodeCborPrefix}: the first item and where it ends. */
export interface CborPrefix {
  value: unknown;
  /** Offset just past the item. */
  end: number;
}

const MAJOR_UINT = 0;
const MAJOR_NINT = 1;
const MAJOR_BYTES = 2;
const MAJOR_TEXT = 3;
const MAJOR_ARRAY = 4;
const MAJOR_MAP = 5;
const MAJOR_TAG = 6;
const MAJOR_SIMPLE = 7;

const textEncoder = new TextEncoder();

/** True when every byte is below 0x80: then the UTF-8 text is those code units as they are. */
function isAscii(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i]! > 0x7f) return false;
  return true;
}
const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The last short ASCII text string decoded, by length (0..64). */
const recentText: (string | undefined)[] = new Array<string | undefined>(65).fill(undefined);

/** True when the ASCII string `s` is spelled by the bytes of `b` from `at`. */
function textMatches(s: string, b: Uint8Array, at: number): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== b[at + i]) return false;
  return true;
}

function invalid(message: string): CtapError {
  return new CtapError(CtapStatus.CTAP2_ERR_INVALID_CBOR, `invalid CBOR: ${message}`);
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** Grows as items are written. */
class Writer {
  #buf: Uint8Array;
  #len = 0;
  constructor(size = 256) {
    this.#buf = new Uint8Array(size);
  }
  #ensure(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }
  byte(b: number): void {
    this.#ensure(1);
    this.#buf[this.#len++] = b;
  }
  bytes(b: Uint8Array): void {
    this.#ensure(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
  }
  /**
   * Writes `s` as a text string when every code unit is ASCII (then UTF-8 is the same bytes) and
   * returns true; otherwise writes nothing and returns false.
   */
  ascii(s: string): boolean {
    const n = s.length;
    for (let i = 0; i < n; i++) if (s.charCodeAt(i) > 0x7f) return false;
    writeHead(this, MAJOR_TEXT, n);
    this.#ensure(n);
    const buf = this.#buf;
    let at = this.#len;
    for (let i = 0; i < n; i++) buf[at++] = s.charCodeAt(i);
    this.#len = at;
    return true;
  }
  get capacity(): number {
    return this.#buf.length;
  }
  /** Bytes written so far. */
  get length(): number {
    return this.#len;
  }
  /** Forgets what was written after the first `n` bytes. */
  truncate(n: number): void {
    this.#len = n;
  }
  /** Starts over, keeping the buffer. */
  reset(): void {
    this.#len = 0;
  }
  result(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
  /** The bytes written, copied into a pooled buffer (see {@link pooledBytes}). */
  pooledResult(): Uint8Array {
    const out = pooledBytes(this.#len);
    const buf = this.#buf;
    // A plain loop for a message's worth of bytes (no view object); set() for anything longer.
    if (out.length > 256) out.set(buf.subarray(0, out.length));
    else for (let i = 0; i < out.length; i++) out[i] = buf[i]!;
    return out;
  }
}

/** Writes a head in its shortest form (RFC 8949 §4.2.1, CTAP 2.1 §8 rules 1 and 2). */
function writeHead(w: Writer, major: number, arg: number | bigint): void {
  const m = major << 5;
  if (typeof arg === 'bigint') {
    if (arg <= 0xffffffffn) {
      writeHead(w, major, Number(arg));
      return;
    }
    w.byte(m | 27);
    for (let shift = 56n; shift >= 0n; shift -= 8n) w.byte(Number((arg >> shift) & 0xffn));
    return;
  }
  if (arg < 24) w.byte(m | arg);
  else if (arg <= 0xff) {
    w.byte(m | 24);
    w.byte(arg);
  } else if (arg <= 0xffff) {
    w.byte(m | 25);
    w.byte(arg >>> 8);
    w.byte(arg & 0xff);
  } else if (arg <= 0xffffffff) {
    w.byte(m | 26);
    w.byte(arg >>> 24);
    w.byte((arg >>> 16) & 0xff);
    w.byte((arg >>> 8) & 0xff);
    w.byte(arg & 0xff);
  } else {
    writeHead(w, major, BigInt(arg));
  }
}

const MAX_U64 = (1n << 64n) - 1n;

function writeInteger(w: Writer, n: number | bigint): void {
  const big = typeof n === 'bigint' ? n : null;
  if (big !== null) {
    if (big >= 0n) {
      if (big > MAX_U64) throw new RangeError('CBOR integer out of range (above 2^64-1)');
      writeHead(w, MAJOR_UINT, big);
    } else {
      const arg = -1n - big;
      if (arg > MAX_U64) throw new RangeError('CBOR integer out of range (below -2^64)');
      writeHead(w, MAJOR_NINT, arg);
    }
    return;
  }
  const num = n as number;
  if (num >= 0) writeHead(w, MAJOR_UINT, num);
  else writeHead(w, MAJOR_NINT, -1 - num);
}

/** Half-precision bits of `x` when it converts exactly, else null. */
function toHalf(x: number): number | null {
  if (Number.isNaN(x)) return 0x7e00;
  const f32 = new Float32Array([x]);
  if (f32[0] !== x) return null;
  const bits = new Uint32Array(f32.buffer)[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return mant === 0 ? sign | 0x7c00 : null;
  if (exp === 0 && mant === 0) return sign;
  const e = exp - 127;
  if (e >= -14 && e <= 15) {
    if ((mant & 0x1fff) !== 0) return null;
    return sign | ((e + 15) << 10) | (mant >>> 13);
  }
  if (e >= -24 && e < -14) {
    // Subnormal half: the value is m * 2^-24 with m < 1024.
    const full = mant | 0x800000;
    const shift = 13 + (-14 - e);
    if ((full & ((1 << shift) - 1)) !== 0) return null;
    return sign | (full >>> shift);
  }
  return null;
}

/**
 * Compares two encoded keys in the CTAP2 canonical order (CTAP 2.1 §8, after RFC 7049 §3.9):
 * the shorter encoding first; equal lengths by bytewise lexical order.
 */
export function compareCanonicalKeys(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return a.length - b.length;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

/** {@link compareCanonicalKeys} on two ranges of one buffer, with no views made. */
function compareRanges(b: Uint8Array, a0: number, a1: number, b0: number, b1: number): number {
  const la = a1 - a0;
  const lb = b1 - b0;
  if (la !== lb) return la - lb;
  for (let i = 0; i < la; i++) {
    const d = b[a0 + i]! - b[b0 + i]!;
    if (d !== 0) return d;
  }
  return 0;
}

function encodeInto(w: Writer, value: unknown, depth: number): void {
  if (depth > 64) throw new RangeError('CBOR value nested too deeply to encode');
  switch (typeof value) {
    case 'number':
      if (Number.isSafeInteger(value) && !Object.is(value, -0)) writeInteger(w, value);
      else if (
        Number.isInteger(value) &&
        Math.abs(value) <= Number.MAX_VALUE &&
        !Object.is(value, -0)
      ) {
        // An exact integer beyond 2^53 still has an exact bigint value.
        const big = BigInt(value);
        if (big <= MAX_U64 && big >= -1n - MAX_U64) writeInteger(w, big);
        else writeFloat(w, value);
      } else writeFloat(w, value);
      return;
    case 'bigint':
      writeInteger(w, value);
      return;
    case 'string': {
      // CTAP's strings are mostly short ASCII (RP IDs, "public-key", map keys): written as is,
      // with no encoder call; anything else goes through TextEncoder.
      if (value.length < 256 && w.ascii(value)) return;
      const b = textEncoder.encode(value);
      writeHead(w, MAJOR_TEXT, b.length);
      w.bytes(b);
      return;
    }
    case 'boolean':
      w.byte(value ? 0xf5 : 0xf4);
      return;
    case 'undefined':
      w.byte(0xf7);
      return;
    case 'object':
      break;
    default:
      throw new TypeError(`cannot encode a ${typeof value} as CBOR`);
  }
  if (value === null) {
    w.byte(0xf6);
    return;
  }
  if (value instanceof Uint8Array) {
    writeHead(w, MAJOR_BYTES, value.length);
    w.bytes(value);
    return;
  }
  if (Array.isArray(value)) {
    writeHead(w, MAJOR_ARRAY, value.length);
    for (const item of value) encodeInto(w, item, depth + 1);
    return;
  }
  if (value instanceof CborTag) {
    writeHead(w, MAJOR_TAG, value.tag);
    encodeInto(w, value.value, depth + 1);
    return;
  }
  if (value instanceof CborSimple) {
    if (value.value < 24) w.byte(0xe0 | value.value);
    else {
      w.byte(0xf8);
      w.byte(value.value);
    }
    return;
  }
  if (!(value instanceof Map)) {
    // Only plain objects stand for maps; a Date, a Uint16Array or a class instance is a mistake.
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) {
      throw new TypeError(
        `cannot encode a ${(value as object).constructor?.name ?? 'object'} as CBOR`,
      );
    }
  }
  if (value instanceof Map) {
    // The common case (CTAP code builds its maps in canonical order): written as it goes, each key
    // checked against the one before, with no arrays of keys and values. A key out of order (or a
    // repeated one) takes back what was written, and the general path below sorts.
    const start = w.length;
    writeHead(w, MAJOR_MAP, value.size);
    let prev: Uint8Array | undefined;
    let inOrder = true;
    for (const [k, v] of value as Map<unknown, unknown>) {
      const key = encodedKey(k, depth + 1);
      if (prev !== undefined && compareCanonicalKeys(prev, key) >= 0) {
        inOrder = false;
        break;
      }
      prev = key;
      w.bytes(key);
      encodeInto(w, v, depth + 1);
    }
    if (inOrder) return;
    w.truncate(start);
  }
  const keys: Uint8Array[] = [];
  const values: unknown[] = [];
  if (value instanceof Map) {
    for (const [k, v] of value) {
      keys.push(encodedKey(k, depth + 1));
      values.push(v);
    }
  } else {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v === undefined) continue;
      keys.push(encodedKey(k, depth + 1));
      values.push(v);
    }
  }
  // Callers mostly build maps in canonical order already; sort only when they did not.
  let sorted = true;
  for (let i = 1; i < keys.length && sorted; i++) {
    if (compareCanonicalKeys(keys[i - 1]!, keys[i]!) >= 0) sorted = false;
  }
  writeHead(w, MAJOR_MAP, keys.length);
  if (sorted) {
    for (let i = 0; i < keys.length; i++) {
      w.bytes(keys[i]!);
      encodeInto(w, values[i], depth + 1);
    }
    return;
  }
  const order = keys.map((_, i) => i);
  order.sort((a, b) => compareCanonicalKeys(keys[a]!, keys[b]!));
  for (let i = 1; i < order.length; i++) {
    if (compareCanonicalKeys(keys[order[i - 1]!]!, keys[order[i]!]!) === 0) {
      throw new TypeError('CBOR map has two keys with the same encoding');
    }
  }
  for (const i of order) {
    w.bytes(keys[i]!);
    encodeInto(w, values[i], depth + 1);
  }
}

/**
 * Encodings of small integer and short text map keys, which CTAP uses over and over. An
 * encoding depends on the key alone, so it is computed once; the tables stop growing at a bound.
 */
const intKeys = new Map<number, Uint8Array>();
const textKeys = new Map<string, Uint8Array>();
const KEY_CACHE_LIMIT = 1024;

function encodedKey(k: unknown, depth: number): Uint8Array {
  const cache =
    typeof k === 'number'
      ? Number.isSafeInteger(k) && k >= -1024 && k <= 1024 && !Object.is(k, -0)
        ? intKeys
        : null
      : typeof k === 'string' && k.length <= 64
        ? textKeys
        : null;
  const hit = (cache as Map<unknown, Uint8Array> | null)?.get(k);
  if (hit) return hit;
  const kw = new Writer(16);
  encodeInto(kw, k, depth);
  const key = kw.result();
  if (cache && cache.size < KEY_CACHE_LIMIT) (cache as Map<unknown, Uint8Array>).set(k, key);
  return key;
}

/** Floats in the shortest of half, single, double that keeps the value (RFC 8949 §4.2.2). */
function writeFloat(w: Writer, x: number): void {
  const half = toHalf(x);
  if (half !== null) {
    w.byte(0xf9);
    w.byte(half >>> 8);
    w.byte(half & 0xff);
    return;
  }
  if (Math.fround(x) === x) {
    const dv = new DataView(new ArrayBuffer(4));
    dv.setFloat32(0, x);
    w.byte(0xfa);
    w.bytes(new Uint8Array(dv.buffer));
    return;
  }
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, x);
  w.byte(0xfb);
  w.bytes(new Uint8Array(dv.buffer));
}

/**
 * Encodes `value` in the CTAP2 canonical form (CTAP 2.1 §8): shortest heads, definite lengths,
 * map keys in length-first order. Integers are `number` (safe) or `bigint`; byte strings are
 * Uint8Array; maps are `Map` (integer or text keys) or plain objects (text keys only; properties
 * that are `undefined` are left out, which is how optional CTAP parameters are omitted). Non-integer numbers become the
 * shortest exact float (RFC 8949 §4.2.2), which CTAP messages never contain.
 */
export function encodeCbor(value: unknown, options: CborEncodeOptions = {}): Uint8Array {
  // One scratch buffer serves every call; a call made while it is in use (from a getter on a
  // value being encoded) gets its own.
  const w = scratchInUse ? new Writer() : scratch;
  const own = w === scratch;
  if (own) {
    scratchInUse = true;
    w.reset();
  }
  try {
    if (options.prefix !== undefined) w.bytes(options.prefix);
    encodeInto(w, value, 0);
    return options.pooled === true ? w.pooledResult() : w.result();
  } finally {
    if (own) {
      scratchInUse = false;
      // A rare huge value should not pin its buffer for the life of the process.
      if (w.capacity > SCRATCH_KEEP) scratch = new Writer(1024);
    }
  }
}

let scratch = new Writer(1024);
const SCRATCH_KEEP = 64 * 1024;
let scratchInUse = false;

/** Bytes the head of a definite-length item with argument `n` (0..65535) takes. */
export function cborHeadLength(n: number): number {
  return n < 24 ? 1 : n <= 0xff ? 2 : 3;
}

/** `"id"` as CBOR text: a credential descriptor's first key. */
export const DESCRIPTOR_ID_KEY = Uint8Array.of(0x62, 0x69, 0x64);
/** `"type"` and `"public-key"` as CBOR text: a credential descriptor's second member. */
export const DESCRIPTOR_TYPE_PUBLIC_KEY = Uint8Array.of(
  0x64,
  ...[...'type'].map((c) => c.charCodeAt(0)),
  0x6a,
  ...[...'public-key'].map((c) => c.charCodeAt(0)),
);

/** Bytes {@link writeCredentialDescriptor} writes for an id of `idLength` bytes. */
export function credentialDescriptorLength(idLength: number): number {
  return (
    1 +
    DESCRIPTOR_ID_KEY.length +
    cborHeadLength(idLength) +
    idLength +
    DESCRIPTOR_TYPE_PUBLIC_KEY.length
  );
}

/**
 * Writes what encodeCbor makes of the credential descriptor {id, type: 'public-key'} at `at`
 * (canonical order: "id" is the shorter key) and returns the offset after it.
 */
export function writeCredentialDescriptor(out: Uint8Array, at: number, id: Uint8Array): number {
  out[at] = 0xa2;
  out.set(DESCRIPTOR_ID_KEY, at + 1);
  let next = writeCborHead(out, at + 1 + DESCRIPTOR_ID_KEY.length, 2, id.length);
  out.set(id, next);
  next += id.length;
  out.set(DESCRIPTOR_TYPE_PUBLIC_KEY, next);
  return next + DESCRIPTOR_TYPE_PUBLIC_KEY.length;
}

/**
 * Writes the head of a definite-length item (major type 0..7, argument `n` 0..65535) at `at` in
 * its shortest form, as {@link encodeCbor} does, and returns the offset after it: for messages of
 * a fixed shape laid out directly (the same bytes as encoding the map, without building one).
 */
export function writeCborHead(out: Uint8Array, at: number, major: number, n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new RangeError('head argument 0..65535');
  const m = major << 5;
  if (n < 24) {
    out[at] = m | n;
    return at + 1;
  }
  if (n <= 0xff) {
    out[at] = m | 24;
    out[at + 1] = n;
    return at + 2;
  }
  out[at] = m | 25;
  out[at + 1] = n >>> 8;
  out[at + 2] = n & 0xff;
  return at + 3;
}

/** Options of {@link encodeCbor}. */
export interface CborEncodeOptions {
  /**
   * Bytes written before the item, e.g. a CTAP command or status byte (CTAP 2.1 §8.1), so the
   * message is built in one buffer instead of being copied behind its first byte.
   */
  readonly prefix?: Uint8Array;
  /**
   * The result shares its ArrayBuffer with other short-lived buffers (see {@link pooledBytes}):
   * cheaper for a message that goes straight to the wire and is not handed to anyone else.
   */
  readonly pooled?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Decoding

interface DecodeSettings {
  canonical: boolean;
  allowTags: boolean;
  allowFloats: boolean;
  allowIndefinite: boolean;
  maxDepth: number;
  maxLength: number;
}

const BREAK = Symbol('break');

class Reader {
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    start: number,
    readonly s: DecodeSettings,
  ) {
    this.pos = start;
  }

  need(n: number): void {
    if (n > this.bytes.length - this.pos) throw invalid('truncated item');
  }

  u8(): number {
    this.need(1);
    return this.bytes[this.pos++]!;
  }

  /** Reads the argument of a head; null means indefinite length (additional info 31). */
  arg(info: number): number | bigint | null {
    if (info < 24) return info;
    let v: number | bigint;
    switch (info) {
      case 24:
        v = this.u8();
        if (this.s.canonical && v < 24) throw invalid('integer or length not in shortest form');
        return v;
      case 25:
        this.need(2);
        v = (this.bytes[this.pos]! << 8) | this.bytes[this.pos + 1]!;
        this.pos += 2;
        if (this.s.canonical && v <= 0xff) throw invalid('integer or length not in shortest form');
        return v;
      case 26: {
        this.need(4);
        const b = this.bytes;
        const p = this.pos;
        v = ((b[p]! << 24) >>> 0) + (b[p + 1]! << 16) + (b[p + 2]! << 8) + b[p + 3]!;
        this.pos += 4;
        if (this.s.canonical && v <= 0xffff)
          throw invalid('integer or length not in shortest form');
        return v;
      }
      case 27: {
        this.need(8);
        let big = 0n;
        for (let i = 0; i < 8; i++) big = (big << 8n) | BigInt(this.bytes[this.pos + i]!);
        this.pos += 8;
        if (this.s.canonical && big <= 0xffffffffn) {
          throw invalid('integer or length not in shortest form');
        }
        return big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
      }
      case 31:
        return null;
      default:
        throw invalid(`reserved additional information ${info}`);
    }
  }

  length(info: number, what: string): number | null {
    const n = this.arg(info);
    if (n === null) {
      if (this.s.canonical || !this.s.allowIndefinite) throw invalid(`indefinite-length ${what}`);
      return null;
    }
    if (typeof n === 'bigint' || n > this.s.maxLength) throw invalid(`${what} too long`);
    return n;
  }

  item(depth: number): unknown {
    const start = this.pos;
    const ib = this.u8();
    const major = ib >> 5;
    const info = ib & 0x1f;
    switch (major) {
      case MAJOR_UINT: {
        const n = this.arg(info);
        if (n === null) throw invalid('indefinite length on an integer');
        return n;
      }
      case MAJOR_NINT: {
        const n = this.arg(info);
        if (n === null) throw invalid('indefinite length on an integer');
        if (typeof n === 'bigint') return -1n - n;
        const r = -1 - n;
        return Number.isSafeInteger(r) ? r : -1n - BigInt(n);
      }
      case MAJOR_BYTES:
      case MAJOR_TEXT: {
        const what = major === MAJOR_BYTES ? 'byte string' : 'text string';
        const n = this.length(info, what);
        let raw: Uint8Array;
        if (n === null) raw = this.chunks(major, what);
        else {
          this.need(n);
          const at = this.pos;
          this.pos += n;
          if (major === MAJOR_TEXT) {
            // Short ASCII text (map keys, "public-key", RP IDs) is read where it lies, with no
            // copy and no decoder call; anything else goes through the strict UTF-8 decoder.
            if (n <= 64) {
              const b = this.bytes;
              // The same few strings come back in every message: the last of each length is
              // kept, and handed out again when the bytes match it.
              const known = recentText[n];
              if (known !== undefined && textMatches(known, b, at)) return known;
              let text = '';
              let i = 0;
              for (; i < n; i++) {
                const c = b[at + i]!;
                if (c > 0x7f) break;
                text += String.fromCharCode(c);
              }
              if (i === n) {
                recentText[n] = text;
                return text;
              }
            }
            raw = this.bytes.subarray(at, at + n);
          } else raw = this.bytes.slice(at, at + n);
        }
        if (major === MAJOR_BYTES) return raw;
        if (n === null && raw.length <= 64 && isAscii(raw)) return String.fromCharCode(...raw);
        try {
          return textDecoder.decode(raw);
        } catch {
          throw invalid('text string is not valid UTF-8');
        }
      }
      case MAJOR_ARRAY: {
        if (depth >= this.s.maxDepth) throw invalid('nested too deeply');
        const n = this.length(info, 'array');
        const out: unknown[] = [];
        if (n === null) {
          for (;;) {
            const v = this.itemOrBreak(depth + 1);
            if (v === BREAK) break;
            out.push(v);
            if (out.length > this.s.maxLength) throw invalid('array too long');
          }
          return out;
        }
        // Every item takes at least one byte: a count beyond what is left is a length bomb.
        this.need(n);
        for (let i = 0; i < n; i++) out.push(this.item(depth + 1));
        return out;
      }
      case MAJOR_MAP: {
        if (depth >= this.s.maxDepth) throw invalid('nested too deeply');
        const n = this.length(info, 'map');
        const out: CborMap = new Map();
        // Where the previous key's encoding lies (start -1: none yet), for the order check.
        let prevStart = -1;
        let prevEnd = -1;
        if (n === null) {
          for (;;) {
            const keyStart = this.pos;
            const k = this.itemOrBreak(depth + 1);
            if (k === BREAK) break;
            this.entry(out, k, keyStart, prevStart, prevEnd);
            prevStart = keyStart;
            prevEnd = this.pos;
            out.set(k as CborKey, this.item(depth + 1));
            if (out.size > this.s.maxLength) throw invalid('map too long');
          }
          return out;
        }
        this.need(n * 2);
        for (let i = 0; i < n; i++) {
          const keyStart = this.pos;
          const k = this.item(depth + 1);
          this.entry(out, k, keyStart, prevStart, prevEnd);
          prevStart = keyStart;
          prevEnd = this.pos;
          out.set(k as CborKey, this.item(depth + 1));
        }
        return out;
      }
      case MAJOR_TAG: {
        const tag = this.arg(info);
        if (tag === null) throw invalid('indefinite length on a tag');
        if (!this.s.allowTags) throw invalid('tags are not allowed');
        if (depth >= this.s.maxDepth) throw invalid('nested too deeply');
        return new CborTag(tag, this.item(depth + 1));
      }
      case MAJOR_SIMPLE:
      default:
        return this.simple(info, start);
    }
  }

  /**
   * Checks a map key just read (its encoding ends at `pos`) against the map so far and the key
   * before it, whose encoding lies at `prevStart..prevEnd` (`prevStart` -1: the first key).
   */
  entry(out: CborMap, key: unknown, keyStart: number, prevStart: number, prevEnd: number): void {
    if (typeof key !== 'string' && typeof key !== 'number') {
      throw invalid('map key is neither an integer nor a text string');
    }
    if (this.s.canonical && prevStart >= 0) {
      // CTAP 2.1 §8: keys sorted length-first; equal keys (duplicates) fail here too.
      const order = compareRanges(this.bytes, prevStart, prevEnd, keyStart, this.pos);
      if (order >= 0) {
        throw invalid(order === 0 ? 'duplicate map key' : 'map keys not in canonical order');
      }
    }
    if (out.has(key)) throw invalid('duplicate map key');
  }

  simple(info: number, _start: number): unknown {
    switch (info) {
      case 20:
        return false;
      case 21:
        return true;
      case 22:
        return null;
      case 23:
        return undefined;
      case 24: {
        const v = this.u8();
        if (v < 32) throw invalid('simple value not in shortest form');
        if (this.s.canonical) throw invalid('unassigned simple value');
        return new CborSimple(v);
      }
      case 25:
      case 26:
      case 27: {
        if (!this.s.allowFloats) throw invalid('floating-point numbers are not allowed');
        const n = info === 25 ? 2 : info === 26 ? 4 : 8;
        this.need(n);
        const dv = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, n);
        this.pos += n;
        if (n === 2) return halfToNumber(dv.getUint16(0));
        if (n === 4) return dv.getFloat32(0);
        return dv.getFloat64(0);
      }
      case 28:
      case 29:
      case 30:
        throw invalid(`reserved additional information ${info}`);
      case 31:
        throw invalid('unexpected break');
      default:
        if (this.s.canonical) throw invalid('unassigned simple value');
        return new CborSimple(info);
    }
  }

  itemOrBreak(depth: number): unknown {
    this.need(1);
    if (this.bytes[this.pos] === 0xff) {
      this.pos++;
      return BREAK;
    }
    return this.item(depth);
  }

  chunks(major: number, what: string): Uint8Array {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const ib = this.u8();
      if (ib === 0xff) break;
      if (ib >> 5 !== major) throw invalid(`bad chunk in an indefinite-length ${what}`);
      const n = this.arg(ib & 0x1f);
      if (n === null || typeof n === 'bigint')
        throw invalid(`bad chunk in an indefinite-length ${what}`);
      this.need(n);
      total += n;
      if (total > this.s.maxLength) throw invalid(`${what} too long`);
      const chunk = this.bytes.subarray(this.pos, this.pos + n);
      if (major === MAJOR_TEXT) {
        try {
          textDecoder.decode(chunk);
        } catch {
          throw invalid('text string is not valid UTF-8');
        }
      }
      parts.push(chunk);
      this.pos += n;
    }
    const out = new Uint8Array(total);
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }
}

function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** The options last turned into settings (a copy), and those settings; never changed once made. */
let lastOptions: CborDecodeOptions = {};
let lastSettings: DecodeSettings | undefined;

/** Settings for `options`; the last ones are reused when every option is the same. */
function settings(options: CborDecodeOptions): DecodeSettings {
  const o = lastOptions;
  if (
    lastSettings !== undefined &&
    options.canonical === o.canonical &&
    options.allowTags === o.allowTags &&
    options.allowFloats === o.allowFloats &&
    options.allowIndefinite === o.allowIndefinite &&
    options.maxDepth === o.maxDepth &&
    options.maxLength === o.maxLength
  ) {
    return lastSettings;
  }
  lastOptions = { ...options };
  lastSettings = makeSettings(options);
  return lastSettings;
}

function makeSettings(options: CborDecodeOptions): DecodeSettings {
  const canonical = options.canonical ?? true;
  return {
    canonical,
    allowTags: options.allowTags ?? !canonical,
    allowFloats: options.allowFloats ?? !canonical,
    allowIndefinite: !canonical && (options.allowIndefinite ?? false),
    maxDepth: options.maxDepth ?? 16,
    maxLength: options.maxLength ?? 65536,
  };
}

function asBytes(bytes: Uint8Array): Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('CBOR input must be a Uint8Array');
  return bytes;
}

/**
 * Decodes exactly one CBOR item filling all of `bytes`. Maps become `Map<number|string, unknown>`,
 * byte strings Uint8Array, integers `number` (or `bigint` beyond 2^53). Throws a {@link CtapError}
 * with status CTAP2_ERR_INVALID_CBOR (0x12) on malformed input, on anything the options forbid,
 * and on trailing bytes.
 */
export function decodeCbor(bytes: Uint8Array, options: CborDecodeOptions = {}): unknown {
  const r = new Reader(asBytes(bytes), 0, settings(options));
  const v = r.item(0);
  if (r.pos !== bytes.length) throw invalid(`${bytes.length - r.pos} trailing bytes`);
  return v;
}

/**
 * Decodes the first CBOR item of `bytes` from `offset` and says where it ends; what follows is the
 * caller's (authenticator data carries a COSE key followed by an extensions map, WebAuthn §6.1).
 */
export function decodeCborPrefix(
  bytes: Uint8Array,
  offset = 0,
  options: CborDecodeOptions = {},
): CborPrefix {
  asBytes(bytes);
  if (!Number.isInteger(offset) || offset < 0 || offset > bytes.length) {
    throw new RangeError(`offset must be between 0 and ${bytes.length}`);
  }
  const r = new Reader(bytes, offset, settings(options));
  const value = r.item(0);
  return { value, end: r.pos };
}
