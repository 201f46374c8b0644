/**
 * The activation pages: the e-mail link's page, "Start activation" with the private MitID (code
 * and password, or the app), and one page per step of the flow up to the confirmation.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthenticatorKind } from '../../core/authenticator.js';
import type { RegistrationResponseJSON } from '../../core/webauthn-json.js';
import type { ActivationFlow, ActivationStep, ActivationView, Client } from '../flow.js';
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
import { html, jsonData, type SafeHtml } from './render.js';

const TOKEN = /^[A-Za-z0-9_-]{22,128}$/;
const STEPS = new Set<string>([
  'choose-mitid',
  'user-id',
  'activation-code',
  'phone',
  'phone-code',
  'authenticator',
  'activate-authenticator',
  'password',
  'finish',
]);

const client = (req: FastifyRequest): Client => ({ address: req.ip });

function dateOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Registers the activation pages. */
export function registerActivationPages(
  web: FastifyInstance,
  flow: ActivationFlow,
  settings: WebSettings,
): void {
  const ctx = (req: FastifyRequest, reply: FastifyReply) => new PageContext(req, reply, settings);

  // --- The e-mail link. ----------------------------------------------------------------------

  const linkRefused = (c: PageContext, e: unknown): FastifyReply => {
    const pe = c.pageError(e);
    if (pe === undefined) throw e;
    return c.errorPage(pe.status, c.t('linkErrorTitle'), pe.message);
  };

  web.get<{ Params: { token: string } }>('/activate/:token', async (req, reply) => {
    const c = ctx(req, reply);
    const token = req.params.token;
    if (!TOKEN.test(token)) return c.errorPage(404, c.t('linkErrorTitle'), c.t('notFoundText'));
    try {
      const link = await flow.inspectLink(token, client(req));
      return c.page(
        200,
        c.t('linkTitle'),
        html`<h1>${c.t('linkTitle')}</h1>
          <p>
            ${c.t('linkIntro')}
            <strong id="organisation-name">${link.organisation.name}</strong> (CVR
            ${link.organisation.cvr}).
          </p>
          <p>
            ${c.t('linkFor')}:
            <span id="user-name">${link.user.firstName} ${link.user.surname}</span>
          </p>
          <p>
            ${c.t('linkExpires')}
            <time datetime="${new Date(link.expiresAt).toISOString()}"
              >${dateOf(link.expiresAt)}</time
            >.
          </p>
          ${link.needsActivationCode ? html`<p id="needs-code">${c.t('linkNeedsCode')}</p>` : null}
          <p>${c.t('linkPrivacy')}</p>
          <p>
            <a id="start-activation" class="button" href="/activate/${token}/login"
              >${c.t('startActivation')}</a
            >
          </p>`,
      );
    } catch (e) {
      return linkRefused(c, e);
    }
  });

  const loginForm = (c: PageContext, token: string, err?: PageError, userId = ''): FastifyReply =>
    c.page(
      err?.status ?? 200,
      c.t('privateLoginTitle'),
      html`<h1>${c.t('privateLoginTitle')}</h1>
        <p>${c.t('privateLoginIntro')}</p>
        ${errorBox(c, err?.message)}
        <form id="private-login" method="post" action="/activate/${token}/login">
          ${c.csrfField()}
          <h2>${c.t('withDevice')}</h2>
          ${field({ name: 'userId', id: 'user-id', label: c.t('userId'), autocomplete: 'username', value: userId, spellcheck: false, maxlength: 100 }, err)}
          ${field({ name: 'code', id: 'code', label: c.t('code'), autocomplete: 'one-time-code', inputmode: 'numeric', maxlength: 16 }, err)}
          ${field({ name: 'password', id: 'password', label: c.t('password'), type: 'password', autocomplete: 'current-password', maxlength: 256 }, err)}
          <button id="submit-login" type="submit">${c.t('logIn')}</button>
        </form>
        <form id="private-login-app" method="post" action="/activate/${token}/login">
          ${c.csrfField()}
          <input type="hidden" name="method" value="app" />
          <h2>${c.t('withApp')}</h2>
          ${field({ name: 'userId', id: 'app-user-id', label: c.t('userId'), autocomplete: 'username', value: userId, spellcheck: false, maxlength: 100 }, err)}
          <button id="submit-login-app" type="submit">${c.t('useApp')}</button>
        </form>`,
    );

  web.get<{ Params: { token: string } }>('/activate/:token/login', async (req, reply) => {
    const c = ctx(req, reply);
    const token = req.params.token;
    if (!TOKEN.test(token)) return c.errorPage(404, c.t('linkErrorTitle'), c.t('notFoundText'));
    try {
      await flow.inspectLink(token, client(req));
    } catch (e) {
      return linkRefused(c, e);
    }
    return loginForm(c, token);
  });

  web.post<{ Params: { token: string } }>('/activate/:token/login', async (req, reply) => {
    const c = ctx(req, reply);
    const token = req.params.token;
    if (!TOKEN.test(token)) return c.errorPage(404, c.t('linkErrorTitle'), c.t('notFoundText'));
    const userId = formValue(req.body, 'userId');
    try {
      if (formValue(req.body, 'method') === 'app') {
        const out = await flow.startActivation(token, { userId }, client(req));
        if ('pending' in out) {
          c.session.start = {
            token,
            startToken: out.startToken,
            ...(out.channel === undefined
              ? {}
              : { qrPng: out.channel.qr.png, code: out.channel.code }),
          };
          return c.see(`/activate/${token}/app`);
        }
        c.session.activationToken = out.activationToken;
        c.rotate();
        return c.see('/activation');
      }
      const out = await flow.startActivation(
        token,
        { userId, code: formValue(req.body, 'code'), password: formValue(req.body, 'password') },
        client(req),
      );
      if ('pending' in out) return c.see(`/activate/${token}/app`);
      c.session.activationToken = out.activationToken;
      c.rotate();
      delete c.session.activated;
      return c.see('/activation');
    } catch (e) {
      const pe = c.pageError(e);
      if (pe === undefined) throw e;
      if (pe.code.startsWith('link-'))
        return c.errorPage(pe.status, c.t('linkErrorTitle'), pe.message);
      return loginForm(c, token, pe, userId);
    }
  });

  const appWait = (c: PageContext, token: string, err?: PageError): FastifyReply => {
    const s = c.session.start;
    if (s === undefined || s.token !== token) return c.see(`/activate/${token}/login`);
    return c.page(
      err?.status ?? 200,
      c.t('appWaitTitle'),
      html`<h1>${c.t('appWaitTitle')}</h1>
        <p>${c.t('appWaitIntro')}</p>
        ${errorBox(c, err?.message)}
        ${appChannel(c, {
          pollUrl: `/activate/${token}/app/status`,
          continueUrl: `/activate/${token}/app`,
          ...(s.qrPng === undefined ? {} : { qrPng: s.qrPng }),
          ...(s.code === undefined ? {} : { code: s.code }),
        })}`,
    );
  };

  web.get<{ Params: { token: string } }>('/activate/:token/app', async (req, reply) => {
    const c = ctx(req, reply);
    return appWait(c, req.params.token);
  });

  /** One look at the start waiting for the app: the next page, undefined while pending. */
  const startApp = async (c: PageContext, token: string): Promise<string | undefined> => {
    const s = c.session.start;
    if (s === undefined || s.token !== token) return `/activate/${token}/login`;
    const out = await flow.startActivationApp(token, s.startToken, client(c.req));
    if ('pending' in out) return undefined;
    delete c.session.start;
    delete c.session.activated;
    c.session.activationToken = out.activationToken;
    c.rotate();
    return '/activation';
  };

  web.post<{ Params: { token: string } }>('/activate/:token/app', async (req, reply) => {
    const c = ctx(req, reply);
    const token = req.params.token;
    try {
      const next = await startApp(c, token);
      return next === undefined ? appWait(c, token) : c.see(next);
    } catch (e) {
      const pe = c.pageError(e);
      if (pe === undefined) throw e;
      delete c.session.start;
      return loginForm(c, token, pe);
    }
  });

  web.post<{ Params: { token: string } }>('/activate/:token/app/status', async (req, reply) => {
    const c = ctx(req, reply);
    try {
      const next = await startApp(c, req.params.token);
      return jsonAnswer(reply, 200, next === undefined ? { done: false } : { done: true, next });
    } catch (e) {
      const pe = c.pageError(e);
      if (pe === undefined) throw e;
      delete c.session.start;
      return jsonAnswer(reply, pe.status, { done: true, error: pe.message });
    }
  });

  // --- The steps. ----------------------------------------------------------------------------

  const noActivation = (c: PageContext, message?: string): FastifyReply =>
    c.errorPage(404, c.t('noActivationTitle'), message ?? c.t('noActivationText'));

  /** The current view, or a page saying the activation is gone. */
  const current = async (c: PageContext): Promise<ActivationView | FastifyReply> => {
    const token = c.session.activationToken;
    if (token === undefined) return noActivation(c);
    try {
      return await flow.activation(token, client(c.req));
    } catch (e) {
      const pe = c.pageError(e);
      if (pe === undefined) throw e;
      if (pe.code === 'activation-not-found') {
        delete c.session.activationToken;
        return noActivation(c, pe.message);
      }
      return c.errorPage(pe.status, c.t('errorTitle'), pe.message);
    }
  };

  web.get('/activation', async (req, reply) => {
    const c = ctx(req, reply);
    if (c.session.activationToken === undefined && c.session.activated !== undefined)
      return c.see('/activation/done');
    const v = await current(c);
    if (!('step' in v)) return v;
    return c.see(`/activation/${v.step === 'done' ? 'done' : v.step}`);
  });

  web.get('/activation/state', async (req, reply) => {
    const c = ctx(req, reply);
    const token = c.session.activationToken;
    if (token === undefined) return jsonAnswer(reply, 404, { step: null });
    try {
      const v = await flow.activation(token, client(req));
      return jsonAnswer(reply, 200, { step: v.step });
    } catch (e) {
      const pe = c.pageError(e);
      if (pe === undefined) throw e;
      return jsonAnswer(reply, pe.status, { step: null, error: pe.message });
    }
  });

  web.get('/activation/done', async (req, reply) => {
    const c = ctx(req, reply);
    const a = c.session.activated;
    if (a === undefined) return c.see('/activation');
    return c.page(
      200,
      c.t('doneTitle'),
      html`<h1>${c.t('doneTitle')}</h1>
        <div id="confirmation">
          <p>${c.t('doneText')} <strong>${a.organisation}</strong>.</p>
          <dl>
            <dt>MitID</dt>
            <dd id="done-mitid">${textOf(c.lang, `mitid_${a.mitid}`)}</dd>
            ${
              a.userId === null
                ? null
                : html`<dt>${c.t('doneUserId')}</dt>
                    <dd id="done-user-id">${a.userId}</dd>`
            }
            ${
              a.authenticator === null
                ? null
                : html`<dt>${c.t('doneAuth')}</dt>
                    <dd id="done-authenticator">${textOf(c.lang, `kind_${a.authenticator}`)}</dd>`
            }
          </dl>
          <p>${c.t('doneMail')}</p>
        </div>
        <p><a href="/login">${c.t('linkLogin')}</a></p>`,
    );
  });

  web.get<{ Params: { step: string } }>('/activation/:step', async (req, reply) => {
    const c = ctx(req, reply);
    if (!STEPS.has(req.params.step)) return c.errorPage(404, c.t('notFound'), c.t('notFoundText'));
    const v = await current(c);
    if (!('step' in v)) return v;
    if (v.step !== req.params.step) return c.see('/activation');
    return stepPage(c, v);
  });

  web.post<{ Params: { step: string } }>('/activation/:step', async (req, reply) => {
    const c = ctx(req, reply);
    const step = req.params.step;
    if (!STEPS.has(step)) return c.errorPage(404, c.t('notFound'), c.t('notFoundText'));
    const token = c.session.activationToken;
    if (token === undefined) return noActivation(c);
    const b = req.body;
    const who = client(req);
    let fieldName: string | undefined;
    try {
      switch (step as ActivationStep) {
        case 'choose-mitid': {
          fieldName = 'mitid';
          const m = formValue(b, 'mitid');
          await flow.chooseMitId(token, m === 'separate' ? 'separate' : 'private', who);
          break;
        }
        case 'user-id':
          fieldName = 'userId';
          await flow.chooseUserId(token, formValue(b, 'userId'), who);
          break;
        case 'activation-code':
          fieldName = 'code';
          await flow.enterActivationCode(token, formValue(b, 'code'), who);
          break;
        case 'phone':
          fieldName = 'phone';
          await flow.enterPhone(token, formValue(b, 'phone'), who);
          break;
        case 'phone-code':
          fieldName = 'code';
          await flow.enterPhoneCode(token, formValue(b, 'code'), who);
          break;
        case 'authenticator': {
          fieldName = 'kind';
          const kind = formValue(b, 'kind') as AuthenticatorKind;
          const placement =
            formValue(b, 'placement') === 'private-phone' ? 'private-phone' : 'new-device';
          const prompt = await flow.chooseAuthenticator(token, kind, who, placement);
          delete c.session.appActivation;
          delete c.session.chipCreation;
          if (prompt.kind === 'app')
            c.session.appActivation = {
              userId: prompt.userId,
              activationCode: prompt.activationCode,
              qrPng: prompt.qr.png,
            };
          else if (prompt.kind === 'chip') c.session.chipCreation = prompt.options;
          break;
        }
        case 'activate-authenticator': {
          const reg = formValue(b, 'registration');
          const serial = formValue(b, 'serial');
          if (reg !== '') {
            fieldName = 'registration';
            let parsed: RegistrationResponseJSON;
            try {
              parsed = JSON.parse(reg) as RegistrationResponseJSON;
            } catch {
              parsed = {} as RegistrationResponseJSON;
            }
            await flow.activateAuthenticator(
              token,
              { registration: parsed, ...(serial === '' ? {} : { serial }) },
              who,
            );
            delete c.session.chipCreation;
          } else {
            fieldName = undefined;
            await flow.activateAuthenticator(token, { serial, code: formValue(b, 'code') }, who);
          }
          break;
        }
        case 'password': {
          fieldName = 'password';
          const p = formValue(b, 'password');
          if (p !== formValue(b, 'passwordRepeat')) {
            const v = await flow.activation(token, who);
            return stepPage(c, v, {
              status: 400,
              code: 'password-mismatch',
              message: c.t('passwordMismatch'),
              field: 'passwordRepeat',
            });
          }
          await flow.choosePassword(token, p, who);
          break;
        }
        case 'finish': {
          const done = await flow.finish(token, who);
          delete c.session.activationToken;
          delete c.session.appActivation;
          delete c.session.chipCreation;
          c.session.activated = {
            mitid: done.mitid,
            userId: done.userId,
            organisation: done.organisation.name,
            authenticator: done.authenticator,
          };
          return c.see('/activation/done');
        }
        default:
          return c.see('/activation');
      }
      return c.see('/activation');
    } catch (e) {
      const pe = c.pageError(e, fieldName);
      if (pe === undefined) throw e;
      // A refused chip registration used up its challenge: the page asks for a new one.
      if (fieldName === 'registration') delete c.session.chipCreation;
      if (pe.code === 'activation-not-found') {
        delete c.session.activationToken;
        return noActivation(c, pe.message);
      }
      const v = await current(c);
      if (!('step' in v)) return v;
      if (v.step !== step && pe.code === 'wrong-step') return c.see('/activation');
      return stepPage(c, v, pe, b);
    }
  });
}

