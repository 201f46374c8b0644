/**
 * What every activation page handler shares: the request's language and page session, the
 * CSRF token, rendering a page with the security headers, and a refusal turned into a message.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { publicError } from '../http.js';
import { errorText, pickLang, text, type Lang, type TextKey } from './i18n.js';
import { documentHtml, html, type HtmlValue, type SafeHtml } from './render.js';
import {
  LANG_COOKIE,
  setSecurityHeaders,
  type PageSession,
  type PageSessions,
} from './security.js';

/** The pages' settings. */
export interface WebSettings {
  readonly sessions: PageSessions;
  /** Cookies get the Secure attribute (the base URL is https). */
  readonly secure: boolean;
  /** The dev pages (mailbox, SMS outbox) are served. */
  readonly dev: boolean;
}

/** A refusal shown on a page: the message and the field it concerns. */
export interface PageError {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly field?: string;
}

/** One request's view of the pages. */
export class PageContext {
  readonly lang: Lang;
  sessionId: string;
  session: PageSession;
  csrf: string;

  constructor(
    readonly req: FastifyRequest,
    readonly reply: FastifyReply,
    readonly settings: WebSettings,
  ) {
    const cookie = req.cookies[LANG_COOKIE];
    this.lang = pickLang(req, cookie);
    const q = (req.query as Record<string, unknown> | undefined)?.lang;
    if ((q === 'da' || q === 'en') && q !== cookie)
      void reply.setCookie(LANG_COOKIE, q, {
        path: '/',
        sameSite: 'lax',
        httpOnly: true,
        secure: settings.secure,
        maxAge: 365 * 86_400,
      });
    const s = settings.sessions.get(req, reply, settings.secure);
    this.sessionId = s.id;
    this.session = s.data;
    this.csrf = settings.sessions.csrfToken(s.id);
  }

  /**
   * A new session id for the same session (after a login or the start of an activation): an id
   * planted in the browser before does not carry the signed-in session.
   */
  rotate(): void {
    const keep = { ...this.session };
    this.settings.sessions.end(this.sessionId);
    const s = this.settings.sessions.renew(this.reply, this.settings.secure, keep);
    this.sessionId = s.id;
    this.session = s.data;
    this.csrf = this.settings.sessions.csrfToken(s.id);
  }

  /** A text in the page's language. */
  t(key: TextKey): string {
    return text(this.lang, key);
  }

  /** The hidden CSRF field of a form. */
  csrfField(): SafeHtml {
    return html`<input type="hidden" name="_csrf" value="${this.csrf}" />`;
  }

  /** Sends a page: the document around `main`, with the security headers. */
  page(status: number, title: string, main: SafeHtml): FastifyReply {
    setSecurityHeaders(this.reply);
    const path = this.req.url.split('?')[0] ?? '/';
    const other: Lang = this.lang === 'da' ? 'en' : 'da';
    const nav = [
      { href: '/', label: this.t('navHome'), id: 'nav-home' },
      { href: '/login', label: this.t('navLogin'), id: 'nav-login' },
      { href: '/admin', label: this.t('navAdmin'), id: 'nav-admin' },
      ...(this.settings.dev
        ? [
            { href: '/dev/mailbox', label: this.t('navMailbox'), id: 'nav-mailbox' },
            { href: '/dev/sms', label: this.t('navSms'), id: 'nav-sms' },
          ]
        : []),
    ];
    return this.reply
      .status(status)
      .type('text/html; charset=utf-8')
      .send(
        documentHtml({
          lang: this.lang,
          title,
          csrf: this.csrf,
          skipText: this.t('skip'),
          siteName: this.t('siteName'),
          switchHref: `${path}?lang=${other}`,
          switchLabel: this.t('switchTo'),
          switchLang: other,
          nav,
          navLabel: this.t('nav'),
          main,
        }),
      );
  }

  /** A page that only says what went wrong. */
  errorPage(status: number, title: string, message: string, more: HtmlValue = null): FastifyReply {
    return this.page(
      status,
      title,
      html`<h1>${title}</h1>
        ${errorBox(this, message)}${more}
        <p><a href="/">${this.t('backHome')}</a></p>`,
    );
  }

  /** Redirect after POST (303) to a page of this site. */
  see(path: string): FastifyReply {
    setSecurityHeaders(this.reply);
    return this.reply.redirect(path, 303);
  }

  /**
   * A refusal as a page error (the flow's wording, in Danish for the refusals users meet), or
   * undefined for our own failures (the caller rethrows them).
   */
  pageError(e: unknown, field?: string): PageError | undefined {
    const pub = publicError(e);
    if (pub === undefined) return undefined;
    return this.fromBody(pub.status, pub.body, field);
  }

