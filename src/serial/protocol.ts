/** The MitID serial line protocol, version 1 (docs/serial-protocol.md): framing, parsing, formatting. */
import { SerialError } from '../core/errors.js';
import type { DeviceIdentity, DeviceStatus, LcdReading, StatusValue } from './types.js';

/** Protocol version a device reports as `proto=` in `ID` and `HELP` answers. */
export const PROTOCOL_VERSION = 1;

/** Longest line either side sends or accepts, in bytes, not counting CR and LF (§2). */
export const MAX_LINE_BYTES = 256;

/** Default line speed; ptys ignore it, a jig's UART should use it (§1). */
export const DEFAULT_BAUD_RATE = 115_200;

/** The commands of protocol version 1 (§4), in the order `HELP` lists them. */
export const Commands = ['HELP', 'ID', 'PING', 'PRESS', 'READ', 'STATUS', 'TIME'] as const;
export type Command = (typeof Commands)[number];

/** The ERR codes the protocol itself defines (§5); a device adds its own (e.g. `battery-empty`). */
export const ProtocolErrors = {
  unknownCommand: 'unknown-command',
  badArgument: 'bad-argument',
  tooLong: 'too-long',
  badBytes: 'bad-bytes',
  badSyntax: 'bad-syntax',
  internal: 'internal',
  busy: 'busy',
  answerTooLong: 'answer-too-long',
} as const;

const TAG = /^#[A-Za-z0-9_-]{1,16}$/;
const COMMAND = /^[A-Za-z][A-Za-z0-9]{0,15}$/;
const KEY = /^[a-z][a-z0-9_-]{0,31}$/;
const ERR_CODE = /^[a-z][a-z0-9-]{0,47}$/;
const BARE_VALUE = /^[\x21\x23-\x5b\x5d-\x7e]+$/; // printable ASCII but for `"` and `\`
const PRINTABLE = /^[\x20-\x7e]*$/;

// ---------------------------------------------------------------------------------------------
// §2 Framing: bytes to lines.

/** One framed line, or the report that an over-long one was dropped. */
export type LineEvent =
  | { readonly type: 'line'; readonly bytes: Uint8Array }
  | { readonly type: 'overflow'; readonly dropped: number };

/**
 * Splits a byte stream into LF-terminated lines (a CR before the LF is dropped). A line longer
 * than `maxBytes` is discarded up to its LF and reported once as `overflow`, so one bad line
 * never desynchronises the stream and memory stays bounded whatever arrives.
 */
export class LineSplitter {
  readonly maxBytes: number;
  #buf: Uint8Array;
  #len = 0;
  #dropping = 0;

  constructor(maxBytes: number = MAX_LINE_BYTES) {
    if (!Number.isInteger(maxBytes) || maxBytes < 1 || maxBytes > 65_536) {
      throw new RangeError('maxBytes must be an integer from 1 to 65536');
    }
    this.maxBytes = maxBytes;
    // One spare byte for a CR that precedes the LF.
    this.#buf = new Uint8Array(maxBytes + 1);
  }

