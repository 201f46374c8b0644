/** The code display as host software sees it: an Authenticator over the emulated firmware and its device file. */
import { randomBytes } from 'node:crypto';
import type {
  Authenticator,
  OtpBindRequest,
  OtpBindResponse,
  OtpChallenge,
  OtpProof,
} from '../../src/core/authenticator.js';
import { type Clock, systemClock } from '../../src/core/clock.js';
import { DeviceError } from '../../src/core/errors.js';
import type { OtpKey } from '../../src/otp/types.js';
import { type BatteryModel, MAX_TIME_MS } from '../../firmware-sim/common/battery.js';
import {
  CodeDisplayFirmware,
  type CodeDisplaySettings,
  type CodeDisplayState,
  type CodeDisplayStatus,
  type LcdFrame,
  checkCodeDisplayState,
} from '../../firmware-sim/code-display/index.js';
import { type DeviceFileSchema, readDeviceFile, writeDeviceFile } from '../device-file.js';

/** How a code display's state sits in its device file (beside the common header). */
export const codeDisplayFileSchema: DeviceFileSchema<'code-display', CodeDisplayState> = {
  kind: 'code-display',
  parse: (body) => checkCodeDisplayState(body, 'bad-device-file'),
};

/** Options of {@link CodeDisplay.create}. */
export interface CodeDisplayCreateOptions {
  /** The serial number printed on the device. */
  readonly serial: string;
  /** The TOTP key; default: a random 20-byte SHA1 key, 6 digits, 30 s. */
  readonly key?: OtpKey;
  /** Where the device file goes; it must not exist yet. */
  readonly out: string;
  /** True time the device clock runs from (default: the host's clock). */
  readonly reference?: Clock;
  /** The crystal's rate error in ppm (default 0). */
  readonly driftPpm?: number;
  /** Device time at manufacture (default: the reference time). */
  readonly deviceTime?: number;
  readonly battery?: Partial<BatteryModel>;
  readonly settings?: Partial<CodeDisplaySettings>;
}

/** Options of {@link CodeDisplay.open}. */
export interface CodeDisplayOpenOptions {
  readonly reference?: Clock;
}

/**
 * A virtual code display (kodeviser) kept in a device file. Every operation that changes the
 * device (a press, a clock setting) is written to the file before it returns, so the token
 * survives restarts: the TOTP step, the drifting clock, the battery and the press counter go on.
 *
 * Methods that take `at` (host time, ms) act as if the button were pressed at that moment: for
 * that one call the reference clock reads `at`, and the device clock is derived from it exactly as
 * it would be from the host's clock (device time = time at the last setting + elapsed reference
 * time × (1 + drift)). So pressing "at" a time a month later shows the code the drifted device
 * would show then. Battery self-discharge only counts reference time going forwards.
 */
export class CodeDisplay implements Authenticator<'code-display'> {
  readonly kind = 'code-display' as const;
  readonly serial: string;
  /** The device file. */
  readonly path: string;
  readonly #fw: CodeDisplayFirmware;
  readonly #base: Clock;
  #at: number | undefined;
  #closed = false;
  #writes: Promise<void> = Promise.resolve();

