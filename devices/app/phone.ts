/** The virtual phone: its number, its SMS inbox, the MitID app's identities, and its network. */
import { setTimeout as sleep } from 'node:timers/promises';
import { DeviceError } from '../../src/core/errors.js';
import {
  type DeviceFile,
  type DeviceFileSchema,
  readDeviceFile,
  withDeviceFileLock,
  writeDeviceFile,
} from '../device-file.js';
import {
  AppServiceError,
  type ApprovalRequest,
  type SseEvent,
  SseParser,
  parseApprovalRequest,
  serviceError,
} from './protocol.js';

/** Which MitID an identity in the app is. */
export type IdentityKind = 'private' | 'separate';

/** One MitID held by the phone's app (the private one, a separate one). */
export interface AppIdentity {
  readonly userId: string;
  /** The app instance ID the service knows this identity's app by. */
  readonly appId: string;
  readonly mitid: IdentityKind;
  /** SPKI DER of the app's public key, base64url. */
  readonly publicKey: string;
  /** PKCS#8 DER of the private key, base64url (the file is owner-only, like the phone's keystore). */
  readonly privateKey: string;
  /** The token the app authenticates with (shown once by the service). */
  readonly appToken: string;
  readonly biometrics: boolean;
  /** Where the app sits for this identity: on a new device or on the private phone. */
  readonly placement: 'new-device' | 'private-phone';
  readonly activatedAt: string;
}

/** An SMS the phone has received. */
export interface Sms {
  readonly id: string;
  readonly text: string;
  readonly createdAt: string;
}

/** The phone's part of its device file. */
export interface PhoneState {
  /** E.164, e.g. +4520000002. */
  readonly number: string;
  /** The activation service's base URL. */
  readonly serviceUrl: string;
  readonly identities: readonly AppIdentity[];
  readonly sms: readonly Sms[];
}

const E164 = /^\+[1-9]\d{6,14}$/;
const APP_ID = /^[A-Za-z0-9_-]{8,64}$/;
const B64U = /^[A-Za-z0-9_-]+$/;
/** How many messages the inbox keeps. */
const INBOX_SIZE = 200;

/** Checks a phone number in E.164 form; DeviceError 'bad-phone-number' otherwise. */
export function checkPhoneNumber(number: unknown): string {
  if (typeof number !== 'string' || !E164.test(number))
    throw new DeviceError('bad-phone-number', 'the phone number must be E.164, e.g. +4520000002');
  return number;
}

/** Checks a service URL (http or https, no credentials); returns it without a trailing slash. */
export function checkServiceUrl(url: unknown): string {
  let u: URL;
  try {
    u = new URL(String(url));
  } catch {
    throw new DeviceError('bad-service-url', 'the service URL must be an http(s) URL');
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.username || u.password)
    throw new DeviceError('bad-service-url', 'the service URL must be an http(s) URL');
  return u.href.replace(/\/+$/, '');
}

function field(body: Readonly<Record<string, unknown>>, k: string, re: RegExp, at: string): string {
  const v = body[k];
  if (typeof v !== 'string' || !re.test(v))
    throw new DeviceError('bad-device-file', `${at}${k} is missing or malformed`);
  return v;
}

