/**
 * The login pages: user ID, then the steps of the authenticator in use (code and password; password
 * and chip; the app's QR code or 4-digit code), then who is logged in and for which organisations.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AuthenticatorKinds, type AuthenticatorKind } from '../../core/authenticator.js';
import type { AuthenticationResponseJSON } from '../../core/webauthn-json.js';
import type { ActivationFlow, Client, LoginProgress } from '../flow.js';
import {
  appChannel,
  errorBox,
  field,
  formValue,
  PageContext,
  type PageError,
  type WebSettings,
} from './context.js';
import { textOf } from './i18n.js';
import { html, jsonData } from './render.js';

const client = (req: FastifyRequest): Client => ({ address: req.ip });
const LOGIN_STEPS = new Set(['code', 'password', 'chip', 'app']);

/** Registers the login pages. */
export function registerLoginPages(
  web: FastifyInstance,
  flow: ActivationFlow,
  settings: WebSettings,
): void {
  const ctx = (req: FastifyRequest, reply: FastifyReply) => new PageContext(req, reply, settings);

  const startPage = (c: PageContext, err?: PageError, userId = '', kind = ''): FastifyReply =>
    c.page(
      err?.status ?? 200,
      c.t('loginTitle'),
      html`<h1>${c.t('loginTitle')}</h1>
        <p>${c.t('loginIntro')}</p>
        ${errorBox(c, err?.message)}
        <form id="login-form" method="post" action="/login" novalidate>
          ${c.csrfField()}
          ${field({ name: 'userId', id: 'user-id', label: c.t('userId'), autocomplete: 'username', value: userId, spellcheck: false, maxlength: 100 }, err)}
          <div class="field">
            <label for="authenticator">${c.t('authenticatorSelect')}</label>
            <select id="authenticator" name="authenticator">
              <option value="">${c.t('authAny')}</option>
              ${AuthenticatorKinds.map((k) => html`<option value="${k}" ${k === kind ? html` selected` : null}>${textOf(c.lang, `kind_${k}`)}</option>`)}
            </select>
          </div>
          <button id="submit" type="submit">${c.t('continue')}</button>
        </form>`,
    );

  web.get('/login', async (req, reply) => startPage(ctx(req, reply)));

  web.post('/login', async (req, reply) => {
    const c = ctx(req, reply);
    const userId = formValue(req.body, 'userId');
    const kind = formValue(req.body, 'authenticator');
    try {
      const started = await flow.startLogin(
        {
          userId,
          ...((AuthenticatorKinds as readonly string[]).includes(kind)
            ? { authenticator: kind as AuthenticatorKind }
            : {}),
        },
        client(req),
      );
      delete c.session.loggedIn;
      c.session.login = {
        token: started.loginToken,
        next: started.steps[0] ?? 'code',
        ...(started.channel === undefined
          ? {}
          : { qrPng: started.channel.qr.png, code: started.channel.code }),
      };
      return c.see(`/login/${c.session.login.next}`);
    } catch (e) {
      const pe = c.pageError(e, 'userId');
      if (pe === undefined) throw e;
      return startPage(c, pe, userId, kind);
    }
  });

  /** Applies a step's answer: the next step's page or the logged-in page. */
  const progress = (c: PageContext, p: LoginProgress): FastifyReply => {
    const login = c.session.login;
    if (p.done) {
      delete c.session.login;
      c.session.loggedIn = {
        userId: p.identity.userId,
        mitid: p.identity.mitid,
        organisations: p.organisations.map((o) => ({ name: o.name, cvr: o.cvr })),
      };
      c.rotate();
      return c.see('/login/done');
    }
    if (login !== undefined) {
      login.next = p.next;
      if (p.chipOptions !== undefined) login.chipOptions = p.chipOptions;
    }
    return c.see(`/login/${p.next}`);
  };

  const failed = (c: PageContext, e: unknown, step: string): FastifyReply => {
    const pe = c.pageError(e, step === 'chip' ? 'assertion' : step);
    if (pe === undefined) throw e;
    // A refused login has ended: the next try starts again with the user ID.
    if (pe.code === 'login-failed' || pe.code === 'login-not-found') {
      delete c.session.login;
      return startPage(c, pe);
    }
    return stepPage(c, step, pe);
  };

  const stepPage = (c: PageContext, step: string, err?: PageError): FastifyReply => {
    const login = c.session.login;
    if (login === undefined)
      return c.errorPage(
        404,
        c.t('noLoginTitle'),
        c.t('noLoginText'),
        html`<p><a href="/login">${c.t('newLogin')}</a></p>`,
      );
    if (login.next !== step) return c.see(`/login/${login.next}`);
    const status = err?.status ?? 200;
    const box = errorBox(c, err?.message);
    switch (step) {
      case 'code':
        return c.page(
          status,
          c.t('loginCodeTitle'),
          html`<h1>${c.t('loginCodeTitle')}</h1>
            ${box}
            <form id="login-code" method="post" action="/login/code" novalidate>
              ${c.csrfField()}
              ${field({ name: 'code', id: 'code', label: c.t('code'), autocomplete: 'one-time-code', inputmode: 'numeric', help: c.t('loginCodeHelp'), maxlength: 16 }, err)}
              <button id="submit" type="submit">${c.t('next')}</button>
            </form>`,
        );
      case 'password':
        return c.page(
          status,
          c.t('loginPasswordTitle'),
          html`<h1>${c.t('loginPasswordTitle')}</h1>
            ${box}
            <form id="login-password" method="post" action="/login/password" novalidate>
              ${c.csrfField()}
              ${field({ name: 'password', id: 'password', label: c.t('password'), type: 'password', autocomplete: 'current-password', maxlength: 256 }, err)}
              <button id="submit" type="submit">${c.t('logIn')}</button>
            </form>`,
        );
      case 'chip':
        return c.page(
          status,
          c.t('loginChipTitle'),
          html`<h1>${c.t('loginChipTitle')}</h1>
            ${box}
            <p>${c.t('loginChipIntro')}</p>
            <p id="webauthn-missing" class="note">${c.t('chipNeedsJs')}</p>
            <script type="application/json" id="chip-options">
              ${jsonData(login.chipOptions ?? null)}
            </script>
            <form
              id="chip-form"
              method="post"
              action="/login/chip"
              data-webauthn="get"
              data-failed="${c.t('chipFailed')}"
            >
              ${c.csrfField()}
              <input type="hidden" name="assertion" id="assertion" value="" />
              <button id="chip-login" type="button">${c.t('chipLogin')}</button>
            </form>`,
        );
      default:
        return c.page(
          status,
          c.t('loginAppTitle'),
          html`<h1>${c.t('loginAppTitle')}</h1>
            ${box}
            <p>${c.t('appWaitIntro')}</p>
            ${appChannel(c, {
              pollUrl: '/login/app/status',
              continueUrl: '/login/app',
              ...(login.qrPng === undefined ? {} : { qrPng: login.qrPng }),
              ...(login.code === undefined ? {} : { code: login.code }),
            })}`,
        );
    }
  };

  web.get('/login/done', async (req, reply) => {
    const c = ctx(req, reply);
    const l = c.session.loggedIn;
    if (l === undefined) return c.see('/login');
    return c.page(
      200,
      c.t('loginDoneTitle'),
      html`<h1>${c.t('loginDoneTitle')}</h1>
        <p>
          ${c.t('loggedInAs')}
          <strong id="logged-in-as">${l.userId}</strong> (${textOf(c.lang, `mitid_${l.mitid}`)})
          ${c.t('forOrganisations')}:
        </p>
        ${
          l.organisations.length === 0
            ? html`<p id="organisations">${c.t('noOrganisations')}</p>`
            : html`<ul id="organisations">
                ${l.organisations.map((o) => html`<li>${o.name} (CVR ${o.cvr})</li>`)}
              </ul>`
        }
        <p><a href="/login">${c.t('newLogin')}</a></p>`,
    );
  });

  web.get<{ Params: { step: string } }>('/login/:step', async (req, reply) => {
    const c = ctx(req, reply);
    if (!LOGIN_STEPS.has(req.params.step))
      return c.errorPage(404, c.t('notFound'), c.t('notFoundText'));
    return stepPage(c, req.params.step);
  });

  web.post<{ Params: { step: string } }>('/login/:step', async (req, reply) => {
    const c = ctx(req, reply);
    const step = req.params.step;
    if (!LOGIN_STEPS.has(step)) return c.errorPage(404, c.t('notFound'), c.t('notFoundText'));
    const login = c.session.login;
    if (login === undefined) return stepPage(c, step);
    const who = client(req);
    try {
      if (step === 'code')
        return progress(c, await flow.loginCode(login.token, formValue(req.body, 'code'), who));
      if (step === 'password')
        return progress(
          c,
          await flow.loginPassword(login.token, formValue(req.body, 'password'), who),
        );
      if (step === 'chip') {
        let assertion: AuthenticationResponseJSON;
        try {
          assertion = JSON.parse(formValue(req.body, 'assertion')) as AuthenticationResponseJSON;
        } catch {
          assertion = {} as AuthenticationResponseJSON;
        }
        return progress(c, await flow.loginChip(login.token, assertion, who));
      }
      const p = await flow.loginApp(login.token, who);
      if (!p.done && p.pending === true) return stepPage(c, 'app');
      return progress(c, p);
    } catch (e) {
      return failed(c, e, step);
    }
  });

  web.post('/login/app/status', async (req, reply) => {
    const c = ctx(req, reply);
    const login = c.session.login;
    const send = (status: number, body: unknown) =>
      reply
        .status(status)
        .header('cache-control', 'no-store')
        .header('x-content-type-options', 'nosniff')
        .type('application/json; charset=utf-8')
        .send(JSON.stringify(body));
    if (login === undefined) return send(404, { done: true, next: '/login' });
    try {
      const p = await flow.loginApp(login.token, client(req));
      if (!p.done && p.pending === true) return send(200, { done: false });
      if (p.done) {
        delete c.session.login;
        c.session.loggedIn = {
          userId: p.identity.userId,
          mitid: p.identity.mitid,
          organisations: p.organisations.map((o) => ({ name: o.name, cvr: o.cvr })),
        };
        c.rotate();
        return send(200, { done: true, next: '/login/done' });
      }
      return send(200, { done: true, next: `/login/${p.next}` });
    } catch (e) {
      const pe = c.pageError(e);
      if (pe === undefined) throw e;
      delete c.session.login;
      return send(pe.status, { done: true, error: pe.message });
    }
  });
}
