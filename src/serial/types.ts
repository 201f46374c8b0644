/** Plain data that crosses the serial line, and the SerialTarget a served device implements. */

/** What a code display's LCD shows at one moment. */
export interface LcdReading {
  /** True while the display is lit. */
  readonly on: boolean;
  /** The whole text on the display, as a person would read it (e.g. `123 456`). */
  readonly text: string;
  /** The one-time code in digits only, or null when none is shown. */
  readonly code: string | null;
  /** The low-battery mark is lit. */
  readonly lowBattery: boolean;
  /** Device time (ms since the epoch) when the reading was made. */
  readonly deviceTime: number;
}

/** What a device says about itself in answer to `ID`. */
export interface DeviceIdentity {
  /** An AuthenticatorKind for MitID devices (e.g. `code-display`); jigs may say what they hold. */
  readonly kind: string;
  /** The serial number printed on the device. */
  readonly serial: string;
  /** Firmware (or jig software) version. */
  readonly firmware: string;
  /** Optional model name. */
  readonly model?: string;
}

/** A field value other than the named ones of {@link DeviceStatus}. */
export type StatusValue = string | number | boolean;

/** What a device says about its health in answer to `STATUS`. */
export interface DeviceStatus {
  /** Device time now, ms since the epoch. */
  readonly deviceTime: number;
  /** Battery charge left, 0 to 100. */
  readonly batteryPercent?: number;
  /** Button presses since manufacture. */
  readonly presses?: number;
  /** Rate error of the device clock, parts per million (positive: it gains). */
  readonly driftPpm?: number;
  /** The low-battery mark is lit. */
  readonly lowBattery?: boolean;
  /** Further facts, sent as `key=value` (keys: lower case letters, digits, `-` and `_`). */
  readonly extra?: Readonly<Record<string, StatusValue>>;
}

/**
 * A device served on a serial line by {@link serveSerial}. Methods return plain data; a thrown
 * MitidError is answered as `ERR <its code> <its message>` (its message must be safe to show),
 * anything else as `ERR internal`.
 */
export interface SerialTarget {
  identify(): DeviceIdentity | Promise<DeviceIdentity>;
  /**
   * Presses the button once and returns what the display then shows. With `at` (host time, ms),
   * the press happens at that host time (§4.1 `PRESS <t>`); a target that cannot do that throws
   * a MitidError with code `unsupported`.
   */
  press(at?: number): LcdReading | Promise<LcdReading>;
  /** What the display shows now, without pressing. */
  read(): LcdReading | Promise<LcdReading>;
  status(): DeviceStatus | Promise<DeviceStatus>;
  /** Sets the device clock to `deviceMs` (ms since the epoch). */
  setClock(deviceMs: number): void | Promise<void>;
  /** Device time now; when absent, `status().deviceTime` is used. */
  time?(): number | Promise<number>;
  /** Persists device state; called after every command that changed it (PRESS, TIME set). */
  save?(): void | Promise<void>;
}
