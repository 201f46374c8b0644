/** The chip as an Authenticator: WebAuthn-shaped bind and prove over CTAP2, for virtual and real keys. */
import type {
  Authenticator,
  WebAuthnBindRequest,
  WebAuthnBindResponse,
  WebAuthnChallenge,
  WebAuthnProof,
} from '../../src/core/authenticator.js';
import { DeviceError } from '../../src/core/errors.js';
import { CtapError, CtapStatus } from '../../src/ctap/status.js';
import {
  CtapHidClient,
  KeepaliveStatus,
  type CtapHidCallOptions,
  type CtapHidClientOptions,
} from '../../src/ctap/ctaphid.js';
import type { HidTransport } from '../../src/hid/port.js';
import {
  Ctap2Client,
  type AssertionResult,
  type AuthenticatorInfo,
  type CtapCallOptions,
  type CtapCborChannel,
  type Ctap2ClientOptions,
  type GetAssertionParams,
  type PinUvAuthToken,
} from './ctap2.js';
import type { OpenChipOptions } from './open.js';
import { PinPermissions } from './pin.js';
import { attestationObject, checkRpId, clientDataJson, sha256 } from './webauthn.js';

/** What every chip call may be given. */
export interface ChipCallOptions {
  /** Cancels the request at the key (CTAPHID_CANCEL). */
  readonly signal?: AbortSignal;
}

/** Options of {@link Chip.fromTransport}. */
export interface ChipOptions {
  /** The serial printed on the chip; default the HID serial number (unknown over UDP). */
  readonly serial?: string;
  /** Called when the key waits for a touch ("touch your key" prompts; manual presses). */
  readonly onUserPresence?: () => void;
  /** Run after every CTAP command (the virtual chip saves its flash here). */
  readonly afterCommand?: () => Promise<void>;
  /** Run once by close(), after the transport is closed. */
  readonly onClose?: () => Promise<void>;
  /** CTAPHID options (per-report timeout). */
  readonly hid?: CtapHidClientOptions;
  /** CTAP2 options (PIN/UV auth protocol, busy-channel retries). */
  readonly ctap?: Ctap2ClientOptions;
}

/** The user-verification decision for one request. */
interface UvPlan {
  readonly token?: PinUvAuthToken;
  readonly uv?: boolean;
}

/** What a browser hands the relying party for one assertion. */
function proof(r: AssertionResult, clientDataJSON: Uint8Array): WebAuthnProof {
  const out: { -readonly [K in keyof WebAuthnProof]: WebAuthnProof[K] } = {
    type: 'webauthn.get',
    credentialId: r.credentialId,
    clientDataJSON,
    authenticatorData: r.authData,
    signature: r.signature,
  };
  if (r.user) out.userHandle = r.user.id;
  return out;
}

/** True when a login asks for a PIN or requires UV (most ask for neither). */
function needsUvPlan(challenge: WebAuthnChallenge): boolean {
  return challenge.pin !== undefined || challenge.userVerification === 'required';
}

/** getAssertion parameters for a login, built member by member: absent members stay absent. */
function assertionParams(
  challenge: WebAuthnChallenge,
  clientDataHash: Uint8Array,
  plan: UvPlan,
): GetAssertionParams {
  const params: { -readonly [K in keyof GetAssertionParams]: GetAssertionParams[K] } = {
    rpId: challenge.rpId,
    clientDataHash,
  };
  if (challenge.allowCredentials?.length) params.allowList = challenge.allowCredentials;
  if (plan.uv) params.uv = true;
  if (plan.token) {
    params.pinUvAuthParam = Ctap2Client.pinUvAuthParam(plan.token, clientDataHash);
    params.pinUvAuthProtocol = plan.token.protocol;
  }
  return params;
}

/** No PIN token and no built-in UV: what most logins ask for. */
const NO_UV: UvPlan = Object.freeze({});

