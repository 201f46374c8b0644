/**
 * Security of the activation pages: response headers, the page session (an HttpOnly SameSite=Strict
 * cookie naming a server-side record), and CSRF synchronizer tokens tied to that cookie.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** The Content-Security-Policy of every page. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "img-src 'self' data:",
  "script-src 'self'",
  "style-src 'self'",
  "frame-ancestors 'none'",
  "form-action 'self'",
  "base-uri 'none'",
  "object-src 'none'",
].join('; ');

/** The headers every page answer carries. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cache-control': 'no-store',
});

/** Sets {@link SECURITY_HEADERS} on an answer. */
export function setSecurityHeaders(reply: FastifyReply): void {
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) void reply.header(k, v);
}

/** The session cookie's name. */
export const SESSION_COOKIE = 'mitid_sid';
/** The administrator token's cookie (path /admin). */
export const ADMIN_COOKIE = 'mitid_admin';
/** The language cookie. */
export const LANG_COOKIE = 'mitid_lang';

/** What a page session keeps between requests (never shown in a URL). */
export interface PageSession {
  /** The activation link this browser started from (for the app start). */
  linkToken?: string;
  /** A private-MitID start waiting for the app. */
  start?: { token: string; startToken: string; qrPng?: string; code?: string };
  /** The activation session token. */
  activationToken?: string;
  /** The app activation shown on the authenticator page (code and QR, shown again on reload). */
  appActivation?: { userId: string; activationCode: string; qrPng: string };
  /** The chip's WebAuthn creation options (the flow keeps the challenge). */
  chipCreation?: unknown;
  /** The finished activation, for the confirmation page. */
  activated?: {
    mitid: string;
    userId: string | null;
    organisation: string;
    authenticator: string | null;
  };
  /** A login in progress. */
  login?: {
    token: string;
    next: string;
    qrPng?: string;
    code?: string;
    chipOptions?: unknown;
  };
  /** A finished login, for its page. */
  loggedIn?: { userId: string; mitid: string; organisations: { name: string; cvr: string }[] };
  /** One-time notices for the administrator pages (e.g. an activation code to hand over). */
  adminNotice?: { userId: string; activationCode?: string; message?: string };
}

interface Entry {
  readonly data: PageSession;
  touched: number;
}

/**
 * Page sessions in memory: the cookie holds a random id; the record holds the flow tokens. Idle
 * sessions end after `idleMs`; at most `max` are kept (the oldest go first).
 */
export class PageSessions {
  readonly #entries = new Map<string, Entry>();
  readonly #secret = randomBytes(32);
  readonly #idleMs: number;
  readonly #max: number;

  constructor(options: { idleMs?: number; max?: number } = {}) {
    this.#idleMs = options.idleMs ?? 60 * 60_000;
    this.#max = options.max ?? 10_000;
  }

  /** The session named by the request's cookie, made (and its cookie set) when there is none. */
  get(
    req: FastifyRequest,
    reply: FastifyReply,
    secure: boolean,
  ): { id: string; data: PageSession } {
    const now = Date.now();
    const id = req.cookies[SESSION_COOKIE];
    if (typeof id === 'string' && /^[A-Za-z0-9_-]{43}$/.test(id)) {
      const e = this.#entries.get(id);
      if (e !== undefined && now - e.touched < this.#idleMs) {
        e.touched = now;
        // Most recently used last: the eviction below takes the oldest first.
        this.#entries.delete(id);
        this.#entries.set(id, e);
        return { id, data: e.data };
      }
      this.#entries.delete(id);
    }
    return this.#create(reply, secure, now);
  }

  /** A fresh session (a new id): after signing in, so an id planted before does not carry over. */
  renew(
    reply: FastifyReply,
    secure: boolean,
    keep: PageSession,
  ): { id: string; data: PageSession } {
    const s = this.#create(reply, secure, Date.now());
    Object.assign(s.data, keep);
    return s;
  }

  /** Ends a session. */
  end(id: string): void {
    this.#entries.delete(id);
  }

  #create(reply: FastifyReply, secure: boolean, now: number): { id: string; data: PageSession } {
    for (const [k, e] of this.#entries) {
      if (this.#entries.size < this.#max && now - e.touched < this.#idleMs) break;
      this.#entries.delete(k);
    }
    const id = randomBytes(32).toString('base64url');
    const data: PageSession = {};
    this.#entries.set(id, { data, touched: now });
    void reply.setCookie(SESSION_COOKIE, id, {
      path: '/',
      httpOnly: true,
      sameSite: 'strict',
      secure,
    });
    // The request in hand may render a CSRF token: it must be this new session's.
    return { id, data };
  }

  /** The CSRF token of a session: a keyed hash of its id (nothing to store, nothing to guess). */
  csrfToken(sessionId: string): string {
    return createHmac('sha256', this.#secret).update(`csrf:${sessionId}`).digest('base64url');
  }

  /** True when `sent` is the session's CSRF token (compared in constant time). */
  checkCsrf(sessionId: string, sent: unknown): boolean {
    if (typeof sent !== 'string') return false;
    const want = Buffer.from(this.csrfToken(sessionId));
    const got = Buffer.from(sent);
    return got.length === want.length && timingSafeEqual(got, want);
  }
}
