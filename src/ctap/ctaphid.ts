/** CTAPHID (CTAP 2.1 §11.2): packets, reassembly, the device-side channel machine, the host client. */
import { randomBytes } from 'node:crypto';
import { MitidError, type Clock, type MitidErrorOptions } from '../core/index.js';
import type { HidTransport } from '../hid/port.js';
import { pooledBytes } from '../hid/pool.js';

/** Report size on full-speed USB (CTAP 2.1 §11.2.4). */
export const CTAPHID_REPORT_SIZE = 64;
/** Payload bytes in an initialization packet: 64 - CID(4) - CMD(1) - BCNT(2). */
export const CTAPHID_INIT_DATA = 57;
/** Payload bytes in a continuation packet: 64 - CID(4) - SEQ(1). */
export const CTAPHID_CONT_DATA = 59;
/** Largest message: one init packet and 128 continuations (CTAP 2.1 §11.2.4). */
export const CTAPHID_MAX_PAYLOAD = CTAPHID_INIT_DATA + 128 * CTAPHID_CONT_DATA;
/** The broadcast channel, used only to allocate a channel with INIT (§11.2.9.1.3). */
export const CTAPHID_BROADCAST_CID = 0xffffffff;
/** CTAPHID protocol version reported by INIT. */
export const CTAPHID_PROTOCOL_VERSION = 2;
/** A device drops a half-received message after this long without its next packet (§11.2.5). */
export const CTAPHID_TRANSACTION_TIMEOUT_MS = 3000;
/** A device sends KEEPALIVE this often while it works or waits for the user (§11.2.9.2.1). */
export const CTAPHID_KEEPALIVE_INTERVAL_MS = 100;

/** CTAPHID commands (CTAP 2.1 §11.2.9), without the init-packet bit 0x80. */
export const CtapHidCmd = {
  PING: 0x01,
  MSG: 0x03,
  LOCK: 0x04,
  INIT: 0x06,
  WINK: 0x08,
  CBOR: 0x10,
  CANCEL: 0x11,
  KEEPALIVE: 0x3b,
  ERROR: 0x3f,
} as const;
export type CtapHidCmdCode = (typeof CtapHidCmd)[keyof typeof CtapHidCmd];

/** CTAPHID_ERROR codes (CTAP 2.1 §11.2.9.1.6). */
export const CtapHidErr = {
  INVALID_CMD: 0x01,
  INVALID_PAR: 0x02,
  INVALID_LEN: 0x03,
  INVALID_SEQ: 0x04,
  MSG_TIMEOUT: 0x05,
  CHANNEL_BUSY: 0x06,
  LOCK_REQUIRED: 0x0a,
  INVALID_CHANNEL: 0x0b,
  OTHER: 0x7f,
} as const;
export type CtapHidErrCode = (typeof CtapHidErr)[keyof typeof CtapHidErr];

/** CTAPHID_KEEPALIVE status bytes (CTAP 2.1 §11.2.9.2.1). */
export const KeepaliveStatus = {
  PROCESSING: 1,
  UPNEEDED: 2,
} as const;
export type KeepaliveStatusCode = (typeof KeepaliveStatus)[keyof typeof KeepaliveStatus];

/** INIT capability flags (CTAP 2.1 §11.2.9.1.3). */
export const CtapHidCapability = {
  WINK: 0x01,
  CBOR: 0x04,
  /** Set when the device does NOT implement MSG (CTAP1). */
  NMSG: 0x08,
} as const;

const errNames = new Map<number, string>(
  Object.entries(CtapHidErr).map(([k, v]) => [v, `ERR_${k}`]),
);

/** Stable codes of {@link CtapHidError} that are not CTAPHID_ERROR bytes. */
export const CtapHidFailure = {
  timeout: 'timeout',
  badResponse: 'bad-response',
  closed: 'closed',
} as const;

/**
 * A framing error: a CTAPHID_ERROR packet from the device (`code` is `ERR_<NAME>` and `status`
 * the byte of §11.2.9.1.6), or the host's own failure (`timeout`, `bad-response`; `status` 0).
 */
