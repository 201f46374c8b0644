/** The MitID app on a virtual phone: activation, approvals, and the Authenticator it is. */
import {
  type KeyObject,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
} from 'node:crypto';
import type {
  AppBindRequest,
  AppBindResponse,
  AppChallenge,
  AppProof,
  Authenticator,
} from '../../src/core/authenticator.js';
import { constantTimeEqualString, fromBase64Url, toBase64Url, utf8 } from '../../src/core/bytes.js';
import { DeviceError } from '../../src/core/errors.js';
import type { VirtualPhone } from './phone.js';
import { type AppIdentity, type IdentityKind, type PhoneState, isAppId } from './phone.js';
import {
  AppServiceError,
  type ApprovalRequest,
  type ChannelBinding,
  type Decision,
  activationTranscript,
  approvalTranscript,
  decodeQrPng,
  parseActivationQr,
  parseApprovalQr,
  parseApprovalRequest,
} from './protocol.js';

const PIN = /^\d{6}$/;
const TEMP_PIN = /^\d{8}$/;
const CODE4 = /^\d{4}$/;

/** Checks the 6-digit app PIN's form; DeviceError 'bad-pin' (never quoting it) otherwise. */
export function checkPin(pin: unknown): string {
  if (typeof pin !== 'string' || !PIN.test(pin))
    throw new DeviceError('bad-pin', 'the PIN must be 6 digits');
  return pin;
}

/**
 * The app's "repeat your PIN" screen: both entries must be 6 digits and the same, else
 * DeviceError 'pin-mismatch' and the user chooses again (the service never sees either).
 */
export function confirmPin(pin: unknown, repeat: unknown): string {
  const p = checkPin(pin);
  if (typeof repeat !== 'string' || !constantTimeEqualString(p, repeat))
    throw new DeviceError('pin-mismatch', 'the two PINs are not the same; choose the PIN again');
  return p;
}

/** A channel binding from the 4-digit code the login page shows. */
export function channelFromCode(code: string): ChannelBinding {
  if (typeof code !== 'string' || !CODE4.test(code))
    throw new DeviceError('bad-code', 'the code from the login page is 4 digits');
  return { type: 'code', value: code };
}

/** A scanned login QR code: the request it belongs to and the channel binding it gives. */
export interface ScannedApprovalQr {
  readonly requestId: string;
  readonly channel: ChannelBinding;
}

/** Scans the login page's QR code (a PNG picture). */
export function scanApprovalQr(png: Uint8Array): ScannedApprovalQr {
  const q = parseApprovalQr(decodeQrPng(png));
  return { requestId: q.requestId, channel: { type: 'qr', value: q.channel } };
}

/** Scans the activation page's QR code (a PNG picture): the user ID and the activation code. */
export function scanActivationQr(png: Uint8Array): { userId: string; activationCode: string } {
  return parseActivationQr(decodeQrPng(png));
}

/** Signs `text` with the app's key: ECDSA P-256 with SHA-256, DER-encoded. */
function signText(privateKey: KeyObject, text: string): Uint8Array {
  return new Uint8Array(sign('sha256', utf8(text), privateKey));
}

function keyOf(identity: AppIdentity): KeyObject {
  return createPrivateKey({
    key: Buffer.from(fromBase64Url(identity.privateKey, 'privateKey')),
    format: 'der',
    type: 'pkcs8',
  });
}

/** The steps of an activation after the temporary PIN. */
export interface CompleteOptions {
  /** The chosen 6-digit PIN. */
  readonly pin: string;
  /** The same PIN typed again; default: `pin` (the caller checked it). */
  readonly pinRepeat?: string;
  /** Opt in to biometrics (fingerprint, face). */
  readonly biometrics?: boolean;
  /** The answer to the phone's "allow notifications?" question; the app needs yes (default). */
  readonly notifications?: boolean;
  /** Which MitID this is in the app (default 'separate'). */
  readonly mitid?: IdentityKind;
}

