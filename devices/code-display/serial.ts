/** The code display on a serial line: serving an emulated one, and driving one (emulated or a jig) as an Authenticator. */
import type {
  Authenticator,
  OtpBindRequest,
  OtpBindResponse,
  OtpChallenge,
  OtpProof,
} from '../../src/core/authenticator.js';
import type { Clock } from '../../src/core/clock.js';
import { DeviceError } from '../../src/core/errors.js';
import type { CodeDisplayStatus, LcdFrame } from '../../firmware-sim/code-display/firmware.js';
import {
  SerialClient,
  SerialDeviceError,
  type SerialClientOptions,
} from '../../src/serial/client.js';
import { ProtocolErrors } from '../../src/serial/protocol.js';
import {
  serveSerial,
  type SerialServer,
  type ServeSerialOptions,
} from '../../src/serial/server.js';
import { CodeDisplay } from './code-display.js';
import type {
  DeviceIdentity,
  DeviceStatus,
  LcdReading,
  SerialTarget,
} from '../../src/serial/types.js';

/**
 * What {@link codeDisplayTarget} needs of a code display: the host-side CodeDisplay fits, and so
 * does anything that presses at a given host time `at` (CodeDisplay's meaning of it).
 */
export interface CodeDisplayLike {
  readonly serial: string;
  press(at?: number): LcdFrame | Promise<LcdFrame>;
  lcd(): LcdFrame | Promise<LcdFrame>;
  status(): CodeDisplayStatus | Promise<CodeDisplayStatus>;
  setClock(deviceMs: number): void | Promise<void>;
  /** Picks up changes another program made to the device file (CodeDisplay has it). */
  refresh?(): Promise<void>;
}

/** Options for {@link codeDisplayTarget}. */
export interface CodeDisplayTargetOptions {
  /** Persists the device after a state-changing command (a press, a clock setting). */
  save?: () => void | Promise<void>;
  /** Model name reported by `ID`. */
  model?: string;
}

/** The status fields a code display adds to STATUS beyond the common ones (nothing secret). */
function statusOf(s: CodeDisplayStatus): DeviceStatus {
  return {
    deviceTime: s.deviceTime,
    batteryPercent: s.batteryPercent,
    presses: s.presses,
    driftPpm: s.driftPpm,
    lowBattery: s.lowBattery,
    extra: {
      offset: s.offsetMs,
      empty: s.batteryEmpty,
      display: s.displayOn,
      timeout: s.displayTimeoutMs,
      clocksets: s.clockSets,
      algorithm: s.algorithm,
      digits: s.digits,
      period: s.period,
    },
  };
}

/** A code display (firmware or device) as a {@link SerialTarget} for `serveSerial`. */
export function codeDisplayTarget(
  device: CodeDisplayLike,
  options: CodeDisplayTargetOptions = {},
): SerialTarget {
  // Another program (the CLI, a second server) may press the same device file: what is read
  // over the line is read from the file as it is now, not from this process's copy.
  const fresh = async (): Promise<void> => {
    await device.refresh?.();
  };
  return {
    async identify(): Promise<DeviceIdentity> {
      await fresh();
      const s = await device.status();
      const id = { kind: 'code-display', serial: device.serial, firmware: s.firmwareVersion };
      return options.model === undefined ? id : { ...id, model: options.model };
    },
    press: (at) => (at === undefined ? device.press() : device.press(at)),
    read: async () => {
      await fresh();
      return device.lcd();
    },
    status: async () => {
      await fresh();
      return statusOf(await device.status());
    },
    setClock: (ms) => device.setClock(ms),
    time: async () => {
      await fresh();
      return (await device.status()).deviceTime;
    },
    ...(options.save === undefined ? {} : { save: options.save }),
  };
}

/** ERR codes that are the line protocol's own, not conditions of the device (§5). */
const PROTOCOL_CODES = new Set<string>(Object.values(ProtocolErrors));

/**
 * A device's `ERR` about itself (e.g. `battery-empty`) becomes a DeviceError with the same code,
 * as the virtual code display would throw; line and protocol failures stay SerialErrors.
 */
function mapError(e: unknown): unknown {
  if (e instanceof SerialDeviceError && !PROTOCOL_CODES.has(e.deviceCode)) {
    return new DeviceError(e.deviceCode, e.message, { cause: e });
  }
  return e;
}

async function mapped<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    throw mapError(e);
  }
}

/**
 * A code display on a serial line, emulated (`mitid-sim serial serve`) or physical (a test jig
 * that presses a real token's button and reads its display, docs/serial-protocol.md §6). It gives
 * the same `bind` and `prove` results as the virtual code display, so one test suite runs
 * against either.
 */
export class SerialCodeDisplay implements Authenticator<'code-display'> {
  readonly kind = 'code-display' as const;
  readonly serial: string;
  /** What the device said about itself when opened. */
  readonly identity: DeviceIdentity;
  readonly #client: SerialClient;

  private constructor(client: SerialClient, identity: DeviceIdentity) {
    this.#client = client;
    this.identity = identity;
    this.serial = identity.serial;
  }