export class CtapHidError extends MitidError {
  readonly status: number;
  constructor(code: string, status: number, message: string, options: MitidErrorOptions = {}) {
    super(code, message, options);
    this.status = status;
  }
  /** The error a CTAPHID_ERROR packet carrying `status` means. */
  static fromDevice(status: number): CtapHidError {
    const name = errNames.get(status) ?? `ERR_0x${status.toString(16).padStart(2, '0')}`;
    return new CtapHidError(name, status, `device answered CTAPHID_ERROR ${name}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Packets

function readCid(report: Uint8Array): number {
  return ((report[0]! << 24) | (report[1]! << 16) | (report[2]! << 8) | report[3]!) >>> 0;
}

/**
 * Copies `n` bytes from `src` at `from` to `dst` at `at`. A plain loop: for the at most 59 bytes of
 * a report it is cheaper than TypedArray.set on a subarray, which makes a view object first.
 */
function copyBytes(dst: Uint8Array, at: number, src: Uint8Array, from: number, n: number): void {
  for (let i = 0; i < n; i++) dst[at + i] = src[from + i]!;
}

function writeCid(out: Uint8Array, cid: number): void {
  out[0] = cid >>> 24;
  out[1] = (cid >>> 16) & 0xff;
  out[2] = (cid >>> 8) & 0xff;
  out[3] = cid & 0xff;
}

/**
 * Splits a message into 64-byte reports (CTAP 2.1 §11.2.4): an initialization packet
 * (CID, CMD|0x80, BCNT big-endian, 57 bytes) and continuation packets (CID, SEQ 0..127, 59 bytes),
 * zero-padded. `pooled` carves the reports from the pool (see pooledBytes), for reports that go
 * straight to a transport.
 */
export function packetize(
  cid: number,
  cmd: number,
  payload: Uint8Array,
  pooled = false,
): Uint8Array[] {
  if (!Number.isInteger(cid) || cid < 0 || cid > 0xffffffff)
    throw new RangeError('cid must be a uint32');
  if (!Number.isInteger(cmd) || cmd < 0 || cmd > 0x7f) throw new RangeError('cmd must be 0..0x7f');
  if (!(payload instanceof Uint8Array)) throw new TypeError('payload must be a Uint8Array');
  if (payload.length > CTAPHID_MAX_PAYLOAD) {
    throw new RangeError(
      `payload must be at most ${CTAPHID_MAX_PAYLOAD} bytes, got ${payload.length}`,
    );
  }
  const out: Uint8Array[] = [];
  const report = pooled ? pooledBytes : (n: number): Uint8Array => new Uint8Array(n);
  const first = report(CTAPHID_REPORT_SIZE);
  writeCid(first, cid);
  first[4] = 0x80 | cmd;
  first[5] = payload.length >>> 8;
  first[6] = payload.length & 0xff;
  copyBytes(first, 7, payload, 0, Math.min(payload.length, CTAPHID_INIT_DATA));
  out.push(first);
  let off = CTAPHID_INIT_DATA;
  for (let seq = 0; off < payload.length; seq++) {
    const p = report(CTAPHID_REPORT_SIZE);
    writeCid(p, cid);
    p[4] = seq;
    copyBytes(p, 5, payload, off, Math.min(payload.length - off, CTAPHID_CONT_DATA));
    out.push(p);
    off += CTAPHID_CONT_DATA;
  }
  return out;
}

/**
 * Writes a message's reports as {@link packetize} makes them into `reports` (the first of them,
 * more made as needed, the padding zeroed) and returns an array of exactly those, kept in
 * `byCount` for the next message of as many reports: for a sender whose transport copies the
 * reports before its write returns, so they can be used again message after message.
 */
function packetizeInto(
  reports: Uint8Array[],
  byCount: Uint8Array[][],
  cid: number,
  cmd: number,
  payload: Uint8Array,
): Uint8Array[] {
  if (!Number.isInteger(cid) || cid < 0 || cid > 0xffffffff)
    throw new RangeError('cid must be a uint32');
  if (!Number.isInteger(cmd) || cmd < 0 || cmd > 0x7f) throw new RangeError('cmd must be 0..0x7f');
  if (!(payload instanceof Uint8Array)) throw new TypeError('payload must be a Uint8Array');
  if (payload.length > CTAPHID_MAX_PAYLOAD) {
    throw new RangeError(
      `payload must be at most ${CTAPHID_MAX_PAYLOAD} bytes, got ${payload.length}`,
    );
  }
  const count =
    payload.length <= CTAPHID_INIT_DATA
      ? 1
      : 1 + Math.ceil((payload.length - CTAPHID_INIT_DATA) / CTAPHID_CONT_DATA);
  while (reports.length < count) reports.push(new Uint8Array(CTAPHID_REPORT_SIZE));
  const out = (byCount[count] ??= reports.slice(0, count));
  const first = out[0]!;
  writeCid(first, cid);
  first[4] = 0x80 | cmd;
  first[5] = payload.length >>> 8;
  first[6] = payload.length & 0xff;
  const n0 = Math.min(payload.length, CTAPHID_INIT_DATA);
  copyBytes(first, 7, payload, 0, n0);
  first.fill(0, 7 + n0);
  let off = CTAPHID_INIT_DATA;
  for (let seq = 0; off < payload.length; seq++) {
    const p = out[seq + 1]!;
    writeCid(p, cid);
    p[4] = seq;
    const n = Math.min(payload.length - off, CTAPHID_CONT_DATA);
    copyBytes(p, 5, payload, off, n);
    p.fill(0, 5 + n);
    off += CTAPHID_CONT_DATA;
  }
  return out;
}

/** One CTAPHID_ERROR report on `cid`. */
export function errorReport(cid: number, code: number): Uint8Array {
  return packetize(cid, CtapHidCmd.ERROR, Uint8Array.of(code))[0]!;
}

/** One CTAPHID_KEEPALIVE report on `cid`. */
export function keepaliveReport(cid: number, status: number): Uint8Array {
  return packetize(cid, CtapHidCmd.KEEPALIVE, Uint8Array.of(status))[0]!;
}

/**
 * What {@link Reassembler.push} made of one report. The payload of a message that took several
 * reports is a view on a pooled block (see pooledBytes): its bytes are the receiver's, its
 * `.buffer` is shared.
 */
export type ReassemblyResult =
  | {
      readonly type: 'complete';
      readonly cid: number;
      readonly cmd: number;
      readonly payload: Uint8Array;
    }
  | { readonly type: 'partial'; readonly cid: number }
  | { readonly type: 'ignored'; readonly cid: number; readonly reason: string }
  | { readonly type: 'error'; readonly cid: number; readonly error: CtapHidErrCode };

interface Partial {
  cmd: number;
  data: Uint8Array;
  got: number;
  seq: number;
}

/**
 * Puts messages back together from reports, one partial message per channel (so channels may
 * interleave). Policy (which channel may talk now) is the caller's; this checks only framing:
 * lengths, sequence numbers, and continuation packets with no message to continue (ignored, as
 * §11.2.4 asks of spurious continuations).
 */
export class Reassembler {
  readonly #partials = new Map<number, Partial>();
  readonly #maxPayload: number;

  constructor(options: { maxPayload?: number } = {}) {
    this.#maxPayload = options.maxPayload ?? CTAPHID_MAX_PAYLOAD;
  }

  /** True when a message on `cid` has started and not finished. */
  pending(cid: number): boolean {
    return this.#partials.has(cid);
  }

  /** Channels with a partial message. */
  get pendingChannels(): number[] {
    return [...this.#partials.keys()];
  }

  /** How many channels have a partial message (no array made: asked once per report). */
  get pendingCount(): number {
    return this.#partials.size;
  }

  /** Forgets the partial message on `cid` (timeout, resync). */
  abort(cid: number): void {
    this.#partials.delete(cid);
  }

  /** Forgets everything. */
  clear(): void {
    this.#partials.clear();
  }

  push(report: Uint8Array): ReassemblyResult {
    if (!(report instanceof Uint8Array) || report.length < 7) {
      return { type: 'ignored', cid: 0, reason: 'short report' };
    }
    const cid = readCid(report);
    const b4 = report[4]!;
    if (b4 & 0x80) {
      if (this.#partials.has(cid)) {
        // A new message while one is half received on the same channel: the sender lost track.
        this.#partials.delete(cid);
        return { type: 'error', cid, error: CtapHidErr.INVALID_SEQ };
      }
      const cmd = b4 & 0x7f;
      const bcnt = (report[5]! << 8) | report[6]!;
      if (bcnt > this.#maxPayload) return { type: 'error', cid, error: CtapHidErr.INVALID_LEN };
      if (bcnt <= CTAPHID_INIT_DATA) {
        return { type: 'complete', cid, cmd, payload: report.slice(7, 7 + bcnt) };
      }
      // The message stays inside the device (its application decodes it and copies what it
      // keeps), so it is carved from the pool rather than given memory of its own.
      const data = pooledBytes(bcnt);
      // A report shorter than 64 bytes carries less (the framing is checked, not the size).
      const got = Math.min(CTAPHID_INIT_DATA, report.length - 7);
      copyBytes(data, 0, report, 7, got);
      this.#partials.set(cid, { cmd, data, got, seq: 0 });
      return { type: 'partial', cid };
    }
    const p = this.#partials.get(cid);
    if (p === undefined) return { type: 'ignored', cid, reason: 'continuation with no message' };
    if (b4 !== p.seq) {
      this.#partials.delete(cid);
      return { type: 'error', cid, error: CtapHidErr.INVALID_SEQ };
    }
    const n = Math.min(CTAPHID_CONT_DATA, p.data.length - p.got, report.length - 5);
    copyBytes(p.data, p.got, report, 5, n);
    p.got += n;
    p.seq++;
    if (p.got < p.data.length) return { type: 'partial', cid };
    this.#partials.delete(cid);
    return { type: 'complete', cid, cmd: p.cmd, payload: p.data };
  }
}

// ---------------------------------------------------------------------------------------------
// Device side

/**
 * What an application answers a CBOR or MSG request with: the response now, a wait (the device
 * sends KEEPALIVE with `status` and asks again through {@link CtapHidApplication.poll}), or a
 * CTAPHID_ERROR.
 */
export type CtapHidReply =
  | { readonly type: 'done'; readonly payload: Uint8Array }
  | { readonly type: 'pending'; readonly status: KeepaliveStatusCode }
  | { readonly type: 'error'; readonly error: CtapHidErrCode };

/** The commands a device plugs into {@link CtapHidDevice}. */
export interface CtapHidApplication {
  /** CTAPHID_CBOR: the CTAP2 command byte and parameters. Absent: INVALID_CMD. */
  cbor?(request: Uint8Array, cid: number): CtapHidReply;
  /** CTAPHID_MSG: a CTAP1/U2F APDU. Absent: INVALID_CMD (and NMSG in capabilities). */
  msg?(apdu: Uint8Array, cid: number): CtapHidReply;
  /** CTAPHID_WINK: show the user which device this is. */
  wink?(): void;
  /** Asked on every tick while a reply is pending. */
  poll(): CtapHidReply;
  /** CTAPHID_CANCEL (or a resync INIT) on the pending channel; the next poll gives the answer. */
  cancel(): void;
}

/** Options of {@link CtapHidDevice}. */
export interface CtapHidDeviceOptions {
  readonly clock: Clock;
  /** Source of channel IDs; default node:crypto. */
  readonly random?: (n: number) => Uint8Array;
  /** Device version numbers reported by INIT. */
  readonly version?: { readonly major: number; readonly minor: number; readonly build: number };
  readonly transactionTimeoutMs?: number;
  readonly keepaliveIntervalMs?: number;
  /** Channels kept at most; the oldest is forgotten first. Default 32. */
  readonly maxChannels?: number;
}

/**
 * The device half of CTAPHID (CTAP 2.1 §11.2): allocates channels on broadcast INIT, echoes the
 * nonce, resynchronises on INIT to an existing channel, serves one transaction at a time (others
 * get ERR_CHANNEL_BUSY), times out half-received messages (ERR_MSG_TIMEOUT), honours LOCK, sends
 * KEEPALIVE while the application waits, and passes CANCEL on. Synchronous and never throws.
 */
export class CtapHidDevice {
  readonly #app: CtapHidApplication;
  readonly #clock: Clock;
  readonly #random: (n: number) => Uint8Array;
  readonly #version: { major: number; minor: number; build: number };
  readonly #timeoutMs: number;
  readonly #keepaliveMs: number;
  readonly #maxChannels: number;
  readonly #channels = new Set<number>();
  readonly #reassembler = new Reassembler();
  #lastPacketAt = 0;
  #processing: { cid: number; cmd: number; lastKeepalive: number; status: number } | null = null;
  #lock: { cid: number; until: number } | null = null;

  constructor(app: CtapHidApplication, options: CtapHidDeviceOptions) {
    this.#app = app;
    this.#clock = options.clock;
    this.#random = options.random ?? ((n) => new Uint8Array(randomBytes(n)));
    this.#version = { ...(options.version ?? { major: 1, minor: 0, build: 0 }) };
    this.#timeoutMs = options.transactionTimeoutMs ?? CTAPHID_TRANSACTION_TIMEOUT_MS;
    this.#keepaliveMs = options.keepaliveIntervalMs ?? CTAPHID_KEEPALIVE_INTERVAL_MS;
    this.#maxChannels = options.maxChannels ?? 32;
  }

  /** INIT capability flags, from what the application implements. */
  get capabilities(): number {
    return (
      CtapHidCapability.WINK |
      (this.#app.cbor ? CtapHidCapability.CBOR : 0) |
      (this.#app.msg ? 0 : CtapHidCapability.NMSG)
    );
  }

  /** True while a message is half received or a reply is pending. */
  get busy(): boolean {
    return this.#reassembler.pendingCount > 0 || this.#processing !== null;
  }

  /** Allocated channels, oldest first. */
  get channels(): number[] {
    return [...this.#channels];
  }

  /** Power cycle: every channel, partial message, pending reply and lock is gone. */
  reset(): void {
    if (this.#processing) this.#app.cancel();
    this.#channels.clear();
    this.#reassembler.clear();
    this.#processing = null;
    this.#lock = null;
  }

  /** One output report in; the input reports it causes out. */
  handleReport(report: Uint8Array): Uint8Array[] {
    try {
      return this.#handle(report);
    } catch {
      // Only a bug in an application can get here; answer rather than crash the carrier.
      this.#processing = null;
      return report instanceof Uint8Array && report.length >= 4
        ? [errorReport(readCid(report), CtapHidErr.OTHER)]
        : [];
    }
  }

  /** Lets time pass: transaction timeouts, keepalives, replies that were pending. */
  tick(): Uint8Array[] {
    try {
      return this.#tick();
    } catch {
      const p = this.#processing;
      this.#processing = null;
      return p ? [errorReport(p.cid, CtapHidErr.OTHER)] : [];
    }
  }

  #tick(): Uint8Array[] {
    const now = this.#clock.now();
    const out: Uint8Array[] = [];
    if (this.#lock && now >= this.#lock.until) this.#lock = null;
    for (const cid of this.#reassembler.pendingChannels) {
      if (now - this.#lastPacketAt >= this.#timeoutMs) {
        this.#reassembler.abort(cid);
        out.push(errorReport(cid, CtapHidErr.MSG_TIMEOUT));
      }
    }
    const p = this.#processing;
    if (p) {
      const reply = this.#app.poll();
      if (reply.type === 'pending') {
        if (now - p.lastKeepalive >= this.#keepaliveMs || reply.status !== p.status) {
          p.lastKeepalive = now;
          p.status = reply.status;
          out.push(keepaliveReport(p.cid, reply.status));
        }
      } else {
        this.#processing = null;
        out.push(...this.#answer(p.cid, p.cmd, reply));
      }
    }
    return out;
  }

  #allocate(): number {
    for (;;) {
      const r = this.#random(4);
      const cid = readCid(r);
      if (cid !== 0 && cid !== CTAPHID_BROADCAST_CID && !this.#channels.has(cid)) {
        this.#channels.add(cid);
        while (this.#channels.size > this.#maxChannels) {
          const oldest = this.#channels.values().next().value as number;
          this.#channels.delete(oldest);
        }
        return cid;
      }
    }
  }

  #answer(cid: number, cmd: number, reply: CtapHidReply): Uint8Array[] {
    if (reply.type === 'done') return packetize(cid, cmd, reply.payload);
    if (reply.type === 'error') return [errorReport(cid, reply.error)];
    this.#processing = { cid, cmd, lastKeepalive: this.#clock.now(), status: reply.status };
    return [keepaliveReport(cid, reply.status)];
  }

  #handle(report: Uint8Array): Uint8Array[] {
    if (!(report instanceof Uint8Array) || report.length !== CTAPHID_REPORT_SIZE) return [];
    const now = this.#clock.now();
    if (this.#lock && now >= this.#lock.until) this.#lock = null;
    const cid = readCid(report);
    const b4 = report[4]!;
    const isInit = (b4 & 0x80) !== 0;
    if (!isInit) {
      // Continuations only count on the channel whose message is being received (§11.2.4).
      if (!this.#reassembler.pending(cid)) return [];
      this.#lastPacketAt = now;
      return this.#reassembled(this.#reassembler.push(report));
    }
    const cmd = b4 & 0x7f;
    const bcnt = (report[5]! << 8) | report[6]!;
    if (cid === 0) return [errorReport(cid, CtapHidErr.INVALID_CHANNEL)];
    if (cmd === CtapHidCmd.INIT) return this.#init(cid, bcnt, report);
    if (cid === CTAPHID_BROADCAST_CID || !this.#channels.has(cid)) {
      return [errorReport(cid, CtapHidErr.INVALID_CHANNEL)];
    }
    if (cmd === CtapHidCmd.CANCEL) {
      // §11.2.9.1.5: no answer of its own; the pending request answers KEEPALIVE_CANCEL.
      if (this.#processing?.cid !== cid) return [];
      this.#app.cancel();
      return this.#tick();
    }
    if (this.#lock && this.#lock.cid !== cid) return [errorReport(cid, CtapHidErr.CHANNEL_BUSY)];
    if (this.#reassembler.pending(cid)) {
      this.#reassembler.abort(cid);
      return [errorReport(cid, CtapHidErr.INVALID_SEQ)];
    }
    if (this.#processing || this.#reassembler.pendingCount > 0) {
      return [errorReport(cid, CtapHidErr.CHANNEL_BUSY)];
    }
    this.#lastPacketAt = now;
    return this.#reassembled(this.#reassembler.push(report));
  }

  #init(cid: number, bcnt: number, report: Uint8Array): Uint8Array[] {
    if (cid !== CTAPHID_BROADCAST_CID && !this.#channels.has(cid)) {
      return [errorReport(cid, CtapHidErr.INVALID_CHANNEL)];
    }
    if (bcnt !== 8) return [errorReport(cid, CtapHidErr.INVALID_LEN)];
    let channel = cid;
    if (cid === CTAPHID_BROADCAST_CID) channel = this.#allocate();
    else {
      // §11.2.9.1.3: INIT on an existing channel resynchronises it, abandoning its transaction.
      this.#reassembler.abort(cid);
      if (this.#processing?.cid === cid) {
        this.#app.cancel();
        this.#app.poll();
        this.#processing = null;
      }
    }
    const payload = new Uint8Array(17);
    payload.set(report.subarray(7, 15), 0);
    writeCid(payload.subarray(8, 12), channel);
    payload[12] = CTAPHID_PROTOCOL_VERSION;
    payload[13] = this.#version.major & 0xff;
    payload[14] = this.#version.minor & 0xff;
    payload[15] = this.#version.build & 0xff;
    payload[16] = this.capabilities;
    return packetize(cid, CtapHidCmd.INIT, payload);
  }

  #reassembled(r: ReassemblyResult): Uint8Array[] {
    switch (r.type) {
      case 'partial':
      case 'ignored':
        return [];
      case 'error':
        return [errorReport(r.cid, r.error)];
      case 'complete':
        return this.#dispatch(r.cid, r.cmd, r.payload);
    }
  }

  #dispatch(cid: number, cmd: number, payload: Uint8Array): Uint8Array[] {
    switch (cmd) {
      case CtapHidCmd.PING:
        return packetize(cid, cmd, payload);
      case CtapHidCmd.WINK:
        if (payload.length !== 0) return [errorReport(cid, CtapHidErr.INVALID_LEN)];
        this.#app.wink?.();
        return packetize(cid, cmd, new Uint8Array(0));
      case CtapHidCmd.LOCK: {
        if (payload.length !== 1) return [errorReport(cid, CtapHidErr.INVALID_LEN)];
        const seconds = payload[0]!;
        // §11.2.9.2.2: 0 releases; at most 10 seconds.
        if (seconds > 10) return [errorReport(cid, CtapHidErr.INVALID_PAR)];
        this.#lock = seconds === 0 ? null : { cid, until: this.#clock.now() + seconds * 1000 };
        return packetize(cid, cmd, new Uint8Array(0));
      }
      case CtapHidCmd.CBOR:
        if (!this.#app.cbor) return [errorReport(cid, CtapHidErr.INVALID_CMD)];
        if (payload.length === 0) return [errorReport(cid, CtapHidErr.INVALID_LEN)];
        return this.#answer(cid, cmd, this.#app.cbor(payload, cid));
      case CtapHidCmd.MSG:
        if (!this.#app.msg) return [errorReport(cid, CtapHidErr.INVALID_CMD)];
        return this.#answer(cid, cmd, this.#app.msg(payload, cid));
      default:
        return [errorReport(cid, CtapHidErr.INVALID_CMD)];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Host side

/** What INIT told us about the device (CTAP 2.1 §11.2.9.1.3). */
export interface CtapHidDeviceInfo {
  readonly cid: number;
  readonly protocolVersion: number;
  readonly major: number;
  readonly minor: number;
  readonly build: number;
  readonly capabilities: number;
}

/** Options of {@link CtapHidClient.open}. */
export interface CtapHidClientOptions {
  /** How long to wait for each report before giving up; default 5000 ms. */
  readonly timeoutMs?: number;
  /** Nonce source for INIT; default node:crypto. */
  readonly random?: (n: number) => Uint8Array;
}

/** Options of one {@link CtapHidClient.cbor} or {@link CtapHidClient.msg} call. */
export interface CtapHidCallOptions {
  /** Called with each KEEPALIVE status (1 processing, 2 waiting for the user's touch). */
  readonly onKeepalive?: (status: number) => void;
  /** Aborting sends CTAPHID_CANCEL; the device then answers (CTAP2_ERR_KEEPALIVE_CANCEL). */
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
  /**
   * The answer of a message longer than one report comes as a view on a pooled block (see
   * pooledBytes; its `.buffer` is shared): for callers that decode it at once and keep only what
   * they copy out, such as the CTAP2 client. Default false: a buffer of its own.
   */
  readonly pooledAnswer?: boolean;
}

function isTimeout(e: unknown): boolean {
  return e instanceof MitidError && e.code === 'timeout';
}

/**
 * The host half of CTAPHID over any {@link HidTransport}: allocates a channel, sends requests as
 * packets, and reads the answer on its channel, following KEEPALIVEs, turning CTAPHID_ERROR into
 * {@link CtapHidError} and checking sequence numbers. One call at a time.
 */
export class CtapHidClient {
  readonly transport: HidTransport;
  #cid = CTAPHID_BROADCAST_CID;
  #info: CtapHidDeviceInfo | null = null;
  readonly #timeoutMs: number;
  readonly #random: (n: number) => Uint8Array;
  #busy = false;
  readonly #batch: BatchHidWriter | undefined;
  readonly #ready: ReadyHidReader | undefined;

  private constructor(transport: HidTransport, options: CtapHidClientOptions) {
    this.transport = transport;
    this.#batch = batchWriter(transport);
    this.#ready = readyReader(transport);
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#random = options.random ?? ((n) => new Uint8Array(randomBytes(n)));
  }

  /** Opens a client and allocates its channel with INIT. */
  static async open(
    transport: HidTransport,
    options: CtapHidClientOptions = {},
  ): Promise<CtapHidClient> {
    const c = new CtapHidClient(transport, options);
    await c.init();
    return c;
  }

  /** The channel in use. */
  get cid(): number {
    return this.#cid;
  }

  /** What INIT reported. */
  get info(): CtapHidDeviceInfo {
    if (!this.#info) throw new CtapHidError('closed', 0, 'no channel: call init() first');
    return this.#info;
  }

  /** Allocates a fresh channel with a broadcast INIT and a random nonce (§11.2.9.1.3). */
  async init(): Promise<CtapHidDeviceInfo> {
    return this.#exclusive(async () => {
      const nonce = this.#random(8);
      await this.#send(CTAPHID_BROADCAST_CID, CtapHidCmd.INIT, nonce);
      const deadline = Date.now() + this.#timeoutMs;
      for (;;) {
        const r = await this.#read(Math.max(1, deadline - Date.now()));
        if (readCid(r) !== CTAPHID_BROADCAST_CID) continue;
        // A device that cannot allocate a channel says why on the broadcast channel.
        if (r[4] === (0x80 | CtapHidCmd.ERROR)) throw CtapHidError.fromDevice(r[7]!);
        if (r[4] !== (0x80 | CtapHidCmd.INIT)) continue;
        const bcnt = (r[5]! << 8) | r[6]!;
        // Answers to other hosts' INITs carry other nonces: skip them.
        if (bcnt < 17 || !bytesEqual(r.subarray(7, 15), nonce)) continue;
        const cid = readCid(r.subarray(15, 19));
        if (cid === 0 || cid === CTAPHID_BROADCAST_CID) {
          throw new CtapHidError('bad-response', 0, 'INIT answered with an unusable channel');
        }
        this.#cid = cid;
        this.#info = {
          cid,
          protocolVersion: r[19]!,
          major: r[20]!,
          minor: r[21]!,
          build: r[22]!,
          capabilities: r[23]!,
        };
        return this.#info;
      }
    });
  }

  /** CTAPHID_PING: the device echoes `data`. */
  async ping(data: Uint8Array): Promise<Uint8Array> {
    return this.#call(CtapHidCmd.PING, data, {});
  }

  /** CTAPHID_WINK. */
  async wink(): Promise<void> {
    await this.#call(CtapHidCmd.WINK, new Uint8Array(0), {});
  }

  /** CTAPHID_LOCK for `seconds` (0 releases, at most 10). */
  async lock(seconds: number): Promise<void> {
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > 10) {
      throw new RangeError('lock seconds must be an integer 0..10');
    }
    await this.#call(CtapHidCmd.LOCK, Uint8Array.of(seconds), {});
  }

  /** CTAPHID_CBOR: sends the command byte + CBOR, returns the status byte + CBOR. */
  cbor(payload: Uint8Array, options: CtapHidCallOptions = {}): Promise<Uint8Array> {
    return this.#call(CtapHidCmd.CBOR, payload, options);
  }

  /** CTAPHID_MSG: sends a CTAP1/U2F APDU, returns the response data + status word. */
  async msg(apdu: Uint8Array, options: CtapHidCallOptions = {}): Promise<Uint8Array> {
    return this.#call(CtapHidCmd.MSG, apdu, options);
  }

  /** Sends CTAPHID_CANCEL on our channel (no answer of its own). */
  async cancel(): Promise<void> {
    await this.#send(this.#cid, CtapHidCmd.CANCEL, new Uint8Array(0));
  }

  /** Closes the transport. */
  async close(): Promise<void> {
    this.#info = null;
    await this.transport.close();
  }

  async #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#busy) throw new CtapHidError('busy', 0, 'one CTAPHID call at a time');
    this.#busy = true;
    try {
      return await fn();
    } finally {
      this.#busy = false;
    }
  }

  /**
   * Sends one message. A transport that takes several reports in one write gets them all at
   * once (one write in flight, as the strict transports demand); any other gets them one by one.
   */
  #send(cid: number, cmd: number, payload: Uint8Array): Promise<void> {
    let packets: Uint8Array[];
    try {
      if (this.#batch) {
        // A batch transport copies the reports before writeReports returns: the client's own
        // reports serve every message.
        packets = packetizeInto(this.#reports, this.#reportSets, cid, cmd, payload);
        return this.#batch.writeReports(packets);
      }
      // Pooled: the transport copies or sends them, and nothing here touches them again.
      packets = packetize(cid, cmd, payload, true);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#sendEach(packets);
  }

  /** The reports messages are written into for a batch transport (see #send). */
  readonly #reports: Uint8Array[] = [];
  readonly #reportSets: Uint8Array[][] = [];

  async #sendEach(packets: readonly Uint8Array[]): Promise<void> {
    for (const p of packets) await this.transport.write(p);
  }

  async #read(timeoutMs: number): Promise<Uint8Array> {
    let r: Uint8Array;
    try {
      r = await this.transport.read(timeoutMs);
    } catch (e) {
      throw readFailure(e);
    }
    if (r.length !== CTAPHID_REPORT_SIZE) throw badReportSize(r);
    return r;
  }

  /**
   * One request and its answer. When the transport hands over reports that have already arrived
   * (readReady), an answer that is complete once the write has gone is put together in the
   * write's own continuation, with no async frame or promise per report; anything still to come
   * is read in {@link #readRest}. The answer is put together by an {@link AnswerAssembly} rather
   * than a {@link Reassembler}, with the same checks.
   */
  #call(cmd: number, payload: Uint8Array, options: CtapHidCallOptions): Promise<Uint8Array> {
    if (this.#cid === CTAPHID_BROADCAST_CID)
      return Promise.reject(new CtapHidError('closed', 0, 'no channel: call init() first'));
    if (this.#busy)
      return Promise.reject(new CtapHidError('busy', 0, 'one CTAPHID call at a time'));
    if (options.signal?.aborted)
      return Promise.reject(new CtapHidError('aborted', 0, 'aborted before sending'));
    this.#busy = true;
    const cid = this.#cid;
    return this.#send(cid, cmd, payload).then(
      () => this.#receive(new AnswerAssembly(cid, cmd, options), options),
      (e: unknown) => {
        this.#busy = false;
        throw e;
      },
    );
  }

  /**
   * The answer of the request just sent: at once when it is all here, else read on. A call with a
   * signal always reads on, so the abort listener is in place before the first report is looked
   * at (a KEEPALIVE handler may abort).
   */
  #receive(answer: AnswerAssembly, options: CtapHidCallOptions): Uint8Array | Promise<Uint8Array> {
    const ready = this.#ready;
    if (ready !== undefined && options.signal === undefined) {
      try {
        for (let r = ready.readReady(); r !== undefined; r = ready.readReady()) {
          const data = answer.add(r);
          if (data !== undefined) {
            this.#busy = false;
            return data;
          }
        }
      } catch (e) {
        this.#busy = false;
        throw e;
      }
    }
    return this.#readRest(answer, options);
  }

  /** Reads the rest of an answer, sending CTAPHID_CANCEL if `options.signal` aborts meanwhile. */
  async #readRest(answer: AnswerAssembly, options: CtapHidCallOptions): Promise<Uint8Array> {
    const signal = options.signal;
    let onAbort: (() => void) | undefined;
    try {
      const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
      const cid = answer.cid;
      if (signal) {
        let cancelled = false;
        onAbort = (): void => {
          if (cancelled) return;
          cancelled = true;
          void this.#send(cid, CtapHidCmd.CANCEL, new Uint8Array(0)).catch(() => undefined);
        };
        signal.addEventListener('abort', onAbort, { once: true });
      }
      for (;;) {
        // Reports already arrived are taken without a promise each, when the transport can.
        let r = this.#ready?.readReady();
        if (r === undefined) {
          try {
            r = await this.transport.read(timeoutMs);
          } catch (e) {
            throw readFailure(e);
          }
        }
        const data = answer.add(r);
        if (data !== undefined) return data;
      }
    } finally {
      if (onAbort) signal?.removeEventListener('abort', onAbort);
      this.#busy = false;
    }
  }
}

/**
 * One answer being put together from the reports of its channel (CTAP 2.1 §11.2.4): other
 * channels' reports and stray continuations are skipped, KEEPALIVEs passed to the caller,
 * CTAPHID_ERROR and broken framing thrown.
 */
class AnswerAssembly {
  readonly cid: number;
  readonly #cmd: number;
  readonly #options: CtapHidCallOptions;
  #data: Uint8Array | null = null;
  #got = 0;
  #seq = 0;
  #answerCmd = 0;

  constructor(cid: number, cmd: number, options: CtapHidCallOptions) {
    this.cid = cid;
    this.#cmd = cmd;
    this.#options = options;
  }

  /** Takes one input report; the whole answer once it is complete, else undefined. */
  add(r: Uint8Array): Uint8Array | undefined {
    if (r.length !== CTAPHID_REPORT_SIZE) throw badReportSize(r);
    if (readCid(r) !== this.cid) return undefined;
    const b4 = r[4]!;
    let data = this.#data;
    if (b4 & 0x80) {
      if (b4 === (0x80 | CtapHidCmd.KEEPALIVE)) {
        this.#options.onKeepalive?.(r[7]!);
        return undefined;
      }
      if (b4 === (0x80 | CtapHidCmd.ERROR)) throw CtapHidError.fromDevice(r[7]!);
      // A new message while one is half received: the device lost track (§11.2.4).
      if (data) throw brokenFraming(CtapHidErr.INVALID_SEQ);
      const bcnt = (r[5]! << 8) | r[6]!;
      if (bcnt > CTAPHID_MAX_PAYLOAD) throw brokenFraming(CtapHidErr.INVALID_LEN);
      this.#answerCmd = b4 & 0x7f;
      if (bcnt <= CTAPHID_INIT_DATA) {
        data = r.slice(7, 7 + bcnt);
        this.#got = bcnt;
      } else {
        data = this.#options.pooledAnswer === true ? pooledBytes(bcnt) : new Uint8Array(bcnt);
        copyBytes(data, 0, r, 7, CTAPHID_INIT_DATA);
        this.#got = CTAPHID_INIT_DATA;
        this.#seq = 0;
      }
      this.#data = data;
    } else {
      // Stray continuations are ignored (§11.2.4).
      if (!data) return undefined;
      if (b4 !== this.#seq) throw brokenFraming(CtapHidErr.INVALID_SEQ);
      const n = Math.min(CTAPHID_CONT_DATA, data.length - this.#got);
      copyBytes(data, this.#got, r, 5, n);
      this.#got += n;
      this.#seq++;
    }
    if (this.#got < data.length) return undefined;
    if (this.#answerCmd !== this.#cmd) {
      throw new CtapHidError(
        'bad-response',
        0,
        `device answered command 0x${this.#answerCmd.toString(16)}`,
      );
    }
    return data;
  }
}

