/**
 * The sandbox `mitid-sim serve` makes in a new data folder, so that a newcomer who opens the pages
 * can walk an activation at once: an organisation with its administrators, a private MitID with an
 * emulated code display, a code display in the organisation's inventory, and a user whose
 * activation e-mail waits in the dev mailbox. `/dev/sandbox` says what is there.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createBusinessUser } from '../activation/admin.js';
import type { RunningService } from '../activation/service.js';
import { issueAdminToken } from '../activation/sessions.js';
import { PageContext, type WebSettings } from '../activation/web/context.js';
import type { PageExtension } from '../activation/web/extensions.js';
import { html } from '../activation/web/render.js';
import { CodeDisplay } from '../../devices/code-display/index.js';
import { generateTotp } from '../otp/generate.js';
import type { OtpKey } from '../otp/types.js';

/** What the sandbox holds (written to `sandbox.json` in the data folder, mode 0600). */
export interface Sandbox {
  readonly organisation: { readonly name: string; readonly cvr: string };
  readonly adminToken: string;
  readonly privateMitId: {
    readonly userId: string;
    readonly password: string;
    readonly device: string;
  };
  readonly user: { readonly name: string; readonly email: string };
  readonly separateDevice: string;
}

const CVR = '91111111';
const CPR = '010203-1239';

/** The code the device showed one time step ago. */
function previousCode(key: OtpKey): string {
  const code = generateTotp(key, Date.now() - (key.period ?? 30) * 1000);
  return code;
}

/** True when the store holds no organisation yet (a new data folder). */
export async function storeIsEmpty(svc: RunningService): Promise<boolean> {
  return (await svc.store.transaction((tx) => tx.organisations.list())).length === 0;
}

/** Makes the sandbox in the running service; the device files go to `devicesDir`. */
export async function makeSandbox(
  svc: RunningService,
  dataDir: string,
  devicesDir: string,
  baseUrl: string,
): Promise<Sandbox> {
  await mkdir(devicesDir, { recursive: true });
  const own = await CodeDisplay.create({
    serial: 'KV-SANDKASSE-1',
    out: join(devicesDir, 'KV-SANDKASSE-1.json'),
  });
  const work = await CodeDisplay.create({
    serial: 'KV-SANDKASSE-2',
    out: join(devicesDir, 'KV-SANDKASSE-2.json'),
  });
  try {
    const made = await svc.store.transaction(async (tx) => {
      const org = await tx.organisations.create({ cvr: CVR, name: 'Sandkassen ApS' });
      const ua = await tx.admins.create({
        organisationId: org.id,
        name: 'Ulla Sandkasse',
        email: 'ulla@sandkassen.example',
        role: 'user-administrator',
      });
      await tx.admins.create({
        organisationId: org.id,
        name: 'Ulla Sandkasse',
        email: 'ulla@sandkassen.example',
        role: 'organisation-administrator',
      });
      await tx.inventory.importOtp({ kind: 'code-display', key: own.exportKey() });
      await tx.inventory.importOtp({
        kind: 'code-display',
        key: work.exportKey(),
        organisationId: org.id,
      });
      return { org, adminId: ua.id, token: await issueAdminToken(tx, ua.id) };
    });
    const password = 'Sandkasse-Privat-2026';
    await svc.flow.registerCitizen({
      cpr: CPR,
      name: 'Sofie Sandkasse',
      userId: 'sofie.privat',
      password,
      // Bound with the previous step's code (the binding window allows it), so the code the device
      // shows now is still unused for the first login.
      device: {
        kind: 'code-display',
        serial: own.serial,
        code: previousCode(own.exportKey()),
      },
    });
    await createBusinessUser(
      svc.store,
      made.adminId,
      {
        organisationId: made.org.id,
        firstName: 'Sofie',
        surname: 'Sandkasse',
        email: 'sofie@sandkassen.example',
        cpr: CPR,
      },
      { baseUrl },
    );
    const sandbox: Sandbox = {
      organisation: { name: made.org.name, cvr: made.org.cvr },
      adminToken: made.token,
      privateMitId: { userId: 'sofie.privat', password, device: own.serial },
      user: { name: 'Sofie Sandkasse', email: 'sofie@sandkassen.example' },
      separateDevice: work.serial,
    };
    await writeFile(join(dataDir, 'sandbox.json'), `${JSON.stringify(sandbox, null, 2)}\n`, {
      mode: 0o600,
    });
    return sandbox;
  } finally {
    await own.close();
    await work.close();
  }
}

