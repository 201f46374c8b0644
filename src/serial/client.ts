/** Driving a serial device or test jig: one request at a time, tagged, with timeouts and clear errors. */
import type { SerialPort } from 'serialport';
import { SerialError } from '../core/errors.js';
import { closePort, openPort, writePort } from './port.js';
import {
  LineSplitter,
  MAX_LINE_BYTES,
  PROTOCOL_VERSION,
  formatRequest,
  lineText,
  parseAnswer,
  parseIdentity,
  parseLcd,
  parseStatus,
  intField,
  type Answer,
} from './protocol.js';
import type { DeviceIdentity, DeviceStatus, LcdReading } from './types.js';

/** Options for {@link SerialClient.open}. */
export interface SerialClientOptions {
  /** Line speed; default 115200. */
  baudRate?: number;
  /** How long to wait for an answer, ms; default 2000. */
  timeoutMs?: number;
  /**
   * How long to wait for the answer to `PRESS`, ms; default 10000, because a physical jig moves a
   * solenoid and reads a display before it answers (docs/serial-protocol.md §6).
   */
  pressTimeoutMs?: number;
  /** Called with the text of every notice line (`* ...`) the device sends. */
  onNotice?: (text: string) => void;
  /**
   * After opening, wait up to this many ms for the device's greeting (§4.4) before the first
   * request; default 0 (do not wait). For boards that reboot when the port opens (an Arduino's
   * DTR auto-reset), so the first request does not reach a device still starting up. Going on
   * without a greeting is not an error.
   */
  greetingTimeoutMs?: number;
}

/**
 * The device answered `ERR`. `code` is 'device'; `deviceCode` is the device's own code (e.g.
 * `battery-empty`, `unknown-command`) and the message is the device's, which it keeps free of
 * secrets (docs/serial-protocol.md §5).
 */
export class SerialDeviceError extends SerialError {
  readonly deviceCode: string;
  constructor(deviceCode: string, message: string) {
    super(
      'device',
      message.length > 0 ? `device: ${deviceCode}: ${message}` : `device: ${deviceCode}`,
    );
    this.deviceCode = deviceCode;
  }
}

interface Pending {
  readonly tag: string;
  readonly resolve: (fields: ReadonlyMap<string, string>) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** Options for one request. */
export interface RequestOptions {
  /** Overrides the client's timeout for this request. */
  timeoutMs?: number;
}

/**
 * A host-side connection to a device speaking the serial line protocol. Requests queue and go
 * out one at a time, each with a fresh tag (`#n`); an answer is taken only when its tag matches,
 * so a late answer to a request that timed out is never mistaken for the next one.
 *
 * Errors are SerialError with code 'not-found' or 'open-failed' (open), 'timeout', 'port-closed',
 * 'protocol' (an answer that breaks the protocol), or a {@link SerialDeviceError} ('device').
 */
export class SerialClient {
  readonly path: string;
  readonly #port: SerialPort;
  readonly #timeoutMs: number;
  readonly #pressTimeoutMs: number;
  readonly #onNotice: ((text: string) => void) | undefined;
  readonly #splitter = new LineSplitter(MAX_LINE_BYTES);
  #queue: Promise<unknown> = Promise.resolve();
  #pending: Pending | null = null;
  #nextTag = 1;
  #closed = false;
  #greeting: string | undefined;
  #greetingWaiter: (() => void) | undefined;