/** What the service answered when the activation started. */
export interface ActivationStarted {
  readonly activationId: string;
  /** The phone the temporary PIN goes to, masked by the service. */
  readonly phone: string;
  readonly expiresAt: string | number;
}

/**
 * One activation of the app (MITID.md, "The app"; docs/app-protocol.md steps 2-4), step by step:
 * {@link start} with the user ID and activation code, {@link readTemporaryPin} from the SMS
 * inbox, {@link enterTemporaryPin}, then {@link complete} with the chosen PIN, biometrics and
 * notifications. The key pair is made on the phone at the last step.
 */
export class AppActivation {
  readonly phone: VirtualPhone;
  readonly userId: string;
  readonly appId: string;
  readonly started: ActivationStarted;
  readonly #token: string;
  readonly #smsSeen: ReadonlySet<string>;

  private constructor(
    phone: VirtualPhone,
    userId: string,
    appId: string,
    started: ActivationStarted,
    token: string,
    smsSeen: ReadonlySet<string>,
  ) {
    this.phone = phone;
    this.userId = userId;
    this.appId = appId;
    this.started = started;
    this.#token = token;
    this.#smsSeen = smsSeen;
  }

  /**
   * "Get started": the user types the user ID and activation code (or scans the page's QR code).
   * The service answers with an activation and sends the temporary PIN by SMS.
   */
  static async start(
    phone: VirtualPhone,
    userId: string,
    activationCode: string,
    options: { appId?: string; signal?: AbortSignal } = {},
  ): Promise<AppActivation> {
    if (typeof userId !== 'string' || userId.trim().length === 0 || userId.length > 100)
      throw new DeviceError('bad-user-id', 'type the user ID');
    if (typeof activationCode !== 'string' || !/^[A-Za-z0-9-]{4,32}$/.test(activationCode))
      throw new DeviceError('bad-activation-code', 'the activation code looks like XXXX-XXXX');
    const appId = options.appId ?? toBase64Url(new Uint8Array(randomBytes(16)));
    if (!isAppId(appId)) throw new DeviceError('bad-app-id', 'appId is 8-64 of A-Za-z0-9_-');
    await phone.refresh();
    if (phone.identities.some((i) => i.userId.toLowerCase() === userId.toLowerCase()))
      throw new DeviceError('already-activated', `the app already holds ${userId}`);
    // What is already in the inbox is not the temporary PIN of this activation. A service without
    // the dev SMS gateway has no inbox to read: the PIN is then typed from a real phone.
    await phone.fetchSms(options).catch((e: unknown) => {
      if (!(e instanceof AppServiceError && e.status === 404)) throw e;
    });
    const seen = new Set(phone.inbox.map((m) => m.id));
    const { body } = await phone.call(
      'POST',
      '/api/app/activations',
      { userId, activationCode },
      undefined,
      options,
    );
    const activationId = body.activationId;
    const token = body.activationToken;
    if (typeof activationId !== 'string' || typeof token !== 'string')
      throw new DeviceError('bad-answer', 'the service did not start an activation');
    return new AppActivation(
      phone,
      userId,
      appId,
      {
        activationId,
        phone: typeof body.phone === 'string' ? body.phone : '',
        expiresAt: (body.expiresAt as string | number | undefined) ?? '',
      },
      token,
      seen,
    );
  }