const TEXTS = {
  da: {
    title: 'Sandkassen',
    none: 'Der er ingen sandkasse: den laves, når mitid-sim serve starter i en ny datamappe.',
    intro: 'Alt her er opdigtet. Sådan aktiverer du Sofie Sandkasse som bruger:',
    s1: 'Åbn postkassen og e-mailen til',
    s2: 'Følg linket i e-mailen og tryk på "Start aktivering".',
    s3: 'Log på med det private MitID: bruger-id',
    s3b: 'adgangskode',
    s3c: 'og koden fra kodeviseren',
    s3d: 'på siden Enheder (vent på en ny kode, hvis den netop er brugt).',
    s4: 'Vælg privat eller separat MitID. Til et separat MitID med kodeviser: kodeviseren',
    s4b: 'fra organisationens lager; SMS-koden står under SMS.',
    s5: 'Administrationen: log på med dette token:',
    mailbox: 'Postkassen',
    devices: 'Enheder',
  },
  en: {
    title: 'The sandbox',
    none: 'There is no sandbox: one is made when mitid-sim serve starts in a new data folder.',
    intro: 'Everything here is made up. To activate Sofie Sandkasse as a user:',
    s1: 'Open the mailbox and the e-mail to',
    s2: 'Follow the link in the e-mail and press "Start activation".',
    s3: 'Log in with the private MitID: user ID',
    s3b: 'password',
    s3c: 'and the code from the code display',
    s3d: 'on the Devices page (wait for a new code if it was just used).',
    s4: 'Choose private or separate MitID. For a separate MitID with a code display: the code display',
    s4b: "from the organisation's inventory; the SMS code is under SMS.",
    s5: 'Administration: sign in with this token:',
    mailbox: 'Mailbox',
    devices: 'Devices',
  },
} as const;

/** The `/dev/sandbox` page; `current` gives the sandbox when there is one. */
export function sandboxPage(current: () => Sandbox | undefined): PageExtension {
  return (web: FastifyInstance, settings: WebSettings) => {
    web.get('/dev/sandbox', async (req: FastifyRequest, reply: FastifyReply) => {
      const c = new PageContext(req, reply, settings);
      const t = TEXTS[c.lang];
      const s = current();
      return c.page(
        200,
        t.title,
        s === undefined
          ? html`<h1>${t.title}</h1>
              <p>${t.none}</p>`
          : html`<h1>${t.title}</h1>
              <p>${t.intro}</p>
              <ol id="sandbox-steps">
                <li>
                  ${t.s1} <strong>${s.user.email}</strong>: <a href="/dev/mailbox">${t.mailbox}</a>.
                </li>
                <li>${t.s2}</li>
                <li>
                  ${t.s3} <code id="sandbox-user-id">${s.privateMitId.userId}</code>, ${t.s3b}
                  <code id="sandbox-password">${s.privateMitId.password}</code>, ${t.s3c}
                  <strong>${s.privateMitId.device}</strong>
                  <a href="/dev/devices">${t.devices}</a> ${t.s3d}
                </li>
                <li>${t.s4} <strong>${s.separateDevice}</strong> ${t.s4b}</li>
                <li>${t.s5} <code id="sandbox-admin-token">${s.adminToken}</code></li>
              </ol>`,
      );
    });
  };
}
