/**
 * The host side of CTAP2 (CTAP 2.1 §6): authenticator commands as typed calls over any channel
 * that carries CTAPHID_CBOR messages, so the same code drives a virtual chip and a real key.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DeviceError } from '../../src/core/index.js';
import {
  cborHeadLength,
  credentialDescriptorLength,
  decodeCbor,
  DESCRIPTOR_ID_KEY,
  DESCRIPTOR_TYPE_PUBLIC_KEY,
  encodeCbor,
  writeCborHead,
  writeCredentialDescriptor,
  type CborMap,
} from '../../src/ctap/cbor.js';
import { pooledBytes } from '../../src/hid/pool.js';
import { CtapError, CtapStatus, ctapStatusName } from '../../src/ctap/status.js';
import {
  encapsulate,
  paddedPin,
  pinAuthenticate,
  pinDecrypt,
  pinEncrypt,
  pinHash,
  type CoseKey,
  type PinProtocolVersion,
} from './pin.js';
import { parseAuthData, type ParsedAuthData } from './webauthn.js';

/** Authenticator API command bytes (CTAP 2.1 §6). */
export const CtapCommand = {
  makeCredential: 0x01,
  getAssertion: 0x02,
  getInfo: 0x04,
  clientPIN: 0x06,
  reset: 0x07,
  getNextAssertion: 0x08,
  selection: 0x0b,
} as const;

/** clientPIN subcommands (CTAP 2.1 §6.5.5). */
export const ClientPinSubcommand = {
  getPINRetries: 0x01,
  getKeyAgreement: 0x02,
  setPIN: 0x03,
  changePIN: 0x04,
  getPinToken: 0x05,
  getPinUvAuthTokenUsingPinWithPermissions: 0x09,
} as const;

/** What a call may be given: cancellation and a hook for "touch your key" prompts. */
export interface CtapCallOptions {
  /** Aborting sends CTAPHID_CANCEL; the call rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /** Called (once per call) when the authenticator says it is waiting for the user's touch. */
  readonly onUserPresence?: () => void;
}

/**
 * One CTAPHID_CBOR exchange: `request` is the command byte followed by its CBOR parameters, the
 * answer is the status byte followed by CBOR. Framing, keepalives and cancel are below this line.
 */
export interface CtapCborChannel {
  cbor(request: Uint8Array, options?: CtapCallOptions): Promise<Uint8Array>;
}

/** authenticatorGetInfo, decoded (CTAP 2.1 §6.4). */
export interface AuthenticatorInfo {
  readonly versions: string[];
  readonly extensions: string[];
  readonly aaguid: Uint8Array;
  readonly options: Record<string, boolean>;
  readonly maxMsgSize?: number;
  readonly pinUvAuthProtocols: number[];
  readonly maxCredentialCountInList?: number;
  readonly maxCredentialIdLength?: number;
  readonly transports?: string[];
  readonly algorithms?: { type: string; alg: number }[];
  readonly firmwareVersion?: number;
  readonly minPINLength?: number;
}

/** A PublicKeyCredentialDescriptor (WebAuthn §5.8.3). */
export interface CredentialDescriptor {
  readonly type: 'public-key';
  readonly id: Uint8Array;
}

/** authenticatorMakeCredential parameters (CTAP 2.1 §6.1). */
export interface MakeCredentialParams {
  readonly clientDataHash: Uint8Array;
  readonly rp: { readonly id: string; readonly name?: string };
  readonly user: { readonly id: Uint8Array; readonly name?: string; readonly displayName?: string };
  /** COSE algorithms in order of preference; default [-7] (ES256). */
  readonly algorithms?: readonly number[];
  readonly excludeList?: readonly Uint8Array[];
  readonly extensions?: Record<string, unknown>;
  readonly rk?: boolean;
  readonly uv?: boolean;
  readonly pinUvAuthParam?: Uint8Array;
  readonly pinUvAuthProtocol?: number;
}

/** What makeCredential returns. */
export interface MakeCredentialResult {
  readonly fmt: string;
  readonly authData: Uint8Array;
  readonly attStmt: CborMap;
  readonly parsed: ParsedAuthData;
  readonly credentialId: Uint8Array;
}

