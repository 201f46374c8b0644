/** The code display as host software sees it: an Authenticator over the emulated firmware and its device file. */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type {
  Authenticator,
  OtpBindRequest,
  OtpBindResponse,
  OtpChallenge,
  OtpProof,
} from '../../src/core/authenticator.js';
import type { Clock } from '../../src/core/clock.js';
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
import {
  type DeviceFileSchema,
  readDeviceFile,
  withDeviceFileLock,
  writeDeviceFile,
} from '../device-file.js';
import { checkReference, checkRequest } from '../options.js';

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
  /** How long an operation waits for another program holding the device file (default 10 s). */
  readonly lockTimeoutMs?: number;
}

/** Options of {@link CodeDisplay.open}. */
export interface CodeDisplayOpenOptions {
  readonly reference?: Clock;
  /** How long an operation waits for another program holding the device file (default 10 s). */
  readonly lockTimeoutMs?: number;
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
  #fw: CodeDisplayFirmware;
  readonly #ref: Clock;
  readonly #base: Clock;
  #at: number | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  /** The file's text as this object last read or wrote it. */
  #text: string | undefined;
  /** Operations on the file, one at a time, in call order. */
  #queue: Promise<unknown> = Promise.resolve();
  readonly #lockTimeoutMs: number | undefined;

  private constructor(
    path: string,
    state: CodeDisplayState,
    reference: Clock,
    text: string | undefined,
    lockTimeoutMs: number | undefined,
  ) {
    this.path = path;
    this.#lockTimeoutMs = lockTimeoutMs;
    this.#base = reference;
    // The firmware's reference reads `at` during a call that gave one, the base clock otherwise.
    this.#ref = { now: () => this.#at ?? this.#base.now() };
    this.#fw = new CodeDisplayFirmware(state, { reference: this.#ref });
    this.serial = state.serial;
    this.#text = text;
  }

  /** Makes a new device and its device file (refusing to replace an existing one). */
  static async create(options: CodeDisplayCreateOptions): Promise<CodeDisplay> {
    if (typeof options !== 'object' || options === null)
      throw new DeviceError('bad-option', 'options must be an object');
    const reference = checkReference(options.reference);
    const lockTimeoutMs = checkLockTimeout(options.lockTimeoutMs);
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
    const text = await writeDeviceFile(
      options.out,
      { kind: 'code-display', ...state },
      { exclusive: true },
    );
    return new CodeDisplay(options.out, state, reference, text, lockTimeoutMs);
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
    if (typeof options !== 'object' || options === null) {
      throw new DeviceError('bad-option', 'options must be an object');
    }
    const reference = checkReference(options.reference);
    const lockTimeoutMs = checkLockTimeout(options.lockTimeoutMs);
    const file = await readDeviceFile(path, codeDisplayFileSchema);
    const state = checkCodeDisplayState(file, 'bad-device-file');
    return new CodeDisplay(path, state, reference, undefined, lockTimeoutMs);
  }

  /** Presses the button (at host time `at`, default now); the new state is saved. */
  press(at?: number): Promise<LcdFrame> {
    return this.#change(at, () => this.#fw.press());
  }

  /**
   * What the screen shows (at host time `at`, default now), from the state this object holds:
   * after another program pressed the same device, call {@link refresh} first.
   */
  lcd(at?: number): LcdFrame {
    return this.#with(checkAt(at), () => this.#fw.lcd());
  }

  /** The device's report on itself (at host time `at`, default now); see {@link lcd}. */
  status(at?: number): CodeDisplayStatus {
    return this.#with(checkAt(at), () => this.#fw.status());
  }

  /** Picks up changes another program made to the device file. */
  async refresh(): Promise<void> {
    await this.#change(undefined, () => undefined, false);
  }

  /** Sets the device clock to `deviceMs` (at host time `at`, default now); saved. */
  setClock(deviceMs: number, at?: number): Promise<void> {
    return this.#change(at, () => this.#fw.setClock(deviceMs));
  }

  /** Sets the crystal's rate error from host time `at` (default now) on; saved. */
  setDrift(ppm: number, at?: number): Promise<void> {
    return this.#change(at, () => this.#fw.setDrift(ppm));
  }