  /**
   * Opens the port and asks `ID`. Throws SerialError ('not-found', 'timeout', 'protocol', ...)
   * or DeviceError 'wrong-kind' when the far end is not a code display.
   */
  static async open(path: string, options: SerialClientOptions = {}): Promise<SerialCodeDisplay> {
    const client = await SerialClient.open(path, options);
    try {
      const id = await mapped(client.identify());
      if (id.kind !== 'code-display') {
        throw new DeviceError(
          'wrong-kind',
          `the device on ${path} is a ${id.kind}, not a code display`,
        );
      }
      return new SerialCodeDisplay(client, id);
    } catch (e) {
      await client.close();
      throw e;
    }
  }

  /** The serial connection, for commands beyond the Authenticator interface. */
  get client(): SerialClient {
    return this.#client;
  }

  /**
   * Presses the button and returns what the display then shows. With `at` (host time, ms) the
   * press happens at that time: an emulator acts as if pressed then, exactly as the virtual code
   * display does; a jig waits until then or refuses with DeviceError 'unsupported' (§4.1).
   */
  press(at?: number): Promise<LcdReading> {
    return mapped(this.#client.press(at));
  }

  /** What the display shows now. */
  lcd(): Promise<LcdReading> {
    return mapped(this.#client.read());
  }

  /** The device's report on itself. */
  status(): Promise<DeviceStatus> {
    return mapped(this.#client.status());
  }

  /** Sets the device clock; resolves when the device has done it. */
  async setClock(deviceMs: number): Promise<void> {
    await mapped(this.#client.setTime(deviceMs));
  }

  /** Binding: a press; the user hands over the serial and the code shown. */
  async bind(request: OtpBindRequest = {}): Promise<OtpBindResponse> {
    const r = await this.#pressAt(atOf(request, 'bind request'));
    return { type: 'otp', serial: this.serial, code: r.code, deviceTime: r.deviceTime };
  }

  /** Login: a press; the proof is the code shown. */
  async prove(challenge: OtpChallenge = {}): Promise<OtpProof> {
    const r = await this.#pressAt(atOf(challenge, 'challenge'));
    return { type: 'otp', serial: this.serial, code: r.code, deviceTime: r.deviceTime };
  }

  /** Closes the line (the device keeps its own state). Idempotent. */
  close(): Promise<void> {
    return this.#client.close();
  }

  async #pressAt(at: number | undefined): Promise<{ code: string; deviceTime: number }> {
    const r = await this.press(at);
    if (!r.on || r.code === null) {
      // The same code the virtual code display gives for a blank screen after a press.
      throw new DeviceError(
        'battery-empty',
        'the screen stays blank after a press (battery empty?)',
      );
    }
    return { code: r.code, deviceTime: r.deviceTime };
  }
}

/** Largest time the line carries (year 9999, docs/serial-protocol.md §4.1). */
const MAX_AT_MS = 253_402_300_799_999;

/** The `at` of a bind request or challenge, checked as the virtual code display checks it. */
function atOf(request: unknown, name: string): number | undefined {
  if (request === undefined) return undefined;
  if (typeof request !== 'object' || request === null) {
    throw new DeviceError('bad-request', `${name} must be an object`);
  }
  const at = (request as { at?: unknown }).at;
  if (at === undefined) return undefined;
  if (typeof at !== 'number' || !Number.isFinite(at) || at < 0 || at > MAX_AT_MS) {
    throw new DeviceError('bad-time', 'at must be a host time in ms from 0 to year 9999');
  }
  // The line carries whole milliseconds.
  return Math.floor(at);
}

/** Options for {@link serveDeviceFile}. */
export interface ServeDeviceFileOptions extends ServeSerialOptions {
  /** True time the device clock runs from (default: the host's clock). */
  reference?: Clock;
  /** Model name reported by `ID`. */
  model?: string;
}

/** A device file being served on a serial port. */
export interface ServedDevice {
  /** The device, for inspection (its state is saved after every change). */
  readonly device: CodeDisplay;
  readonly server: SerialServer;
  /** Stops serving, closes the port and saves and closes the device. Idempotent. */
  close(): Promise<void>;
}

/**
 * Serves the code display kept in `filePath` on the serial port `portPath` (for
 * `mitid-sim serial serve FILE --port PATH`). Every press and clock setting is written to the
 * device file before it is answered.
 */
export async function serveDeviceFile(
  filePath: string,
  portPath: string,
  options: ServeDeviceFileOptions = {},
): Promise<ServedDevice> {
  const { reference, model, ...serveOptions } = options;
  const device = await CodeDisplay.open(filePath, reference === undefined ? {} : { reference });
  let server: SerialServer;
  try {
    server = await serveSerial(
      portPath,
      codeDisplayTarget(device, model === undefined ? {} : { model }),
      serveOptions,
    );
  } catch (e) {
    await device.close();
    throw e;
  }
  let closing: Promise<void> | undefined;
  return {
    device,
    server,
    close() {
      closing ??= server.close().finally(() => device.close());
      return closing;
    },
  };
}