  /** Waits for the SMS with the temporary PIN (8 digits) and reads it. */
  async readTemporaryPin(
    options: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<string> {
    const sms = await this.phone.waitForSms(
      (t) => /(?<!\d)\d{8}(?!\d)/.test(t),
      this.#smsSeen,
      options,
    );
    return /(?<!\d)(\d{8})(?!\d)/.exec(sms.text)![1]!;
  }

  /** Types the temporary PIN. A wrong or expired one is the service's AppServiceError. */
  async enterTemporaryPin(temporaryPin: string): Promise<void> {
    if (typeof temporaryPin !== 'string' || !TEMP_PIN.test(temporaryPin))
      throw new DeviceError('bad-temporary-pin', 'the temporary PIN from the SMS is 8 digits');
    await this.phone.call(
      'POST',
      '/api/app/activations/temporary-pin',
      { temporaryPin },
      this.#token,
    );
  }

  /**
   * Chooses the PIN (checked against its repetition here, like the real app), answers the
   * biometrics and notifications questions, makes the key pair and finishes the activation.
   * The new identity is saved in the phone's file.
   */
  async complete(options: CompleteOptions): Promise<{ app: MitIdApp; bound: AppBindResponse }> {
    const pin = confirmPin(options.pin, options.pinRepeat ?? options.pin);
    if (options.notifications === false)
      throw new DeviceError(
        'notifications-required',
        'allow notifications: the app receives its approval requests as notifications',
      );
    const mitid = options.mitid ?? 'separate';
    if (mitid !== 'private' && mitid !== 'separate')
      throw new DeviceError('bad-option', "mitid is 'private' or 'separate'");
    await this.phone.refresh();
    if (mitid === 'private' && this.phone.identities.some((i) => i.mitid === 'private'))
      throw new DeviceError('already-activated', 'the app already holds a private MitID');
    const placement =
      mitid === 'separate' && this.phone.identities.some((i) => i.mitid === 'private')
        ? 'private-phone'
        : 'new-device';
    const biometrics = options.biometrics === true;
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
    const publicKeyText = toBase64Url(spki);
    const proof = signText(
      privateKey,
      activationTranscript(this.started.activationId, this.appId, publicKeyText),
    );
    const { body } = await this.phone.call(
      'POST',
      '/api/app/activations/complete',
      {
        appId: this.appId,
        publicKey: publicKeyText,
        pin,
        biometrics,
        notifications: true,
        proof: toBase64Url(proof),
      },
      this.#token,
    );
    if (typeof body.appToken !== 'string' || body.appId !== this.appId)
      throw new DeviceError('bad-answer', 'the service did not finish the activation');
    const identity: AppIdentity = {
      userId: typeof body.userId === 'string' ? body.userId : this.userId,
      appId: this.appId,
      mitid,
      publicKey: publicKeyText,
      privateKey: toBase64Url(new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' }))),
      appToken: body.appToken,
      biometrics,
      placement,
      activatedAt: new Date().toISOString(),
    };
    await this.phone.update((s: PhoneState) => ({
      state: {
        ...s,
        identities: [...s.identities.filter((i) => i.appId !== this.appId), identity],
      },
      result: undefined,
    }));
    return {
      app: MitIdApp.of(this.phone, this.appId),
      bound: { type: 'app.activation', appId: this.appId, publicKey: spki, proof },
    };
  }
}

/** The whole activation in one call: what `bind` takes beyond the core AppBindRequest. */
export interface AppActivationRequest extends AppBindRequest {
  /** The PIN typed again (default: `pin`). */
  readonly pinRepeat?: string;
  /** Allow notifications (default true; the app refuses to finish without). */
  readonly notifications?: boolean;
  /** Which MitID this is (default 'separate'). */
  readonly mitid?: IdentityKind;
  /** How long to wait for the temporary PIN's SMS (default 30 s). */
  readonly smsTimeoutMs?: number;
  /** The temporary PIN as typed by the user (default: read from the phone's SMS inbox). */
  readonly temporaryPin?: string;
}

/** How the user answers an approval request. */
export interface AnswerOptions {
  readonly decision: Decision;
  /** The QR code scanned or the 4-digit code typed from the page that asked. */
  readonly channel: ChannelBinding;
  /** The 6-digit PIN, when approving without biometrics. */
  readonly pin?: string;
  /** Approve with biometrics (only when this identity opted in). */
  readonly biometric?: boolean;
  readonly signal?: AbortSignal;
}

/** Options of {@link MitIdApp.nextApproval}. */
export interface NextApprovalOptions {
  /** Give up after this long: DeviceError 'no-approval' (default: wait until aborted). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Only this request (e.g. the one whose QR code was scanned). */
  readonly requestId?: string;
  /** Ignore these requests (already answered). */
  readonly skip?: ReadonlySet<string>;
  /** The poll fallback's interval (default 5 s); the event stream is the main channel. */
  readonly pollMs?: number;
}

/** AppChallenge plus the channel binding the signature covers (see the report on core types). */
export type AppApprovalChallenge = AppChallenge & { readonly channel?: ChannelBinding };

/**
 * The MitID app for one identity on a virtual phone, as an Authenticator (serial: the app ID).
 * A fresh one ({@link MitIdApp.fresh}) is activated by `bind`; an activated one answers
 * approval requests with signatures made by its key.
 */
export class MitIdApp implements Authenticator<'app'> {
  readonly kind = 'app' as const;
  readonly serial: string;
  readonly phone: VirtualPhone;
  #closed = false;

  private constructor(phone: VirtualPhone, appId: string) {
    this.phone = phone;
    this.serial = appId;
  }

  /** An app object for the given app ID (activated or to be activated). */
  static of(phone: VirtualPhone, appId: string): MitIdApp {
    if (!isAppId(appId)) throw new DeviceError('bad-app-id', 'appId is 8-64 of A-Za-z0-9_-');
    return new MitIdApp(phone, appId);
  }

  /** A new, not yet activated app instance (a random app ID); `bind` activates it. */
  static fresh(phone: VirtualPhone): MitIdApp {
    return new MitIdApp(phone, toBase64Url(new Uint8Array(randomBytes(16))));
  }

  /**
   * The activated identity on the phone: by user ID (case-insensitive) or app ID, or the only
   * one; DeviceError 'no-identity' / 'which-identity' otherwise.
   */
  static select(phone: VirtualPhone, which?: string): MitIdApp {
    const ids = phone.identities;
    if (ids.length === 0)
      throw new DeviceError('no-identity', 'the app on this phone is not activated yet');
    if (which === undefined) {
      if (ids.length > 1)
        throw new DeviceError(
          'which-identity',
          `the app holds ${ids.length} MitIDs; say which user ID`,
        );
      return new MitIdApp(phone, ids[0]!.appId);
    }
    const hit = ids.find(
      (i) => i.appId === which || i.userId.toLowerCase() === which.toLowerCase(),
    );
    if (hit === undefined)
      throw new DeviceError('no-identity', `the app holds no MitID for ${which}`);
    return new MitIdApp(phone, hit.appId);
  }

  /** This identity as stored (secrets included: never print it). */
  identity(): AppIdentity {
    this.#open();
    const id = this.phone.identities.find((i) => i.appId === this.serial);
    if (id === undefined)
      throw new DeviceError('not-activated', 'this app instance is not activated');
    return id;
  }

  /** Runs the whole activation: start, temporary PIN from the SMS, PIN, biometrics, notifications. */
  async bind(request: AppActivationRequest): Promise<AppBindResponse> {
    this.#open();
    if (typeof request !== 'object' || request === null)
      throw new DeviceError('bad-request', 'bind request must be an object');
    // Refuse a bad PIN or a missing permission before the service sends an SMS.
    confirmPin(request.pin, request.pinRepeat ?? request.pin);
    if (request.notifications === false)
      throw new DeviceError(
        'notifications-required',
        'allow notifications: the app receives its approval requests as notifications',
      );
    if (request.serviceUrl !== undefined && request.serviceUrl !== this.phone.serviceUrl)
      await this.phone.setServiceUrl(request.serviceUrl);
    const activation = await AppActivation.start(
      this.phone,
      request.userId,
      request.activationCode,
      {
        appId: this.serial,
      },
    );
    const tempPin =
      request.temporaryPin ??
      (await activation.readTemporaryPin(
        request.smsTimeoutMs === undefined ? {} : { timeoutMs: request.smsTimeoutMs },
      ));
    await activation.enterTemporaryPin(tempPin);
    const { bound } = await activation.complete({
      pin: request.pin,
      ...(request.pinRepeat === undefined ? {} : { pinRepeat: request.pinRepeat }),
      ...(request.biometrics === undefined ? {} : { biometrics: request.biometrics }),
      ...(request.notifications === undefined ? {} : { notifications: request.notifications }),
      ...(request.mitid === undefined ? {} : { mitid: request.mitid }),
    });
    return bound;
  }

  /**
   * The user's answer to a request, signed on the phone (no network): approve unless
   * `approve === false`; the signature covers the decision, the channel binding and the exact
   * request bytes. Use {@link answer} to send it.
   */
  async prove(challenge: AppApprovalChallenge): Promise<AppProof> {
    this.#open();
    if (typeof challenge !== 'object' || challenge === null)
      throw new DeviceError('bad-request', 'challenge must be an object');
    if (!(challenge.request instanceof Uint8Array))
      throw new DeviceError('bad-request', 'challenge.request must be bytes');
    if (challenge.channel === undefined)
      throw new DeviceError('no-channel', 'scan the QR code or type the 4-digit code first');
    const approved = challenge.approve !== false;
    const signature = this.#sign(
      approved ? 'approve' : 'reject',
      checkChannel(challenge.channel),
      toBase64Url(challenge.request),
    );
    return {
      type: 'app.approval',
      appId: this.serial,
      requestId: challenge.requestId,
      approved,
      signature,
    };
  }

  #sign(decision: Decision, channel: ChannelBinding, request: string): Uint8Array {
    return signText(keyOf(this.identity()), approvalTranscript(decision, channel, request));
  }

