/** The MitID app's side of the app protocol: signed texts, QR texts, the SSE format and HTTP answers. */
import jsQRModule from 'jsqr';
import { PNG } from 'pngjs';
import { DeviceError } from '../../src/core/errors.js';

// jsqr is CommonJS with an ES-style default: under Node the function may sit one level down.
type JsQr = (data: Uint8ClampedArray, width: number, height: number) => { data: string } | null;
const jsQRAny = jsQRModule as unknown as JsQr & { default?: JsQr };
const jsQR: JsQr = jsQRAny.default ?? jsQRAny;

/** The text the app signs to prove at activation that it holds the key (docs/app-protocol.md §4). */
export function activationTranscript(
  activationId: string,
  appId: string,
  publicKey: string,
): string {
  return `mitid-sim app activation v1\n${activationId}\n${appId}\n${publicKey}`;
}

/** How the app proves it saw the page that asked: the QR code's secret or the 4-digit code. */
export interface ChannelBinding {
  readonly type: 'qr' | 'code';
  readonly value: string;
}

/** The user's decision on an approval request. */
export type Decision = 'approve' | 'reject';

/** The text the app signs when the user answers an approval request (docs/app-protocol.md). */
export function approvalTranscript(
  decision: Decision,
  channel: ChannelBinding,
  request: string,
): string {
  return `mitid-sim app approval v1\n${decision}\n${channel.type}:${channel.value}\n${request}`;
}

/** What an approval request shows the user. */
export interface ApprovalDisplay {
  readonly service: string;
  readonly action: string;
  readonly text: string;
}

/** A login (or other) request pushed to the app, as the service sends it. */
export interface ApprovalRequest {
  readonly requestId: string;
  /** base64url of the exact request bytes the app signs, as received. */
  readonly request: string;
  readonly display: ApprovalDisplay;
  readonly expiresAt: string | number;
}

const REQUEST_ID = /^[A-Za-z0-9_-]{1,128}$/;
const B64U = /^[A-Za-z0-9_-]*$/;

/** Checks an ApprovalRequest received from the service; DeviceError 'bad-approval' otherwise. */
export function parseApprovalRequest(value: unknown): ApprovalRequest {
  const bad = (what: string) =>
    new DeviceError('bad-approval', `the service sent an approval request with ${what}`);
  if (typeof value !== 'object' || value === null) throw bad('no object');
  const v = value as Record<string, unknown>;
  if (typeof v.requestId !== 'string' || !REQUEST_ID.test(v.requestId))
    throw bad('a bad requestId');
  if (typeof v.request !== 'string' || !B64U.test(v.request) || v.request.length === 0)
    throw bad('a bad request');
  const d = v.display as Record<string, unknown> | null | undefined;
  if (typeof d !== 'object' || d === null) throw bad('no display');
  const text = (k: string) => (typeof d[k] === 'string' ? d[k] : '');
  if (typeof v.expiresAt !== 'string' && typeof v.expiresAt !== 'number') throw bad('no expiresAt');
  return {
    requestId: v.requestId,
    request: v.request,
    display: { service: text('service'), action: text('action'), text: text('text') },
    expiresAt: v.expiresAt,
  };
}

// ---------------------------------------------------------------------------------------------
// QR codes: the phone's camera.

/** Reads the QR code in a PNG picture and returns its text; DeviceError 'no-qr-code' if none. */
export function decodeQrPng(png: Uint8Array): string {
  let image: { width: number; height: number; data: Buffer };
  try {
    image = PNG.sync.read(Buffer.from(png.buffer, png.byteOffset, png.byteLength));
  } catch {
    throw new DeviceError('bad-image', 'the picture is not a PNG image');
  }
  const pixels = new Uint8ClampedArray(
    image.data.buffer,
    image.data.byteOffset,
    image.data.byteLength,
  );
  const found = jsQR(pixels, image.width, image.height);
  if (found === null) throw new DeviceError('no-qr-code', 'no QR code found in the picture');
  return found.data;
}

/** What the activation page's QR code says. */
export interface ActivationQr {
  readonly userId: string;
  readonly activationCode: string;
}

/** What a login page's QR code says. */
export interface ApprovalQr {
  readonly requestId: string;
  readonly channel: string;
}

function parseMitidUrl(text: string, action: string): URLSearchParams {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new DeviceError('bad-qr-code', 'the QR code is not a MitID code');
  }
  // `mitid-sim://activate?...` parses with the action as the host.
  if (
    url.protocol !== 'mitid-sim:' ||
    url.hostname !== action ||
    url.pathname.replace(/\/$/, '') !== ''
  )
    throw new DeviceError('bad-qr-code', `the QR code is not a MitID ${action} code`);
  return url.searchParams;
}

/** Parses `mitid-sim://activate?userId=..&code=..`; DeviceError 'bad-qr-code' otherwise. */
export function parseActivationQr(text: string): ActivationQr {
  const q = parseMitidUrl(text, 'activate');
  const userId = q.get('userId');
  const activationCode = q.get('code');
  if (!userId || !activationCode)
    throw new DeviceError('bad-qr-code', 'the activation QR code lacks the user ID or the code');
  return { userId, activationCode };
}

