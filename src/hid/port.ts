/** The HID port: how host code moves 64-byte reports, and what an emulated HID device answers. */

/** CTAPHID report size on full-speed USB (CTAP 2.1 §11.2.4). */
export const HID_REPORT_SIZE = 64;

/** Describes one HID device a transport can reach. */
export interface HidDescriptor {
  /** 'virtual' (in-process), 'udp' (SoloKeys simulator convention) or 'hid' (node-hid). */
  readonly transport: 'virtual' | 'udp' | 'hid';
  /** Something a user can pass back to open it: a file, `udp:HOST:PORT`, `hid:PATH`. */
  readonly path: string;
  readonly vendorId?: number;
  readonly productId?: number;
  readonly product?: string;
  readonly serialNumber?: string;
}

/**
 * Host side: one open connection to a HID device, moving whole reports. Framing (channels,
 * sequences, keepalive) is the layer above (src/ctap).
 */
export interface HidTransport {
  readonly descriptor: HidDescriptor;
  /** Sends one output report of exactly HID_REPORT_SIZE bytes (no report ID byte). */
  write(report: Uint8Array): Promise<void>;
  /** The next input report; rejects with a HidError code 'timeout' after `timeoutMs`. */
  read(timeoutMs: number): Promise<Uint8Array>;
  /** Idempotent. */
  close(): Promise<void>;
}

/**
 * Device side: what an emulated HID device (firmware-sim) exposes to whatever carries its reports
 * (in-process, UDP). Synchronous and deterministic: time comes from the firmware's injected clock.
 */
export interface HidDeviceFirmware {
  /**
   * One output report in (64 bytes), zero or more 64-byte input reports out. Never throws. The
   * report in is lent for the call (a carrier may reuse it afterwards): a firmware keeps copies of
   * what it needs. The reports returned are the carrier's from then on (fresh arrays the firmware
   * does not touch again): carriers pass them on without a copy.
   */
  handleReport(report: Uint8Array): Uint8Array[];
  /**
   * Lets time pass: keepalives while waiting for the button, transaction timeouts, answers that
   * were deferred. Carriers call it periodically (every ~50 ms) while a transaction is open.
   * Its reports are the carrier's, as with handleReport.
   */
  tick(): Uint8Array[];
  /** True while a transaction is in progress (so carriers know to keep ticking). */
  readonly busy: boolean;
  /** Power cycle: drops volatile state (channels, PIN tokens), keeps persistent state. */
  powerCycle(): void;
}