  /**
   * Waits for the next approval request for this identity: the event stream (notifications),
   * with the pending list polled when the stream opens and every `pollMs` as a fallback.
   */
  async nextApproval(options: NextApprovalOptions = {}): Promise<ApprovalRequest> {
    const token = this.identity().appToken;
    const accept = (r: ApprovalRequest) =>
      (options.requestId === undefined || r.requestId === options.requestId) &&
      !(options.skip?.has(r.requestId) ?? false);
    const ac = new AbortController();
    return new Promise<ApprovalRequest>((resolve, reject) => {
      let done = false;
      const timers: NodeJS.Timeout[] = [];
      const finish = (r: ApprovalRequest | undefined, e?: unknown) => {
        if (done) return;
        done = true;
        for (const t of timers) clearTimeout(t);
        options.signal?.removeEventListener('abort', onAbort);
        ac.abort();
        if (r !== undefined) resolve(r);
        else reject(e);
      };
      const onAbort = () =>
        finish(undefined, new DeviceError('aborted', 'stopped waiting for an approval request'));
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const poll = async () => {
        try {
          const hit = (await this.phone.pendingApprovals(token, { signal: ac.signal })).find(
            accept,
          );
          if (hit !== undefined) finish(hit);
        } catch (e) {
          // The stream reports refusals; a failed poll is only a missed chance.
          if (e instanceof AppServiceError && e.status < 500 && e.status !== 404)
            finish(undefined, e);
        }
      };
      if (options.timeoutMs !== undefined)
        timers.push(
          setTimeout(
            () =>
              finish(
                undefined,
                new DeviceError(
                  'no-approval',
                  `no approval request arrived within ${Math.round(options.timeoutMs! / 1000)} s`,
                ),
              ),
            options.timeoutMs,
          ),
        );
      const every = setInterval(() => void poll(), options.pollMs ?? 5_000);
      timers.push(every);
      void (async () => {
        try {
          for await (const ev of this.phone.events(token, {
            signal: ac.signal,
            onOpen: () => void poll(),
          })) {
            if (ev.event !== 'approval') continue;
            let r: ApprovalRequest;
            try {
              r = parseApprovalRequest(JSON.parse(ev.data));
            } catch {
              continue; // not one the app understands: not shown
            }
            if (accept(r)) return finish(r);
          }
        } catch (e) {
          finish(undefined, e);
        }
      })();
    });
  }