  /** A page error from a JSON error body of the API. */
  fromBody(status: number, body: Record<string, unknown>, field?: string): PageError {
    const code = typeof body.error === 'string' ? body.error : 'error';
    const message = typeof body.message === 'string' ? body.message : code;
    const vs = body.violations;
    if (Array.isArray(vs) && vs.length > 0) {
      const texts = vs.map((v: { message?: unknown }) => {
        const m = v.message as { da?: string; en?: string } | string | undefined;
        return typeof m === 'string' ? m : (m?.[this.lang] ?? m?.en ?? code);
      });
      const first = vs[0] as { field?: unknown };
      const f = typeof first.field === 'string' ? first.field : field;
      return {
        status,
        code,
        message: texts.join(' '),
        ...(f === undefined ? {} : { field: f }),
      };
    }
    return {
      status,
      code,
      message: errorText(this.lang, code, message, body),
      ...(field === undefined ? {} : { field }),
    };
  }
}

/** The alert region of a page with an error. Inputs name it with aria-describedby="error". */
export function errorBox(c: PageContext, message: string | undefined): SafeHtml {
  if (message === undefined) return html``;
  return html`<div id="error" class="error" role="alert" tabindex="-1">
    <p><strong>${c.t('errorPrefix')}</strong> ${message}</p>
  </div>`;
}

/**
 * What a page waiting for the MitID app shows: the QR code and the 4-digit code, a live status the
 * script polls `pollUrl` for, and a form to go on without JavaScript.
 */
export function appChannel(
  c: PageContext,
  channel: { pollUrl: string; continueUrl: string; qrPng?: string; code?: string },
): SafeHtml {
  return html`<div class="app-channel" data-poll="${channel.pollUrl}" data-poll-method="POST">
      ${channel.qrPng === undefined ? null : html`<img id="code-qr" src="data:image/png;base64,${channel.qrPng}" alt="${c.t('qrAlt')}" width="200" height="200" />`}
      ${channel.code === undefined ? null : html`<p>${c.t('channelCode')}: <strong id="channel-code" class="code">${channel.code}</strong></p>`}
      <p id="poll-status" role="status" aria-live="polite">${c.t('waiting')}</p>
    </div>
    <form id="app-continue" method="post" action="${channel.continueUrl}">
      ${c.csrfField()}
      <p>${c.t('appNoJs')}</p>
      <button id="submit-continue" type="submit">${c.t('continue')}</button>
    </form>`;
}

/** A text input with its label, help and error linkage. */
export interface Field {
  readonly name: string;
  readonly id: string;
  readonly label: string;
  readonly type?: string;
  readonly autocomplete?: string;
  readonly inputmode?: string;
  readonly value?: string;
  readonly help?: string;
  readonly required?: boolean;
  readonly maxlength?: number;
  readonly spellcheck?: boolean;
}

/** Renders a labelled input; when the error concerns it, aria-invalid and aria-describedby. */
export function field(f: Field, err?: PageError): SafeHtml {
  const helpId = f.help === undefined ? undefined : `${f.id}-help`;
  const invalid = err !== undefined && (err.field === f.name || err.field === undefined);
  const described = [invalid ? 'error' : undefined, helpId].filter(Boolean).join(' ');
  return html`<div class="field">
    <label for="${f.id}">${f.label}</label>
    ${f.help === undefined ? null : html`<p class="help" id="${helpId}">${f.help}</p>`}
    <input
      id="${f.id}"
      name="${f.name}"
      type="${f.type ?? 'text'}"
      ${f.autocomplete === undefined ? null : html` autocomplete="${f.autocomplete}"`}${f.inputmode === undefined ? null : html` inputmode="${f.inputmode}"`}${f.value === undefined ? null : html` value="${f.value}"`}${f.required === false ? null : html` required`}${f.maxlength === undefined ? null : html` maxlength="${f.maxlength}"`}${f.spellcheck === false ? html` spellcheck="false" autocapitalize="none"` : null}${invalid ? html` aria-invalid="true"` : null}${described === '' ? null : html` aria-describedby="${described}"`}
    />
  </div>`;
}

/** A string field of a parsed form body ('' when missing or not a string). */
export function formValue(body: unknown, name: string): string {
  if (body === null || typeof body !== 'object') return '';
  const v = (body as Record<string, unknown>)[name];
  return typeof v === 'string' ? v.slice(0, 8192) : '';
}

/** Every value of a repeated form field (checkboxes). */
export function formValues(body: unknown, name: string): string[] {
  if (body === null || typeof body !== 'object') return [];
  const v = (body as Record<string, unknown>)[name];
  if (typeof v === 'string') return [v];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}
