/**
 * The administrator pages: sign in with an administrator API token (kept in an HttpOnly cookie),
 * users and their state, creating a user, resending the e-mail, a new activation code, ordering
 * a device, and the organisation's settings. Every action goes through the JSON API in-process
 * (the same authorisation and audit as an API client gets).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AuthenticatorKinds } from '../../core/authenticator.js';
import {
  errorBox,
  field,
  formValue,
  formValues,
  PageContext,
  type PageError,
  type WebSettings,
} from './context.js';
import { textOf } from './i18n.js';
import { html, type SafeHtml } from './render.js';
import { ADMIN_COOKIE } from './security.js';

/** A role's name in the page's language (the API speaks of roles by their keys). */
function roleName(c: PageContext, role: string): string {
  switch (role) {
    case 'user-administrator':
      return c.t('roleUserAdministrator');
    case 'organisation-administrator':
      return c.t('roleOrganisationAdministrator');
    case 'rights-administrator':
      return c.t('roleRightsAdministrator');
    case 'trusted-employee':
      return c.t('roleTrustedEmployee');
    default:
      return role;
  }
}

const ADMIN_TOKEN = /^[A-Za-z0-9_-]{22,128}$/;
const USER_ID = /^[A-Za-z0-9-]{1,100}$/;

interface ApiAnswer {
  readonly status: number;
  // The API's JSON answers are documented per route; the pages read the fields they show.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly body: any;
}