/** authenticatorGetAssertion parameters (CTAP 2.1 §6.2). */
export interface GetAssertionParams {
  readonly rpId: string;
  readonly clientDataHash: Uint8Array;
  readonly allowList?: readonly Uint8Array[];
  readonly extensions?: Record<string, unknown>;
  readonly up?: boolean;
  readonly uv?: boolean;
  readonly pinUvAuthParam?: Uint8Array;
  readonly pinUvAuthProtocol?: number;
}

/** One assertion. */
export interface AssertionResult {
  readonly credentialId: Uint8Array;
  readonly authData: Uint8Array;
  readonly signature: Uint8Array;
  readonly parsed: ParsedAuthData;
  readonly user?: {
    readonly id: Uint8Array;
    readonly name?: string;
    readonly displayName?: string;
  };
  /** Only on the first answer, when several discoverable credentials matched. */
  readonly numberOfCredentials?: number;
}

/** A pinUvAuthToken and the protocol it belongs to. */
export interface PinUvAuthToken {
  readonly protocol: PinProtocolVersion;
  readonly token: Uint8Array;
}

/** Options of {@link Ctap2Client}. */
export interface Ctap2ClientOptions {
  /** How many times a CTAP1_ERR_CHANNEL_BUSY answer is retried; default 10. */
  readonly busyRetries?: number;
  /** First back-off after a busy answer (doubles, at most 1 s); default 50 ms. */
  readonly busyBackoffMs?: number;
  /** PIN/UV auth protocol to use; default 2 when the key offers it, else 1. */
  readonly pinProtocol?: PinProtocolVersion;
}

function field<T>(
  m: CborMap,
  key: number,
  check: (v: unknown) => v is T,
  what: string,
  required: true,
): T;
function field<T>(
  m: CborMap,
  key: number,
  check: (v: unknown) => v is T,
  what: string,
  required?: false,
): T | undefined;
function field<T>(
  m: CborMap,
  key: number,
  check: (v: unknown) => v is T,
  what: string,
  required = false,
): T | undefined {
  const v = m.get(key);
  if (v === undefined) {
    if (required) throw malformed(`${what} is missing`);
    return undefined;
  }
  if (!check(v)) throw malformed(`${what} has the wrong type`);
  return v;
}

const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;
const isMap = (v: unknown): v is CborMap => v instanceof Map;
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every(isStr);
const isInts = (v: unknown): v is number[] => Array.isArray(v) && v.every(isInt);
const isArray = (v: unknown): v is unknown[] => Array.isArray(v);

/**
 * A PublicKeyCredentialDescriptor as CTAP sends it: a map with its keys in canonical order, which
 * the encoder writes as it goes (a plain object is sorted first).
 */
function credentialDescriptor(id: Uint8Array): Map<string, unknown> {
  return new Map<string, unknown>([
    ['id', id],
    ['type', 'public-key'],
  ]);
}

/**
 * authenticatorGetAssertion's request for a plain login: the command byte, then what encodeCbor
 * makes of {1: rpId, 2: clientDataHash, 3: allow list as descriptors} (the allow list only when
 * not empty), laid out directly with no map built. Undefined when a value is not of that shape
 * (non-ASCII rpId, a length beyond 65535): the caller then encodes the map.
 */
export function plainGetAssertionRequest(
  rpId: string,
  clientDataHash: Uint8Array,
  allowList: readonly Uint8Array[] | undefined,
): Uint8Array | undefined {
  if (typeof rpId !== 'string' || rpId.length > 0xffff) return undefined;
  for (let i = 0; i < rpId.length; i++) if (rpId.charCodeAt(i) > 0x7f) return undefined;
  if (!(clientDataHash instanceof Uint8Array) || clientDataHash.length > 0xffff) return undefined;
  const n = allowList?.length ?? 0;
  if (n > 0xffff) return undefined;
  let size =
    3 +
    cborHeadLength(rpId.length) +
    rpId.length +
    1 +
    cborHeadLength(clientDataHash.length) +
    clientDataHash.length;
  if (allowList !== undefined && n > 0) {
    size += 1 + cborHeadLength(n);
    for (const id of allowList) {
      if (!(id instanceof Uint8Array) || id.length > 0xffff) return undefined;
      size += credentialDescriptorLength(id.length);
    }
  }
  // Pooled: it goes to the channel and the wire (see Ctap2Client.call).
  const out = pooledBytes(size);
  out[0] = CtapCommand.getAssertion;
  let at = writeCborHead(out, 1, 5, n > 0 ? 3 : 2);
  out[at++] = 0x01;
  at = writeCborHead(out, at, 3, rpId.length);
  for (let i = 0; i < rpId.length; i++) out[at++] = rpId.charCodeAt(i);
  out[at++] = 0x02;
  at = writeCborHead(out, at, 2, clientDataHash.length);
  out.set(clientDataHash, at);
  at += clientDataHash.length;
  if (allowList !== undefined && n > 0) {
    out[at++] = 0x03;
    at = writeCborHead(out, at, 4, n);
    for (const id of allowList) at = writeCredentialDescriptor(out, at, id);
  }
  return out;
}

