/**
 * The developer pages: the built-in mailbox (each mail as it would look, its HTML in a sandboxed
 * frame) and the SMS outbox.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { listMail } from '../mailbox.js';
import { listOutbox } from '../outbox.js';
import type { Store } from '../store/store.js';
import { PageContext, type WebSettings } from './context.js';
import { html } from './render.js';

/** The policy inside a shown mail: no scripts, no fetches; inline styles and data: images only. */
const MAIL_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'";

function time(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

/** The first activation link path (`/activate/<token>`) in a mail, for a link on this site. */
export function activationPathIn(textBody: string | null): string | undefined {
  const m = /\/activate\/([A-Za-z0-9_-]{22,128})/.exec(textBody ?? '');
  return m === null ? undefined : `/activate/${m[1]}`;
}

/** Registers the dev pages. */
export function registerDevPages(web: FastifyInstance, store: Store, settings: WebSettings): void {
  const ctx = (req: FastifyRequest, reply: FastifyReply) => new PageContext(req, reply, settings);

  web.get('/dev/mailbox', async (req, reply) => {
    const c = ctx(req, reply);
    const mails = (await listMail(store)).reverse();
    return c.page(
      200,
      c.t('mailboxTitle'),
      html`<h1>${c.t('mailboxTitle')}</h1>
        <p>${c.t('mailboxIntro')}</p>
        ${
          mails.length === 0
            ? html`<p id="no-mail">${c.t('noMail')}</p>`
            : html`<ul id="mails" class="list">
                ${mails.map(
                  (m) =>
                    html`<li data-mail-id="${m.id}">
                      <a href="/dev/mailbox/${m.id}">${m.subject ?? '(no subject)'}</a><br /><span
                        class="meta"
                        >${c.t('mailTo')}: ${m.envelopeTo.join(', ')} ·
                        <time datetime="${new Date(m.receivedAt).toISOString()}"
                          >${time(m.receivedAt)}</time
                        ></span
                      >
                    </li>`,
                )}
              </ul>`
        }`,
    );
  });

  web.get<{ Params: { id: string } }>('/dev/mailbox/:id', async (req, reply) => {
    const c = ctx(req, reply);
    const m = (await listMail(store)).find((x) => x.id === req.params.id);
    if (m === undefined) return c.errorPage(404, c.t('notFound'), c.t('notFoundText'));
    const link = activationPathIn(m.text) ?? activationPathIn(m.html);
    const srcdoc =
      m.html === null
        ? undefined
        : `<!doctype html><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${MAIL_CSP}">${m.html}`;
    return c.page(
      200,
      m.subject ?? c.t('mailTitle'),
      html`<h1>${m.subject ?? c.t('mailTitle')}</h1>
        <dl>
          <dt>${c.t('mailFrom')}</dt>
          <dd>${m.from ?? m.envelopeFrom}</dd>
          <dt>${c.t('mailTo')}</dt>
          <dd id="mail-to">${m.to ?? m.envelopeTo.join(', ')}</dd>
          <dt>${c.t('mailDate')}</dt>
          <dd>
            <time datetime="${new Date(m.receivedAt).toISOString()}">${time(m.receivedAt)}</time>
          </dd>
        </dl>
        ${link === undefined ? null : html`<p>${c.t('mailLink')}: <a id="activation-link" href="${link}">${link.slice(0, 20)}…</a></p>`}
        ${
          srcdoc === undefined
            ? null
            : html`<h2>${c.t('mailHtml')}</h2>
                <iframe
                  id="mail-html"
                  title="${c.t('mailHtml')}"
                  sandbox=""
                  referrerpolicy="no-referrer"
                  srcdoc="${srcdoc}"
                ></iframe>`
        }
        ${
          m.text === null
            ? null
            : html`<h2>${c.t('mailText')}</h2>
                <pre id="mail-text">${m.text}</pre>`
        }
        <p><a href="/dev/mailbox">${c.t('mailboxTitle')}</a></p>`,
    );
  });

  web.get<{ Querystring: { to?: string } }>('/dev/sms', async (req, reply) => {
    const c = ctx(req, reply);
    const to =
      typeof req.query.to === 'string' && req.query.to.trim() !== ''
        ? req.query.to.trim().slice(0, 32)
        : undefined;
    const sms = (
      await listOutbox(store, { channel: 'sms', ...(to === undefined ? {} : { to }) })
    ).reverse();
    return c.page(
      200,
      c.t('smsTitle'),
      html`<h1>${c.t('smsTitle')}</h1>
        <p>${c.t('smsIntro')}</p>
        <form id="sms-filter" method="get" action="/dev/sms">
          <div class="field">
            <label for="sms-to">${c.t('filterTo')}</label>
            <input id="sms-to" name="to" type="tel" value="${to ?? ''}" autocomplete="off" />
          </div>
          <button id="submit-filter" type="submit" class="secondary">${c.t('filter')}</button>
        </form>
        ${
          sms.length === 0
            ? html`<p id="no-sms">${c.t('noSms')}</p>`
            : html`<table id="sms">
                <thead>
                  <tr>
                    <th scope="col">${c.t('colTo')}</th>
                    <th scope="col">${c.t('colText')}</th>
                    <th scope="col">${c.t('colTime')}</th>
                  </tr>
                </thead>
                <tbody>
                  ${sms.map(
                    (m) =>
                      html`<tr data-sms-id="${m.id}">
                        <td class="to">${m.to}</td>
                        <td class="text">${m.text}</td>
                        <td>
                          <time datetime="${new Date(m.createdAt).toISOString()}"
                            >${time(m.createdAt)}</time
                          >
                        </td>
                      </tr>`,
                  )}
                </tbody>
              </table>`
        }`,
    );
  });
}