function jsonAnswer(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply
    .status(status)
    .header('cache-control', 'no-store')
    .header('x-content-type-options', 'nosniff')
    .type('application/json; charset=utf-8')
    .send(JSON.stringify(body));
}

function stepForm(
  c: PageContext,
  step: string,
  inner: SafeHtml,
  button: string,
  id = 'step-form',
): SafeHtml {
  return html`<form id="${id}" method="post" action="/activation/${step}" novalidate>
    ${c.csrfField()} ${inner}
    <button id="submit" type="submit">${button}</button>
  </form>`;
}

function radio(
  name: string,
  value: string,
  label: string,
  checked: boolean,
  err?: PageError,
): SafeHtml {
  const invalid = err !== undefined && err.field === name;
  return html`<div class="choice">
    <input
      type="radio"
      id="${name}-${value}"
      name="${name}"
      value="${value}"
      ${checked ? html` checked` : null}${invalid ? html` aria-describedby="error"` : null}
    />
    <label for="${name}-${value}">${label}</label>
  </div>`;
}

/** The page of the step the activation stands at. */
function stepPage(
  c: PageContext,
  v: ActivationView,
  err?: PageError,
  body?: unknown,
): FastifyReply {
  const status = err?.status ?? 200;
  const org = v.organisation.name;
  const box = errorBox(c, err?.message);
  const orgLine = html`<p class="organisation">${org} (CVR ${v.organisation.cvr})</p>`;
  switch (v.step) {
    case 'choose-mitid': {
      const only =
        v.choices.private && !v.choices.separate
          ? html`<p id="only-private">${c.t('onlyPrivateNote')}</p>`
          : !v.choices.private && v.choices.separate
            ? html`<p id="only-separate">${c.t('onlySeparateNote')}</p>`
            : null;
      const options = [
        v.choices.private ? radio('mitid', 'private', c.t('choosePrivate'), true, err) : null,
        v.choices.separate
          ? radio('mitid', 'separate', c.t('chooseSeparate'), !v.choices.private, err)
          : null,
      ];
      return c.page(
        status,
        c.t('stepChooseTitle'),
        html`<h1>${c.t('stepChooseTitle')}</h1>
          ${orgLine}${box}${only}
          ${stepForm(
            c,
            'choose-mitid',
            html`<fieldset>
              <legend>${c.t('stepChooseIntro')} ${org}?</legend>
              ${options}
            </fieldset>`,
            c.t('next'),
          )}`,
      );
    }
    case 'user-id':
      return c.page(
        status,
        c.t('stepUserIdTitle'),
        html`<h1>${c.t('stepUserIdTitle')}</h1>
          ${orgLine}${box}
          ${stepForm(c, 'user-id', field({ name: 'userId', id: 'user-id', label: c.t('userId'), autocomplete: 'username', help: c.t('stepUserIdHelp'), value: formValue(body, 'userId'), spellcheck: false, maxlength: 100 }, err), c.t('next'))}`,
      );
    case 'activation-code':
      return c.page(
        status,
        c.t('stepCodeTitle'),
        html`<h1>${c.t('stepCodeTitle')}</h1>
          ${orgLine}${box}
          ${
            err?.code === 'activation-code-blocked'
              ? // A blocked code takes no more tries: no field to type into, only the way back once
                // the administrator has handed over a new code.
                html`<p><a id="new-code" href="/activation">${c.t('stepCodeNew')}</a></p>`
              : stepForm(
                  c,
                  'activation-code',
                  field(
                    {
                      name: 'code',
                      id: 'activation-code',
                      label: c.t('activationCode'),
                      autocomplete: 'one-time-code',
                      help: c.t('stepCodeHelp'),
                      spellcheck: false,
                      maxlength: 32,
                    },
                    err,
                  ),
                  c.t('next'),
                )
          }`,
      );
    case 'phone':
      return c.page(
        status,
        c.t('stepPhoneTitle'),
        html`<h1>${c.t('stepPhoneTitle')}</h1>
          ${orgLine}${box}
          ${stepForm(c, 'phone', field({ name: 'phone', id: 'phone', label: c.t('phone'), type: 'tel', autocomplete: 'tel', help: c.t('stepPhoneHelp'), value: formValue(body, 'phone'), maxlength: 32 }, err), c.t('next'))}`,
      );
    case 'phone-code':
      return c.page(
        status,
        c.t('stepPhoneCodeTitle'),
        html`<h1>${c.t('stepPhoneCodeTitle')}</h1>
          ${orgLine}${box}
          ${stepForm(c, 'phone-code', field({ name: 'code', id: 'phone-code', label: c.t('phoneCode'), autocomplete: 'one-time-code', inputmode: 'numeric', help: `${c.t('stepPhoneCodeHelp')} ${v.phone ?? ''}`.trim(), maxlength: 16 }, err), c.t('next'))}
          <form id="phone-again" method="post" action="/activation/phone">
            ${c.csrfField()}
            <h2>${c.t('phoneAgainTitle')}</h2>
            ${field({ name: 'phone', id: 'phone-again-number', label: c.t('phone'), type: 'tel', autocomplete: 'tel', maxlength: 32 })}
            <button id="submit-phone-again" type="submit">${c.t('phoneAgain')}</button>
          </form>`,
      );
    case 'authenticator': {
      const kinds = v.choices.authenticators;
      const appOffered = kinds.includes('app');
      return c.page(
        status,
        c.t('stepAuthTitle'),
        html`<h1>${c.t('stepAuthTitle')}</h1>
          ${orgLine}${box}
          ${stepForm(
            c,
            'authenticator',
            html`<fieldset>
                <legend>${c.t('authLegend')}</legend>
                ${kinds.map((k, i) => radio('kind', k, textOf(c.lang, `kind_${k}`), i === 0, err))}
              </fieldset>
              ${
                appOffered
                  ? html`<fieldset>
                      <legend>${c.t('placementLegend')}</legend>
                      ${radio('placement', 'new-device', c.t('placement_new-device'), true)}${radio('placement', 'private-phone', c.t('placement_private-phone'), false)}
                    </fieldset>`
                  : null
              }`,
            c.t('next'),
          )}`,
      );
    }
    case 'activate-authenticator':
      return activatePage(c, v, err, box, orgLine, status);
    case 'password':
      return c.page(
        status,
        c.t('stepPasswordTitle'),
        html`<h1>${c.t('stepPasswordTitle')}</h1>
          ${orgLine}${box}
          ${stepForm(
            c,
            'password',
            html`<input
                type="text"
                name="username"
                autocomplete="username"
                value="${v.userId ?? ''}"
                hidden
              />
              ${field({ name: 'password', id: 'password', label: c.t('password'), type: 'password', autocomplete: 'new-password', help: c.t('stepPasswordHelp'), maxlength: 256 }, err)}
              ${field({ name: 'passwordRepeat', id: 'password-repeat', label: c.t('passwordRepeat'), type: 'password', autocomplete: 'new-password', maxlength: 256 }, err?.field === 'passwordRepeat' ? err : undefined)}`,
            c.t('next'),
          )}`,
      );
    case 'finish':
      return c.page(
        status,
        c.t('stepFinishTitle'),
        html`<h1>${c.t('stepFinishTitle')}</h1>
          ${orgLine}${box}
          <p>${c.t('stepFinishIntro')} ${org}.</p>
          ${stepForm(c, 'finish', html``, c.t('finish'))}`,
      );
    default:
      return c.see('/activation/done');
  }
}