  private constructor(path: string, port: SerialPort, options: SerialClientOptions) {
    this.path = path;
    this.#port = port;
    this.#timeoutMs = checkTimeout(options.timeoutMs ?? 2000, 'timeoutMs');
    this.#pressTimeoutMs = checkTimeout(options.pressTimeoutMs ?? 10_000, 'pressTimeoutMs');
    this.#onNotice = options.onNotice;
    port.on('data', (chunk: Buffer) => this.#onData(new Uint8Array(chunk)));
    port.on('close', () => this.#onClose());
    // serialport also emits 'close' after an error that ends the port; errors alone are ignored here.
    port.on('error', () => undefined);
  }

  /** Opens the port at `path`. Sends one empty line so the device drops any half-received line. */
  static async open(path: string, options: SerialClientOptions = {}): Promise<SerialClient> {
    checkTimeout(options.timeoutMs ?? 2000, 'timeoutMs');
    checkTimeout(options.pressTimeoutMs ?? 10_000, 'pressTimeoutMs');
    const port = await openPort(
      path,
      options.baudRate === undefined ? {} : { baudRate: options.baudRate },
    );
    const greetingMs = options.greetingTimeoutMs ?? 0;
    if (greetingMs !== 0) checkTimeout(greetingMs, 'greetingTimeoutMs');
    const client = new SerialClient(path, port, options);
    try {
      if (greetingMs > 0) await client.#awaitGreeting(greetingMs);
      await writePort(port, '\n');
    } catch (e) {
      await closePort(port);
      throw e;
    }
    return client;
  }

  /** The greeting the device sent after the port opened, if one came (§4.4). */
  get greeting(): string | undefined {
    return this.#greeting;
  }

  #awaitGreeting(ms: number): Promise<void> {
    if (this.#greeting !== undefined) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#greetingWaiter = done;
    }).finally(() => {
      this.#greetingWaiter = undefined;
    });
  }

  /** True until {@link close} or until the port goes away. */
  get isOpen(): boolean {
    return !this.#closed && this.#port.isOpen;
  }