/**
 * A transport that takes all reports of one message in one write (e.g. VirtualHidTransport),
 * checking and copying them before writeReports returns.
 */
interface BatchHidWriter {
  writeReports(reports: readonly Uint8Array[]): Promise<void>;
}

/** A transport that hands over an input report already arrived without waiting. */
interface ReadyHidReader {
  readReady(): Uint8Array | undefined;
}

function readyReader(transport: HidTransport): ReadyHidReader | undefined {
  const t = transport as HidTransport & { readReady?: unknown };
  return typeof t.readReady === 'function' ? (t as unknown as ReadyHidReader) : undefined;
}

function batchWriter(transport: HidTransport): BatchHidWriter | undefined {
  const t = transport as HidTransport & { writeReports?: unknown };
  return typeof t.writeReports === 'function' ? (t as unknown as BatchHidWriter) : undefined;
}

function readFailure(e: unknown): unknown {
  return isTimeout(e)
    ? new CtapHidError('timeout', 0, 'device did not answer in time', { cause: e })
    : e;
}

function badReportSize(r: Uint8Array): CtapHidError {
  return new CtapHidError('bad-response', 0, `device sent a ${r.length}-byte report`);
}

function brokenFraming(error: number): CtapHidError {
  return new CtapHidError(
    'bad-response',
    0,
    `device answer broke framing (${errNames.get(error)})`,
  );
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
