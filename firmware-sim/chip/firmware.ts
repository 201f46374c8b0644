/** The chip's firmware: the CTAP 2.1 authenticator behind CTAPHID, as a HidDeviceFirmware. */
import { randomBytes } from 'node:crypto';
import { fromHex, toHex, type Clock } from '../../src/core/index.js';
import { CtapHidDevice } from '../../src/ctap/ctaphid.js';
import type { HidDeviceFirmware } from '../../src/hid/port.js';
import { ChipAuthenticator, UpModes, type UpMode } from './authenticator.js';
import { sha256 } from './crypto.js';
import {
  CHIP_FIRMWARE_VERSION,
  CHIP_STATE_FORMAT,
  PIN_RETRIES_MAX,
  checkChipState,
  type ChipPersistentState,
} from './state.js';
import { createAttestationCa, issueDeviceAttestation, type AttestationCa } from './x509.js';

/** The AAGUID of the emulated chip model (one per model, as FIDO asks; ours is random). */
export const CHIP_AAGUID = '663e731bbf0247b79ab99e030e9666e2';

/** What a chip needs from the world around it: all injected, so runs are reproducible. */
export interface ChipEnvironment {
  readonly clock: Clock;
  /** Randomness for keys, IVs, tokens, channel IDs; default node:crypto. */
  readonly random?: (n: number) => Uint8Array;
  /** How the button answers: 'auto' (default), 'manual' (pressButton()), 'deny'. */
  readonly upMode?: UpMode;
  /** Storage: called with a copy of the persistent state whenever it changes. */
  readonly onPersist?: (state: ChipPersistentState) => void;
  /** Called on CTAPHID_WINK (the light blinks). */
  readonly onWink?: () => void;
  /**
   * ES256 signatures with RFC 6979 nonces (about 0.3 ms each, ten times node:crypto's) instead of
   * node:crypto's random ones: with a seeded `random`, every answer is byte-reproducible. Default
   * false.
   */
  readonly deterministicSignatures?: boolean;
}

/** Options of {@link ChipFirmware.manufacture}. */
export interface ManufactureOptions extends ChipEnvironment {
  readonly serial: string;
  /** AAGUID, 16 bytes; default {@link CHIP_AAGUID}. */
  readonly aaguid?: Uint8Array;
  /** The CA that signs the attestation certificate; default: a new test CA for this chip. */
  readonly ca?: AttestationCa;
}

/**
 * A deterministic randomness source: SHA-256(seed ‖ counter) blocks. For tests and demos that
 * must produce the same keys every run; never for anything real.
 */
export function deterministicRandom(seed: string): (n: number) => Uint8Array {
  let counter = 0;
  let pool = new Uint8Array(0);
  const seedBytes = new TextEncoder().encode(seed);
  return (n: number): Uint8Array => {
    while (pool.length < n) {
      const block = sha256(
        seedBytes,
        Uint8Array.of(
          counter >>> 24,
          (counter >>> 16) & 0xff,
          (counter >>> 8) & 0xff,
          counter & 0xff,
        ),
      );
      counter++;
      const next = new Uint8Array(pool.length + block.length);
      next.set(pool);
      next.set(block, pool.length);
      pool = next;
    }
    const out = pool.slice(0, n);
    pool = pool.slice(n);
    return out;
  };
}

const defaultRandom = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

/**
 * The emulated MitID chip: a CTAP 2.1 / U2F authenticator on USB HID. Synchronous and
 * deterministic (clock, randomness, button and storage injected); `handleReport` and `tick` never
 * throw, and a malformed report gets the right CTAPHID or CTAP2 error without touching the state.
 */
export class ChipFirmware implements HidDeviceFirmware {
  readonly #auth: ChipAuthenticator;
  readonly #hid: CtapHidDevice;
  readonly serial: string;
  readonly aaguid: Uint8Array;