  /** Changes settings (the display timeout); saved. */
  configure(settings: Partial<CodeDisplaySettings>): Promise<void> {
    return this.#change(undefined, () => this.#fw.configure(settings));
  }

  /** Fits a fresh battery (at host time `at`, default now); saved. */
  replaceBattery(at?: number): Promise<void> {
    return this.#change(at, () => this.#fw.replaceBattery());
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

  /** The device's whole state as this object holds it (a copy). */
  snapshot(): CodeDisplayState {
    this.#open();
    return this.#fw.snapshot();
  }

  /** Saves the state and closes the device. Idempotent; afterwards everything else throws 'closed'. */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      // Closed at once, so calls made after close() cannot slip in before the final save.
      const save = this.#change(undefined, () => undefined);
      this.#closed = true;
      this.#closing = save.catch((e: unknown) => {
        // Not saved: stay open, so the caller can try again.
        this.#closed = false;
        this.#closing = undefined;
        throw e;
      });
    }
    return this.#closing;
  }

  #open(): void {
    if (this.#closed) throw new DeviceError('closed', `code display ${this.serial} is closed`);
  }

  #with<T>(at: number | undefined, fn: () => T): T {
    this.#open();
    this.#at = at;
    try {
      return fn();
    } finally {
      this.#at = undefined;
    }
  }

  /**
   * Runs one operation on the device as stored: under the file's lock, the state is reloaded if
   * another program changed the file since this object last saw it, the operation runs, and the
   * new state is written before the lock is released. So two programs pressing the same virtual
   * token (a serial server and the CLI, say) share one battery, clock and counter.
   */
  #change<T>(at: number | undefined, fn: () => T, write = true): Promise<T> {
    let when: number | undefined;
    try {
      this.#open();
      when = checkAt(at);
    } catch (e) {
      return Promise.reject(e);
    }
    const run = async (): Promise<T> => {
      const lock = this.#lockTimeoutMs === undefined ? {} : { timeoutMs: this.#lockTimeoutMs };
      return withDeviceFileLock(
        this.path,
        async () => {
          await this.#reloadIfChanged();
          const before = this.#fw.snapshot();
          this.#at = when;
          let result: T;
          try {
            result = fn();
          } finally {
            this.#at = undefined;
          }
          if (write) {
            try {
              this.#text = await writeDeviceFile(this.path, {
                kind: 'code-display',
                ...this.#fw.snapshot(),
              });
            } catch (e) {
              // What is not on disk did not happen: the device goes back to the state saved.
              this.#fw = new CodeDisplayFirmware(before, { reference: this.#ref });
              throw e;
            }
          }
          return result;
        },
        lock,
      );
    };
    const p = this.#queue.catch(() => undefined).then(run);
    this.#queue = p;
    return p;
  }

  async #reloadIfChanged(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      // A removed file is written again from this object's state; other errors are the reader's.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new DeviceError('bad-device-file', 'device file cannot be read', { cause: e });
    }
    if (text === this.#text) return;
    const file = await readDeviceFile(this.path, codeDisplayFileSchema);
    if (file.serial !== this.serial) {
      throw new DeviceError(
        'bad-device-file',
        `the device file now holds ${file.serial}, not ${this.serial}`,
      );
    }
    this.#fw = new CodeDisplayFirmware(checkCodeDisplayState(file, 'bad-device-file'), {
      reference: this.#ref,
    });
    this.#text = text;
  }
}

function checkLockTimeout(ms: unknown): number | undefined {
  if (
    ms !== undefined &&
    (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > 3_600_000)
  ) {
    throw new DeviceError('bad-option', 'lockTimeoutMs must be a number of ms from 0 to 3600000');
  }
  return ms;
}

function checkAt(at: unknown): number | undefined {
  if (
    at !== undefined &&
    (typeof at !== 'number' || !Number.isFinite(at) || at < 0 || at > MAX_TIME_MS)
  ) {
    throw new DeviceError('bad-time', 'at must be a host time in ms from 0 to 8.64e15');
  }
  return at;
}

function codeOf(frame: LcdFrame): string {
  if (frame.code === null)
    throw new DeviceError('battery-empty', 'the battery is empty: the screen stays blank');
  return frame.code;
}
