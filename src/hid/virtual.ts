/** The in-process HID transport: a host connection straight into an emulated device's firmware. */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { HidError } from './errors.js';
import {
  HID_REPORT_SIZE,
  type HidDescriptor,
  type HidDeviceFirmware,
  type HidTransport,
} from './port.js';
import { pooledBytes } from './pool.js';
import { checkReport, ReportQueue } from './queue.js';

/** Which way a fault applies: host → device (output report) or device → host (input report). */
export type HidDirection = 'to-device' | 'to-host';

/**
 * A one-shot fault the transport applies to the next report travelling in `direction`:
 * drop it, send it twice, flip the bits of one byte, or hold it back for `ms`.
 */
export type HidFault =
  | { readonly type: 'drop'; readonly direction: HidDirection }
  | { readonly type: 'duplicate'; readonly direction: HidDirection }
  | { readonly type: 'corrupt'; readonly direction: HidDirection; readonly byte?: number }
  | { readonly type: 'delay'; readonly direction: HidDirection; readonly ms: number };

/** Options of {@link VirtualHidTransport}. */
export interface VirtualHidOptions {
  /** What `descriptor.path` says (e.g. the device file); default `virtual`. */
  readonly path?: string;
  readonly product?: string;
  readonly serialNumber?: string;
  /** How often firmware.tick() runs while the device is busy; default 50 ms. */
  readonly tickMs?: number;
}

/**
 * A HidTransport over any {@link HidDeviceFirmware}, in the same process. Stricter than a USB
 * stack, so host code that passes here works on hardware: it rejects reports that are not exactly
 * 64 bytes and writes started while another is in flight, it answers on a later tick (never inside
 * the call), and tests can inject faults. While the firmware is busy it calls tick() every
 * `tickMs` so keepalives and timeouts happen as on a device.
 */
export class VirtualHidTransport implements HidTransport {
  readonly descriptor: HidDescriptor;
  readonly #firmware: HidDeviceFirmware;
  readonly #queue = new ReportQueue();
  readonly #faults: HidFault[] = [];
  readonly #tickMs: number;
  #writing = false;
  #ticker: NodeJS.Timeout | undefined;
  #closed = false;
  #pending = new Set<NodeJS.Timeout>();
  /**
   * How a write reaches the firmware on a later turn: a message to ourselves over a
   * MessageChannel, a macrotask like setImmediate (timers and I/O run before it) at a little less
   * cost per exchange. The receiving port holds the process open only while a write is in flight
   * (ref'd in #post, unref'd in #flush), so an idle transport never keeps a program from exiting.
   */
  readonly #hopIn: MessagePort;
  readonly #hopOut: MessagePort;
  #hopClosed = false;