  /** Restores a chip from its persistent state (as a device file keeps it). */
  constructor(state: ChipPersistentState, env: ChipEnvironment) {
    const s = checkChipState(state);
    const random = env.random ?? defaultRandom;
    const upMode = env.upMode ?? 'auto';
    if (!UpModes.includes(upMode))
      throw new RangeError(`upMode must be one of ${UpModes.join(', ')}`);
    this.serial = s.serial;
    this.aaguid = fromHex(s.aaguid);
    this.#auth = new ChipAuthenticator(
      s,
      {
        clock: env.clock,
        random,
        ...(env.onPersist ? { onPersist: env.onPersist } : {}),
        ...(env.onWink ? { onWink: env.onWink } : {}),
        ...(env.deterministicSignatures ? { deterministicSignatures: true } : {}),
      },
      upMode,
    );
    const [major = 1, minor = 0, build = 0] = s.firmwareVersion
      .split('.')
      .map((x) => Number(x) & 0xff);
    this.#hid = new CtapHidDevice(this.#auth, {
      clock: env.clock,
      random,
      version: { major, minor, build },
    });
  }

  /**
   * Makes a new chip: a fresh wrap key, an attestation key and a certificate from `ca` (or from a
   * new test CA). Returns the firmware; its {@link snapshot} is what to store.
   */
  static manufacture(options: ManufactureOptions): ChipFirmware {
    if (
      typeof options.serial !== 'string' ||
      options.serial.length === 0 ||
      options.serial.length > 64
    ) {
      throw new RangeError('serial must be 1..64 characters');
    }
    const random = options.random ?? defaultRandom;
    const now = options.clock.now();
    const aaguid = options.aaguid ?? fromHex(CHIP_AAGUID);
    if (!(aaguid instanceof Uint8Array) || aaguid.length !== 16)
      throw new RangeError('aaguid must be 16 bytes');
    const det = options.deterministicSignatures === true;
    const ca = options.ca ?? createAttestationCa(now, random, det);
    const att = issueDeviceAttestation(ca, options.serial, aaguid, now, random, det);
    const state: ChipPersistentState = {
      format: CHIP_STATE_FORMAT,
      firmwareVersion: CHIP_FIRMWARE_VERSION,
      serial: options.serial,
      aaguid: toHex(aaguid),
      wrapKey: toHex(random(32)),
      signCount: 0,
      pinHash: null,
      pinLength: 0,
      pinRetries: PIN_RETRIES_MAX,
      credentials: [],
      nextCreated: 0,
      attestation: { keyPkcs8: att.keyPkcs8, certDer: att.certDer, caCertDer: ca.certDer },
    };
    options.onPersist?.(structuredClone(state));
    return new ChipFirmware(state, options);
  }

  handleReport(report: Uint8Array): Uint8Array[] {
    return this.#hid.handleReport(report);
  }

  tick(): Uint8Array[] {
    return this.#hid.tick();
  }

  get busy(): boolean {
    return this.#hid.busy;
  }

  /** Power cycle: channels, PIN tokens, key agreement key and pending requests go; flash stays. */
  powerCycle(): void {
    this.#hid.reset();
    this.#auth.powerUp();
  }

  /** A copy of the persistent state, for the device file. */
  snapshot(): ChipPersistentState {
    return this.#auth.snapshot();
  }

  /** The user touches the button. */
  pressButton(): void {
    this.#auth.pressButton();
  }

  /** True while a request waits for a touch. */
  get waitingForUser(): boolean {
    return this.#auth.waitingForUser;
  }

  get upMode(): UpMode {
    return this.#auth.upMode;
  }

  set upMode(mode: UpMode) {
    if (!UpModes.includes(mode))
      throw new RangeError(`upMode must be one of ${UpModes.join(', ')}`);
    this.#auth.upMode = mode;
  }

  /** The attestation CA certificate (DER) this chip's certificate chains to. */
  get attestationCaCertificate(): Uint8Array {
    return Uint8Array.from(Buffer.from(this.snapshot().attestation.caCertDer, 'base64'));
  }
}