function activatePage(
  c: PageContext,
  v: ActivationView,
  err: PageError | undefined,
  box: SafeHtml,
  orgLine: SafeHtml,
  status: number,
): FastifyReply {
  const kind = v.authenticator;
  if (kind === 'app') {
    const a = c.session.appActivation;
    return c.page(
      status,
      c.t('stepAppTitle'),
      html`<h1>${c.t('stepAppTitle')}</h1>
        ${orgLine}${box}
        <p>${c.t('stepAppIntro')}</p>
        <div
          class="app-channel"
          data-poll="/activation/state"
          data-poll-method="GET"
          data-poll-step="activate-authenticator"
        >
          ${
            a === undefined
              ? html`<p id="app-code-missing">${c.t('appCodeMissing')}</p>`
              : html`<dl>
                    <dt>${c.t('userId')}</dt>
                    <dd id="app-user-id" class="code">${a.userId}</dd>
                    <dt>${c.t('activationCode')}</dt>
                    <dd id="app-activation-code" class="code">${a.activationCode}</dd>
                  </dl>
                  <img
                    id="code-qr"
                    src="data:image/png;base64,${a.qrPng}"
                    alt="${c.t('appActivationQrAlt')}"
                    width="200"
                    height="200"
                  />`
          }
          <p id="poll-status" role="status" aria-live="polite">${c.t('waiting')}</p>
        </div>
        <p>
          ${c.t('appDoneNoJs')}
          <a id="continue" class="button" href="/activation">${c.t('continue')}</a>
        </p>
        <form id="app-new-code" method="post" action="/activation/authenticator">
          ${c.csrfField()}
          <input type="hidden" name="kind" value="app" />
          <button id="submit-new-code" type="submit" class="secondary">${c.t('appNewCode')}</button>
        </form>`,
    );
  }
  if (kind === 'chip') {
    const options = c.session.chipCreation;
    return c.page(
      status,
      c.t('stepChipTitle'),
      html`<h1>${c.t('stepChipTitle')}</h1>
        ${orgLine}${box}
        <p>${c.t('stepChipIntro')}</p>
        <p id="webauthn-missing" class="note">${c.t('chipNeedsJs')}</p>
        ${
          options === undefined
            ? null
            : html`<script type="application/json" id="chip-options">
                ${jsonData(options)}
              </script>`
        }
        <form
          id="chip-form"
          method="post"
          action="/activation/activate-authenticator"
          data-webauthn="create"
          data-failed="${c.t('chipFailed')}"
        >
          ${c.csrfField()}
          <input type="hidden" name="registration" id="registration" value="" />
          ${field({ name: 'serial', id: 'serial', label: c.t('chipSerial'), required: false, spellcheck: false, maxlength: 64 }, err?.field === 'serial' ? err : undefined)}
          <button
            id="chip-register"
            type="button"
            ${options === undefined ? html` disabled` : null}
          >
            ${c.t('chipRegister')}
          </button>
        </form>
        ${
          options === undefined
            ? html`<form id="chip-again" method="post" action="/activation/authenticator">
                ${c.csrfField()}<input type="hidden" name="kind" value="chip" /><button
                  id="submit-chip-again"
                  type="submit"
                >
                  ${c.t('tryAgain')}
                </button>
              </form>`
            : null
        }`,
    );
  }
  const name = textOf(c.lang, `kind_${kind ?? 'code-display'}`);
  return c.page(
    status,
    `${c.t('stepDeviceTitle')} ${name}`,
    html`<h1>${c.t('stepDeviceTitle')} ${name}</h1>
      ${orgLine}${box}
      <p>${c.t('stepDeviceIntro')}</p>
      ${stepForm(
        c,
        'activate-authenticator',
        html`${field({ name: 'serial', id: 'serial', label: c.t('serial'), spellcheck: false, maxlength: 64, autocomplete: 'off' }, err)}
        ${field({ name: 'code', id: 'device-code', label: c.t('deviceCode'), autocomplete: 'one-time-code', inputmode: 'numeric', maxlength: 16 }, err)}`,
        c.t('activate'),
      )}`,
  );
}
