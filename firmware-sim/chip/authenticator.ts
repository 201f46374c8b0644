/** The chip's CTAP 2.1 authenticator and CTAP1/U2F applet, as a CTAPHID application. */
import { createPrivateKey } from 'node:crypto';
import {
  concatBytes,
  constantTimeEqual,
  fromBase64,
  fromBase64Url,
  fromHex,
  fromUtf8,
  toHex,
  utf8,
  type Clock,
} from '../../src/core/index.js';
import {
  cborHeadLength,
  credentialDescriptorLength,
  decodeCbor,
  encodeCbor,
  writeCborHead,
  writeCredentialDescriptor,
  type CborMap,
} from '../../src/ctap/cbor.js';
import {
  KeepaliveStatus,
  type CtapHidApplication,
  type CtapHidReply,
} from '../../src/ctap/ctaphid.js';
import { pooledBytes } from '../../src/hid/pool.js';
import { CtapError, CtapStatus } from '../../src/ctap/status.js';
import {
  Cose,
  coseEc2,
  ecdhZ,
  CoseOkp,
  ed25519Key,
  es256Key,
  generateP256,
  hmacSha256,
  type CredentialKey,
  open,
  p256FromScalar,
  parsePlatformKey,
  pinProtocol,
  seal,
  sha256,
  signEs256,
  type P256Key,
  type PinUvAuthProtocol,
} from './crypto.js';
import {
  arrayParam,
  boolParam,
  bytesParam,
  credentialDescriptor,
  fail,
  intParam,
  mapParam,
  textParam,
  unexpected,
} from './params.js';
import { signEs256Deterministic } from './rfc6979.js';
import {
  MAX_RESIDENT_CREDENTIALS,
  PIN_RETRIES_MAX,
  type ChipPersistentState,
  type ResidentCredential,
} from './state.js';

/** How the chip's button answers a request for user presence. */
export const UpModes = ['auto', 'manual', 'deny'] as const;
export type UpMode = (typeof UpModes)[number];

/** CTAP2 command bytes (CTAP 2.1 §6). */
export const Ctap2Command = {
  makeCredential: 0x01,
  getAssertion: 0x02,
  getInfo: 0x04,
  clientPIN: 0x06,
  reset: 0x07,
  getNextAssertion: 0x08,
  credentialManagement: 0x0a,
  selection: 0x0b,
} as const;

/** pinUvAuthToken permissions (CTAP 2.1 §6.5.5.7). */
export const Permission = {
  mc: 0x01,
  ga: 0x02,
  cm: 0x04,
  be: 0x08,
  lbw: 0x10,
  acfg: 0x20,
} as const;

/** How long the chip waits for a touch (CTAP 2.1 §6.1.2 leaves it to us; 30 s like most keys). */
export const UP_TIMEOUT_MS = 30_000;
/** reset is only allowed this soon after power-up (CTAP 2.1 §6.6). */
export const RESET_WINDOW_MS = 10_000;
/** A U2F touch counts for this long (U2F has no keepalive; clients poll with retries). */
export const U2F_PRESENCE_MS = 10_000;
/** A pinUvAuthToken lives at most this long (§6.5.2.1 maxUsageTimePeriod; our choice). */
export const TOKEN_LIFETIME_MS = 10 * 60_000;
/** getNextAssertion and credential enumeration state lasts this long (§6.3). */
const NEXT_STATE_MS = 30_000;
/** maxMsgSize reported by getInfo. */
export const MAX_MSG_SIZE = 1200;

const CRED_ID_VERSION = 1;
const CRED_ID_LENGTH = 1 + 12 + 34 + 16;
const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_AT = 0x40;
const FLAG_ED = 0x80;
/** Bits of the flags byte sealed in a credential ID. */
const SEALED_HMAC_SECRET = 0x01;
const SEALED_EDDSA = 0x02;
/** Algorithms we make credentials with, as getInfo lists them. */
const ALGORITHMS: readonly number[] = [Cose.ES256, CoseOkp.EdDSA];

/**
 * How many opened credential keys the chip keeps in RAM. Opening a credential ID (AES-GCM, then
 * importing the scalar as a signing key) costs several times the signature itself; a real
 * authenticator would keep a few hot keys in RAM the same way.
 */
const KEY_CACHE_SIZE = 16;

/** The parameters of a command sent with none: read, never written. */
const NO_PARAMS: CborMap = new Map();

/** The CBOR options for requests: canonical, at most four levels (CTAP 2.1 §8). */
const REQUEST_CBOR = { maxDepth: 4, maxLength: 7609 } as const;

/** A credential opened from its ID. */
interface OpenedCredential {
  readonly id: Uint8Array;
  readonly key: CredentialKey;
  readonly credProtect: number;
  readonly hmacSecret: boolean;
  readonly resident?: ResidentCredential;
}

/** What opening a credential ID yields, kept in the volatile key cache. */
interface CachedKey {
  readonly key: CredentialKey;
  readonly credProtect: number;
  readonly hmacSecret: boolean;
}

interface PinToken {
  readonly token: Uint8Array;
  readonly permissions: number;
  rpId: string | undefined;
  readonly expires: number;
}

interface PendingUp {
  readonly since: number;
  readonly finish: () => Uint8Array;
  pressed: boolean;
}

interface NextAssertions {
  readonly creds: OpenedCredential[];
  readonly rpIdHash: Uint8Array;
  readonly clientDataHash: Uint8Array;
  readonly flags: number;
  readonly uv: boolean;
  readonly hmac: HmacSecretInput | null;
  readonly expires: number;
}

