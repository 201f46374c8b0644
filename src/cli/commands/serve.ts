/** `serve`: the activation service on embedded defaults; `admin token`: an API token for an administrator. */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UsageError } from '../../core/errors.js';
import { issueAdminToken } from '../../activation/sessions.js';
import { startService } from '../../activation/service.js';
import { addPageExtension } from '../../activation/web/extensions.js';
import { devicePages } from '../web-devices.js';
import { makeSandbox, sandboxPage, storeIsEmpty, type Sandbox } from '../sandbox.js';
import type { SmtpOptions } from '../../activation/notify.js';
import { flag, printJson, req, str, type Command } from '../command.js';
import { resolveStoreLocation, storeHelp, storeOptions, withStore } from '../store-option.js';

function port(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535)
    throw new UsageError('usage', '--port must be a number from 0 to 65535');
  return Number(text);
}

function smtpFrom(text: string | undefined): SmtpOptions | undefined {
  if (text === undefined) return undefined;
  const m = /^([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(text);
  if (!m) throw new UsageError('usage', '--smtp must be HOST:PORT');
  return {
    host: m[1]!.replace(/^\[|\]$/g, ''),
    port: Number(m[2]),
    from: process.env.MITID_SIM_MAIL_FROM ?? 'MitID Erhverv <no-reply@mitid-erhverv.invalid>',
  };
}

const serve: Command = {
  path: ['serve'],
  summary: 'run the activation service (HTTP API, dev mailbox, outbox) on embedded defaults',
  usage:
    'serve [--port N] [--db FILE|URL] [--data DIR] [--host HOST] [--base-url URL] [--smtp HOST:PORT] [--devices DIR]',
  help: `Runs the MitID Erhverv activation service until interrupted (Ctrl-C): the HTTP API with its
OpenAPI document at /openapi.json, the built-in dev mailbox (an SMTP server on localhost that the
service sends its e-mail to; list it with \`mitid-sim mailbox\` or GET /api/dev/mailbox), and the
outbox that virtual phones read their SMS from (GET /api/dev/sms?to=+45...).

Options:
  --port N          port to listen on (default 8080; 0 picks a free one)
  --host HOST       address to listen on (default 127.0.0.1)
  --base-url URL    public URL of the service, used in activation links and as the WebAuthn
                    origin (default http://localhost:PORT)
  --smtp HOST:PORT  send e-mail to this SMTP relay instead of the dev mailbox
  --no-dev          do not serve /api/dev (mailbox, SMS inbox, private MitID fixtures) nor the
                    developer pages (/dev/mailbox, /dev/sms, /dev/devices, /dev/sandbox)
  --no-sandbox      do not make the sandbox in a new data folder (an organisation "Sandkassen ApS",
                    a private MitID with an emulated code display, a user waiting in the mailbox;
                    /dev/sandbox shows its user ID, password and administrator token)
  --devices DIR     the emulated code displays and audio readers pictured at /dev/devices
                    (default: the devices directory in the data directory)
  --json            print where everything is as one JSON line
${storeHelp}

Administrators use the API with a token: mitid-sim admin token --cvr CVR`,
  options: {
    ...storeOptions,
    port: { type: 'string' },
    host: { type: 'string' },
    'base-url': { type: 'string' },
    smtp: { type: 'string' },
    'no-dev': { type: 'boolean' },
    'no-sandbox': { type: 'boolean' },
    devices: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(ctx) {
    const loc = resolveStoreLocation(ctx.values);
    await mkdir(loc.dataDir, { recursive: true, mode: 0o700 });
    const smtp = smtpFrom(str(ctx, 'smtp'));
    const baseUrl = str(ctx, 'base-url');
    const host = str(ctx, 'host');
    const listenPort = port(str(ctx, 'port'), 8080);
    const devicesDir = resolve(str(ctx, 'devices') ?? resolve(loc.dataDir, 'devices'));
    let sandbox: Sandbox | undefined;
    const removers = flag(ctx, 'no-dev')
      ? []
      : [addPageExtension(devicePages(devicesDir)), addPageExtension(sandboxPage(() => sandbox))];
    const removePages = (): void => {
      for (const remove of removers) remove();
    };
    // The extension is read while the service is built: removed again once it is.
    const svc = await startService({
      port: listenPort,
      ...(host === undefined ? {} : { host }),
      ...(baseUrl === undefined ? {} : { baseUrl }),
      ...(smtp === undefined ? {} : { smtp }),
      dev: !flag(ctx, 'no-dev'),
      store: {
        url: loc.url,
        dataDir: loc.dataDir,
        ...(loc.schema === undefined ? {} : { schema: loc.schema }),
      },
    }).finally(removePages);
    if (!flag(ctx, 'no-dev') && !flag(ctx, 'no-sandbox') && (await storeIsEmpty(svc))) {
      try {
        sandbox = await makeSandbox(
          svc,
          loc.dataDir,
          devicesDir,
          baseUrl ?? `http://localhost:${svc.port}`,
        );
      } catch (e) {
        await svc.close();
        throw e;
      }
    }
    const facts = {
      url: svc.url,
      openapi: `${svc.url}/openapi.json`,
      store: loc.label,
      mailbox: svc.mailbox === undefined ? null : `smtp://${svc.mailbox.host}:${svc.mailbox.port}`,
      sandbox: sandbox === undefined ? null : `${svc.url}/dev/sandbox`,
    };
    if (flag(ctx, 'json')) ctx.io.stdout(`${JSON.stringify(facts)}\n`);
    else
      ctx.io.stdout(
        [
          `mitid-sim activation service on ${facts.url}`,
          `  OpenAPI:  ${facts.openapi}`,
          `  pages:    ${facts.url}/`,
          `  store:    ${facts.store}`,
          `  mailbox:  ${facts.mailbox ?? 'SMTP relay ' + (str(ctx, 'smtp') ?? '')}`,
          ...(sandbox === undefined
            ? []
            : [
                `  sandbox:  ${facts.sandbox} (a new data folder: an organisation, a private MitID and a user`,
                `            whose activation e-mail waits in the mailbox; the page says how to go on)`,
              ]),
          'Ctrl-C stops it.',
          '',
        ].join('\n'),
      );
    await new Promise<void>((resolve) => {
      if (ctx.signal.aborted) resolve();
      else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await svc.close();
    if (!flag(ctx, 'json')) ctx.io.stdout('stopped\n');
  },
};

const adminToken: Command = {
  path: ['admin', 'token'],
  summary: "issue an API token for one of an organisation's administrators",
  usage: 'admin token --cvr CVR [--role ROLE | --admin ID] [--json]',
  help: `Prints a new bearer token for the HTTP API's /api/admin routes, once (only its hash is kept).
By default for the organisation's first user administrator.

Options:
  --cvr CVR     the organisation
  --role ROLE   user-administrator (default), organisation-administrator or rights-administrator
  --admin ID    a particular administrator
${storeHelp}`,
  options: {
    ...storeOptions,
    cvr: { type: 'string' },
    role: { type: 'string' },
    admin: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(ctx) {
    const cvr = req(ctx, 'cvr');
    const role = str(ctx, 'role') ?? 'user-administrator';
    const chosen = str(ctx, 'admin');
    const out = await withStore(ctx, (store) =>
      store.transaction(async (tx) => {
        const org = await tx.organisations.byCvr(cvr);
        if (org === undefined) throw new UsageError('usage', `no organisation has CVR ${cvr}`);
        const admins = await tx.admins.list(org.id);
        const admin =
          chosen === undefined
            ? admins.find((a) => a.role === role)
            : admins.find((a) => a.id === chosen);
        if (admin === undefined)
          throw new UsageError(
            'usage',
            chosen === undefined
              ? `${org.name} has no ${role}`
              : `${org.name} has no administrator ${chosen}`,
          );
        const token = await issueAdminToken(tx, admin.id);
        await tx.audit.record({
          actor: { kind: 'system' },
          action: 'admin-token.issue',
          outcome: 'ok',
          organisationId: org.id,
          subjectId: admin.id,
        });
        return { admin: { id: admin.id, name: admin.name, role: admin.role }, token };
      }),
    );
    if (flag(ctx, 'json')) printJson(ctx, out);
    else
      ctx.io.stdout(
        `token for ${out.admin.name} (${out.admin.role}), shown once:\n${out.token}\nuse it as: Authorization: Bearer TOKEN\n`,
      );
  },
};

export const commands: Command[] = [serve, adminToken];
