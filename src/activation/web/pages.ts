/**
 * The activation service's web pages (server-rendered, Danish and English): the landing page, the
 * activation from the e-mail link, logins, administration and the developer pages. They call the
 * flow in-process, as the JSON API does; plain forms, POST then redirect; script only for
 * WebAuthn and polling, from /static/app.js.
 */
import { readFile } from 'node:fs/promises';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ActivationFlow } from '../flow.js';
import { registerActivationPages } from './activation-pages.js';
import { registerAdminPages } from './admin-pages.js';
import { PageContext, type WebSettings } from './context.js';
import { registerDevPages } from './dev-pages.js';
import { pageExtensions } from './extensions.js';
import { registerLoginPages } from './login-pages.js';
import { html } from './render.js';
import { PageSessions, setSecurityHeaders } from './security.js';

/** Options of {@link registerWebPages}. */
export interface WebPagesOptions {
  /** Public base URL; an https one makes every cookie Secure. */
  readonly baseUrl: string;
  /** Serve the developer pages (mailbox, SMS outbox). Default false. */
  readonly dev?: boolean;
  /** Page sessions (default: a new in-memory store). */
  readonly sessions?: PageSessions;
  /** More pages to register on the same server (e.g. the emulated devices' pictures). */
  readonly extraPages?: (web: FastifyInstance, settings: WebSettings) => void | Promise<void>;
}

const STATIC_FILES = {
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
} as const;

async function loadStatic(name: keyof typeof STATIC_FILES): Promise<Buffer> {
  // Beside this module when run from source; from the built tree, the source copy.
  const places = [
    new URL(`./static/${name}`, import.meta.url),
    new URL(`../../../../src/activation/web/static/${name}`, import.meta.url),
  ];
  for (const p of places) {
    try {
      return await readFile(p);
    } catch {
      // try the next place
    }
  }
  throw new Error(`the page asset ${name} is missing`);
}

/**
 * Registers the pages on the API's server. `api` is that server: the administrator pages call its
 * /api/admin routes in-process.
 */
export async function registerWebPages(
  api: FastifyInstance,
  flow: ActivationFlow,
  options: WebPagesOptions,
): Promise<void> {
  const files = {
    'app.js': await loadStatic('app.js'),
    'style.css': await loadStatic('style.css'),
  };
  const settings: WebSettings = {
    sessions: options.sessions ?? new PageSessions(),
    secure: options.baseUrl.startsWith('https:'),
    dev: options.dev === true,
  };
  await api.register(async (web) => {
    // Pages are not part of the JSON API: kept out of its OpenAPI document.
    web.addHook('onRoute', (route) => {
      route.schema = { ...(route.schema ?? {}), hide: true };
    });
    await web.register(cookie);
    await web.register(formbody, { bodyLimit: 64 * 1024 });

    // Every POST of a page carries the session's CSRF token (form field or header).
    web.addHook('preHandler', async (req: FastifyRequest, reply: FastifyReply) => {
      if (req.method !== 'POST') return;
      const c = new PageContext(req, reply, settings);
      const body = req.body as Record<string, unknown> | undefined;
      const sent = body?._csrf ?? req.headers['x-csrf-token'];
      if (settings.sessions.checkCsrf(c.sessionId, sent)) return;
      if ((req.headers.accept ?? '').includes('application/json') && body?._csrf === undefined) {
        setSecurityHeaders(reply);
        return reply
          .status(403)
          .type('application/json; charset=utf-8')
          .send(JSON.stringify({ error: 'csrf', message: c.t('csrfText') }));
      }
      return c.errorPage(403, c.t('forbiddenTitle'), c.t('csrfText'));
    });

    web.setErrorHandler((e, req, reply) => {
      const c = new PageContext(req, reply, settings);
      const pe = c.pageError(e);
      if (pe !== undefined) return c.errorPage(pe.status, c.t('errorTitle'), pe.message);
      req.log.error(
        { err: { name: (e as Error)?.name, code: (e as { code?: unknown })?.code } },
        'internal error on a page',
      );
      return c.errorPage(500, c.t('errorTitle'), c.t('internal'));
    });

    for (const name of Object.keys(STATIC_FILES) as (keyof typeof STATIC_FILES)[])
      web.get(`/static/${name}`, async (_req, reply) => {
        setSecurityHeaders(reply);
        return reply.header('cache-control', 'no-cache').type(STATIC_FILES[name]).send(files[name]);
      });

    web.get('/', async (req, reply) => {
      const c = new PageContext(req, reply, settings);
      return c.page(
        200,
        c.t('landingTitle'),
        html`<h1>${c.t('landingTitle')}</h1>
          <p>${c.t('landingIntro')}</p>
          <h2>${c.t('landingHowTitle')}</h2>
          <ol id="how-to">
            <li>${c.t('landingStep1')}</li>
            <li>${c.t('landingStep2')}</li>
            <li>${c.t('landingStep3')}</li>
            <li>${c.t('landingStep4')}</li>
            <li>${c.t('landingStep5')}</li>
          </ol>
          <h2>${c.t('landingLinks')}</h2>
          <ul class="links">
            ${
              settings.dev
                ? html`${
                      web.hasRoute({ method: 'GET', url: '/dev/sandbox' })
                        ? html`<li>
                            <a id="link-sandbox" href="/dev/sandbox">${c.t('linkSandbox')}</a>
                          </li>`
                        : null
                    }
                    <li><a id="link-mailbox" href="/dev/mailbox">${c.t('linkMailbox')}</a></li>
                    <li><a id="link-sms" href="/dev/sms">${c.t('linkSms')}</a></li>
                    ${
                      web.hasRoute({ method: 'GET', url: '/dev/devices' })
                        ? html`<li>
                            <a id="link-devices" href="/dev/devices">${c.t('linkDevices')}</a>
                          </li>`
                        : null
                    }`
                : null
            }
            <li><a id="link-login" href="/login">${c.t('linkLogin')}</a></li>
            <li><a id="link-admin" href="/admin">${c.t('linkAdmin')}</a></li>
          </ul>`,
      );
    });

    registerActivationPages(web, flow, settings);
    registerLoginPages(web, flow, settings);
    registerAdminPages(web, api, settings);
    if (settings.dev) {
      registerDevPages(web, flow.store, settings);
      for (const extension of pageExtensions()) await extension(web, settings);
    }
    if (options.extraPages !== undefined) await options.extraPages(web, settings);
  });
}