/** How a phone's state sits in its device file (kind 'app', serial: the number's digits). */
export const phoneFileSchema: DeviceFileSchema<'app', PhoneState> = {
  kind: 'app',
  parse(body) {
    const number = field(body, 'number', E164, '');
    if (body.serial !== number.slice(1))
      throw new DeviceError('bad-device-file', 'serial is not the phone number');
    const serviceUrl = checkServiceUrlField(body.serviceUrl);
    if (!Array.isArray(body.identities))
      throw new DeviceError('bad-device-file', 'identities is missing');
    const identities = body.identities.map((x: unknown, i) => {
      const at = `identities[${i}].`;
      if (typeof x !== 'object' || x === null)
        throw new DeviceError('bad-device-file', `identities[${i}] is not an object`);
      const o = x as Record<string, unknown>;
      const mitid = o.mitid;
      if (mitid !== 'private' && mitid !== 'separate')
        throw new DeviceError('bad-device-file', `${at}mitid is missing or malformed`);
      const placement = o.placement;
      if (placement !== 'new-device' && placement !== 'private-phone')
        throw new DeviceError('bad-device-file', `${at}placement is missing or malformed`);
      if (typeof o.biometrics !== 'boolean')
        throw new DeviceError('bad-device-file', `${at}biometrics is missing or malformed`);
      return {
        userId: field(o, 'userId', /^.{1,100}$/u, at),
        appId: field(o, 'appId', APP_ID, at),
        mitid,
        publicKey: field(o, 'publicKey', B64U, at),
        privateKey: field(o, 'privateKey', B64U, at),
        appToken: field(o, 'appToken', /^[A-Za-z0-9_-]{16,256}$/, at),
        biometrics: o.biometrics,
        placement,
        activatedAt: field(o, 'activatedAt', /^.{1,40}$/, at),
      } satisfies AppIdentity;
    });
    if (!Array.isArray(body.sms)) throw new DeviceError('bad-device-file', 'sms is missing');
    const sms = body.sms.map((x: unknown, i) => {
      const o = (typeof x === 'object' && x !== null ? x : {}) as Record<string, unknown>;
      const at = `sms[${i}].`;
      return {
        id: field(o, 'id', /^.{1,100}$/u, at),
        text: typeof o.text === 'string' ? o.text : '',
        createdAt: typeof o.createdAt === 'string' ? o.createdAt : String(o.createdAt ?? ''),
      };
    });
    return { number, serviceUrl, identities, sms };
  },
};

function checkServiceUrlField(v: unknown): string {
  try {
    return checkServiceUrl(v);
  } catch {
    throw new DeviceError('bad-device-file', 'serviceUrl is missing or malformed');
  }
}

/** Options of {@link VirtualPhone.create}. */
export interface PhoneCreateOptions {
  /** E.164 phone number, e.g. +4520000002. */
  readonly number: string;
  /** The device file to make; it must not exist. */
  readonly out: string;
  /** The activation service's base URL (default http://localhost:8080). */
  readonly serviceUrl?: string;
}

/** Options of network calls. */
export interface CallOptions {
  readonly signal?: AbortSignal;
}

/** Options of {@link VirtualPhone.waitForSms}. */
export interface WaitForSmsOptions extends CallOptions {
  /** Give up after this long (default 30 s): DeviceError 'no-sms'. */
  readonly timeoutMs?: number;
  /** Poll interval (default 200 ms). */
  readonly intervalMs?: number;
}

/** Options of {@link VirtualPhone.events}. */
export interface EventsOptions {
  readonly signal?: AbortSignal;
  /** Called each time the stream is (re)connected. */
  readonly onOpen?: () => void;
  /** First reconnection delay (default 500 ms; the server's `retry:` wins). */
  readonly reconnectMs?: number;
}

/**
 * A virtual phone kept in a device file (kind 'app', serial: the number without '+'). It holds
 * what the phone's MitID app holds (one app, several identities side by side) and the SMS
 * messages it has received, and it talks to the activation service: the SMS gateway of the dev
 * service (`/api/dev/sms`), the app's HTTP API and its server-sent event stream. Every change is
 * written to the file under its lock, reloading first, so several programs can share one phone.
 */
export class VirtualPhone {
  /** The device file. */
  readonly path: string;
  #state: PhoneState;

  private constructor(path: string, state: PhoneState) {
    this.path = path;
    this.#state = state;
  }

  /** Makes a new phone and its device file (refusing to replace an existing one). */
  static async create(options: PhoneCreateOptions): Promise<VirtualPhone> {
    if (typeof options !== 'object' || options === null)
      throw new DeviceError('bad-option', 'options must be an object');
    const number = checkPhoneNumber(options.number);
    const serviceUrl = checkServiceUrl(options.serviceUrl ?? 'http://localhost:8080');
    const state: PhoneState = { number, serviceUrl, identities: [], sms: [] };
    await writeDeviceFile(
      options.out,
      { kind: 'app', serial: number.slice(1), ...state },
      { exclusive: true },
    );
    return new VirtualPhone(options.out, state);
  }

  /** Opens a phone from its device file. */
  static async open(path: string): Promise<VirtualPhone> {
    const file = await readDeviceFile(path, phoneFileSchema);
    return new VirtualPhone(path, stateOf(file));
  }