  private constructor(path: string, state: CodeDisplayState, reference: Clock) {
    this.path = path;
    this.#base = reference;
    // The firmware's reference reads `at` during a call that gave one, the base clock otherwise.
    const ref: Clock = { now: () => this.#at ?? this.#base.now() };
    this.#fw = new CodeDisplayFirmware(state, { reference: ref });
    this.serial = state.serial;
  }

  /** Makes a new device and its device file (refusing to replace an existing one). */
  static async create(options: CodeDisplayCreateOptions): Promise<CodeDisplay> {
    if (typeof options !== 'object' || options === null)
      throw new DeviceError('bad-option', 'options must be an object');
    const reference = checkReference(options.reference);
    const fw = CodeDisplayFirmware.manufacture({
      serial: options.serial,
      key: options.key,
      reference,
      driftPpm: options.driftPpm,
      deviceTime: options.deviceTime,
      battery: options.battery,
      settings: options.settings,
      random: (n) => new Uint8Array(randomBytes(n)),
    });
    const state = fw.snapshot();
    await writeDeviceFile(options.out, { kind: 'code-display', ...state }, { exclusive: true });
    return new CodeDisplay(options.out, state, reference);
  }

  /** Makes a new device around an imported key (serial from `key.serial`). */
  static async fromKey(
    key: OtpKey,
    out: string,
    options: Omit<CodeDisplayCreateOptions, 'serial' | 'key' | 'out'> = {},
  ): Promise<CodeDisplay> {
    if (typeof key !== 'object' || key === null)
      throw new DeviceError('bad-key', 'key must be an OtpKey object');
    return CodeDisplay.create({ ...options, serial: key.serial, key, out });
  }

  /** Opens a device from its file. */
  static async open(path: string, options: CodeDisplayOpenOptions = {}): Promise<CodeDisplay> {
    const reference = checkReference(options?.reference);
    const file = await readDeviceFile(path, codeDisplayFileSchema);
    return new CodeDisplay(path, checkCodeDisplayState(file, 'bad-device-file'), reference);
  }

  /** Presses the button (at host time `at`, default now); the new state is saved. */
  async press(at?: number): Promise<LcdFrame> {
    const frame = this.#with(at, () => this.#fw.press());
    await this.#save();
    return frame;
  }

  /** What the screen shows (at host time `at`, default now). */
  lcd(at?: number): LcdFrame {
    return this.#with(at, () => this.#fw.lcd());
  }

  /** The device's report on itself (at host time `at`, default now). */
  status(at?: number): CodeDisplayStatus {
    return this.#with(at, () => this.#fw.status());
  }

  /** Sets the device clock to `deviceMs` (at host time `at`, default now); saved. */
  async setClock(deviceMs: number, at?: number): Promise<void> {
    this.#with(at, () => this.#fw.setClock(deviceMs));
    await this.#save();
  }

  /** Sets the crystal's rate error from host time `at` (default now) on; saved. */
  async setDrift(ppm: number, at?: number): Promise<void> {
    this.#with(at, () => this.#fw.setDrift(ppm));
    await this.#save();
  }

  /** Changes settings (the display timeout); saved. */
  async configure(settings: Partial<CodeDisplaySettings>): Promise<void> {
    this.#with(undefined, () => this.#fw.configure(settings));
    await this.#save();
  }

  /** Fits a fresh battery (at host time `at`, default now); saved. */
  async replaceBattery(at?: number): Promise<void> {
    this.#with(at, () => this.#fw.replaceBattery());
    await this.#save();
  }

  /**
   * Binding (MITID.md: "by serial number and a current code"): the user presses the button and
   * reads the serial and the code. A dead battery gives DeviceError 'battery-empty'.
   */
  async bind(request: OtpBindRequest = {}): Promise<OtpBindResponse> {
    const frame = await this.press(checkRequest(request, 'bind request'));
    return { type: 'otp', serial: this.serial, code: codeOf(frame), deviceTime: frame.deviceTime };
  }

  /** A login: press the button and read the code. A dead battery gives 'battery-empty'. */
  async prove(challenge: OtpChallenge = {}): Promise<OtpProof> {
    const frame = await this.press(checkRequest(challenge, 'challenge'));
    return { type: 'otp', serial: this.serial, code: codeOf(frame), deviceTime: frame.deviceTime };
  }

  /** The key inside, for seed export (a copy). */
  exportKey(): OtpKey {
    this.#open();
    return this.#fw.exportKey();
  }

  /** The device's whole state as saved (a copy). */
  snapshot(): CodeDisplayState {
    this.#open();
    return this.#fw.snapshot();
  }

  /** Saves the state and closes the device. Idempotent; later calls but close() throw 'closed'. */
  async close(): Promise<void> {
    if (this.#closed) {
      await this.#writes.catch(() => undefined);
      return;
    }
    await this.#save();
    this.#closed = true;
  }

  #open(): void {
    if (this.#closed) throw new DeviceError('closed', `code display ${this.serial} is closed`);
  }

  #with<T>(at: number | undefined, fn: () => T): T {
    this.#open();
    if (
      at !== undefined &&
      (typeof at !== 'number' || !Number.isFinite(at) || at < 0 || at > MAX_TIME_MS)
    ) {
      throw new DeviceError('bad-time', 'at must be a host time in ms from 0 to 8.64e15');
    }
    this.#at = at;
    try {
      return fn();
    } finally {
      this.#at = undefined;
    }
  }

  /** Queues a write of the state as it is now; writes happen one at a time, in order. */
  #save(): Promise<void> {
    const state = this.#fw.snapshot();
    const write = this.#writes
      .catch(() => undefined)
      .then(() => writeDeviceFile(this.path, { kind: 'code-display', ...state }));
    this.#writes = write;
    return write;
  }
}

function checkReference(reference: unknown): Clock {
  if (reference === undefined) return systemClock;
  if (
    typeof reference !== 'object' ||
    reference === null ||
    typeof (reference as Clock).now !== 'function'
  ) {
    throw new DeviceError('bad-option', 'reference must be a Clock');
  }
  return reference as Clock;
}

function checkRequest(request: unknown, name: string): number | undefined {
  if (request === undefined) return undefined;
  if (typeof request !== 'object' || request === null)
    throw new DeviceError('bad-request', `${name} must be an object`);
  return (request as { at?: number }).at;
}

function codeOf(frame: LcdFrame): string {
  if (frame.code === null)
    throw new DeviceError('battery-empty', 'the battery is empty: the screen stays blank');
  return frame.code;
}