  constructor(firmware: HidDeviceFirmware, options: VirtualHidOptions = {}) {
    this.#firmware = firmware;
    const { port1, port2 } = new MessageChannel();
    port1.on('message', this.#flush);
    port1.unref();
    port2.unref();
    this.#hopIn = port1;
    this.#hopOut = port2;
    this.#tickMs = options.tickMs ?? 50;
    if (!(this.#tickMs > 0)) throw new RangeError('tickMs must be positive');
    this.descriptor = {
      transport: 'virtual',
      path: options.path ?? 'virtual',
      product: options.product ?? 'mitid-sim virtual chip',
      ...(options.serialNumber === undefined ? {} : { serialNumber: options.serialNumber }),
    };
  }

  /** Opens a transport over `firmware` (no I/O: kept async for symmetry with the others). */
  static open(
    firmware: HidDeviceFirmware,
    options: VirtualHidOptions = {},
  ): Promise<VirtualHidTransport> {
    return Promise.resolve(new VirtualHidTransport(firmware, options));
  }

  /** Queues a one-shot fault; faults of one direction apply in the order given. */
  injectFault(fault: HidFault): void {
    if (fault.type === 'delay' && !(fault.ms >= 0)) throw new RangeError('delay ms must be >= 0');
    this.#faults.push(fault);
  }

  /** Faults queued and not yet applied. */
  get pendingFaults(): number {
    return this.#faults.length;
  }

  write(report: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new HidError('closed', 'the HID transport is closed'));
    try {
      checkReport(report, HID_REPORT_SIZE, 'output report');
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.#writing) {
      return Promise.reject(
        new HidError('busy', 'a HID write is already in flight; await it first'),
      );
    }
    this.#writing = true;
    // Copy now: the caller may reuse its buffer once the promise settles, as with a real device.
    this.#outgoing = [copyReport(report)];
    this.#outgoingCount = 1;
    return this.#post();
  }

  /**
   * Writes the reports of one message back to back, as a host's HID stack does when it queues
   * several output reports: each is checked and copied now (the caller may reuse its reports as
   * soon as this returns), then all reach the firmware in order on one later turn (never inside
   * this call), each subject to the injected faults exactly as with write().
   * Counts as one write in flight. Cheaper than one write() per report, which costs an event-loop
   * turn each.
   */
  writeReports(reports: readonly Uint8Array[]): Promise<void> {
    if (this.#closed) return Promise.reject(new HidError('closed', 'the HID transport is closed'));
    try {
      for (const r of reports) checkReport(r, HID_REPORT_SIZE, 'output report');
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.#writing) {
      return Promise.reject(
        new HidError('busy', 'a HID write is already in flight; await it first'),
      );
    }
    this.#writing = true;
    // Copied now into the transport's own reports, reused write after write: only one write is
    // ever in flight, and the firmware reads a report during handleReport and keeps copies.
    const copies = this.#copies;
    while (copies.length < reports.length) copies.push(new Uint8Array(HID_REPORT_SIZE));
    for (let i = 0; i < reports.length; i++) copies[i]!.set(reports[i]!);
    this.#outgoing = copies;
    this.#outgoingCount = reports.length;
    return this.#post();
  }

  /** The transport's copies of the reports of a writeReports, reused (see there). */
  readonly #copies: Uint8Array[] = [];

  /** Schedules #flush for the write in #outgoing; the promise settles when it has run. */
  #post(): Promise<void> {
    return new Promise((resolve) => {
      this.#written = resolve;
      this.#hopIn.ref();
      this.#hopOut.postMessage(null);
    });
  }

  /** The write in flight: its reports, and how to tell the writer they have gone. */
  #outgoing: Uint8Array[] | null = null;
  /** How many of #outgoing's reports are this write's. */
  #outgoingCount = 0;
  #written: (() => void) | null = null;
  /** True while #flush hands reports over: the tick timer is then updated once, at the end. */
  #flushing = false;

  /**
   * Hands the reports in flight to the firmware, one turn after the write; bound once. Runs once
   * per write (a second call finds nothing in flight and does nothing).
   */
  readonly #flush = (): void => {
    this.#hopIn.unref();
    if (this.#closed) this.#closeHop();
    const reports = this.#outgoing;
    const resolve = this.#written;
    this.#outgoing = null;
    this.#written = null;
    this.#writing = false;
    if (reports) {
      this.#flushing = true;
      try {
        const n = this.#outgoingCount;
        for (let i = 0; i < n; i++) if (!this.#closed) this.#carry(reports[i]!, 'to-device');
      } finally {
        this.#flushing = false;
      }
      // Once per write, not per report: a message that completes within the write never needs
      // the tick timer, so none is armed and cleared for it (no tick could run in between).
      this.#updateTicking();
    }
    resolve?.();
  };

  read(timeoutMs: number): Promise<Uint8Array> {
    return this.#queue.read(timeoutMs);
  }

  /** An input report that has already arrived, or undefined (never waits; see ReportQueue.take). */
  readReady(): Uint8Array | undefined {
    return this.#queue.take();
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#stopTicking();
      for (const t of this.#pending) clearTimeout(t);
      this.#pending.clear();
      this.#queue.close(new HidError('closed', 'the HID transport is closed'));
      // A write in flight still settles (its reports are dropped): its message is left to
      // arrive, and #flush closes the channel then.
      if (this.#written === null) this.#closeHop();
    }
    return Promise.resolve();
  }

  #closeHop(): void {
    if (this.#hopClosed) return;
    this.#hopClosed = true;
    this.#hopIn.close();
    this.#hopOut.close();
  }

  #deliverToDevice(report: Uint8Array): void {
    if (this.#closed) return;
    this.#toHost(this.#firmware.handleReport(report));
    // Inside a flush the flush arms or stops the timer once at its end.
    if (!this.#flushing) this.#updateTicking();
  }

  /** The firmware's answers: fresh arrays it hands over (see HidDeviceFirmware), read as they are. */
  #toHost(reports: Uint8Array[]): void {
    for (const r of reports) this.#carry(r, 'to-host');
  }

  #deliver(report: Uint8Array, direction: HidDirection): void {
    if (direction === 'to-device') this.#deliverToDevice(report);
    else this.#queue.push(report);
  }

  /** Applies the next fault queued for `direction`, if any, then hands the report on. */
  #carry(report: Uint8Array, direction: HidDirection): void {
    if (this.#faults.length === 0) return this.#deliver(report, direction);
    const i = this.#faults.findIndex((f) => f.direction === direction);
    const fault = i >= 0 ? this.#faults.splice(i, 1)[0] : undefined;
    const deliver = (r: Uint8Array): void => this.#deliver(r, direction);
    if (!fault) return deliver(report);
    switch (fault.type) {
      case 'drop':
        return;
      case 'duplicate':
        deliver(report);
        deliver(new Uint8Array(report));
        return;
      case 'corrupt': {
        const at = fault.byte ?? report.length - 1;
        if (at >= 0 && at < report.length) report[at] = (report[at] ?? 0) ^ 0xff;
        deliver(report);
        return;
      }
      case 'delay': {
        // Held past this turn: a copy, since the transport reuses its output reports.
        const held = new Uint8Array(report);
        const t = setTimeout(() => {
          this.#pending.delete(t);
          if (!this.#closed) deliver(held);
        }, fault.ms);
        this.#pending.add(t);
        return;
      }
    }
  }

  #updateTicking(): void {
    if (this.#firmware.busy && !this.#closed) {
      if (!this.#ticker) {
        this.#ticker = setInterval(() => {
          this.#toHost(this.#firmware.tick());
          if (!this.#firmware.busy) this.#stopTicking();
        }, this.#tickMs);
      }
    } else {
      this.#stopTicking();
    }
  }

  #stopTicking(): void {
    if (this.#ticker) clearInterval(this.#ticker);
    this.#ticker = undefined;
  }
}

/**
 * The transport's own copy of an output report, taken when it is written. Pooled (see
 * pooledBytes): it goes only to the firmware, which reads it and keeps what it needs.
 */
function copyReport(report: Uint8Array): Uint8Array {
  const out = pooledBytes(HID_REPORT_SIZE);
  out.set(report);
  return out;
}