/** The CBOR map of a CTAP2_OK answer, or undefined when the answer is the status alone. */
function decodeAnswer(answer: Uint8Array, name: string): CborMap | undefined {
  if (answer.length === 1) return undefined;
  let decoded: unknown;
  try {
    decoded = decodeCbor(answer.subarray(1), ANSWER_CBOR);
  } catch (e) {
    throw new DeviceError('bad-ctap-response', `${name}: the answer is not valid CBOR`, {
      cause: e,
    });
  }
  if (!isMap(decoded)) throw malformed(`${name}: the answer is not a map`);
  return decoded;
}

/** How answers are decoded: any well-formed CBOR (a key need not be canonical), no tags or floats. */
const ANSWER_CBOR = { canonical: false, allowFloats: false, allowTags: false } as const;

/** Where a byte string's head at `at` says its bytes start and how many: undefined if not one. */
function byteStringAt(b: Uint8Array, at: number): { start: number; length: number } | undefined {
  const ib = b[at];
  if (ib === undefined || ib >> 5 !== 2) return undefined;
  const info = ib & 0x1f;
  if (info < 24) return { start: at + 1, length: info };
  if (info === 24 && at + 1 < b.length) return { start: at + 2, length: b[at + 1]! };
  if (info === 25 && at + 2 < b.length)
    return { start: at + 3, length: (b[at + 1]! << 8) | b[at + 2]! };
  return undefined;
}

/** True when `b` holds `expected` at `at`. */
function bytesAt(b: Uint8Array, at: number, expected: Uint8Array): boolean {
  if (at + expected.length > b.length) return false;
  for (let i = 0; i < expected.length; i++) if (b[at + i] !== expected[i]) return false;
  return true;
}

/**
 * A getAssertion answer read in place when it has the usual shape, {1: {id, type: 'public-key'},
 * 2: authData, 3: signature} and nothing else, as the chip lays it out: the same result the map
 * path gives, without the maps. Undefined for any other shape or anything out of place (the
 * caller then decodes it in full, which judges it).
 */
function plainAssertionResult(answer: Uint8Array): AssertionResult | undefined {
  if (answer[0] !== 0 || answer[1] !== 0xa3 || answer[2] !== 0x01 || answer[3] !== 0xa2)
    return undefined;
  if (!bytesAt(answer, 4, DESCRIPTOR_ID_KEY)) return undefined;
  const id = byteStringAt(answer, 4 + DESCRIPTOR_ID_KEY.length);
  if (id === undefined) return undefined;
  let at = id.start + id.length;
  if (!bytesAt(answer, at, DESCRIPTOR_TYPE_PUBLIC_KEY)) return undefined;
  at += DESCRIPTOR_TYPE_PUBLIC_KEY.length;
  if (answer[at] !== 0x02) return undefined;
  const authData = byteStringAt(answer, at + 1);
  if (authData === undefined) return undefined;
  at = authData.start + authData.length;
  if (answer[at] !== 0x03) return undefined;
  const signature = byteStringAt(answer, at + 1);
  if (signature === undefined || signature.start + signature.length !== answer.length)
    return undefined;
  const authBytes = answer.slice(authData.start, authData.start + authData.length);
  return {
    credentialId: answer.slice(id.start, id.start + id.length),
    authData: authBytes,
    signature: answer.slice(signature.start, signature.start + signature.length),
    parsed: parseAuthData(authBytes),
  };
}

/** An OK answer as it is: what a plain exchange returns. */
const passAnswer = (answer: Uint8Array): Uint8Array => answer;

function malformed(what: string): DeviceError {
  return new DeviceError('bad-ctap-response', `the authenticator's answer is malformed: ${what}`);
}