/**
 * A MitID chip: a FIDO2 key spoken to over CTAPHID, virtual (firmware in this process or behind
 * UDP) or real (node-hid). bind() registers a credential and returns a WebAuthn attestation;
 * prove() signs a login challenge and returns a WebAuthn assertion. Open one with `openChip`
 * (devices/chip/open.ts), which picks the transport from the address.
 */
export class Chip implements Authenticator<'chip'> {
  readonly kind = 'chip' as const;
  /**
   * The serial printed on the chip, or 'unknown' when neither the caller nor the transport knows
   * it (UDP carries none, and CTAP2 getInfo has no serial: the AAGUID names a model, not a chip).
   */
  readonly serial: string;
  /** The serial when known, else undefined (what programs should print as null). */
  readonly serialNumber: string | undefined;
  /** The CTAP2 command layer, for what the Authenticator interface does not cover. */
  readonly ctap: Ctap2Client;
  /** The CTAPHID framing layer (wink, ping, U2F messages). */
  readonly hid: CtapHidClient;
  readonly #options: ChipOptions;
  #closed = false;

  private constructor(
    hid: CtapHidClient,
    ctap: Ctap2Client,
    serial: string | undefined,
    options: ChipOptions,
  ) {
    this.hid = hid;
    this.ctap = ctap;
    this.serialNumber = serial;
    this.serial = serial ?? 'unknown';
    this.#options = options;
  }

  /**
   * Opens a chip by address: a device file (virtual, in this process), `udp:HOST:PORT` or
   * `hid:PATH`. The choice is made in one place, devices/chip/open.ts.
   */
  static async open(target: string, options: OpenChipOptions = {}): Promise<Chip> {
    // Loaded on call: open.ts imports this module, so a static import would be circular.
    const { openChip } = await import('./open.js');
    return openChip(target, options);
  }

  /** A chip over an open transport: allocates a CTAPHID channel and reads getInfo. */
  static async fromTransport(transport: HidTransport, options: ChipOptions = {}): Promise<Chip> {
    let hid: CtapHidClient;
    try {
      hid = await CtapHidClient.open(transport, options.hid);
    } catch (e) {
      await transport.close().catch(() => undefined);
      throw e;
    }
    const afterCommand = options.afterCommand;
    const channel: CtapCborChannel = {
      cbor: (request, o: CtapCallOptions = {}) => {
        let told = false;
        const onUp = o.onUserPresence ?? options.onUserPresence;
        const call: CtapHidCallOptions = {
          // Ctap2Client decodes the answer at once and keeps only copies (CBOR byte strings).
          pooledAnswer: true,
          onKeepalive: (status) => {
            if (status === KeepaliveStatus.UPNEEDED && !told) {
              told = true;
              onUp?.();
            }
          },
        };
        if (o.signal) (call as { signal?: AbortSignal }).signal = o.signal;
        // Without an afterCommand hook there is nothing to wait for after the answer.
        if (afterCommand === undefined) return hid.cbor(request, call);
        return hid.cbor(request, call).then(
          async (answer) => {
            await afterCommand();
            return answer;
          },
          async (e: unknown) => {
            await afterCommand();
            throw e;
          },
        );
      },
    };
    const ctap = new Ctap2Client(channel, options.ctap);
    try {
      // A first getInfo proves the key speaks CTAP2 before anyone relies on it.
      await ctap.getInfo();
      const serial = options.serial ?? (transport.descriptor.serialNumber || undefined);
      return new Chip(hid, ctap, serial, options);
    } catch (e) {
      await hid.close().catch(() => undefined);
      throw e;
    }
  }

  /** authenticatorGetInfo. */
  info(): Promise<AuthenticatorInfo> {
    return this.ctap.getInfo();
  }