  /** The phone number (E.164). */
  get number(): string {
    return this.#state.number;
  }
  /** The serial of the device file: the number's digits. */
  get serial(): string {
    return this.#state.number.slice(1);
  }
  /** The service the app talks to. */
  get serviceUrl(): string {
    return this.#state.serviceUrl;
  }
  /** The identities in the app, as last read (secrets included: do not print them). */
  get identities(): readonly AppIdentity[] {
    return this.#state.identities;
  }
  /** The SMS messages received so far, oldest first. */
  get inbox(): readonly Sms[] {
    return this.#state.sms;
  }

  /** Rereads the device file. */
  async refresh(): Promise<void> {
    this.#state = stateOf(await readDeviceFile(this.path, phoneFileSchema));
  }

  /** Changes the stored state under the file's lock, starting from what is on disk now. */
  async update<T>(fn: (state: PhoneState) => { state: PhoneState; result: T }): Promise<T> {
    return withDeviceFileLock(this.path, async () => {
      const current = stateOf(await readDeviceFile(this.path, phoneFileSchema));
      const { state, result } = fn(current);
      await writeDeviceFile(this.path, { kind: 'app', serial: state.number.slice(1), ...state });
      this.#state = state;
      return result;
    });
  }

  /** Points the phone at another service. */
  async setServiceUrl(url: string): Promise<void> {
    const serviceUrl = checkServiceUrl(url);
    await this.update((s) => ({ state: { ...s, serviceUrl }, result: undefined }));
  }

  // -------------------------------------------------------------------------------------------
  // The network.

  /**
   * One JSON request to the service. A refusal is an AppServiceError carrying the service's code;
   * no answer at all is DeviceError 'service-unreachable'.
   */
  async call<T = Record<string, unknown>>(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    token?: string,
    options: CallOptions = {},
  ): Promise<{ status: number; body: T }> {
    let res: Response;
    try {
      res = await fetch(`${this.#state.serviceUrl}${path}`, {
        method,
        headers: {
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: options.signal ?? AbortSignal.timeout(30_000),
      });
    } catch (e) {
      if (options.signal?.aborted) throw new DeviceError('aborted', 'stopped', { cause: e });
      throw new DeviceError(
        'service-unreachable',
        `cannot reach the service at ${this.#state.serviceUrl}`,
        { cause: e },
      );
    }
    const text = await res.text();
    let parsed: unknown = {};
    if (text.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new DeviceError(
          'bad-answer',
          `the service answered ${res.status} with something that is not JSON`,
        );
      }
    }
    const obj = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<
      string,
      unknown
    >;
    if (res.status >= 400) throw serviceError(res.status, obj);
    return { status: res.status, body: obj as T };
  }