/** Friendlier one-line messages for the statuses a user meets. */
const MESSAGES: Partial<Record<number, string>> = {
  [CtapStatus.CTAP2_ERR_PIN_INVALID]: 'wrong PIN',
  [CtapStatus.CTAP2_ERR_PIN_BLOCKED]:
    'the PIN is blocked (too many wrong PINs); only a reset helps',
  [CtapStatus.CTAP2_ERR_PIN_AUTH_BLOCKED]:
    'too many wrong PINs since power-up: unplug and replug the key',
  [CtapStatus.CTAP2_ERR_PIN_NOT_SET]: 'the key has no PIN set',
  [CtapStatus.CTAP2_ERR_PUAT_REQUIRED]: 'the key needs its PIN (--pin)',
  [CtapStatus.CTAP2_ERR_OPERATION_DENIED]: 'the user denied the request at the key',
  [CtapStatus.CTAP2_ERR_USER_ACTION_TIMEOUT]: 'nobody touched the key in time',
  [CtapStatus.CTAP2_ERR_ACTION_TIMEOUT]: 'nobody touched the key in time',
  [CtapStatus.CTAP2_ERR_NO_CREDENTIALS]:
    'the key holds no credential for this relying party (a credential that is not discoverable must be named by its ID: --credential)',
  [CtapStatus.CTAP2_ERR_CREDENTIAL_EXCLUDED]: 'the key already holds a credential for this account',
  [CtapStatus.CTAP2_ERR_KEEPALIVE_CANCEL]: 'the request was cancelled',
  [CtapStatus.CTAP2_ERR_PIN_POLICY_VIOLATION]: "the PIN does not meet the key's PIN policy",
  [CtapStatus.CTAP2_ERR_KEY_STORE_FULL]: 'the key has no room for another discoverable credential',
  [CtapStatus.CTAP2_ERR_UNSUPPORTED_OPTION]: 'the key does not support an option asked for',
};

/** A CtapError for a non-zero status, with a one-line message naming the command. */
export function statusError(status: number, command: string): CtapError {
  const text = MESSAGES[status] ?? `the authenticator answered ${ctapStatusName(status)}`;
  return new CtapError(status, `${command}: ${text}`);
}

function isBusy(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const x = e as Error & { status?: unknown; code?: unknown };
  return (
    x.status === CtapStatus.CTAP1_ERR_CHANNEL_BUSY ||
    x.code === 'CTAP1_ERR_CHANNEL_BUSY' ||
    x.code === 'channel-busy'
  );
}

/** CTAP2 commands over a {@link CtapCborChannel}. */
export class Ctap2Client {
  readonly #channel: CtapCborChannel;
  readonly #busyRetries: number;
  readonly #busyBackoffMs: number;
  #info: AuthenticatorInfo | undefined;
  readonly #pinProtocol: PinProtocolVersion | undefined;

  constructor(channel: CtapCborChannel, options: Ctap2ClientOptions = {}) {
    this.#channel = channel;
    this.#busyRetries = options.busyRetries ?? 10;
    this.#busyBackoffMs = options.busyBackoffMs ?? 50;
    this.#pinProtocol = options.pinProtocol;
  }

  /**
   * Sends one command and returns its CBOR map (or undefined for an empty answer). A busy channel
   * (another host is mid-transaction, CTAP 2.1 §11.2.9.1.6) is retried with a growing pause.
   */
  call(
    command: number,
    params: unknown,
    name: string,
    options: CtapCallOptions = {},
  ): Promise<CborMap | undefined> {
    let request: Uint8Array;
    try {
      // Pooled: the request goes to the channel and the wire, and is kept only for busy retries.
      request =
        params === undefined
          ? Uint8Array.of(command)
          : encodeCbor(params, { prefix: Uint8Array.of(command), pooled: true });
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#okAnswer(request, name, options).then((answer) => decodeAnswer(answer, name));
  }

  /**
   * Sends an encoded request (command byte and CBOR) and returns its answer once the status is
   * CTAP2_OK (a busy channel retried, any other status thrown), as {@link call} does.
   */
  #okAnswer(request: Uint8Array, name: string, options: CtapCallOptions): Promise<Uint8Array> {
    return this.#exchange(request, name, options, passAnswer);
  }