  /**
   * Registers a credential (WebAuthn create over CTAP2 makeCredential) and returns what a
   * browser hands the relying party: clientDataJSON and the attestation object.
   */
  async bind(
    request: WebAuthnBindRequest,
    options: ChipCallOptions = {},
  ): Promise<WebAuthnBindResponse> {
    this.#open();
    checkRpId(request.rp.id, request.origin);
    const clientDataJSON = clientDataJson('webauthn.create', request.challenge, request.origin);
    const clientDataHash = sha256(clientDataJSON);
    const plan = await this.#uv(
      request.userVerification,
      request.pin,
      PinPermissions.makeCredential,
      request.rp.id,
      options,
    );
    const made = await this.ctap.makeCredential(
      {
        clientDataHash,
        rp: { id: request.rp.id, name: request.rp.name },
        user: {
          id: request.user.id,
          name: request.user.name,
          displayName: request.user.displayName,
        },
        ...(request.excludeCredentials ? { excludeList: request.excludeCredentials } : {}),
        ...(request.residentKey ? { rk: true } : {}),
        ...(plan.uv ? { uv: true } : {}),
        ...(plan.token
          ? {
              pinUvAuthParam: Ctap2Client.pinUvAuthParam(plan.token, clientDataHash),
              pinUvAuthProtocol: plan.token.protocol,
            }
          : {}),
      },
      this.#call(options),
    );
    return {
      type: 'webauthn.create',
      credentialId: made.credentialId,
      clientDataJSON,
      attestationObject: attestationObject(made.fmt, made.authData, made.attStmt),
      transports: ['usb'],
    };
  }

  /**
   * Signs a login challenge (WebAuthn get over CTAP2 getAssertion); the first match. A login is
   * the call made most often: without a PIN or required UV it has no async frame of its own, only
   * a continuation of the CTAP2 call.
   */
  prove(challenge: WebAuthnChallenge, options: ChipCallOptions = {}): Promise<WebAuthnProof> {
    try {
      this.#open();
      checkRpId(challenge.rpId, challenge.origin);
      const clientDataJSON = clientDataJson('webauthn.get', challenge.challenge, challenge.origin);
      const clientDataHash = sha256(clientDataJSON);
      if (needsUvPlan(challenge))
        return this.#proveVerified(challenge, options, clientDataJSON, clientDataHash);
      const params = assertionParams(challenge, clientDataHash, NO_UV);
      return this.ctap
        .getAssertion(params, this.#call(options))
        .then((r) => proof(r, clientDataJSON));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** prove() for a login that asks for a PIN or requires UV: the plan first, then the assertion. */
  async #proveVerified(
    challenge: WebAuthnChallenge,
    options: ChipCallOptions,
    clientDataJSON: Uint8Array,
    clientDataHash: Uint8Array,
  ): Promise<WebAuthnProof> {
    const plan = await this.#assertionUv(challenge, options);
    const params = assertionParams(challenge, clientDataHash, plan);
    return proof(await this.ctap.getAssertion(params, this.#call(options)), clientDataJSON);
  }

  /**
   * Every assertion for a discoverable-credential login (no allow list): one per account the key
   * holds for the relying party, as a browser's account picker would offer them.
   */
  async proveAll(
    challenge: WebAuthnChallenge,
    options: ChipCallOptions = {},
  ): Promise<WebAuthnProof[]> {
    this.#open();
    checkRpId(challenge.rpId, challenge.origin);
    const clientDataJSON = clientDataJson('webauthn.get', challenge.challenge, challenge.origin);
    const clientDataHash = sha256(clientDataJSON);
    const plan = needsUvPlan(challenge) ? await this.#assertionUv(challenge, options) : NO_UV;
    const params = assertionParams(challenge, clientDataHash, plan);
    const results = await this.ctap.getAssertions(params, this.#call(options));
    return results.map((r) => proof(r, clientDataJSON));
  }

  /** The user-verification plan of a login that asks for a PIN or requires UV. */
  #assertionUv(challenge: WebAuthnChallenge, options: ChipCallOptions): Promise<UvPlan> {
    return this.#uv(
      challenge.userVerification,
      challenge.pin,
      PinPermissions.getAssertion,
      challenge.rpId,
      options,
    );
  }

  /**
   * CTAP 2.1 §6.1.1 and §6.2.1 from the platform's side: with a PIN, get a token scoped to this
   * command and relying party; without one, ask for built-in UV only when the RP requires it.
   */
  async #uv(
    want: 'required' | 'preferred' | 'discouraged' | undefined,
    pin: string | undefined,
    permission: number,
    rpId: string,
    options: ChipCallOptions,
  ): Promise<UvPlan> {
    // Most logins need neither a PIN nor UV: then getInfo is not asked (not even its cache).
    if (pin === undefined && want !== 'required') return {};
    const info = await this.ctap.getInfo();
    if (pin !== undefined && want !== 'discouraged') {
      if (info.options.clientPin !== true) {
        throw new DeviceError('pin-not-set', 'a PIN was given but the key has no PIN set');
      }
      try {
        return {
          token: await this.ctap.getPinToken(
            pin,
            { permissions: permission, rpId },
            this.#call(options),
          ),
        };
      } catch (e) {
        // Say how many tries are left, as a platform's PIN dialog does; never the PIN itself.
        if (e instanceof CtapError && e.status === CtapStatus.CTAP2_ERR_PIN_INVALID) {
          const left = await this.ctap.getPinRetries().catch(() => undefined);
          if (left !== undefined) {
            throw new CtapError(
              e.status,
              `wrong PIN (${left} ${left === 1 ? 'try' : 'tries'} left before it blocks)`,
              { cause: e },
            );
          }
        }
        throw e;
      }
    }
    if (want === 'required') {
      if (info.options.uv === true) return { uv: true };
      if (info.options.clientPin === true) {
        throw new DeviceError(
          'pin-required',
          "the relying party requires user verification: give the key's PIN",
        );
      }
      throw new DeviceError(
        'uv-unavailable',
        'the relying party requires user verification, which this key cannot do without a PIN set',
      );
    }
    return {};
  }

  /** Sets the first PIN. */
  async setPin(pin: string, options: ChipCallOptions = {}): Promise<void> {
    this.#open();
    await this.ctap.setPin(pin, this.#call(options));
  }

  /** Changes the PIN. */
  async changePin(
    currentPin: string,
    newPin: string,
    options: ChipCallOptions = {},
  ): Promise<void> {
    this.#open();
    await this.ctap.changePin(currentPin, newPin, this.#call(options));
  }

  /** Wrong PINs left before the key blocks its PIN. */
  async pinRetries(options: ChipCallOptions = {}): Promise<number> {
    this.#open();
    return this.ctap.getPinRetries(this.#call(options));
  }

  /** authenticatorReset: wipes every credential and the PIN (needs a touch). */
  async reset(options: ChipCallOptions = {}): Promise<void> {
    this.#open();
    try {
      await this.ctap.reset(this.#call(options));
    } catch (e) {
      // CTAP 2.1 §6.6: a key refuses a reset later than ~10 s after power-up; the bare status
      // does not tell the user that the cure is a fresh power-up.
      if (e instanceof CtapError && e.status === CtapStatus.CTAP2_ERR_NOT_ALLOWED) {
        throw new CtapError(
          e.status,
          'the chip accepts a reset only within 10 s of power-up: restart its "mitid-sim chip serve" (or unplug and replug a real key), then reset at once',
          { cause: e },
        );
      }
      throw e;
    }
  }

  /** Blinks the key (CTAPHID_WINK), so a user can tell which one is meant. */
  async wink(): Promise<void> {
    this.#open();
    await this.hid.wink();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.hid.close();
    } finally {
      await this.#options.onClose?.();
    }
  }

  #call(options: ChipCallOptions): CtapCallOptions {
    return options.signal ? { signal: options.signal } : {};
  }

  #open(): void {
    if (this.#closed) throw new DeviceError('closed', 'the chip is closed');
  }
}