  /**
   * Answers an approval request: approve (swipe; with the PIN, or biometrics if this identity
   * opted in) or reject, signed over the exact request as received. The service's refusals
   * (wrong PIN with tries left, suspended, blocked, replayed, expired, wrong channel) are
   * AppServiceError with its code.
   */
  async answer(approval: ApprovalRequest, options: AnswerOptions): Promise<void> {
    const identity = this.identity();
    const channel = checkChannel(options.channel);
    if (options.decision !== 'approve' && options.decision !== 'reject')
      throw new DeviceError('bad-request', "decision is 'approve' or 'reject'");
    const body: Record<string, unknown> = { decision: options.decision, channel };
    if (options.decision === 'approve') {
      if (options.biometric === true) {
        if (!identity.biometrics)
          throw new DeviceError(
            'no-biometrics',
            'biometrics are not turned on for this MitID; use the PIN',
          );
        body.biometric = true;
      } else if (options.pin !== undefined) body.pin = checkPin(options.pin);
      else throw new DeviceError('pin-needed', 'approving needs the PIN (or biometrics)');
    }
    body.signature = toBase64Url(this.#sign(options.decision, channel, approval.request));
    await this.phone.call(
      'POST',
      `/api/app/approvals/${encodeURIComponent(approval.requestId)}`,
      body,
      identity.appToken,
      options.signal === undefined ? {} : { signal: options.signal },
    );
  }

  /** Nothing to release: the phone's file is written at each change. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
  }

  #open(): void {
    if (this.#closed) throw new DeviceError('closed', 'the app is closed');
  }
}

function checkChannel(channel: unknown): ChannelBinding {
  const c = channel as ChannelBinding | null | undefined;
  if (typeof c !== 'object' || c === null)
    throw new DeviceError('no-channel', 'no channel binding');
  if (c.type === 'code') return channelFromCode(c.value);
  if (c.type === 'qr' && typeof c.value === 'string' && /^[A-Za-z0-9_-]{1,256}$/.test(c.value))
    return { type: 'qr', value: c.value };
  throw new DeviceError('bad-channel', 'the channel binding is a QR secret or a 4-digit code');
}

/**
 * Waits for the next approval request for any of `apps` (one phone, several identities).
 * Resolves to the identity it is for and the request.
 */
export async function nextApprovalForAny(
  apps: readonly MitIdApp[],
  options: NextApprovalOptions = {},
): Promise<{ app: MitIdApp; approval: ApprovalRequest }> {
  if (apps.length === 0) throw new DeviceError('no-identity', 'the app is not activated');
  const ac = new AbortController();
  const stop = () => ac.abort();
  options.signal?.addEventListener('abort', stop, { once: true });
  try {
    return await Promise.any(
      apps.map(async (app) => ({
        app,
        approval: await app.nextApproval({ ...options, signal: ac.signal }),
      })),
    ).catch((e: unknown) => {
      throw e instanceof AggregateError ? e.errors[0] : e;
    });
  } finally {
    options.signal?.removeEventListener('abort', stop);
    ac.abort();
  }
}

/** The public key of an identity as a KeyObject (to check its signatures). */
export function publicKeyOf(identity: AppIdentity): KeyObject {
  return createPublicKey({
    key: Buffer.from(fromBase64Url(identity.publicKey, 'publicKey')),
    format: 'der',
    type: 'spki',
  });
}