  /**
   * Fetches the phone's messages from the service's SMS gateway (the dev service's outbox; a
   * message counts as received once the outbox has sent it) and keeps the new ones. Resolves
   * to the messages not seen before, oldest first.
   */
  async fetchSms(options: CallOptions = {}): Promise<Sms[]> {
    const { body } = await this.call<{ messages?: unknown }>(
      'GET',
      `/api/dev/sms?to=${encodeURIComponent(this.#state.number)}`,
      undefined,
      undefined,
      options,
    );
    const list = Array.isArray(body.messages) ? body.messages : [];
    const got: Sms[] = [];
    for (const m of list as Record<string, unknown>[]) {
      if (typeof m !== 'object' || m === null || m.status !== 'sent') continue;
      if (m.to !== undefined && m.to !== this.#state.number) continue;
      const id = typeof m.id === 'string' || typeof m.id === 'number' ? String(m.id) : undefined;
      if (id === undefined || typeof m.text !== 'string') continue;
      got.push({
        id,
        text: m.text,
        createdAt: typeof m.createdAt === 'string' ? m.createdAt : String(m.createdAt ?? ''),
      });
    }
    return this.update((s) => {
      const seen = new Set(s.sms.map((m) => m.id));
      const fresh = got.filter((m) => !seen.has(m.id));
      const sms = [...s.sms, ...fresh].slice(-INBOX_SIZE);
      return { state: { ...s, sms }, result: fresh };
    });
  }

  /**
   * Waits for a new SMS (not among the ids in `seen`) whose text `match` accepts, fetching the
   * inbox until it comes; DeviceError 'no-sms' after the timeout.
   */
  async waitForSms(
    match: (text: string) => boolean,
    seen: ReadonlySet<string>,
    options: WaitForSmsOptions = {},
  ): Promise<Sms> {
    const deadline = Date.now() + (options.timeoutMs ?? 30_000);
    for (;;) {
      try {
        await this.fetchSms(options);
      } catch (e) {
        if (e instanceof AppServiceError && e.status === 404)
          throw new DeviceError(
            'no-sms-gateway',
            'the service has no SMS inbox for virtual phones (/api/dev/sms): type the temporary PIN',
          );
        throw e;
      }
      const hit = this.#state.sms.find((m) => !seen.has(m.id) && match(m.text));
      if (hit !== undefined) return hit;
      if (Date.now() >= deadline)
        throw new DeviceError('no-sms', `no SMS arrived at ${this.#state.number} in time`);
      try {
        await sleep(options.intervalMs ?? 200, undefined, { signal: options.signal });
      } catch {
        throw new DeviceError('aborted', 'stopped while waiting for an SMS');
      }
    }
  }

  /**
   * The pending approval requests of one identity (`GET /api/app/approvals`, the poll fallback).
   */
  async pendingApprovals(appToken: string, options: CallOptions = {}): Promise<ApprovalRequest[]> {
    const { body } = await this.call<unknown>(
      'GET',
      '/api/app/approvals',
      undefined,
      appToken,
      options,
    );
    // The service answers {requests: [...]}; the protocol page names no field, so a bare list
    // or {approvals} are read too.
    const b = body as { requests?: unknown; approvals?: unknown } | unknown[];
    const list = Array.isArray(b)
      ? b
      : Array.isArray(b.requests)
        ? b.requests
        : Array.isArray(b.approvals)
          ? b.approvals
          : [];
    return list.map(parseApprovalRequest);
  }

  /**
   * The identity's notifications: `GET /api/app/events` as server-sent events, yielded as they
   * arrive. A dropped connection is opened again (with Last-Event-ID); a refusal by the service
   * (a bad token, a blocked app) ends the stream with its AppServiceError. Aborting `signal`
   * (or leaving the loop) closes the connection and ends the stream quietly.
   */
  async *events(appToken: string, options: EventsOptions = {}): AsyncGenerator<SseEvent> {
    const parser = new SseParser();
    let delay = options.reconnectMs ?? 500;
    const signal = options.signal;
    while (!signal?.aborted) {
      const ac = new AbortController();
      const stop = () => ac.abort();
      signal?.addEventListener('abort', stop, { once: true });
      let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
      try {
        let res: Response | undefined;
        try {
          res = await fetch(`${this.#state.serviceUrl}/api/app/events`, {
            headers: {
              accept: 'text/event-stream',
              authorization: `Bearer ${appToken}`,
              ...(parser.lastEventId === undefined ? {} : { 'last-event-id': parser.lastEventId }),
            },
            signal: ac.signal,
          });
        } catch {
          res = undefined; // unreachable or closed by us: try again after the delay
        }
        if (res !== undefined) {
          if (res.status >= 400) {
            const text = await res.text().catch(() => '');
            let body: Record<string, unknown> = {};
            try {
              body = JSON.parse(text) as Record<string, unknown>;
            } catch {
              // not JSON: the status says enough
            }
            // Server trouble is worth another try; a refusal is final.
            if (res.status < 500) throw serviceError(res.status, body);
          } else if (res.body !== null) {
            options.onOpen?.();
            delay = options.reconnectMs ?? 500;
            reader = res.body.getReader();
            for (;;) {
              let chunk: Awaited<ReturnType<typeof reader.read>>;
              try {
                chunk = await reader.read();
              } catch {
                break; // dropped (or closed by us)
              }
              if (chunk.done) break;
              for (const ev of parser.push(chunk.value)) yield ev;
            }
          }
        }
      } finally {
        signal?.removeEventListener('abort', stop);
        ac.abort();
        await reader?.cancel().catch(() => undefined);
      }
      parser.reset();
      if (signal?.aborted) break;
      try {
        await sleep(parser.retryMs ?? delay, undefined, { signal });
      } catch {
        break;
      }
      delay = Math.min(delay * 2, 10_000);
    }
  }
}

function stateOf(file: DeviceFile<'app', PhoneState>): PhoneState {
  return {
    number: file.number,
    serviceUrl: file.serviceUrl,
    identities: file.identities,
    sms: file.sms,
  };
}

/** True when `s` is a well-formed app ID (8-64 of A-Za-z0-9_-). */
export function isAppId(s: unknown): s is string {
  return typeof s === 'string' && APP_ID.test(s);
}