/** Registers the administrator pages; `api` is the server whose /api/admin routes they call. */
export function registerAdminPages(
  web: FastifyInstance,
  api: FastifyInstance,
  settings: WebSettings,
): void {
  const ctx = (req: FastifyRequest, reply: FastifyReply) => new PageContext(req, reply, settings);

  const call = async (
    token: string,
    method: 'GET' | 'POST' | 'PATCH',
    url: string,
    payload?: unknown,
  ): Promise<ApiAnswer> => {
    const res = await api.inject({
      method,
      url: `/api/admin${url}`,
      headers: {
        authorization: `Bearer ${token}`,
        ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
    });
    let body: unknown;
    try {
      body = res.json();
    } catch {
      body = { error: 'internal', message: 'Something went wrong on our side.' };
    }
    return { status: res.statusCode, body };
  };

  const tokenOf = (req: FastifyRequest): string | undefined => {
    const t = req.cookies[ADMIN_COOKIE];
    return typeof t === 'string' && ADMIN_TOKEN.test(t) ? t : undefined;
  };

  const signInPage = (c: PageContext, err?: PageError): FastifyReply =>
    c.page(
      err?.status ?? 200,
      c.t('adminSignInTitle'),
      html`<h1>${c.t('adminSignInTitle')}</h1>
        ${errorBox(c, err?.message)}
        <form id="sign-in-form" method="post" action="/admin/sign-in" novalidate>
          ${c.csrfField()}
          ${field({ name: 'token', id: 'token', label: c.t('adminToken'), type: 'password', autocomplete: 'off', help: c.t('adminSignInHelp'), spellcheck: false, maxlength: 200 }, err)}
          <button id="submit" type="submit">${c.t('signIn')}</button>
        </form>`,
    );

  /** The signed-in administrator (from /api/admin/me), or the sign-in page. */
  const admin = async (
    c: PageContext,
  ): Promise<
    | {
        token: string;
        me: {
          admin: { name: string; role: string; email: string };
          organisation: { name: string; cvr: string };
        };
      }
    | FastifyReply
  > => {
    const token = tokenOf(c.req);
    if (token === undefined) return c.see('/admin/sign-in');
    const me = await call(token, 'GET', '/me');
    if (me.status !== 200) {
      void c.reply.clearCookie(ADMIN_COOKIE, { path: '/admin' });
      return signInPage(c, {
        status: 401,
        code: 'bad-token',
        message: c.t('adminBadToken'),
        field: 'token',
      });
    }
    return { token, me: me.body };
  };

  const adminPage = (
    c: PageContext,
    status: number,
    title: string,
    who: { admin: { name: string; role: string }; organisation: { name: string } },
    main: SafeHtml,
  ): FastifyReply =>
    c.page(
      status,
      title,
      html`<div class="admin-bar">
          <p>
            <span id="admin-name">${who.admin.name}</span> (${roleName(c, who.admin.role)}) ·
            <span id="organisation-name">${who.organisation.name}</span>
          </p>
          <ul class="admin-nav">
            <li><a href="/admin">${c.t('adminTitle')}</a></li>
            <li><a href="/admin/users">${c.t('adminUsers')}</a></li>
            <li><a href="/admin/users/new">${c.t('adminNewUser')}</a></li>
            <li><a href="/admin/settings">${c.t('adminSettings')}</a></li>
          </ul>
          <form method="post" action="/admin/sign-out">
            ${c.csrfField()}<button id="sign-out" type="submit" class="secondary">
              ${c.t('signOut')}
            </button>
          </form>
        </div>
        ${main}`,
    );

  web.get('/admin/sign-in', async (req, reply) => signInPage(ctx(req, reply)));

  web.post('/admin/sign-in', async (req, reply) => {
    const c = ctx(req, reply);
    const token = formValue(req.body, 'token').trim();
    const bad = (): FastifyReply =>
      signInPage(c, {
        status: 401,
        code: 'bad-token',
        message: c.t('adminBadToken'),
        field: 'token',
      });
    if (!ADMIN_TOKEN.test(token)) return bad();
    const me = await call(token, 'GET', '/me');
    if (me.status !== 200) return bad();
    void reply.setCookie(ADMIN_COOKIE, token, {
      path: '/admin',
      httpOnly: true,
      sameSite: 'strict',
      secure: settings.secure,
    });
    // A new page session after signing in: an id planted before does not carry over.
    c.rotate();
    return c.see('/admin');
  });

  web.post('/admin/sign-out', async (req, reply) => {
    const c = ctx(req, reply);
    void reply.clearCookie(ADMIN_COOKIE, { path: '/admin' });
    return c.see('/admin/sign-in');
  });

  web.get('/admin', async (req, reply) => {
    const c = ctx(req, reply);
    const a = await admin(c);
    if (!('token' in a)) return a;
    return adminPage(
      c,
      200,
      c.t('adminTitle'),
      a.me,
      html`<h1>${c.t('adminTitle')}</h1>
        <dl>
          <dt>${c.t('adminYou')}</dt>
          <dd>${a.me.admin.name} &lt;${a.me.admin.email}&gt;, ${roleName(c, a.me.admin.role)}</dd>
          <dt>${c.t('adminOrg')}</dt>
          <dd>${a.me.organisation.name} (CVR ${a.me.organisation.cvr})</dd>
        </dl>
        <ul>
          <li><a id="link-users" href="/admin/users">${c.t('adminUsers')}</a></li>
          <li><a id="link-new-user" href="/admin/users/new">${c.t('adminNewUser')}</a></li>
          <li><a id="link-settings" href="/admin/settings">${c.t('adminSettings')}</a></li>
        </ul>`,
    );
  });

  web.get('/admin/users', async (req, reply) => {
    const c = ctx(req, reply);
    const a = await admin(c);
    if (!('token' in a)) return a;
    const r = await call(a.token, 'GET', '/users');
    if (r.status !== 200) {
      const pe = c.fromBody(r.status, r.body);
      return adminPage(
        c,
        pe.status,
        c.t('usersTitle'),
        a.me,
        html`<h1>${c.t('usersTitle')}</h1>
          ${errorBox(c, pe.message)}`,
      );
    }
    const users = r.body.users as {
      id: string;
      firstName: string;
      surname: string;
      email: string;
      status: string;
      mitidKind: string | null;
      userId: string | null;
    }[];
    return adminPage(
      c,
      200,
      c.t('usersTitle'),
      a.me,
      html`<h1>${c.t('usersTitle')}</h1>
        <p><a href="/admin/users/new">${c.t('adminNewUser')}</a></p>
        ${
          users.length === 0
            ? html`<p id="no-users">${c.t('noUsers')}</p>`
            : html`<table id="users">
                <thead>
                  <tr>
                    <th scope="col">${c.t('colName')}</th>
                    <th scope="col">${c.t('colEmail')}</th>
                    <th scope="col">${c.t('colState')}</th>
                    <th scope="col">${c.t('colMitid')}</th>
                    <th scope="col">${c.t('colUserId')}</th>
                  </tr>
                </thead>
                <tbody>
                  ${users.map(
                    (u) =>
                      html`<tr data-user-id="${u.id}">
                        <td><a href="/admin/users/${u.id}">${u.firstName} ${u.surname}</a></td>
                        <td>${u.email}</td>
                        <td>${textOf(c.lang, `state_${u.status}`)}</td>
                        <td>
                          ${u.mitidKind === null ? '–' : textOf(c.lang, `mitid_${u.mitidKind}`)}
                        </td>
                        <td>${u.userId ?? '–'}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>`
        }`,
    );
  });

  const newUserPage = (
    c: PageContext,
    who: { admin: { name: string; role: string }; organisation: { name: string } },
    err?: PageError,
    body?: unknown,
  ): FastifyReply => {
    const v = (n: string) => formValue(body, n);
    const byBirth = v('identifiedBy') === 'birth-date';
    return adminPage(
      c,
      err?.status ?? 200,
      c.t('newUserTitle'),
      who,
      html`<h1>${c.t('newUserTitle')}</h1>
        ${errorBox(c, err?.message)}
        <form id="new-user-form" method="post" action="/admin/users" novalidate>
          ${c.csrfField()}
          ${field({ name: 'firstName', id: 'first-name', label: c.t('firstName'), autocomplete: 'off', value: v('firstName'), maxlength: 100 }, err?.field === 'firstName' ? err : undefined)}
          ${field({ name: 'surname', id: 'surname', label: c.t('surname'), autocomplete: 'off', value: v('surname'), maxlength: 100 }, err?.field === 'surname' ? err : undefined)}
          ${field({ name: 'email', id: 'email', label: c.t('email'), type: 'email', autocomplete: 'off', value: v('email'), maxlength: 320 }, err?.field === 'email' ? err : undefined)}
          ${field({ name: 'phone', id: 'phone', label: c.t('phoneOptional'), type: 'tel', autocomplete: 'off', value: v('phone'), required: false, maxlength: 32 }, err?.field === 'phone' ? err : undefined)}
          <fieldset>
            <legend>${c.t('identifyBy')}</legend>
            <div class="choice">
              <input
                type="radio"
                id="identified-by-cpr"
                name="identifiedBy"
                value="cpr"
                ${byBirth ? null : html` checked`}
              />
              <label for="identified-by-cpr">${c.t('byCpr')}</label>
            </div>
            <div class="choice">
              <input
                type="radio"
                id="identified-by-birth-date"
                name="identifiedBy"
                value="birth-date"
                ${byBirth ? html` checked` : null}
              />
              <label for="identified-by-birth-date">${c.t('byBirthDate')}</label>
            </div>
          </fieldset>
          ${field({ name: 'cpr', id: 'cpr', label: c.t('cpr'), autocomplete: 'off', inputmode: 'numeric', value: v('cpr'), required: false, maxlength: 11 }, err?.field === 'cpr' ? err : undefined)}
          ${field({ name: 'birthDate', id: 'birth-date', label: c.t('birthDate'), autocomplete: 'off', value: v('birthDate'), required: false, maxlength: 10 }, err?.field === 'birthDate' ? err : undefined)}
          <div class="choice">
            <input
              type="checkbox"
              id="separate-allowed"
              name="separateAllowed"
              value="true"
              ${body === undefined || v('separateAllowed') === 'true' ? html` checked` : null}
            />
            <label for="separate-allowed">${c.t('separateAllowed')}</label>
          </div>
          <button id="submit" type="submit">${c.t('create')}</button>
        </form>`,
    );
  };

  web.get('/admin/users/new', async (req, reply) => {
    const c = ctx(req, reply);
    const a = await admin(c);
    if (!('token' in a)) return a;
    return newUserPage(c, a.me);
  });

  web.post('/admin/users', async (req, reply) => {
    const c = ctx(req, reply);
    const a = await admin(c);
    if (!('token' in a)) return a;
    const b = req.body;
    const v = (n: string) => formValue(b, n).trim();
    const byBirth = v('identifiedBy') === 'birth-date';
    const payload = {
      firstName: v('firstName'),
      surname: v('surname'),
      email: v('email'),
      ...(v('phone') === '' ? {} : { phone: v('phone') }),
      ...(byBirth ? { birthDate: v('birthDate') } : { cpr: v('cpr') }),
      separateAllowed: v('separateAllowed') === 'true',
    };
    const r = await call(a.token, 'POST', '/users', payload);
    if (r.status !== 201) return newUserPage(c, a.me, c.fromBody(r.status, r.body), b);
    const id = r.body.user.id as string;
    c.session.adminNotice = {
      userId: id,
      ...(typeof r.body.activationCode === 'string'
        ? { activationCode: r.body.activationCode as string }
        : {}),
    };
    return c.see(`/admin/users/${id}`);
  });

  const userPage = async (
    c: PageContext,
    a: {
      token: string;
      me: { admin: { name: string; role: string }; organisation: { name: string } };
    },
    id: string,
    err?: PageError,
  ): Promise<FastifyReply> => {
    const r = await call(a.token, 'GET', `/users/${id}`);
    if (r.status !== 200) {
      const pe = c.fromBody(r.status, r.body);
      return adminPage(
        c,
        pe.status,
        c.t('userTitle'),
        a.me,
        html`<h1>${c.t('userTitle')}</h1>
          ${errorBox(c, pe.message)}`,
      );
    }
    const o = r.body as {
      user: {
        id: string;
        firstName: string;
        surname: string;
        email: string;
        status: string;
        identifiedBy: string;
        mitidKind: string | null;
        userId: string | null;
      };
      authenticators: { kind: string; serial: string; lockout: string }[];
      orders: { kind: string; serial: string | null; status: string }[];
      activationLinkLive: boolean;
      activationCodeLive: boolean;
    };
    const notice = c.session.adminNotice?.userId === id ? c.session.adminNotice : undefined;
    delete c.session.adminNotice;
    const u = o.user;
    return adminPage(
      c,
      err?.status ?? 200,
      `${u.firstName} ${u.surname}`,
      a.me,
      html`<h1>${u.firstName} ${u.surname}</h1>
        ${errorBox(c, err?.message)}
        ${
          notice?.activationCode === undefined
            ? null
            : html`<div class="notice" role="status">
                <p>
                  ${c.t('codeToHand')}
                  <strong id="activation-code" class="code">${notice.activationCode}</strong>
                </p>
              </div>`
        }
        ${notice?.message === undefined ? null : html`<div class="notice" role="status"><p id="notice">${notice.message}</p></div>`}
        <dl>
          <dt>${c.t('colEmail')}</dt>
          <dd>${u.email}</dd>
          <dt>${c.t('colState')}</dt>
          <dd id="user-state" data-state="${u.status}">${textOf(c.lang, `state_${u.status}`)}</dd>
          <dt>${c.t('colMitid')}</dt>
          <dd>${u.mitidKind === null ? '–' : textOf(c.lang, `mitid_${u.mitidKind}`)}</dd>
          <dt>${c.t('colUserId')}</dt>
          <dd>${u.userId ?? '–'}</dd>
          <dt>${c.t('liveLink')}</dt>
          <dd id="link-live">${o.activationLinkLive ? c.t('yes') : c.t('no')}</dd>
        </dl>
        <h2>${c.t('devices')}</h2>
        ${
          o.authenticators.length === 0
            ? html`<p id="devices">${c.t('noDevices')}</p>`
            : html`<table id="devices">
                <thead>
                  <tr>
                    <th scope="col">${c.t('colKind')}</th>
                    <th scope="col">${c.t('colSerial')}</th>
                    <th scope="col">${c.t('colLockout')}</th>
                  </tr>
                </thead>
                <tbody>
                  ${o.authenticators.map(
                    (d) =>
                      html`<tr>
                        <td>${textOf(c.lang, `kind_${d.kind}`)}</td>
                        <td>${d.serial}</td>
                        <td data-lockout="${d.lockout}">
                          ${textOf(c.lang, `lockout_${d.lockout}`)}
                        </td>
                      </tr>`,
                  )}
                </tbody>
              </table>`
        }
        <h2>${c.t('orders')}</h2>
        ${
          o.orders.length === 0
            ? html`<p id="orders">${c.t('noOrders')}</p>`
            : html`<table id="orders">
                <thead>
                  <tr>
                    <th scope="col">${c.t('colKind')}</th>
                    <th scope="col">${c.t('colSerial')}</th>
                    <th scope="col">${c.t('colStatus')}</th>
                  </tr>
                </thead>
                <tbody>
                  ${o.orders.map(
                    (d) =>
                      html`<tr>
                        <td>${textOf(c.lang, `kind_${d.kind}`)}</td>
                        <td>${d.serial ?? '–'}</td>
                        <td>${d.status}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>`
        }
        ${
          u.status === 'created'
            ? html`<form id="resend-form" method="post" action="/admin/users/${u.id}/resend">
                  ${c.csrfField()}<button id="resend" type="submit">${c.t('resend')}</button>
                </form>
                ${u.identifiedBy === 'birth-date' ? html`<form id="code-form" method="post" action="/admin/users/${u.id}/activation-code">${c.csrfField()}<button id="show-code" type="submit">${c.t('showCode')}</button></form>` : null}
                <form id="order-form" method="post" action="/admin/users/${u.id}/orders">
                  ${c.csrfField()}
                  <div class="field">
                    <label for="order-kind">${c.t('orderDevice')}</label>
                    <select id="order-kind" name="kind">
                      ${(['code-display', 'audio-reader', 'chip'] as const).map((k) => html`<option value="${k}">${textOf(c.lang, `kind_${k}`)}</option>`)}
                    </select>
                  </div>
                  <button id="order" type="submit">${c.t('order')}</button>
                </form>`
            : null
        }`,
    );
  };

  web.get<{ Params: { id: string } }>('/admin/users/:id', async (req, reply) => {
    const c = ctx(req, reply);
    const a = await admin(c);
    if (!('token' in a)) return a;
    if (!USER_ID.test(req.params.id)) return c.errorPage(404, c.t('notFound'), c.t('notFoundText'));
    return userPage(c, a, req.params.id);
  });

  web.post<{ Params: { id: string; action: string } }>(
    '/admin/users/:id/:action',
    async (req, reply) => {
      const c = ctx(req, reply);
      const a = await admin(c);
      if (!('token' in a)) return a;
      const { id, action } = req.params;
      if (!USER_ID.test(id) || !['resend', 'activation-code', 'orders'].includes(action))
        return c.errorPage(404, c.t('notFound'), c.t('notFoundText'));
      const r =
        action === 'orders'
          ? await call(a.token, 'POST', `/users/${id}/orders`, {
              kind: formValue(req.body, 'kind'),
            })
          : await call(a.token, 'POST', `/users/${id}/${action}`);
      if (r.status !== 200 && r.status !== 201)
        return userPage(c, a, id, c.fromBody(r.status, r.body));
      c.session.adminNotice =
        action === 'activation-code'
          ? { userId: id, activationCode: r.body.activationCode as string }
          : { userId: id, message: action === 'resend' ? c.t('resent') : c.t('ordered') };
      return c.see(`/admin/users/${id}`);
    },
  );

  const settingsPage = async (
    c: PageContext,
    a: {
      token: string;
      me: { admin: { name: string; role: string }; organisation: { name: string } };
    },
    err?: PageError,
    saved = false,
  ): Promise<FastifyReply> => {
    const r = await call(a.token, 'GET', '/settings');
    if (r.status !== 200) {
      const pe = c.fromBody(r.status, r.body);
      return adminPage(
        c,
        pe.status,
        c.t('settingsTitle'),
        a.me,
        html`<h1>${c.t('settingsTitle')}</h1>
          ${errorBox(c, pe.message)}`,
      );
    }
    const s = r.body as {
      privateMitIdAllowed: boolean;
      separateAuthenticators: string[];
      preselected: string;
    };
    const editable = a.me.admin.role === 'organisation-administrator';
    const dis = editable ? null : html` disabled`;
    return adminPage(
      c,
      err?.status ?? 200,
      c.t('settingsTitle'),
      a.me,
      html`<h1>${c.t('settingsTitle')}</h1>
        ${errorBox(c, err?.message)}
        ${saved ? html`<div class="notice" role="status"><p id="notice">${c.t('saved')}</p></div>` : null}
        ${editable ? null : html`<p id="read-only">${c.t('settingsReadOnly')}</p>`}
        <form id="settings-form" method="post" action="/admin/settings">
          ${c.csrfField()}
          <div class="choice">
            <input
              type="checkbox"
              id="private-allowed"
              name="privateMitIdAllowed"
              value="true"
              ${s.privateMitIdAllowed ? html` checked` : null}${dis}
            />
            <label for="private-allowed">${c.t('privateAllowed')}</label>
          </div>
          <fieldset>
            <legend>${c.t('separateAuths')}</legend>
            ${AuthenticatorKinds.map((k) => html`<div class="choice"><input type="checkbox" id="auth-${k}" name="separateAuthenticators" value="${k}" ${s.separateAuthenticators.includes(k) ? html` checked` : null}${dis} /> <label for="auth-${k}">${textOf(c.lang, `kind_${k}`)}</label></div>`)}
          </fieldset>
          <div class="field">
            <label for="preselected">${c.t('preselected')}</label>
            <select id="preselected" name="preselected" ${dis}>
              ${AuthenticatorKinds.map((k) => html`<option value="${k}" ${s.preselected === k ? html` selected` : null}>${textOf(c.lang, `kind_${k}`)}</option>`)}
            </select>
          </div>
          ${editable ? html`<button id="submit" type="submit">${c.t('save')}</button>` : null}
        </form>`,
    );
  };

  web.get<{ Querystring: { saved?: string } }>('/admin/settings', async (req, reply) => {
    const c = ctx(req, reply);
    const a = await admin(c);
    if (!('token' in a)) return a;
    return settingsPage(c, a, undefined, req.query.saved === '1');
  });

  web.post('/admin/settings', async (req, reply) => {
    const c = ctx(req, reply);
    const a = await admin(c);
    if (!('token' in a)) return a;
    const r = await call(a.token, 'PATCH', '/settings', {
      privateMitIdAllowed: formValue(req.body, 'privateMitIdAllowed') === 'true',
      separateAuthenticators: formValues(req.body, 'separateAuthenticators'),
      preselected: formValue(req.body, 'preselected'),
    });
    if (r.status !== 200) return settingsPage(c, a, c.fromBody(r.status, r.body));
    return c.see('/admin/settings?saved=1');
  });
}
