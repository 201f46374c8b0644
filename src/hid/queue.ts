/** A bounded queue of input reports with timed waiters, shared by the transports. */
import { HidError } from './errors.js';

interface Waiter {
  resolve: (r: Uint8Array) => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout;
}

/**
 * Input reports waiting to be read. A read always settles later (never inside the `push` or
 * `read` call), so callers cannot come to depend on synchronous answers that a real device never
 * gives. Reports already queued are handed out as promise settlements, not one event-loop turn
 * each, so a multi-report answer reaches its reader in one turn.
 */
export class ReportQueue {
  readonly #reports: Uint8Array[] = [];
  readonly #waiters: Waiter[] = [];
  #closed: HidError | undefined;
  /** Reports dropped because nobody read them in time (a real HID stack drops them too). */
  overflowed = 0;

  constructor(private readonly capacity = 1024) {}

  /** Queues one report for the next reader. */
  push(report: Uint8Array): void {
    if (this.#closed) return;
    const waiter = this.#waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      // Settling a promise runs the reader later, never inside this call.
      waiter.resolve(report);
      return;
    }
    if (this.#reports.length >= this.capacity) {
      this.#reports.shift();
      this.overflowed++;
    }
    this.#reports.push(report);
  }

  /** The next report, or HidError 'timeout' after `timeoutMs`. */
  read(timeoutMs: number): Promise<Uint8Array> {
    if (this.#closed) return Promise.reject(this.#closed);
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) {
      return Promise.reject(new RangeError('timeoutMs must be a non-negative number'));
    }
    const ready = this.#reports.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = this.#waiters.indexOf(waiter);
          if (i >= 0) this.#waiters.splice(i, 1);
          reject(new HidError('timeout', `no HID report within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.#waiters.push(waiter);
    });
  }

  /**
   * The next report if one is already queued, else undefined; never waits. Lets a reader drain an
   * answer that has arrived in one go without a promise per report (the answer still came in on a
   * later turn than the request: this only skips waiting for what is already here).
   */
  take(): Uint8Array | undefined {
    return this.#closed ? undefined : this.#reports.shift();
  }

  /** Reports queued and not yet read. */
  get length(): number {
    return this.#reports.length;
  }

  /** Drops queued reports (e.g. after a power cycle). */
  clear(): void {
    this.#reports.length = 0;
  }

  /** Rejects every pending and future read with `error`. */
  close(error: HidError): void {
    if (this.#closed) return;
    this.#closed = error;
    this.#reports.length = 0;
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(error);
    }
  }
}

/** Throws HidError 'bad-report' unless `report` is a Uint8Array of exactly `size` bytes. */
export function checkReport(
  report: unknown,
  size: number,
  what = 'report',
): asserts report is Uint8Array {
  if (!(report instanceof Uint8Array)) {
    throw new HidError('bad-report', `${what} must be a Uint8Array`);
  }
  if (report.length !== size) {
    throw new HidError('bad-report', `${what} must be exactly ${size} bytes, got ${report.length}`);
  }
}
