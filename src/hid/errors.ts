/** HID transport errors: one class, a stable `code` per failure, the OS error kept as `cause`. */
import { MitidError } from '../core/errors.js';

/** The stable codes a {@link HidError} carries. */
export const HidErrorCodes = {
  /** No input report arrived within the read timeout. */
  timeout: 'timeout',
  /** The transport was closed (by us, or the device went away). */
  closed: 'closed',
  /** A report that is not exactly HID_REPORT_SIZE bytes. */
  badReport: 'bad-report',
  /** A write was started while another write was still in flight. */
  busy: 'busy',
  /** node-hid (or the libusb/hidraw it needs) is not installed. */
  unavailable: 'hid-unavailable',
  /** The address does not parse (`udp:HOST:PORT`, `hid:PATH`). */
  badAddress: 'bad-address',
  /** No such device (no HID path, nothing answering on a UDP port). */
  notFound: 'not-found',
  /** The local port the transport needs is taken. */
  addressInUse: 'address-in-use',
  /** The device or the OS reported an I/O failure. */
  io: 'io',
} as const;
export type HidErrorCode = (typeof HidErrorCodes)[keyof typeof HidErrorCodes];

/** An error of the HID layer (transports, not framing). */
export class HidError extends MitidError {
  declare readonly code: HidErrorCode;
  constructor(code: HidErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options);
  }
}