interface HmacSecretInput {
  readonly protocol: PinUvAuthProtocol;
  readonly shared: Uint8Array;
  readonly salts: Uint8Array;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function status(code: number): Uint8Array {
  return Uint8Array.of(code);
}

const OK_PREFIX = Uint8Array.of(CtapStatus.CTAP2_OK);

/** A success answer: the status byte and the CBOR body, pooled (it only goes to the wire). */
function ok(body?: unknown): Uint8Array {
  return body === undefined
    ? Uint8Array.of(0)
    : encodeCbor(body, { prefix: OK_PREFIX, pooled: true });
}

/** The bytes as a string, one character per byte: a cheap exact Map key. */
function latin1(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

/**
 * A getAssertion answer with no user and no count: the status byte, then what encodeCbor makes of
 * {1: {id, type: 'public-key'}, 2: authData, 3: signature}, laid out directly with no map built.
 * Pooled, as ok() is: it goes straight to the wire.
 */
export function plainAssertionAnswer(
  credentialId: Uint8Array,
  authData: Uint8Array,
  signature: Uint8Array,
): Uint8Array {
  const out = pooledBytes(
    3 +
      credentialDescriptorLength(credentialId.length) +
      1 +
      cborHeadLength(authData.length) +
      authData.length +
      1 +
      cborHeadLength(signature.length) +
      signature.length,
  );
  out[0] = CtapStatus.CTAP2_OK;
  out[1] = 0xa3;
  out[2] = 0x01;
  let at = writeCredentialDescriptor(out, 3, credentialId);
  out[at++] = 0x02;
  at = writeCborHead(out, at, 2, authData.length);
  out.set(authData, at);
  at += authData.length;
  out[at++] = 0x03;
  at = writeCborHead(out, at, 2, signature.length);
  out.set(signature, at);
  return out;
}

/** Byte-wise equality of public bytes (credential IDs, RP ID hashes); nothing secret. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function u32(n: number): Uint8Array {
  return Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

/** What the authenticator needs from the device around it. */
export interface AuthenticatorEnvironment {
  readonly clock: Clock;
  readonly random: (n: number) => Uint8Array;
  /** Called with a copy of the persistent state after every change. */
  readonly onPersist?: (state: ChipPersistentState) => void;
  /** Called on CTAPHID_WINK (a real chip would blink its light). */
  readonly onWink?: () => void;
  /** Sign ES256 with RFC 6979 nonces, so equal inputs give equal bytes. Default false. */
  readonly deterministicSignatures?: boolean;
}

/**
 * The CTAP 2.1 authenticator: getInfo, makeCredential, getAssertion/getNextAssertion, clientPIN
 * (protocols 1 and 2), credentialManagement, reset, selection; and U2F over MSG. Plugged into a
 * CtapHidDevice as its application. State changes only when a command succeeds (or, for PIN
 * retries, as the spec orders).
 */
export class ChipAuthenticator implements CtapHidApplication {
  #s: Mutable<ChipPersistentState>;
  readonly #env: AuthenticatorEnvironment;
  #signAttestation: (data: Uint8Array) => Uint8Array;
  #attestationCert: Uint8Array;
  /** How the button answers. */
  upMode: UpMode;

  // Volatile state: gone at power-up.
  #powerUpAt = 0;
  #keyAgreement!: P256Key;
  #token: PinToken | null = null;
  #pinFailsSincePowerUp = 0;
  #pending: PendingUp | null = null;
  #cancelled = false;
  #next: NextAssertions | null = null;
  #enumRps: { rps: string[]; expires: number } | null = null;
  #enumCreds: { creds: ResidentCredential[]; expires: number } | null = null;
  #lastPress = -Infinity;
  /**
   * Credential keys already opened, by credential ID and RP ID hash (both public), least recently
   * used first. Volatile: emptied at power-up and reset, never persisted, never logged. A hit
   * stands for a successful open of exactly these bytes under the current wrap key.
   */
  readonly #keyCache = new Map<string, CachedKey>();
  /**
   * The entry of #keyCache used last and the bytes it was found by, checked before the map: a
   * login loop names the same credential every time, and comparing 95 bytes is cheaper than
   * making the map's string key. Always the map's most recent entry, or null.
   */
  #lastOpened: { id: Uint8Array; rpIdHash: Uint8Array; key: CachedKey } | null = null;
  /** The last RP ID and its hash: assertions mostly repeat the same RP. */
  #rpIdHashCache: { rpId: string; hash: Uint8Array } | null = null;

  constructor(state: ChipPersistentState, env: AuthenticatorEnvironment, upMode: UpMode) {
    this.#s = structuredClone(state) as Mutable<ChipPersistentState>;
    this.#env = env;
    this.upMode = upMode;
    const attestationKey = createPrivateKey({
      key: Buffer.from(fromBase64(state.attestation.keyPkcs8)),
      format: 'der',
      type: 'pkcs8',
    });
    if (env.deterministicSignatures) {
      const d = fromBase64Url(attestationKey.export({ format: 'jwk' }).d ?? '');
      this.#signAttestation = (data) => signEs256Deterministic(d, data);
    } else {
      this.#signAttestation = (data) => signEs256(attestationKey, data);
    }
    this.#attestationCert = fromBase64(state.attestation.certDer);
    this.powerUp();
  }

  get #deterministic(): boolean {
    return this.#env.deterministicSignatures === true;
  }

  /** A copy of the persistent state. */
  snapshot(): ChipPersistentState {
    return structuredClone(this.#s);
  }

  /** True while a request waits for the button. */
  get waitingForUser(): boolean {
    return this.#pending !== null;
  }

  /** Drops all volatile state, as at power-up (§6.5.5.1: a new key agreement key and token). */
  powerUp(): void {
    this.#powerUpAt = this.#env.clock.now();
    this.#keyAgreement = generateP256(this.#env.random);
    this.#token = null;
    this.#pinFailsSincePowerUp = 0;
    this.#pending = null;
    this.#cancelled = false;
    this.#next = null;
    this.#enumRps = null;
    this.#enumCreds = null;
    this.#lastPress = -Infinity;
    this.#keyCache.clear();
    this.#lastOpened = null;
  }

  /** The user touches the button. */
  pressButton(): void {
    if (this.#pending) this.#pending.pressed = true;
    else this.#lastPress = this.#env.clock.now();
  }

  #persist(): void {
    this.#env.onPersist?.(this.snapshot());
  }

  // -------------------------------------------------------------------------------------------
  // CTAPHID application

  cbor(request: Uint8Array): CtapHidReply {
    this.#cancelled = false;
    const cmd = request[0]!;
    try {
      return this.#command(cmd, request.subarray(1));
    } catch (e) {
      return {
        type: 'done',
        payload: status(e instanceof CtapError ? e.status : CtapStatus.CTAP1_ERR_OTHER),
      };
    }
  }

  poll(): CtapHidReply {
    const p = this.#pending;
    if (!p) return { type: 'done', payload: status(CtapStatus.CTAP1_ERR_OTHER) };
    if (this.#cancelled) {
      this.#pending = null;
      return { type: 'done', payload: status(CtapStatus.CTAP2_ERR_KEEPALIVE_CANCEL) };
    }
    if (this.upMode === 'deny') {
      this.#pending = null;
      return { type: 'done', payload: status(CtapStatus.CTAP2_ERR_OPERATION_DENIED) };
    }
    if (p.pressed || this.upMode === 'auto') {
      this.#pending = null;
      return { type: 'done', payload: this.#finish(p.finish) };
    }
    if (this.#env.clock.now() - p.since >= UP_TIMEOUT_MS) {
      this.#pending = null;
      return { type: 'done', payload: status(CtapStatus.CTAP2_ERR_USER_ACTION_TIMEOUT) };
    }
    return { type: 'pending', status: KeepaliveStatus.UPNEEDED };
  }

  cancel(): void {
    this.#cancelled = true;
  }

  wink(): void {
    this.#env.onWink?.();
  }

  #finish(f: () => Uint8Array): Uint8Array {
    try {
      return f();
    } catch (e) {
      return status(e instanceof CtapError ? e.status : CtapStatus.CTAP1_ERR_OTHER);
    }
  }

  /** Waits for the button (CTAP 2.1 §6.1.2 step 13 and friends), then runs `finish`. */
  #requireUp(finish: () => Uint8Array): CtapHidReply {
    switch (this.upMode) {
      case 'auto':
        return { type: 'done', payload: this.#finish(finish) };
      case 'deny':
        return { type: 'done', payload: status(CtapStatus.CTAP2_ERR_OPERATION_DENIED) };
      case 'manual':
        this.#pending = { since: this.#env.clock.now(), finish, pressed: false };
        return { type: 'pending', status: KeepaliveStatus.UPNEEDED };
    }
  }

  #command(cmd: number, body: Uint8Array): CtapHidReply {
    // State for follow-up commands lasts only until another command arrives (§6.3, §6.8).
    if (cmd !== Ctap2Command.getNextAssertion) this.#next = null;
    if (cmd !== Ctap2Command.credentialManagement) {
      this.#enumRps = null;
      this.#enumCreds = null;
    }
    let params: CborMap = NO_PARAMS;
    if (body.length > 0) {
      const v = decodeCbor(body, REQUEST_CBOR);
      if (!(v instanceof Map)) throw unexpected('request parameters', 'a map');
      params = v as CborMap;
    }
    const done = (payload: Uint8Array): CtapHidReply => ({ type: 'done', payload });
    switch (cmd) {
      case Ctap2Command.getInfo:
        if (body.length > 0)
          fail(CtapStatus.CTAP1_ERR_INVALID_LENGTH, 'getInfo takes no parameters');
        return done(this.#getInfo());
      case Ctap2Command.makeCredential:
        return this.#makeCredential(params);
      case Ctap2Command.getAssertion:
        return this.#getAssertion(params);
      case Ctap2Command.getNextAssertion:
        return done(this.#getNextAssertion());
      case Ctap2Command.clientPIN:
        return done(this.#clientPin(params));
      case Ctap2Command.reset:
        return this.#reset();
      case Ctap2Command.credentialManagement:
        return done(this.#credentialManagement(params));
      case Ctap2Command.selection:
        return this.#requireUp(() => ok());
      default:
        return done(status(CtapStatus.CTAP1_ERR_INVALID_COMMAND));
    }
  }

  // -------------------------------------------------------------------------------------------
  // authenticatorGetInfo (§6.4)

  #getInfo(): Uint8Array {
    return ok(
      new Map<number, unknown>([
        [0x01, ['U2F_V2', 'FIDO_2_0', 'FIDO_2_1']],
        [0x02, ['credProtect', 'hmac-secret']],
        [0x03, fromHex(this.#s.aaguid)],
        [
          0x04,
          new Map<string, boolean>([
            ['rk', true],
            ['up', true],
            ['plat', false],
            ['credMgmt', true],
            ['clientPin', this.#s.pinHash !== null],
            ['pinUvAuthToken', true],
            ['makeCredUvNotRqd', true],
          ]),
        ],
        [0x05, MAX_MSG_SIZE],
        [0x06, [2, 1]],
        [0x07, 8],
        [0x08, CRED_ID_LENGTH],
        [0x09, ['usb']],
        [
          0x0a,
          ALGORITHMS.map(
            (alg) =>
              new Map<string, unknown>([
                ['alg', alg],
                ['type', 'public-key'],
              ]),
          ),
        ],
        [0x0c, false],
        [0x0d, 4],
        [0x0e, 0x010000],
        [0x14, MAX_RESIDENT_CREDENTIALS - this.#s.credentials.length],
      ]),
    );
  }

  // -------------------------------------------------------------------------------------------
  // Credential IDs: the private key sealed under the chip's wrap key, bound to the RP ID hash.

  #makeCredentialId(
    key: CredentialKey,
    rpIdHash: Uint8Array,
    credProtect: number,
    hmacSecret: boolean,
  ): Uint8Array {
    const iv = this.#env.random(12);
    const flags =
      (hmacSecret ? SEALED_HMAC_SECRET : 0) | (key.alg === CoseOkp.EdDSA ? SEALED_EDDSA : 0);
    const plain = concatBytes(key.secret, Uint8Array.of(credProtect, flags));
    return concatBytes(
      Uint8Array.of(CRED_ID_VERSION),
      iv,
      seal(fromHex(this.#s.wrapKey), iv, rpIdHash, plain),
    );
  }

  #openCredential(id: Uint8Array, rpIdHash: Uint8Array): OpenedCredential | null {
    if (id.length !== CRED_ID_LENGTH || id[0] !== CRED_ID_VERSION) return null;
    const last = this.#lastOpened;
    const opened =
      last !== null && sameBytes(last.id, id) && sameBytes(last.rpIdHash, rpIdHash)
        ? last.key
        : this.#openCredentialKey(id, rpIdHash);
    if (opened === null) return null;
    // Looked up every time: a discoverable credential may have been deleted or renamed since.
    const resident = this.#s.credentials.length > 0 ? this.#resident(id) : undefined;
    const out: Mutable<OpenedCredential> = {
      id: new Uint8Array(id),
      key: opened.key,
      credProtect: opened.credProtect,
      hmacSecret: opened.hmacSecret,
    };
    if (resident) out.resident = resident;
    return out;
  }

  /** The key sealed in credential ID `id` for `rpIdHash`, from #keyCache or opened now. */
  #openCredentialKey(id: Uint8Array, rpIdHash: Uint8Array): CachedKey | null {
    const cacheKey = latin1(id) + latin1(rpIdHash);
    let opened = this.#keyCache.get(cacheKey);
    if (opened) {
      // Most recently used goes last.
      this.#keyCache.delete(cacheKey);
    } else {
      const plain = open(fromHex(this.#s.wrapKey), id.subarray(1, 13), rpIdHash, id.subarray(13));
      if (plain === null || plain.length !== 34) return null;
      opened = {
        key:
          plain[33]! & SEALED_EDDSA
            ? ed25519Key(plain.subarray(0, 32))
            : es256Key(p256FromScalar(plain.subarray(0, 32)), this.#deterministic),
        credProtect: plain[32]!,
        hmacSecret: (plain[33]! & SEALED_HMAC_SECRET) !== 0,
      };
      plain.fill(0);
      if (this.#keyCache.size >= KEY_CACHE_SIZE) {
        const oldest = this.#keyCache.keys().next();
        if (!oldest.done) this.#keyCache.delete(oldest.value);
      }
    }
    this.#keyCache.set(cacheKey, opened);
    this.#lastOpened = { id: new Uint8Array(id), rpIdHash: new Uint8Array(rpIdHash), key: opened };
    return opened;
  }

  #resident(id: Uint8Array): ResidentCredential | undefined {
    const idHex = toHex(id);
    return this.#s.credentials.find((c) => c.id === idHex);
  }

  /** SHA-256 of the RP ID, remembered for the last RP asked about. */
  #rpIdHash(rpId: string): Uint8Array {
    const c = this.#rpIdHashCache;
    if (c !== null && c.rpId === rpId) return c.hash;
    const hash = sha256(utf8(rpId));
    this.#rpIdHashCache = { rpId, hash };
    return hash;
  }

  #authData(
    rpIdHash: Uint8Array,
    flags: number,
    attested?: Uint8Array,
    extensions?: Map<string, unknown>,
  ): Uint8Array {
    return concatBytes(
      rpIdHash,
      Uint8Array.of(
        flags | (attested ? FLAG_AT : 0) | (extensions && extensions.size > 0 ? FLAG_ED : 0),
      ),
      u32(this.#s.signCount),
      attested ?? new Uint8Array(0),
      extensions && extensions.size > 0 ? encodeCbor(extensions) : new Uint8Array(0),
    );
  }

  #bumpCounter(): void {
    this.#s.signCount = (this.#s.signCount + 1) >>> 0;
  }

  // -------------------------------------------------------------------------------------------
  // PIN/UV auth tokens

  #protocolParam(
    param: Uint8Array | undefined,
    protocolNum: number | undefined,
  ): PinUvAuthProtocol | null {
    if (protocolNum === undefined) {
      if (param !== undefined)
        fail(CtapStatus.CTAP2_ERR_MISSING_PARAMETER, 'pinUvAuthProtocol is missing');
      return null;
    }
    const p = pinProtocol(protocolNum);
    if (!p) fail(CtapStatus.CTAP1_ERR_INVALID_PARAMETER, 'unsupported pinUvAuthProtocol');
    return p;
  }

  /** Verifies a pinUvAuthParam against the current token and its permissions (§6.5.5.7). */
  #checkToken(
    p: PinUvAuthProtocol,
    message: Uint8Array,
    param: Uint8Array,
    permission: number,
    rpId?: string,
  ): void {
    const t = this.#token;
    const now = this.#env.clock.now();
    if (!t || now >= t.expires || !p.verify(t.token, message, param)) {
      fail(CtapStatus.CTAP2_ERR_PIN_AUTH_INVALID, 'pinUvAuthParam does not verify');
    }
    if ((t.permissions & permission) === 0)
      fail(CtapStatus.CTAP2_ERR_PIN_AUTH_INVALID, 'token lacks the permission');
    if (rpId !== undefined) {
      if (t.rpId !== undefined && t.rpId !== rpId)
        fail(CtapStatus.CTAP2_ERR_PIN_AUTH_INVALID, 'token is bound to another RP');
      t.rpId = rpId;
    }
  }

  // -------------------------------------------------------------------------------------------
  // authenticatorMakeCredential (§6.1.2)

  #makeCredential(p: CborMap): CtapHidReply {
    const clientDataHash = bytesParam(p, 0x01, 'clientDataHash');
    const rp = mapParam(p, 0x02, 'rp');
    const user = mapParam(p, 0x03, 'user');
    const credParams = arrayParam(p, 0x04, 'pubKeyCredParams');
    const excludeList = arrayParam(p, 0x05, 'excludeList', false);
    const extensions = mapParam(p, 0x06, 'extensions', false);
    const options = mapParam(p, 0x07, 'options', false);
    const param = bytesParam(p, 0x08, 'pinUvAuthParam', false);
    const protocolNum = intParam(p, 0x09, 'pinUvAuthProtocol', false);
    const rpId = textParam(rp, 'id', 'rp.id');
    const rpName = textParam(rp, 'name', 'rp.name', false);
    const userId = bytesParam(user, 'id', 'user.id');
    const userName = textParam(user, 'name', 'user.name', false);
    const displayName = textParam(user, 'displayName', 'user.displayName', false);
    if (userId.length > 64)
      fail(CtapStatus.CTAP1_ERR_INVALID_LENGTH, 'user.id is longer than 64 bytes');

    // Step 1: a zero-length pinUvAuthParam asks "is a PIN set?" after a touch.
    if (param !== undefined && param.length === 0) {
      return this.#requireUp(() =>
        status(
          this.#s.pinHash ? CtapStatus.CTAP2_ERR_PIN_INVALID : CtapStatus.CTAP2_ERR_PIN_NOT_SET,
        ),
      );
    }
    // Step 2: the protocol.
    const protocol = this.#protocolParam(param, protocolNum);

    // Step 3: the first algorithm we support, in the RP's order of preference.
    let alg: number | undefined;
    for (const [i, cp] of credParams.entries()) {
      if (!(cp instanceof Map)) throw unexpected(`pubKeyCredParams[${i}]`, 'a map');
      const type = textParam(cp as CborMap, 'type', `pubKeyCredParams[${i}].type`);
      const a = intParam(cp as CborMap, 'alg', `pubKeyCredParams[${i}].alg`);
      if (alg === undefined && type === 'public-key' && ALGORITHMS.includes(a)) alg = a;
    }
    if (alg === undefined)
      fail(CtapStatus.CTAP2_ERR_UNSUPPORTED_ALGORITHM, 'no supported algorithm');

    // Step 5: options.
    const rk = options ? boolParam(options, 'rk', 'options.rk') === true : false;
    if (options && boolParam(options, 'up', 'options.up') === false) {
      fail(CtapStatus.CTAP2_ERR_INVALID_OPTION, 'makeCredential always needs user presence');
    }
    if (options && boolParam(options, 'uv', 'options.uv') === true) {
      fail(CtapStatus.CTAP2_ERR_INVALID_OPTION, 'no built-in user verification');
    }

    // Step 6: extensions we know; others are ignored (§6.1.2 step 6, §12).
    let credProtect = 1;
    let hmacSecret = false;
    if (extensions) {
      const cpv = extensions.get('credProtect');
      if (cpv !== undefined) {
        if (cpv !== 1 && cpv !== 2 && cpv !== 3)
          fail(CtapStatus.CTAP1_ERR_INVALID_PARAMETER, 'credProtect must be 1..3');
        credProtect = cpv;
      }
      const hs = extensions.get('hmac-secret');
      if (hs !== undefined && typeof hs !== 'boolean') throw unexpected('hmac-secret', 'a boolean');
      hmacSecret = hs === true;
    }

    // Step 11: user verification through the pinUvAuthToken.
    let uv = false;
    if (protocol && param) {
      this.#checkToken(protocol, clientDataHash, param, Permission.mc, rpId);
      uv = true;
    } else if (this.#s.pinHash !== null && rk) {
      // makeCredUvNotRqd: only discoverable credentials need UV once a PIN is set.
      fail(CtapStatus.CTAP2_ERR_PUAT_REQUIRED, 'a PIN is set: discoverable credentials need it');
    }

    const rpIdHash = sha256(utf8(rpId));
    // Steps 9-10: an excluded credential answers after a touch.
    if (excludeList) {
      for (const [i, d] of excludeList.entries()) {
        const id = credentialDescriptor(d, 'excludeList', i);
        if (id === null) continue;
        const c = this.#openCredential(id, rpIdHash);
        if (c && (c.credProtect !== 3 || uv)) {
          return this.#requireUp(() => status(CtapStatus.CTAP2_ERR_CREDENTIAL_EXCLUDED));
        }
      }
    }
    const userIdHex = toHex(userId);
    const replaces = (c: ResidentCredential): boolean => c.rpId === rpId && c.userId === userIdHex;
    if (
      rk &&
      !this.#s.credentials.some(replaces) &&
      this.#s.credentials.length >= MAX_RESIDENT_CREDENTIALS
    ) {
      fail(CtapStatus.CTAP2_ERR_KEY_STORE_FULL, 'no room for another discoverable credential');
    }

    return this.#requireUp(() => {
      const key =
        alg === CoseOkp.EdDSA
          ? ed25519Key(this.#env.random(32))
          : es256Key(generateP256(this.#env.random), this.#deterministic);
      const id = this.#makeCredentialId(key, rpIdHash, credProtect, hmacSecret);
      if (rk) {
        const kept = this.#s.credentials.filter((c) => !replaces(c));
        kept.push({
          id: toHex(id),
          rpId,
          ...(rpName === undefined ? {} : { rpName }),
          userId: userIdHex,
          ...(userName === undefined ? {} : { userName }),
          ...(displayName === undefined ? {} : { userDisplayName: displayName }),
          credProtect,
          hmacSecret,
          created: this.#s.nextCreated,
        });
        this.#s.credentials = kept;
        this.#s.nextCreated += 1;
      }
      this.#bumpCounter();
      const ext = new Map<string, unknown>();
      if (extensions?.has('credProtect')) ext.set('credProtect', credProtect);
      if (hmacSecret) ext.set('hmac-secret', true);
      const attested = concatBytes(
        fromHex(this.#s.aaguid),
        Uint8Array.of(id.length >>> 8, id.length & 0xff),
        id,
        encodeCbor(key.cose),
      );
      const authData = this.#authData(rpIdHash, FLAG_UP | (uv ? FLAG_UV : 0), attested, ext);
      // Packed attestation with a certificate (WebAuthn §8.2): sig over authData ‖ clientDataHash.
      const sig = this.#signAttestation(concatBytes(authData, clientDataHash));
      this.#persist();
      return ok(
        new Map<number, unknown>([
          [0x01, 'packed'],
          [0x02, authData],
          [
            0x03,
            new Map<string, unknown>([
              ['alg', Cose.ES256],
              ['sig', sig],
              ['x5c', [this.#attestationCert]],
            ]),
          ],
        ]),
      );
    });
  }

  // -------------------------------------------------------------------------------------------
  // authenticatorGetAssertion (§6.2.2) and authenticatorGetNextAssertion (§6.3)

  #getAssertion(p: CborMap): CtapHidReply {
    const rpId = textParam(p, 0x01, 'rpId');
    const clientDataHash = bytesParam(p, 0x02, 'clientDataHash');
    const allowList = arrayParam(p, 0x03, 'allowList', false);
    const extensions = mapParam(p, 0x04, 'extensions', false);
    const options = mapParam(p, 0x05, 'options', false);
    const param = bytesParam(p, 0x06, 'pinUvAuthParam', false);
    const protocolNum = intParam(p, 0x07, 'pinUvAuthProtocol', false);

    if (param !== undefined && param.length === 0) {
      return this.#requireUp(() =>
        status(
          this.#s.pinHash ? CtapStatus.CTAP2_ERR_PIN_INVALID : CtapStatus.CTAP2_ERR_PIN_NOT_SET,
        ),
      );
    }
    const protocol = this.#protocolParam(param, protocolNum);
    let up = true;
    if (options) {
      if (options.has('rk'))
        fail(CtapStatus.CTAP2_ERR_UNSUPPORTED_OPTION, 'rk is not an assertion option');
      if (boolParam(options, 'uv', 'options.uv') === true) {
        fail(CtapStatus.CTAP2_ERR_INVALID_OPTION, 'no built-in user verification');
      }
      up = boolParam(options, 'up', 'options.up') ?? true;
    }
    let uv = false;
    if (protocol && param) {
      this.#checkToken(protocol, clientDataHash, param, Permission.ga, rpId);
      uv = true;
    }

    // Step 7: locate credentials.
    const rpIdHash = this.#rpIdHash(rpId);
    let creds: OpenedCredential[] = [];
    const fromAllowList = allowList !== undefined && allowList.length > 0;
    if (fromAllowList) {
      // Every descriptor is checked; the first credential that opens and may be used answers.
      for (let i = 0; i < allowList.length; i++) {
        const id = credentialDescriptor(allowList[i], 'allowList', i);
        if (id === null) continue;
        const c = this.#openCredential(id, rpIdHash);
        // credProtect 3 (userVerificationRequired) hides a credential without UV (§12.1).
        if (c && (c.credProtect !== 3 || uv) && creds.length === 0) creds.push(c);
      }
    } else {
      creds = this.#s.credentials
        .filter((c) => c.rpId === rpId && (c.credProtect === 1 || uv))
        .sort((a, b) => b.created - a.created)
        .map((c) => this.#openCredential(fromHex(c.id), rpIdHash))
        .filter((c): c is OpenedCredential => c !== null);
    }

    const hmac = extensions ? this.#hmacSecretInput(extensions) : null;
    if (creds.length === 0) fail(CtapStatus.CTAP2_ERR_NO_CREDENTIALS, 'no credentials for this RP');
    const flags = (up ? FLAG_UP : 0) | (uv ? FLAG_UV : 0);
    const finish = (): Uint8Array => {
      const first = creds[0];
      if (!fromAllowList && creds.length > 1) {
        this.#next = {
          creds: creds.slice(1),
          rpIdHash,
          clientDataHash,
          flags,
          uv,
          hmac,
          expires: this.#env.clock.now() + NEXT_STATE_MS,
        };
      }
      return this.#assertion(
        first!,
        rpIdHash,
        clientDataHash,
        flags,
        uv,
        hmac,
        fromAllowList ? undefined : creds.length,
      );
    };
    return up ? this.#requireUp(finish) : { type: 'done', payload: this.#finish(finish) };
  }

  #getNextAssertion(): Uint8Array {
    const n = this.#next;
    if (!n || this.#env.clock.now() >= n.expires || n.creds.length === 0) {
      this.#next = null;
      fail(CtapStatus.CTAP2_ERR_NOT_ALLOWED, 'no getAssertion to continue');
    }
    const c = n.creds.shift()!;
    return this.#assertion(c, n.rpIdHash, n.clientDataHash, n.flags, n.uv, n.hmac, undefined);
  }

  #assertion(
    c: OpenedCredential,
    rpIdHash: Uint8Array,
    clientDataHash: Uint8Array,
    flags: number,
    uv: boolean,
    hmac: HmacSecretInput | null,
    numberOfCredentials: number | undefined,
  ): Uint8Array {
    this.#bumpCounter();
    let signed: Uint8Array;
    let authData: Uint8Array;
    if (hmac && c.hmacSecret) {
      const ext = new Map<string, unknown>([['hmac-secret', this.#hmacSecretOutput(c, uv, hmac)]]);
      authData = this.#authData(rpIdHash, flags, undefined, ext);
      signed = concatBytes(authData, clientDataHash);
    } else {
      // No attested data, no extensions: rpIdHash ‖ flags ‖ signCount, written straight into the
      // buffer that is signed (authData ‖ clientDataHash, WebAuthn §6.3.3 step 11).
      // Pooled: the bytes are signed and encoded into the answer here, and kept nowhere.
      signed = pooledBytes(37 + clientDataHash.length);
      signed.set(rpIdHash, 0);
      signed[32] = flags;
      const n = this.#s.signCount;
      signed[33] = n >>> 24;
      signed[34] = (n >>> 16) & 0xff;
      signed[35] = (n >>> 8) & 0xff;
      signed[36] = n & 0xff;
      signed.set(clientDataHash, 37);
      authData = signed.subarray(0, 37);
    }
    const signature = c.key.sign(signed);
    if (!c.resident && !(numberOfCredentials !== undefined && numberOfCredentials > 1)) {
      // The usual answer (no user, no count) is laid out directly rather than built as maps.
      this.#persist();
      return plainAssertionAnswer(c.id, authData, signature);
    }
    const res = new Map<number, unknown>([
      [
        0x01,
        new Map<string, unknown>([
          ['id', c.id],
          ['type', 'public-key'],
        ]),
      ],
      [0x02, authData],
      [0x03, signature],
    ]);
    if (c.resident) {
      const u = new Map<string, unknown>([['id', fromHex(c.resident.userId)]]);
      // §6.2.2 step 12: names only after user verification.
      if (uv && c.resident.userName !== undefined) u.set('name', c.resident.userName);
      if (uv && c.resident.userDisplayName !== undefined)
        u.set('displayName', c.resident.userDisplayName);
      res.set(0x04, u);
    }
    if (numberOfCredentials !== undefined && numberOfCredentials > 1)
      res.set(0x05, numberOfCredentials);
    this.#persist();
    return ok(res);
  }

  /** hmac-secret input (CTAP 2.1 §12.5): keyAgreement, saltEnc, saltAuth, pinUvAuthProtocol. */
  #hmacSecretInput(extensions: CborMap): HmacSecretInput | null {
    const v = extensions.get('hmac-secret');
    if (v === undefined) return null;
    if (!(v instanceof Map)) throw unexpected('hmac-secret', 'a map');
    const m = v as CborMap;
    const platformKey = parsePlatformKey(
      m.get(0x01) ?? fail(CtapStatus.CTAP2_ERR_MISSING_PARAMETER, 'keyAgreement is missing'),
    );
    const saltEnc = bytesParam(m, 0x02, 'saltEnc');
    const saltAuth = bytesParam(m, 0x03, 'saltAuth');
    const protocol = pinProtocol(intParam(m, 0x04, 'pinUvAuthProtocol', false) ?? 1);
    if (!protocol) fail(CtapStatus.CTAP1_ERR_INVALID_PARAMETER, 'unsupported pinUvAuthProtocol');
    const shared = this.#sharedSecret(protocol, platformKey);
    if (!protocol.verify(shared, saltEnc, saltAuth))
      fail(CtapStatus.CTAP2_ERR_PIN_AUTH_INVALID, 'saltAuth does not verify');
    const salts = protocol.decrypt(shared, saltEnc);
    if (!salts || (salts.length !== 32 && salts.length !== 64)) {
      fail(CtapStatus.CTAP1_ERR_INVALID_LENGTH, 'salts must be 32 or 64 bytes');
    }
    return { protocol, shared, salts };
  }

  #hmacSecretOutput(c: OpenedCredential, uv: boolean, h: HmacSecretInput): Uint8Array {
    // CredRandom: one secret with UV, one without (§12.5), derived from the sealed ID.
    const credRandom = hmacSha256(
      fromHex(this.#s.wrapKey),
      utf8(uv ? 'hmac-secret/uv' : 'hmac-secret/up'),
      c.id,
    );
    const out = [hmacSha256(credRandom, h.salts.subarray(0, 32))];
    if (h.salts.length === 64) out.push(hmacSha256(credRandom, h.salts.subarray(32)));
    return h.protocol.encrypt(h.shared, concatBytes(...out), this.#env.random);
  }

  #sharedSecret(protocol: PinUvAuthProtocol, platformKey: Uint8Array): Uint8Array {
    const z = ecdhZ(this.#keyAgreement, platformKey);
    if (!z) fail(CtapStatus.CTAP1_ERR_INVALID_PARAMETER, 'keyAgreement is not a point on P-256');
    return protocol.kdf(z);
  }

  // -------------------------------------------------------------------------------------------
  // authenticatorClientPIN (§6.5.5)

  #clientPin(p: CborMap): Uint8Array {
    const protocolNum = intParam(p, 0x01, 'pinUvAuthProtocol', false);
    const sub = intParam(p, 0x02, 'subCommand');
    if (sub === 0x01) {
      return ok(
        new Map<number, unknown>([
          [0x03, this.#s.pinRetries],
          [0x04, this.#pinFailsSincePowerUp >= 3],
        ]),
      );
    }
    if (protocolNum === undefined)
      fail(CtapStatus.CTAP2_ERR_MISSING_PARAMETER, 'pinUvAuthProtocol is missing');
    const protocol = pinProtocol(protocolNum);
    if (!protocol) fail(CtapStatus.CTAP1_ERR_INVALID_PARAMETER, 'unsupported pinUvAuthProtocol');
    switch (sub) {
      case 0x02:
        return ok(
          new Map([[0x01, coseEc2(this.#keyAgreement.publicPoint, Cose.ECDH_ES_HKDF_256)]]),
        );
      case 0x03:
        return this.#setPin(protocol, p);
      case 0x04:
        return this.#changePin(protocol, p);
      case 0x05:
        if (p.has(0x09) || p.has(0x0a))
          fail(CtapStatus.CTAP1_ERR_INVALID_PARAMETER, 'getPinToken takes no permissions');
        return this.#getToken(protocol, p, Permission.mc | Permission.ga, undefined);
      case 0x09: {
        const permissions = intParam(p, 0x09, 'permissions');
        const rpId = textParam(p, 0x0a, 'rpId', false);
        if (permissions <= 0 || permissions > 0xff)
          fail(CtapStatus.CTAP1_ERR_INVALID_PARAMETER, 'permissions must be 1..255');
        if (permissions & ~(Permission.mc | Permission.ga | Permission.cm)) {
          fail(CtapStatus.CTAP2_ERR_UNAUTHORIZED_PERMISSION, 'permission not supported');
        }
        if (permissions & (Permission.mc | Permission.ga) && rpId === undefined) {
          fail(CtapStatus.CTAP2_ERR_MISSING_PARAMETER, 'rpId is needed for mc and ga');
        }
        return this.#getToken(protocol, p, permissions, rpId);
      }
      default:
        fail(CtapStatus.CTAP2_ERR_INVALID_SUBCOMMAND, 'unknown clientPIN subcommand');
    }
  }

  #platformShared(protocol: PinUvAuthProtocol, p: CborMap): Uint8Array {
    const ka = p.get(0x03);
    if (ka === undefined) fail(CtapStatus.CTAP2_ERR_MISSING_PARAMETER, 'keyAgreement is missing');
    return this.#sharedSecret(protocol, parsePlatformKey(ka));
  }

  /** Decrypts and checks a new PIN (§6.5.5.5 steps 5-7); returns its hash and length. */
  #newPin(
    protocol: PinUvAuthProtocol,
    shared: Uint8Array,
    newPinEnc: Uint8Array,
  ): { hash: string; length: number } {
    const padded = protocol.decrypt(shared, newPinEnc);
    if (!padded || padded.length !== 64)
      fail(CtapStatus.CTAP1_ERR_INVALID_PARAMETER, 'newPinEnc must hold 64 bytes');
    const end = padded.indexOf(0);
    if (end < 0) fail(CtapStatus.CTAP2_ERR_PIN_POLICY_VIOLATION, 'PIN is longer than 63 bytes');
    const pinBytes = padded.subarray(0, end);
    if (padded.subarray(end).some((b) => b !== 0))
      fail(CtapStatus.CTAP2_ERR_PIN_POLICY_VIOLATION, 'PIN padding is not zero');
    let pin: string;
    try {
      pin = fromUtf8(pinBytes);
    } catch {
      fail(CtapStatus.CTAP2_ERR_PIN_POLICY_VIOLATION, 'PIN is not UTF-8');
    }
    const length = [...pin].length;
    if (length < 4)
      fail(CtapStatus.CTAP2_ERR_PIN_POLICY_VIOLATION, 'PIN is shorter than 4 code points');
    return { hash: toHex(sha256(pinBytes).subarray(0, 16)), length };
  }

  #setPin(protocol: PinUvAuthProtocol, p: CborMap): Uint8Array {
    const newPinEnc = bytesParam(p, 0x05, 'newPinEnc');
    const param = bytesParam(p, 0x04, 'pinUvAuthParam');
    const shared = this.#platformShared(protocol, p);
    if (this.#s.pinHash !== null) fail(CtapStatus.CTAP2_ERR_NOT_ALLOWED, 'a PIN is already set');
    if (!protocol.verify(shared, newPinEnc, param))
      fail(CtapStatus.CTAP2_ERR_PIN_AUTH_INVALID, 'pinUvAuthParam does not verify');
    const pin = this.#newPin(protocol, shared, newPinEnc);
    this.#s.pinHash = pin.hash;
    this.#s.pinLength = pin.length;
    this.#s.pinRetries = PIN_RETRIES_MAX;
    this.#persist();
    return ok();
  }

  #changePin(protocol: PinUvAuthProtocol, p: CborMap): Uint8Array {
    const pinHashEnc = bytesParam(p, 0x06, 'pinHashEnc');
    const newPinEnc = bytesParam(p, 0x05, 'newPinEnc');
    const param = bytesParam(p, 0x04, 'pinUvAuthParam');
    const shared = this.#platformShared(protocol, p);
    if (this.#s.pinHash === null) fail(CtapStatus.CTAP2_ERR_PIN_NOT_SET, 'no PIN is set');
    if (this.#s.pinRetries === 0) fail(CtapStatus.CTAP2_ERR_PIN_BLOCKED, 'PIN is blocked');
    if (!protocol.verify(shared, concatBytes(newPinEnc, pinHashEnc), param)) {
      fail(CtapStatus.CTAP2_ERR_PIN_AUTH_INVALID, 'pinUvAuthParam does not verify');
    }
    this.#verifyPinHash(protocol, shared, pinHashEnc);
    const pin = this.#newPin(protocol, shared, newPinEnc);
    this.#s.pinHash = pin.hash;
    this.#s.pinLength = pin.length;
    this.#token = null;
    this.#persist();
    return ok();
  }

  #getToken(
    protocol: PinUvAuthProtocol,
    p: CborMap,
    permissions: number,
    rpId: string | undefined,
  ): Uint8Array {
    const pinHashEnc = bytesParam(p, 0x06, 'pinHashEnc');
    const shared = this.#platformShared(protocol, p);
    if (this.#s.pinHash === null) fail(CtapStatus.CTAP2_ERR_PIN_NOT_SET, 'no PIN is set');
    this.#verifyPinHash(protocol, shared, pinHashEnc);
    // §6.5.5.7 step: a new token replaces the old one, for every protocol.
    const token = this.#env.random(32);
    this.#token = { token, permissions, rpId, expires: this.#env.clock.now() + TOKEN_LIFETIME_MS };
    return ok(new Map([[0x02, protocol.encrypt(shared, token, this.#env.random)]]));
  }

  /** §6.5.5.7 steps: retries, the power-cycle block, and a constant-time comparison. */
  #verifyPinHash(protocol: PinUvAuthProtocol, shared: Uint8Array, pinHashEnc: Uint8Array): void {
    if (pinHashEnc.length !== (protocol.version === 1 ? 16 : 32)) {
      fail(CtapStatus.CTAP1_ERR_INVALID_PARAMETER, 'pinHashEnc has the wrong length');
    }
    if (this.#s.pinRetries === 0) fail(CtapStatus.CTAP2_ERR_PIN_BLOCKED, 'PIN is blocked');
    if (this.#pinFailsSincePowerUp >= 3)
      fail(CtapStatus.CTAP2_ERR_PIN_AUTH_BLOCKED, 'power-cycle the chip');
    this.#s.pinRetries -= 1;
    const got = protocol.decrypt(shared, pinHashEnc);
    const match =
      got !== null && got.length === 16 && constantTimeEqual(got, fromHex(this.#s.pinHash!));
    if (!match) {
      this.#keyAgreement = generateP256(this.#env.random);
      this.#pinFailsSincePowerUp += 1;
      this.#persist();
      if (this.#s.pinRetries === 0) fail(CtapStatus.CTAP2_ERR_PIN_BLOCKED, 'PIN is blocked');
      if (this.#pinFailsSincePowerUp >= 3)
        fail(CtapStatus.CTAP2_ERR_PIN_AUTH_BLOCKED, 'power-cycle the chip');
      fail(CtapStatus.CTAP2_ERR_PIN_INVALID, 'wrong PIN');
    }
    this.#s.pinRetries = PIN_RETRIES_MAX;
    this.#pinFailsSincePowerUp = 0;
    this.#persist();
  }

  // -------------------------------------------------------------------------------------------
  // authenticatorReset (§6.6)

  #reset(): CtapHidReply {
    if (this.#env.clock.now() - this.#powerUpAt > RESET_WINDOW_MS) {
      return { type: 'done', payload: status(CtapStatus.CTAP2_ERR_NOT_ALLOWED) };
    }
    return this.#requireUp(() => {
      this.#s.credentials = [];
      this.#s.pinHash = null;
      this.#s.pinLength = 0;
      this.#s.pinRetries = PIN_RETRIES_MAX;
      // A new wrap key: every credential made before the reset stops working.
      this.#s.wrapKey = toHex(this.#env.random(32));
      this.#keyCache.clear();
      this.#lastOpened = null;
      this.#token = null;
      this.#keyAgreement = generateP256(this.#env.random);
      this.#persist();
      return ok();
    });
  }

  // -------------------------------------------------------------------------------------------
  // authenticatorCredentialManagement (§6.8)

  #credentialManagement(p: CborMap): Uint8Array {
    const sub = intParam(p, 0x01, 'subCommand');
    const subParams = mapParam(p, 0x02, 'subCommandParams', false);
    const protocolNum = intParam(p, 0x03, 'pinUvAuthProtocol', false);
    const param = bytesParam(p, 0x04, 'pinUvAuthParam', false);
    const now = this.#env.clock.now();
    if (sub !== 0x03) this.#enumRps = null;
    if (sub !== 0x05) this.#enumCreds = null;

    const authorise = (rpId?: string, allowBound = false): void => {
      if (param === undefined)
        fail(CtapStatus.CTAP2_ERR_PUAT_REQUIRED, 'pinUvAuthParam is missing');
      if (protocolNum === undefined)
        fail(CtapStatus.CTAP2_ERR_MISSING_PARAMETER, 'pinUvAuthProtocol is missing');
      const protocol = pinProtocol(protocolNum);
      if (!protocol) fail(CtapStatus.CTAP1_ERR_INVALID_PARAMETER, 'unsupported pinUvAuthProtocol');
      const message = concatBytes(
        Uint8Array.of(sub),
        subParams ? encodeCbor(subParams) : new Uint8Array(0),
      );
      this.#checkToken(protocol, message, param, Permission.cm);
      const bound = this.#token!.rpId;
      if (bound !== undefined && !(allowBound && bound === rpId)) {
        fail(CtapStatus.CTAP2_ERR_PIN_AUTH_INVALID, 'token is bound to an RP');
      }
    };
    const credEntry = (c: ResidentCredential, total?: number): Uint8Array => {
      const opened = this.#openCredential(fromHex(c.id), sha256(utf8(c.rpId)));
      const user = new Map<string, unknown>([['id', fromHex(c.userId)]]);
      if (c.userName !== undefined) user.set('name', c.userName);
      if (c.userDisplayName !== undefined) user.set('displayName', c.userDisplayName);
      const m = new Map<number, unknown>([
        [0x06, user],
        [
          0x07,
          new Map<string, unknown>([
            ['id', fromHex(c.id)],
            ['type', 'public-key'],
          ]),
        ],
        [0x08, opened ? opened.key.cose : new Map()],
      ]);
      if (total !== undefined) m.set(0x09, total);
      m.set(0x0a, c.credProtect);
      return ok(m);
    };
    const rpEntry = (rpId: string, total?: number): Uint8Array => {
      const name = this.#s.credentials.find(
        (c) => c.rpId === rpId && c.rpName !== undefined,
      )?.rpName;
      const rp = new Map<string, unknown>([['id', rpId]]);
      if (name !== undefined) rp.set('name', name);
      const m = new Map<number, unknown>([
        [0x03, rp],
        [0x04, sha256(utf8(rpId))],
      ]);
      if (total !== undefined) m.set(0x05, total);
      return ok(m);
    };
    const findById = (): ResidentCredential => {
      if (!subParams) fail(CtapStatus.CTAP2_ERR_MISSING_PARAMETER, 'subCommandParams is missing');
      const id = credentialDescriptor(
        subParams.get(0x02) ??
          fail(CtapStatus.CTAP2_ERR_MISSING_PARAMETER, 'credentialID is missing'),
        'credentialID',
      );
      const c = id && this.#s.credentials.find((x) => x.id === toHex(id));
      if (!c) fail(CtapStatus.CTAP2_ERR_NO_CREDENTIALS, 'no such credential');
      return c;
    };

    switch (sub) {
      case 0x01:
        authorise();
        return ok(
          new Map([
            [0x01, this.#s.credentials.length],
            [0x02, MAX_RESIDENT_CREDENTIALS - this.#s.credentials.length],
          ]),
        );
      case 0x02: {
        authorise();
        const rps = [...new Set(this.#s.credentials.map((c) => c.rpId))];
        if (rps.length === 0)
          fail(CtapStatus.CTAP2_ERR_NO_CREDENTIALS, 'no discoverable credentials');
        this.#enumRps = { rps: rps.slice(1), expires: now + NEXT_STATE_MS };
        return rpEntry(rps[0]!, rps.length);
      }
      case 0x03: {
        const e = this.#enumRps;
        if (!e || now >= e.expires || e.rps.length === 0) {
          this.#enumRps = null;
          fail(CtapStatus.CTAP2_ERR_NOT_ALLOWED, 'no RP enumeration to continue');
        }
        return rpEntry(e.rps.shift()!);
      }
      case 0x04: {
        if (!subParams) fail(CtapStatus.CTAP2_ERR_MISSING_PARAMETER, 'subCommandParams is missing');
        const rpIdHash = bytesParam(subParams, 0x01, 'rpIDHash');
        const creds = this.#s.credentials
          .filter((c) => constantTimeEqual(sha256(utf8(c.rpId)), rpIdHash))
          .sort((a, b) => a.created - b.created);
        authorise(creds[0]?.rpId, true);
        if (creds.length === 0)
          fail(CtapStatus.CTAP2_ERR_NO_CREDENTIALS, 'no credentials for this RP');
        this.#enumCreds = { creds: creds.slice(1), expires: now + NEXT_STATE_MS };
        return credEntry(creds[0]!, creds.length);
      }
      case 0x05: {
        const e = this.#enumCreds;
        if (!e || now >= e.expires || e.creds.length === 0) {
          this.#enumCreds = null;
          fail(CtapStatus.CTAP2_ERR_NOT_ALLOWED, 'no credential enumeration to continue');
        }
        return credEntry(e.creds.shift()!);
      }
      case 0x06: {
        authorise(this.#peekRpId(subParams), true);
        const c = findById();
        this.#s.credentials = this.#s.credentials.filter((x) => x !== c);
        this.#persist();
        return ok();
      }
      case 0x07: {
        authorise(this.#peekRpId(subParams), true);
        const c = findById();
        const user = mapParam(subParams!, 0x03, 'user');
        const userId = bytesParam(user, 'id', 'user.id');
        if (toHex(userId) !== c.userId)
          fail(CtapStatus.CTAP1_ERR_INVALID_PARAMETER, 'user.id does not match');
        const name = textParam(user, 'name', 'user.name', false);
        const displayName = textParam(user, 'displayName', 'user.displayName', false);
        const updated: ResidentCredential = {
          id: c.id,
          rpId: c.rpId,
          ...(c.rpName === undefined ? {} : { rpName: c.rpName }),
          userId: c.userId,
          ...(name === undefined ? {} : { userName: name }),
          ...(displayName === undefined ? {} : { userDisplayName: displayName }),
          credProtect: c.credProtect,
          hmacSecret: c.hmacSecret,
          created: c.created,
        };
        this.#s.credentials = this.#s.credentials.map((x) => (x === c ? updated : x));
        this.#persist();
        return ok();
      }
      default:
        fail(CtapStatus.CTAP2_ERR_INVALID_SUBCOMMAND, 'unknown credentialManagement subcommand');
    }
  }

  /** The RP of the credential named in subCommandParams, for the token's RP binding check. */
  #peekRpId(subParams: CborMap | undefined): string | undefined {
    const d = subParams?.get(0x02);
    if (!(d instanceof Map)) return undefined;
    const id = d.get('id');
    if (!(id instanceof Uint8Array)) return undefined;
    return this.#s.credentials.find((c) => c.id === toHex(id))?.rpId;
  }

  // -------------------------------------------------------------------------------------------
  // CTAP1 / U2F over CTAPHID_MSG (FIDO U2F Raw Message Formats; CTAP 2.1 §11.2.9.1.1)

  msg(apdu: Uint8Array): CtapHidReply {
    return { type: 'done', payload: this.#u2f(apdu) };
  }

  #u2fPresent(): boolean {
    switch (this.upMode) {
      case 'auto':
        return true;
      case 'deny':
        return false;
      case 'manual': {
        const fresh = this.#env.clock.now() - this.#lastPress < U2F_PRESENCE_MS;
        if (fresh) this.#lastPress = -Infinity;
        return fresh;
      }
    }
  }

  #u2f(apdu: Uint8Array): Uint8Array {
    const sw = (code: number): Uint8Array => Uint8Array.of(code >>> 8, code & 0xff);
    const SW_NO_ERROR = 0x9000;
    const SW_WRONG_LENGTH = 0x6700;
    const SW_CONDITIONS_NOT_SATISFIED = 0x6985;
    const SW_WRONG_DATA = 0x6a80;
    const SW_INS_NOT_SUPPORTED = 0x6d00;
    const SW_CLA_NOT_SUPPORTED = 0x6e00;
    try {
      if (apdu.length < 4) return sw(SW_WRONG_LENGTH);
      const [cla, ins, p1] = [apdu[0]!, apdu[1]!, apdu[2]!];
      if (cla !== 0) return sw(SW_CLA_NOT_SUPPORTED);
      // ISO 7816-4 short or extended encoding; U2F clients use extended (U2F raw messages §3).
      let data: Uint8Array;
      if (apdu.length === 4) data = new Uint8Array(0);
      else if (apdu[4] === 0 && apdu.length >= 7) {
        const lc = (apdu[5]! << 8) | apdu[6]!;
        const rest = apdu.length - 7 - lc;
        if (rest !== 0 && rest !== 2) {
          // "00 00 00" alone is an extended Le with no data.
          if (!(apdu.length === 7 && lc === 0)) return sw(SW_WRONG_LENGTH);
        }
        data = apdu.subarray(7, 7 + lc);
        if (data.length !== lc) return sw(SW_WRONG_LENGTH);
      } else {
        const lc = apdu[4]!;
        const rest = apdu.length - 5 - lc;
        if (apdu.length === 5) data = new Uint8Array(0);
        else if (rest !== 0 && rest !== 1) return sw(SW_WRONG_LENGTH);
        else data = apdu.subarray(5, 5 + lc);
      }
      switch (ins) {
        case 0x03:
          if (data.length !== 0) return sw(SW_WRONG_LENGTH);
          return concatBytes(utf8('U2F_V2'), sw(SW_NO_ERROR));
        case 0x01: {
          if (data.length !== 64) return sw(SW_WRONG_LENGTH);
          if (!this.#u2fPresent()) return sw(SW_CONDITIONS_NOT_SATISFIED);
          const challenge = data.subarray(0, 32);
          const application = data.subarray(32, 64);
          const key = generateP256(this.#env.random);
          const kh = this.#makeCredentialId(es256Key(key), application, 1, false);
          const signed = concatBytes(Uint8Array.of(0), application, challenge, kh, key.publicPoint);
          const sig = this.#signAttestation(signed);
          this.#persist();
          return concatBytes(
            Uint8Array.of(0x05),
            key.publicPoint,
            Uint8Array.of(kh.length),
            kh,
            this.#attestationCert,
            sig,
            sw(SW_NO_ERROR),
          );
        }
        case 0x02: {
          if (data.length < 65 || data.length !== 65 + data[64]!) return sw(SW_WRONG_LENGTH);
          const challenge = data.subarray(0, 32);
          const application = data.subarray(32, 64);
          const c = this.#openCredential(data.subarray(65), application);
          // U2F signs with P-256 only: an EdDSA credential is not a U2F key handle.
          if (!c || c.key.alg !== Cose.ES256) return sw(SW_WRONG_DATA);
          if (p1 === 0x07) return sw(SW_CONDITIONS_NOT_SATISFIED);
          if (p1 !== 0x03 && p1 !== 0x08) return sw(SW_WRONG_DATA);
          const present = p1 === 0x03 ? this.#u2fPresent() : false;
          if (p1 === 0x03 && !present) return sw(SW_CONDITIONS_NOT_SATISFIED);
          this.#bumpCounter();
          const flags = Uint8Array.of(present ? 1 : 0);
          const counter = u32(this.#s.signCount);
          const sig = c.key.sign(concatBytes(application, flags, counter, challenge));
          this.#persist();
          return concatBytes(flags, counter, sig, sw(SW_NO_ERROR));
        }
        default:
          return sw(SW_INS_NOT_SUPPORTED);
      }
    } catch {
      return sw(0x6f00);
    }
  }
}