  /**
   * One request; `then` gets its CTAP2_OK answer. A first answer that is OK (the common case) goes
   * to `then` in the channel's own continuation, with no async frame of its own; anything else
   * (a busy channel, another status, a failure) is judged by {@link #retrying}.
   */
  #exchange<T>(
    request: Uint8Array,
    name: string,
    options: CtapCallOptions,
    then: (answer: Uint8Array) => T,
  ): Promise<T> {
    let first: Promise<Uint8Array>;
    try {
      first = this.#channel.cbor(request, options);
    } catch (e) {
      return this.#retrying(request, name, options, undefined, true, e).then(then);
    }
    return first.then(
      (answer) =>
        answer.length > 0 && answer[0] === CtapStatus.CTAP2_OK
          ? then(answer)
          : this.#retrying(request, name, options, answer, false, undefined).then(then),
      (e: unknown) => this.#retrying(request, name, options, undefined, true, e).then(then),
    );
  }

  /**
   * The busy-retry loop of {@link #exchange}, given how the first attempt ended: `answer`, or
   * (`failed`) the error `error`. A busy channel (another host is mid-transaction, CTAP 2.1
   * §11.2.9.1.6) is retried with a growing pause; an OK answer is returned, any other status thrown.
   */
  async #retrying(
    request: Uint8Array,
    name: string,
    options: CtapCallOptions,
    answer: Uint8Array | undefined,
    failed: boolean,
    error: unknown,
  ): Promise<Uint8Array> {
    let pause = this.#busyBackoffMs;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) {
        failed = false;
        try {
          answer = await this.#channel.cbor(request, options);
        } catch (e) {
          failed = true;
          error = e;
        }
      }
      if (failed || answer === undefined) {
        if (isBusy(error) && attempt < this.#busyRetries && !options.signal?.aborted) {
          await sleep(pause, undefined, options.signal ? { signal: options.signal } : {}).catch(
            () => undefined,
          );
          pause = Math.min(pause * 2, 1000);
          continue;
        }
        throw error;
      }
      if (answer.length === 0) throw malformed(`${name}: empty answer`);
      const status = answer[0] ?? 0;
      if (status === CtapStatus.CTAP1_ERR_CHANNEL_BUSY && attempt < this.#busyRetries) {
        await sleep(pause);
        pause = Math.min(pause * 2, 1000);
        continue;
      }
      if (status !== CtapStatus.CTAP2_OK) throw statusError(status, name);
      return answer;
    }
  }

  /** authenticatorGetInfo (CTAP 2.1 §6.4); cached after the first call. */
  async getInfo(options: CtapCallOptions = {}): Promise<AuthenticatorInfo> {
    if (this.#info) return this.#info;
    const m = await this.call(CtapCommand.getInfo, undefined, 'getInfo', options);
    if (!m) throw malformed('getInfo: empty answer');
    const opts = field(m, 4, isMap, 'getInfo options') ?? new Map();
    const options2: Record<string, boolean> = {};
    for (const [k, v] of opts) if (typeof k === 'string' && typeof v === 'boolean') options2[k] = v;
    const algs = field(m, 10, isArray, 'getInfo algorithms');
    const info: AuthenticatorInfo = {
      versions: field(m, 1, isStrings, 'getInfo versions', true),
      extensions: field(m, 2, isStrings, 'getInfo extensions') ?? [],
      aaguid: field(m, 3, isBytes, 'getInfo aaguid', true),
      options: options2,
      pinUvAuthProtocols: field(m, 6, isInts, 'getInfo pinUvAuthProtocols') ?? [],
      ...opt('maxMsgSize', field(m, 5, isInt, 'getInfo maxMsgSize')),
      ...opt('maxCredentialCountInList', field(m, 7, isInt, 'getInfo maxCredentialCountInList')),
      ...opt('maxCredentialIdLength', field(m, 8, isInt, 'getInfo maxCredentialIdLength')),
      ...opt('transports', field(m, 9, isStrings, 'getInfo transports')),
      ...opt(
        'algorithms',
        algs
          ?.filter(isMap)
          .map((a) => ({ type: String(a.get('type')), alg: Number(a.get('alg')) })),
      ),
      ...opt('firmwareVersion', field(m, 14, isInt, 'getInfo firmwareVersion')),
      ...opt('minPINLength', field(m, 13, isInt, 'getInfo minPINLength')),
    };
    this.#info = info;
    return info;
  }

  /** Forgets the cached getInfo (after a reset or a PIN change). */
  forgetInfo(): void {
    this.#info = undefined;
  }

  /** authenticatorMakeCredential (CTAP 2.1 §6.1). */
  async makeCredential(
    p: MakeCredentialParams,
    options: CtapCallOptions = {},
  ): Promise<MakeCredentialResult> {
    const params = new Map<number, unknown>([
      [1, p.clientDataHash],
      [2, { id: p.rp.id, ...(p.rp.name === undefined ? {} : { name: p.rp.name }) }],
      [
        3,
        {
          id: p.user.id,
          ...(p.user.name === undefined ? {} : { name: p.user.name }),
          ...(p.user.displayName === undefined ? {} : { displayName: p.user.displayName }),
        },
      ],
      [4, (p.algorithms ?? [-7]).map((alg) => ({ alg, type: 'public-key' }))],
    ]);
    if (p.excludeList?.length)
      params.set(
        5,
        p.excludeList.map((id) => ({ id, type: 'public-key' })),
      );
    if (p.extensions && Object.keys(p.extensions).length) params.set(6, p.extensions);
    const o: Record<string, boolean> = {};
    if (p.rk) o.rk = true;
    if (p.uv) o.uv = true;
    if (Object.keys(o).length) params.set(7, o);
    if (p.pinUvAuthParam) {
      params.set(8, p.pinUvAuthParam);
      params.set(9, p.pinUvAuthProtocol ?? 2);
    }
    const m = await this.call(CtapCommand.makeCredential, params, 'makeCredential', options);
    if (!m) throw malformed('makeCredential: empty answer');
    const fmt = field(m, 1, isStr, 'makeCredential fmt', true);
    const authData = field(m, 2, isBytes, 'makeCredential authData', true);
    const attStmt = field(m, 3, isMap, 'makeCredential attStmt', true);
    const parsed = parseAuthData(authData);
    if (!parsed.credentialId) throw malformed('makeCredential: no attested credential data');
    return { fmt, authData, attStmt, parsed, credentialId: parsed.credentialId };
  }

  /**
   * authenticatorGetAssertion (CTAP 2.1 §6.2). A plain login (what nearly every call is) is laid
   * out directly and its answer decoded in the exchange's continuation; anything else goes as a
   * map through {@link call}.
   */
  getAssertion(p: GetAssertionParams, options: CtapCallOptions = {}): Promise<AssertionResult> {
    let plain: Uint8Array | undefined;
    try {
      plain =
        (p.extensions === undefined || Object.keys(p.extensions).length === 0) &&
        p.up !== false &&
        !p.uv &&
        !p.pinUvAuthParam
          ? plainGetAssertionRequest(p.rpId, p.clientDataHash, p.allowList)
          : undefined;
    } catch (e) {
      return Promise.reject(e);
    }
    if (plain === undefined) return this.#mappedGetAssertion(p, options);
    return this.#exchange(
      plain,
      'getAssertion',
      options,
      (answer) =>
        plainAssertionResult(answer) ??
        this.#assertion(decodeAnswer(answer, 'getAssertion'), 'getAssertion', p.allowList),
    );
  }

  /** getAssertion with its parameters as a CBOR map: extensions, options, a PIN/UV param. */
  async #mappedGetAssertion(
    p: GetAssertionParams,
    options: CtapCallOptions,
  ): Promise<AssertionResult> {
    const params = new Map<number, unknown>([
      [1, p.rpId],
      [2, p.clientDataHash],
    ]);
    if (p.allowList?.length) params.set(3, p.allowList.map(credentialDescriptor));
    if (p.extensions && Object.keys(p.extensions).length) params.set(4, p.extensions);
    const o: Record<string, boolean> = {};
    if (p.up === false) o.up = false;
    if (p.uv) o.uv = true;
    if (Object.keys(o).length) params.set(5, o);
    if (p.pinUvAuthParam) {
      params.set(6, p.pinUvAuthParam);
      params.set(7, p.pinUvAuthProtocol ?? 2);
    }
    const m = await this.call(CtapCommand.getAssertion, params, 'getAssertion', options);
    return this.#assertion(m, 'getAssertion', p.allowList);
  }

  /** authenticatorGetNextAssertion (CTAP 2.1 §6.3). */
  async getNextAssertion(options: CtapCallOptions = {}): Promise<AssertionResult> {
    const m = await this.call(CtapCommand.getNextAssertion, undefined, 'getNextAssertion', options);
    return this.#assertion(m, 'getNextAssertion');
  }

  /** Every assertion a getAssertion matched: the first, then getNextAssertion for the rest. */
  async getAssertions(
    p: GetAssertionParams,
    options: CtapCallOptions = {},
  ): Promise<AssertionResult[]> {
    const first = await this.getAssertion(p, options);
    const all = [first];
    for (let i = 1; i < (first.numberOfCredentials ?? 1); i++)
      all.push(await this.getNextAssertion(options));
    return all;
  }

  #assertion(
    m: CborMap | undefined,
    name: string,
    allowList?: readonly Uint8Array[],
  ): AssertionResult {
    if (!m) throw malformed(`${name}: empty answer`);
    const authData = field(m, 2, isBytes, `${name} authData`, true);
    const signature = field(m, 3, isBytes, `${name} signature`, true);
    const cred = field(m, 1, isMap, `${name} credential`);
    let credentialId = cred?.get('id');
    // CTAP 2.1 §6.2: the credential may be left out when the allow list had exactly one entry.
    if (credentialId === undefined && allowList?.length === 1) credentialId = allowList[0];
    if (!isBytes(credentialId)) throw malformed(`${name}: no credential ID`);
    const u = field(m, 4, isMap, `${name} user`);
    const uid = u?.get('id');
    const user =
      u && isBytes(uid)
        ? {
            id: uid,
            ...opt('name', isStr(u.get('name')) ? (u.get('name') as string) : undefined),
            ...opt(
              'displayName',
              isStr(u.get('displayName')) ? (u.get('displayName') as string) : undefined,
            ),
          }
        : undefined;
    const parsed = parseAuthData(authData);
    const numberOfCredentials = field(m, 5, isInt, `${name} numberOfCredentials`);
    // Built without spreads (once per assertion); absent members stay absent, as before.
    const out: { -readonly [K in keyof AssertionResult]: AssertionResult[K] } = {
      credentialId,
      authData,
      signature,
      parsed,
    };
    if (user !== undefined) out.user = user;
    if (numberOfCredentials !== undefined) out.numberOfCredentials = numberOfCredentials;
    return out;
  }

  /** authenticatorReset (CTAP 2.1 §6.6): needs a touch within seconds of power-up on real keys. */
  async reset(options: CtapCallOptions = {}): Promise<void> {
    await this.call(CtapCommand.reset, undefined, 'reset', options);
    this.#info = undefined;
  }

  /** authenticatorSelection (CTAP 2.1 §6.9): waits for a touch. */
  async selection(options: CtapCallOptions = {}): Promise<void> {
    await this.call(CtapCommand.selection, undefined, 'selection', options);
  }

  // -- clientPIN (CTAP 2.1 §6.5) ----------------------------------------------------------------

  /** The protocol to use: 2 when the authenticator offers it, else 1. */
  async pinProtocol(): Promise<PinProtocolVersion> {
    const info = await this.getInfo();
    const wanted = this.#pinProtocol;
    if (wanted !== undefined) {
      if (info.pinUvAuthProtocols.length > 0 && !info.pinUvAuthProtocols.includes(wanted)) {
        throw new DeviceError(
          'unsupported',
          `the key does not offer PIN/UV auth protocol ${wanted}`,
        );
      }
      return wanted;
    }
    if (info.pinUvAuthProtocols.includes(2)) return 2;
    if (info.pinUvAuthProtocols.includes(1) || info.pinUvAuthProtocols.length === 0) return 1;
    throw new DeviceError(
      'unsupported',
      'the key offers no PIN/UV auth protocol this program knows',
    );
  }

  /** getPINRetries: how many wrong PINs are left before it blocks. */
  async getPinRetries(options: CtapCallOptions = {}): Promise<number> {
    const protocol = await this.pinProtocol();
    const m = await this.call(
      CtapCommand.clientPIN,
      new Map([
        [1, protocol],
        [2, ClientPinSubcommand.getPINRetries],
      ]),
      'clientPIN getPINRetries',
      options,
    );
    if (!m) throw malformed('getPINRetries: empty answer');
    return field(m, 3, isInt, 'pinRetries', true);
  }

  async #keyAgreement(protocol: PinProtocolVersion, options: CtapCallOptions) {
    const m = await this.call(
      CtapCommand.clientPIN,
      new Map([
        [1, protocol],
        [2, ClientPinSubcommand.getKeyAgreement],
      ]),
      'clientPIN getKeyAgreement',
      options,
    );
    if (!m) throw malformed('getKeyAgreement: empty answer');
    return encapsulate(protocol, field(m, 1, isMap, 'keyAgreement', true) as CoseKey);
  }

  /** setPIN: sets the first PIN of a key that has none. */
  async setPin(pin: string, options: CtapCallOptions = {}): Promise<void> {
    const protocol = await this.pinProtocol();
    const shared = await this.#keyAgreement(protocol, options);
    const newPinEnc = pinEncrypt(protocol, shared.secret, paddedPin(pin));
    const params = new Map<number, unknown>([
      [1, protocol],
      [2, ClientPinSubcommand.setPIN],
      [3, shared.platformKey],
      [4, pinAuthenticate(protocol, shared.secret, newPinEnc)],
      [5, newPinEnc],
    ]);
    await this.call(CtapCommand.clientPIN, params, 'clientPIN setPIN', options);
    this.#info = undefined;
  }

  /** changePIN: replaces the PIN, proving the current one. */
  async changePin(
    currentPin: string,
    newPin: string,
    options: CtapCallOptions = {},
  ): Promise<void> {
    const protocol = await this.pinProtocol();
    const shared = await this.#keyAgreement(protocol, options);
    const pinHashEnc = pinEncrypt(protocol, shared.secret, pinHash(currentPin));
    const newPinEnc = pinEncrypt(protocol, shared.secret, paddedPin(newPin));
    const mac = new Uint8Array(newPinEnc.length + pinHashEnc.length);
    mac.set(newPinEnc, 0);
    mac.set(pinHashEnc, newPinEnc.length);
    const params = new Map<number, unknown>([
      [1, protocol],
      [2, ClientPinSubcommand.changePIN],
      [3, shared.platformKey],
      [4, pinAuthenticate(protocol, shared.secret, mac)],
      [5, newPinEnc],
      [6, pinHashEnc],
    ]);
    await this.call(CtapCommand.clientPIN, params, 'clientPIN changePIN', options);
  }

  /**
   * A pinUvAuthToken for `pin`: with permissions and an rpId where the key supports them
   * (getPinUvAuthTokenUsingPinWithPermissions, options.pinUvAuthToken), else the CTAP 2.0
   * getPinToken (CTAP 2.1 §6.5.5.7).
   */
  async getPinToken(
    pin: string,
    permissions: { readonly permissions: number; readonly rpId?: string } | undefined,
    options: CtapCallOptions = {},
  ): Promise<PinUvAuthToken> {
    // A PIN no key could hold is refused here, so it never costs one of the key's retries.
    paddedPin(pin);
    const info = await this.getInfo(options);
    const protocol = await this.pinProtocol();
    const shared = await this.#keyAgreement(protocol, options);
    const pinHashEnc = pinEncrypt(protocol, shared.secret, pinHash(pin));
    const withPermissions = info.options.pinUvAuthToken === true && permissions !== undefined;
    const params = new Map<number, unknown>([
      [1, protocol],
      [
        2,
        withPermissions
          ? ClientPinSubcommand.getPinUvAuthTokenUsingPinWithPermissions
          : ClientPinSubcommand.getPinToken,
      ],
      [3, shared.platformKey],
      [6, pinHashEnc],
    ]);
    if (withPermissions) {
      params.set(9, permissions.permissions);
      if (permissions.rpId !== undefined) params.set(10, permissions.rpId);
    }
    const m = await this.call(CtapCommand.clientPIN, params, 'clientPIN getPinToken', options);
    if (!m) throw malformed('getPinToken: empty answer');
    const token = pinDecrypt(protocol, shared.secret, field(m, 2, isBytes, 'pinUvAuthToken', true));
    if (token.length !== 16 && token.length !== 32)
      throw malformed('pinUvAuthToken has a bad length');
    return { protocol, token };
  }

  /** pinUvAuthParam for a makeCredential or getAssertion: authenticate(token, clientDataHash). */
  static pinUvAuthParam(token: PinUvAuthToken, clientDataHash: Uint8Array): Uint8Array {
    return pinAuthenticate(token.protocol, token.token, clientDataHash);
  }
}

function opt<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