  /**
   * Sends `command args...` and resolves with the `OK` fields. Waits its turn behind earlier
   * requests.
   */
  request(
    command: string,
    args: readonly string[] = [],
    options: RequestOptions = {},
  ): Promise<ReadonlyMap<string, string>> {
    const timeoutMs = checkTimeout(options.timeoutMs ?? this.#timeoutMs, 'timeoutMs');
    const run = (): Promise<ReadonlyMap<string, string>> => this.#send(command, args, timeoutMs);
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  /** `ID`: what the device is; checks it speaks protocol version 1. */
  async identify(): Promise<DeviceIdentity> {
    const { proto, ...id } = parseIdentity(await this.request('ID'));
    if (proto !== PROTOCOL_VERSION) {
      throw new SerialError(
        'protocol',
        `device speaks protocol ${proto}, this host speaks ${PROTOCOL_VERSION}`,
      );
    }
    return id;
  }

  /** `PING`: resolves when the device answers. */
  async ping(): Promise<void> {
    await this.request('PING');
  }

  /**
   * `PRESS`: presses the button and reads the display. With `at` (host time, ms), `PRESS <at>`:
   * an emulator presses as if at that time; a jig waits for it or answers `unsupported` (§4.1).
   */
  async press(at?: number): Promise<LcdReading> {
    if (at !== undefined && (!Number.isSafeInteger(at) || at < 0)) {
      throw new RangeError('at must be a non-negative integer number of ms');
    }
    const args = at === undefined ? [] : [String(at)];
    return parseLcd(await this.request('PRESS', args, { timeoutMs: this.#pressTimeoutMs }));
  }

  /** `READ`: the display now. */
  async read(): Promise<LcdReading> {
    return parseLcd(await this.request('READ'));
  }

  /** `STATUS`: battery, presses, clock. */
  async status(): Promise<DeviceStatus> {
    return parseStatus(await this.request('STATUS'));
  }

  /** `TIME`: the device clock, ms since the epoch. */
  async time(): Promise<number> {
    return intField(await this.request('TIME'), 'time');
  }

  /** `TIME <ms>`: sets the device clock; resolves with the time the device then reports. */
  async setTime(deviceMs: number): Promise<number> {
    if (!Number.isSafeInteger(deviceMs) || deviceMs < 0)
      throw new RangeError('deviceMs must be a non-negative integer');
    return intField(await this.request('TIME', [String(deviceMs)]), 'time');
  }

  /** Waits for the request in progress, then closes the port. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#queue;
    this.#closed = true;
    this.#port.removeAllListeners('data');
    await closePort(this.#port);
  }

  async #send(
    command: string,
    args: readonly string[],
    timeoutMs: number,
  ): Promise<ReadonlyMap<string, string>> {
    if (!this.isOpen) throw new SerialError('port-closed', `serial port ${this.path} is closed`);
    const tag = `#${this.#nextTag}`;
    this.#nextTag = this.#nextTag >= 999_999_999 ? 1 : this.#nextTag + 1;
    const line = formatRequest(command, args, tag);
    const answer = new Promise<ReadonlyMap<string, string>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending = null;
        reject(
          new SerialError(
            'timeout',
            `no answer to ${command.toUpperCase()} within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      this.#pending = { tag, resolve, reject, timer };
    });
    // The answer may fail (timeout, port gone) while the write is still in progress: mark it
    // handled now; the caller still gets the rejection through the returned promise.
    answer.catch(() => undefined);
    try {
      await writePort(this.#port, line + '\n');
    } catch (e) {
      this.#settle((p) =>
        p.reject(e instanceof Error ? e : new SerialError('port-closed', 'write failed')),
      );
    }
    return answer;
  }

  #settle(fn: (p: Pending) => void): void {
    const p = this.#pending;
    if (p === null) return;
    this.#pending = null;
    clearTimeout(p.timer);
    fn(p);
  }

  #onData(chunk: Uint8Array): void {
    for (const ev of this.#splitter.push(chunk)) {
      if (ev.type === 'overflow') {
        this.#settle((p) =>
          p.reject(new SerialError('protocol', `answer longer than ${MAX_LINE_BYTES} bytes`)),
        );
        continue;
      }
      const text = lineText(ev.bytes);
      if (text === null) {
        this.#settle((p) =>
          p.reject(new SerialError('protocol', 'answer has bytes outside printable ASCII')),
        );
        continue;
      }
      if (text.trim().length === 0) continue;
      let answer: Answer;
      try {
        answer = parseAnswer(text);
      } catch (e) {
        this.#settle((p) => p.reject(e as Error));
        continue;
      }
      this.#onAnswer(answer);
    }
  }

  #onAnswer(a: Answer): void {
    if (a.type === 'notice') {
      if (this.#greeting === undefined && /^MITID-SERIAL\b/i.test(a.text)) {
        this.#greeting = a.text;
        this.#greetingWaiter?.();
      }
      this.#onNotice?.(a.text);
      return;
    }
    const p = this.#pending;
    if (p === null) return; // late answer to a request that timed out
    // Every request carries a tag, so an untagged answer is the device's reply to a line that
    // reached it garbled (or to someone else's typing), and another tag is a late answer to a
    // request that timed out: neither belongs to the request in flight (§3.2).
    if (a.tag !== p.tag) return;
    if (a.type === 'ok') this.#settle((q) => q.resolve(a.fields));
    else this.#settle((q) => q.reject(new SerialDeviceError(a.code, a.message)));
  }

  #onClose(): void {
    this.#closed = true;
    this.#settle((p) =>
      p.reject(new SerialError('port-closed', `serial port ${this.path} closed`)),
    );
  }
}

function checkTimeout(ms: number, name: string): number {
  if (!Number.isInteger(ms) || ms < 1 || ms > 600_000)
    throw new RangeError(`${name} must be an integer from 1 to 600000 ms`);
  return ms;
}

/** Opens `portPath`, presses the button once, reads the display and closes (for `serial press`). */
export async function pressOverSerial(
  portPath: string,
  options: SerialClientOptions = {},
): Promise<LcdReading> {
  const client = await SerialClient.open(portPath, options);
  try {
    return await client.press();
  } finally {
    await client.close();
  }
}