/** Parses `mitid-sim://approve?requestId=..&channel=..`; DeviceError 'bad-qr-code' otherwise. */
export function parseApprovalQr(text: string): ApprovalQr {
  const q = parseMitidUrl(text, 'approve');
  const requestId = q.get('requestId');
  const channel = q.get('channel');
  if (!requestId || !channel)
    throw new DeviceError('bad-qr-code', 'the login QR code lacks the request ID or the channel');
  return { requestId, channel };
}

// ---------------------------------------------------------------------------------------------
// Server-sent events (the HTML living standard's event stream format).

/** One server-sent event. */
export interface SseEvent {
  /** The `event:` field; 'message' when none was given. */
  readonly event: string;
  /** The `data:` lines joined with newlines. */
  readonly data: string;
  /** The last `id:` seen, if any. */
  readonly id: string | undefined;
}

/**
 * Parses an event stream fed in arbitrary chunks: lines end in LF, CRLF or CR; `:` starts a
 * comment (keep-alives); a blank line dispatches the event being built if it has data.
 */
export class SseParser {
  #buffer = '';
  #pendingCr = false;
  #event = '';
  #data: string[] = [];
  #id: string | undefined;
  /** The reconnection delay the server asked for (`retry:`), ms. */
  retryMs: number | undefined;
  readonly #decoder = new TextDecoder('utf-8');

  /** The last event ID, for `Last-Event-ID` when reconnecting. */
  get lastEventId(): string | undefined {
    return this.#id;
  }

  /** Feeds bytes or text; returns the events completed by them. */
  push(chunk: Uint8Array | string): SseEvent[] {
    let text = typeof chunk === 'string' ? chunk : this.#decoder.decode(chunk, { stream: true });
    if (this.#pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.#pendingCr = false;
    this.#buffer += text;
    const out: SseEvent[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.#buffer);
      if (m === null) break;
      // A CR at the very end may be the first half of a CRLF split across chunks.
      if (m[0] === '\r' && m.index === this.#buffer.length - 1) this.#pendingCr = true;
      const line = this.#buffer.slice(0, m.index);
      this.#buffer = this.#buffer.slice(m.index + m[0].length);
      const ev = this.#line(line);
      if (ev !== undefined) out.push(ev);
    }
    return out;
  }

  /** Forgets a half-received event (after the connection dropped). */
  reset(): void {
    this.#buffer = '';
    this.#pendingCr = false;
    this.#event = '';
    this.#data = [];
  }

  #line(line: string): SseEvent | undefined {
    if (line === '') {
      const ev =
        this.#data.length === 0
          ? undefined
          : { event: this.#event || 'message', data: this.#data.join('\n'), id: this.#id };
      this.#event = '';
      this.#data = [];
      return ev;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.#event = value;
    else if (field === 'data') this.#data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.#id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Answers of the service.

/**
 * The service refused a request: `status` is the HTTP status, `code` the service's error code
 * (e.g. 'pin-wrong', 'app-suspended'), `triesLeft` where the service counts. The message is
 * the service's own (written to be shown) with the status and code.
 */
export class AppServiceError extends DeviceError {
  readonly status: number;
  readonly triesLeft: number | undefined;
  readonly detail: Readonly<Record<string, unknown>>;
  constructor(status: number, code: string, message: string, detail: Record<string, unknown>) {
    super(code, message);
    this.status = status;
    this.detail = detail;
    this.triesLeft = typeof detail.triesLeft === 'number' ? detail.triesLeft : undefined;
  }
}

/** What each refusal means to the person holding the phone. */
const EXPLAIN: Readonly<Record<string, string>> = {
  'activation-code-wrong': 'the activation code is wrong',
  'activation-code-blocked': 'the activation code is blocked after three wrong tries',
  'temporary-pin-wrong': 'the temporary PIN from the SMS is wrong',
  'temporary-pin-blocked': 'the temporary PIN is blocked after three wrong tries',
  'temporary-pin-expired': 'the temporary PIN has expired; start the activation again',
  'biometrics-not-allowed':
    'biometrics cannot be used for a separate MitID in the app on the private phone',
  'notifications-required': 'the app needs notifications to receive approval requests',
  'authenticator-limit': 'this MitID already has the most apps it may have (3)',
  'already-answered': 'the request was already answered',
  'request-expired': 'the request has expired',
  'channel-mismatch': 'the QR code or 4-digit code does not belong to this request',
  'bad-signature': "the service did not accept the app's signature",
  'pin-wrong': 'the PIN is wrong',
  'app-suspended': 'the app is suspended after too many wrong PINs',
  'app-blocked': 'the app is blocked after too many wrong PINs',
};

/** Turns a refusal into an AppServiceError with one clear line. */
export function serviceError(status: number, body: Record<string, unknown>): AppServiceError {
  const code = typeof body.error === 'string' ? body.error : `http-${status}`;
  const { error: _e, message: _m, ...detail } = body;
  const said = typeof body.message === 'string' ? body.message.split('\n')[0]!.slice(0, 300) : '';
  const what = EXPLAIN[code] ?? (said || `the service answered ${status}`);
  const tries = typeof detail.triesLeft === 'number' ? ` (${detail.triesLeft} tries left)` : '';
  return new AppServiceError(status, code, `${what}${tries} [${status} ${code}]`, detail);
}