  /** Feeds bytes; returns the events they complete, in order. */
  push(chunk: Uint8Array): LineEvent[] {
    const out: LineEvent[] = [];
    for (const byte of chunk) {
      if (byte === 0x0a) {
        if (this.#dropping > 0) {
          out.push({ type: 'overflow', dropped: this.#dropping });
        } else {
          let end = this.#len;
          if (end > 0 && this.#buf[end - 1] === 0x0d) end -= 1;
          out.push({ type: 'line', bytes: this.#buf.slice(0, end) });
        }
        this.#len = 0;
        this.#dropping = 0;
      } else if (this.#dropping > 0) {
        this.#dropping += 1;
      } else if (this.#len < this.#buf.length) {
        this.#buf[this.#len++] = byte;
      } else {
        this.#dropping = this.#len + 1;
        this.#len = 0;
      }
    }
    // A line of exactly maxBytes + 1 bytes that does not end in CR is too long as well.
    for (let i = 0; i < out.length; i++) {
      const e = out[i];
      if (e?.type === 'line' && e.bytes.length > this.maxBytes) {
        out[i] = { type: 'overflow', dropped: e.bytes.length };
      }
    }
    return out;
  }

  /** Bytes held of an unfinished line. */
  get pending(): number {
    return this.#dropping > 0 ? this.#dropping : this.#len;
  }

  /** Forgets any unfinished line. */
  reset(): void {
    this.#len = 0;
    this.#dropping = 0;
  }
}

/** The line as text when every byte is printable ASCII or TAB; null otherwise (§2). */
export function lineText(bytes: Uint8Array): string | null {
  let s = '';
  for (const b of bytes) {
    if (b === 0x09) s += ' ';
    else if (b >= 0x20 && b <= 0x7e) s += String.fromCharCode(b);
    else return null;
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// §3 Requests.

/** A parsed request line. `command` is upper case; `tag` keeps its `#`. */
export interface Request {
  readonly tag?: string;
  readonly command: string;
  readonly args: readonly string[];
}

/** Why a request line could not be parsed: the ERR answer to send, with the tag if one was read. */
export interface RequestProblem {
  readonly tag?: string;
  readonly code: string;
  readonly message: string;
}

/**
 * Parses one request line (already framed and checked by {@link lineText}). Returns null for a
 * blank line, which a device ignores without answering (§3).
 */
export function parseRequest(text: string): Request | RequestProblem | null {
  const words = text
    .trim()
    .split(/ +/)
    .filter((w) => w.length > 0);
  if (words.length === 0) return null;
  let tag: string | undefined;
  if (words[0]?.startsWith('#')) {
    const t = words.shift() as string;
    if (!TAG.test(t)) {
      return {
        code: ProtocolErrors.badSyntax,
        message: 'a tag is # and 1 to 16 letters, digits, - or _',
      };
    }
    tag = t;
  }
  const cmd = words.shift();
  const tagged = tag === undefined ? {} : { tag };
  if (cmd === undefined) {
    return { ...tagged, code: ProtocolErrors.badSyntax, message: 'a tag needs a command' };
  }
  if (!COMMAND.test(cmd)) {
    return { ...tagged, code: ProtocolErrors.unknownCommand, message: 'unknown command; try HELP' };
  }
  return tag === undefined
    ? { command: cmd.toUpperCase(), args: words }
    : { tag, command: cmd.toUpperCase(), args: words };
}

/** True when `r` is a problem rather than a request. */
export function isRequestProblem(r: Request | RequestProblem): r is RequestProblem {
  return 'code' in r;
}

/** Formats a request line (without LF). Throws SerialError('bad-request') on a malformed part. */
export function formatRequest(command: string, args: readonly string[] = [], tag?: string): string {
  if (!COMMAND.test(command))
    throw new SerialError('bad-request', 'a command is 1 to 16 letters and digits');
  for (const a of args) {
    if (!/^[\x21-\x7e]+$/.test(a)) {
      throw new SerialError('bad-request', 'an argument is printable ASCII without spaces');
    }
  }
  if (tag !== undefined && !TAG.test(tag)) {
    throw new SerialError('bad-request', 'a tag is # and 1 to 16 letters, digits, - or _');
  }
  const line = [...(tag === undefined ? [] : [tag]), command.toUpperCase(), ...args].join(' ');
  if (line.length > MAX_LINE_BYTES) throw new SerialError('bad-request', 'request line too long');
  return line;
}

// ---------------------------------------------------------------------------------------------
// §4 Answers.

/** A field value in an answer: a number or boolean is written in its wire form. */
export type FieldValue = string | number | boolean;

/** `OK` fields in the order they are written. */
export type Fields = ReadonlyArray<readonly [string, FieldValue]>;

/** Writes a value: bare when it can be, else quoted with `\\`, `\"` and `\xHH` escapes (§4.2). */
export function encodeValue(v: FieldValue): string {
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new SerialError('bad-field', 'a number field must be finite');
    return String(v);
  }
  if (BARE_VALUE.test(v)) return v;
  let out = '"';
  for (const byte of new TextEncoder().encode(v)) {
    if (byte === 0x22) out += '\\"';
    else if (byte === 0x5c) out += '\\\\';
    else if (byte >= 0x20 && byte <= 0x7e) out += String.fromCharCode(byte);
    else out += `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return out + '"';
}

/** Formats an `OK` answer line (without LF); SerialError 'answer-too-long' past the limit. */
export function formatOk(fields: Fields = [], tag?: string): string {
  const parts: string[] = tag === undefined ? ['OK'] : [tag, 'OK'];
  for (const [k, v] of fields) {
    if (!KEY.test(k))
      throw new SerialError('bad-field', 'a field name is lower case letters, digits, - or _');
    parts.push(`${k}=${encodeValue(v)}`);
  }
  const line = parts.join(' ');
  // A receiver drops longer lines (§2): refuse to make one rather than send what cannot arrive.
  if (line.length > MAX_LINE_BYTES) {
    throw new SerialError(
      ProtocolErrors.answerTooLong,
      `the answer would exceed ${MAX_LINE_BYTES} bytes`,
    );
  }
  return line;
}

/**
 * Formats an `ERR` answer line (without LF). The message is cut to one printable line so the
 * answer fits {@link MAX_LINE_BYTES}; an unusable code becomes `internal`.
 */
export function formatErr(code: string, message: string, tag?: string): string {
  const c = ERR_CODE.test(code) ? code : ProtocolErrors.internal;
  const head = tag === undefined ? `ERR ${c}` : `${tag} ERR ${c}`;
  const clean = message.replace(/[^\x20-\x7e]+/g, ' ').trim();
  const room = MAX_LINE_BYTES - head.length - 1;
  const msg = clean.length > room ? clean.slice(0, Math.max(0, room - 3)) + '...' : clean;
  return msg.length > 0 ? `${head} ${msg}` : head;
}

/** Formats a notice line (`* ...`), which hosts log and otherwise ignore (§4.4). */
export function formatNotice(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]+/g, ' ').trim();
  return `* ${clean}`.slice(0, MAX_LINE_BYTES);
}

/** A parsed answer line. */
export type Answer =
  | { readonly type: 'ok'; readonly tag?: string; readonly fields: ReadonlyMap<string, string> }
  | { readonly type: 'err'; readonly tag?: string; readonly code: string; readonly message: string }
  | { readonly type: 'notice'; readonly text: string };

/**
 * Parses an answer line as a host reads it. `OK`/`ERR` and field names are case-insensitive;
 * throws SerialError('protocol') on anything else, naming what was wrong but not echoing the line.
 */
export function parseAnswer(text: string): Answer {
  if (!PRINTABLE.test(text))
    throw new SerialError('protocol', 'answer has bytes outside printable ASCII');
  if (text.startsWith('*')) return { type: 'notice', text: text.slice(1).trim() };
  let rest = text.trim();
  let tag: string | undefined;
  if (rest.startsWith('#')) {
    const sp = rest.indexOf(' ');
    const t = sp < 0 ? rest : rest.slice(0, sp);
    if (!TAG.test(t)) throw new SerialError('protocol', 'answer has a malformed tag');
    tag = t;
    rest = sp < 0 ? '' : rest.slice(sp + 1).trimStart();
  }
  const sp = rest.indexOf(' ');
  const status = (sp < 0 ? rest : rest.slice(0, sp)).toUpperCase();
  const body = sp < 0 ? '' : rest.slice(sp + 1);
  if (status === 'ERR') {
    const m = /^\s*(\S+)\s*(.*)$/.exec(body);
    const code = m?.[1]?.toLowerCase() ?? '';
    if (!ERR_CODE.test(code)) throw new SerialError('protocol', 'ERR answer without a valid code');
    const message = m?.[2]?.trim() ?? '';
    return tag === undefined ? { type: 'err', code, message } : { type: 'err', tag, code, message };
  }
  if (status !== 'OK') throw new SerialError('protocol', 'answer is neither OK, ERR nor a notice');
  const fields = parseFields(body);
  return tag === undefined ? { type: 'ok', fields } : { type: 'ok', tag, fields };
}

/** Parses `key=value` fields (§4.2). Later duplicates are an error. */
export function parseFields(body: string): Map<string, string> {
  const fields = new Map<string, string>();
  let i = 0;
  const n = body.length;
  while (i < n) {
    while (i < n && body[i] === ' ') i++;
    if (i >= n) break;
    const eq = body.indexOf('=', i);
    if (eq < 0) throw new SerialError('protocol', 'field without =');
    const key = body.slice(i, eq).toLowerCase();
    if (!KEY.test(key)) throw new SerialError('protocol', 'malformed field name');
    if (fields.has(key)) throw new SerialError('protocol', `field ${key} given twice`);
    i = eq + 1;
    let value: string;
    if (body[i] === '"') {
      const bytes: number[] = [];
      i++;
      for (;;) {
        if (i >= n) throw new SerialError('protocol', `unterminated quoted value in ${key}`);
        const ch = body[i] as string;
        if (ch === '"') {
          i++;
          break;
        }
        if (ch === '\\') {
          const e = body[i + 1];
          if (e === '"' || e === '\\') {
            bytes.push(e.charCodeAt(0));
            i += 2;
          } else if (
            (e === 'x' || e === 'X') &&
            /^[0-9a-fA-F]{2}$/.test(body.slice(i + 2, i + 4))
          ) {
            bytes.push(parseInt(body.slice(i + 2, i + 4), 16));
            i += 4;
          } else {
            throw new SerialError('protocol', `bad escape in ${key}`);
          }
        } else {
          bytes.push(ch.charCodeAt(0));
          i++;
        }
      }
      if (i < n && body[i] !== ' ')
        throw new SerialError('protocol', `text after quoted value in ${key}`);
      try {
        value = new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(bytes));
      } catch (e) {
        throw new SerialError('protocol', `value of ${key} is not UTF-8`, { cause: e });
      }
    } else {
      let j = i;
      while (j < n && body[j] !== ' ') j++;
      value = body.slice(i, j);
      if (value.length === 0) throw new SerialError('protocol', `empty value for ${key}`);
      if (!BARE_VALUE.test(value))
        throw new SerialError('protocol', `bad character in value of ${key}`);
      i = j;
    }
    fields.set(key, value);
  }
  return fields;
}

// ---------------------------------------------------------------------------------------------
// §4.3 Typed answers, written and read by the same rules on both sides.

/** Parses an integer field: optional sign, digits, within the safe integer range. */
export function intField(fields: ReadonlyMap<string, string>, key: string, min = 0): number {
  const v = fields.get(key);
  if (v === undefined) throw new SerialError('protocol', `answer lacks ${key}=`);
  if (!/^[+-]?\d{1,16}$/.test(v)) throw new SerialError('protocol', `${key}= is not an integer`);
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min)
    throw new SerialError('protocol', `${key}= is out of range`);
  return n;
}

/** Parses an optional decimal field. */
function optNumber(fields: ReadonlyMap<string, string>, key: string): number | undefined {
  const v = fields.get(key);
  if (v === undefined) return undefined;
  if (!/^[+-]?\d{1,16}(\.\d{1,9})?$/.test(v))
    throw new SerialError('protocol', `${key}= is not a number`);
  return Number(v);
}

/** Parses a 0/1 flag field; `dflt` when absent, or an error when there is no default. */
export function flagField(
  fields: ReadonlyMap<string, string>,
  key: string,
  dflt?: boolean,
): boolean {
  const v = fields.get(key);
  if (v === undefined) {
    if (dflt === undefined) throw new SerialError('protocol', `answer lacks ${key}=`);
    return dflt;
  }
  if (v === '1') return true;
  if (v === '0') return false;
  throw new SerialError('protocol', `${key}= must be 0 or 1`);
}

/** The fields of a display reading (answers to `PRESS` and `READ`). */
export function lcdFields(r: LcdReading): Fields {
  const f: [string, FieldValue][] = [];
  if (r.code !== null) f.push(['code', r.code]);
  f.push(['text', r.text], ['on', r.on], ['low', r.lowBattery], ['time', r.deviceTime]);
  return f;
}

/** Reads a display reading from answer fields. */
export function parseLcd(fields: ReadonlyMap<string, string>): LcdReading {
  const code = fields.get('code');
  if (code !== undefined && !/^\d{4,10}$/.test(code))
    throw new SerialError('protocol', 'code= is not 4 to 10 digits');
  return {
    on: flagField(fields, 'on'),
    text: fields.get('text') ?? '',
    code: code ?? null,
    lowBattery: flagField(fields, 'low', false),
    deviceTime: intField(fields, 'time'),
  };
}

/** The fields of an `ID` answer. */
export function identityFields(id: DeviceIdentity): Fields {
  const f: [string, FieldValue][] = [
    ['proto', PROTOCOL_VERSION],
    ['kind', id.kind],
    ['serial', id.serial],
    ['fw', id.firmware],
  ];
  if (id.model !== undefined) f.push(['model', id.model]);
  return f;
}

/** Reads an identity from `ID` answer fields; checks the protocol version. */
export function parseIdentity(
  fields: ReadonlyMap<string, string>,
): DeviceIdentity & { proto: number } {
  const proto = intField(fields, 'proto', 1);
  const kind = fields.get('kind');
  const serial = fields.get('serial');
  const firmware = fields.get('fw');
  if (kind === undefined || serial === undefined || firmware === undefined) {
    throw new SerialError('protocol', 'ID answer needs kind=, serial= and fw=');
  }
  const model = fields.get('model');
  return model === undefined
    ? { proto, kind, serial, firmware }
    : { proto, kind, serial, firmware, model };
}

const STATUS_KEYS = new Set(['time', 'iso', 'battery', 'presses', 'drift', 'low']);

/** The fields of a `STATUS` answer. */
export function statusFields(s: DeviceStatus): Fields {
  const f: [string, FieldValue][] = [
    ['time', s.deviceTime],
    ['iso', isoTime(s.deviceTime)],
  ];
  if (s.batteryPercent !== undefined) f.push(['battery', Math.round(s.batteryPercent)]);
  if (s.presses !== undefined) f.push(['presses', s.presses]);
  if (s.driftPpm !== undefined) f.push(['drift', formatPpm(s.driftPpm)]);
  if (s.lowBattery !== undefined) f.push(['low', s.lowBattery]);
  for (const [k, v] of Object.entries(s.extra ?? {})) {
    if (!STATUS_KEYS.has(k) && KEY.test(k)) f.push([k, v]);
  }
  return f;
}

/** Reads a status from `STATUS` answer fields; unknown fields land in `extra` as text. */
export function parseStatus(fields: ReadonlyMap<string, string>): DeviceStatus {
  const extra: Record<string, StatusValue> = {};
  for (const [k, v] of fields) if (!STATUS_KEYS.has(k)) extra[k] = v;
  const battery = fields.has('battery') ? intField(fields, 'battery') : undefined;
  if (battery !== undefined && battery > 100)
    throw new SerialError('protocol', 'battery= is over 100');
  const presses = fields.has('presses') ? intField(fields, 'presses') : undefined;
  const driftPpm = optNumber(fields, 'drift');
  const lowBattery = fields.has('low') ? flagField(fields, 'low') : undefined;
  return {
    deviceTime: intField(fields, 'time'),
    ...(battery === undefined ? {} : { batteryPercent: battery }),
    ...(presses === undefined ? {} : { presses }),
    ...(driftPpm === undefined ? {} : { driftPpm }),
    ...(lowBattery === undefined ? {} : { lowBattery }),
    ...(Object.keys(extra).length === 0 ? {} : { extra }),
  };
}

/** The fields of a `TIME` answer. */
export function timeFields(deviceMs: number): Fields {
  return [
    ['time', deviceMs],
    ['iso', isoTime(deviceMs)],
  ];
}

/** A signed decimal with at most 3 places, e.g. `+12.5`, `-3`, `0`. */
function formatPpm(ppm: number): string {
  const r = Math.round(ppm * 1000) / 1000;
  return r > 0 ? `+${r}` : String(r);
}

/** ISO 8601 UTC with milliseconds, or `invalid` when the time cannot be shown. */
export function isoTime(ms: number): string {
  const d = new Date(ms);
  return Number.isFinite(d.getTime()) ? d.toISOString() : 'invalid';
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/i;
/** Latest time the protocol accepts (year 9999), so every accepted time has an ISO form. */
const MAX_TIME_MS = 253_402_300_799_999;

/**
 * Parses the argument of `TIME` (§4.1): Unix time in ms (digits only) or ISO 8601 with a zone
 * (`Z` or `+hh:mm`). Returns null when it is neither.
 */
export function parseTimeArgument(arg: string): number | null {
  let ms: number;
  if (/^\d{1,15}$/.test(arg)) ms = Number(arg);
  else if (ISO.test(arg)) ms = Date.parse(arg.toUpperCase());
  else return null;
  return Number.isSafeInteger(ms) && ms >= 0 && ms <= MAX_TIME_MS ? ms : null;
}
