/** `org`, `user`, `inventory`, `mailbox`, `outbox`, `audit`: administering the activation service's store directly. */
import { readFile } from 'node:fs/promises';
import { AuthenticatorKinds, type AuthenticatorKind } from '../../core/authenticator.js';
import { fromHex } from '../../core/bytes.js';
import { UsageError } from '../../core/errors.js';
import {
  createBusinessUser,
  resendActivationEmail,
  showActivationCode,
  viewUser,
} from '../../activation/admin.js';
import { listMail } from '../../activation/mailbox.js';
import { listOutbox, type OutboxEntry } from '../../activation/outbox.js';
import { can, type Action, type OrganisationSettingsPatch } from '../../activation/roles.js';
import type {
  Admin,
  InventoryItem,
  Organisation,
  Repositories,
} from '../../activation/store/repositories.js';
import type { Store } from '../../activation/store/store.js';
import { ActivationError } from '../../activation/violations.js';
import { importSeedFile } from '../../otp/seed/index.js';
import { flag, printJson, req, str, type Command, type CommandContext } from '../command.js';
import { storeHelp, storeOptions, withStore } from '../store-option.js';

/** The default public base URL of the service, for activation links. */
export const DEFAULT_BASE_URL = 'http://localhost:8080';

/** The actor of changes made from the command line (the audit log's "who"). */
const CLI_ACTOR = { kind: 'system', id: 'cli' } as const;

function iso(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString();
}

/** `--base-url`, else MITID_SIM_BASE_URL, else the default; must be an http(s) URL. */
function baseUrl(ctx: CommandContext): string {
  const raw =
    str(ctx, 'base-url') ?? (process.env.MITID_SIM_BASE_URL || undefined) ?? DEFAULT_BASE_URL;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError('usage', '--base-url must be an http:// or https:// URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError('usage', '--base-url must be an http:// or https:// URL');
  return raw;
}

function cvrOption(ctx: CommandContext): string {
  return req(ctx, 'cvr').trim();
}

async function orgByCvr(tx: Repositories, cvr: string): Promise<Organisation> {
  const org = await tx.organisations.byCvr(cvr);
  if (!org)
    throw new ActivationError(
      'unknown-organisation',
      `no organisation with CVR ${cvr.slice(0, 20)}`,
    );
  return org;
}

const ROLE_FOR: Partial<Record<Action, string>> = {
  'create-user': 'user administrator',
  'resend-activation-email': 'user administrator',
  'show-activation-code': 'user administrator',
  'view-users': 'administrator',
  'change-org-settings': 'organisation administrator',
};

/**
 * The administrator to act as: `--admin ID` when given (the domain checks what it may do), else
 * the first administrator of the organisation whose role may do `action`.
 */
async function actingAdmin(
  tx: Repositories,
  ctx: CommandContext,
  org: Organisation,
  action: Action,
): Promise<Admin> {
  const id = str(ctx, 'admin');
  if (id !== undefined) return tx.admins.get(id);
  const admin = (await tx.admins.list(org.id)).find((a) => can(a.role, action));
  if (!admin)
    throw new ActivationError(
      'no-administrator',
      `the organisation with CVR ${org.cvr} has no ${ROLE_FOR[action] ?? 'administrator'} to act as`,
    );
  return admin;
}

/** The administrator to act as for something done to an existing user. */
async function adminForUser(
  store: Store,
  ctx: CommandContext,
  userId: string,
  action: Action,
): Promise<Admin> {
  return store.transaction(async (tx) => {
    const user = await tx.users.get(userId);
    return actingAdmin(tx, ctx, await tx.organisations.get(user.organisationId), action);
  });
}

const storeOpts = storeOptions;
const jsonOpt = { json: { type: 'boolean' } } as const;

// ---------------------------------------------------------------------------------------------
// org

const orgCreate: Command = {
  path: ['org', 'create'],
  summary: 'create an organisation, optionally with its organisation and user administrator',
  usage: 'org create --cvr CVR --name NAME [--admin-name NAME --admin-email EMAIL] [--json]',
  help: `Test CVR numbers are fictitious (they start with 9). With --admin-name and --admin-email, one
person is made both organisation administrator and user administrator of the new organisation.

Options:
  --cvr CVR             the organisation's CVR number (8 digits)
  --name NAME           the organisation's name
  --admin-name NAME     the administrator's name
  --admin-email EMAIL   the administrator's e-mail address
  --json                print the ids as JSON
${storeHelp}`,
  options: {
    cvr: { type: 'string' },
    name: { type: 'string' },
    'admin-name': { type: 'string' },
    'admin-email': { type: 'string' },
    ...jsonOpt,
    ...storeOpts,
  },
  async run(ctx) {
    const cvr = cvrOption(ctx);
    const name = req(ctx, 'name');
    const adminName = str(ctx, 'admin-name');
    const adminEmail = str(ctx, 'admin-email');
    if ((adminName === undefined) !== (adminEmail === undefined))
      throw new UsageError('usage', 'give --admin-name and --admin-email together');
    const made = await withStore(ctx, (store) =>
      store.transaction(async (tx) => {
        const org = await tx.organisations.create({ cvr, name });
        const admins: Admin[] = [];
        if (adminName !== undefined && adminEmail !== undefined) {
          for (const role of ['organisation-administrator', 'user-administrator'] as const)
            admins.push(
              await tx.admins.create({
                organisationId: org.id,
                name: adminName,
                email: adminEmail,
                role,
              }),
            );
        }
        await tx.audit.record({
          actor: CLI_ACTOR,
          action: 'org.create',
          outcome: 'ok',
          organisationId: org.id,
          detail: { administrators: admins.length },
        });
        return { org, admins };
      }),
    );
    if (flag(ctx, 'json')) {
      printJson(ctx, {
        organisation: made.org,
        administrators: made.admins.map((a) => ({ id: a.id, role: a.role, name: a.name })),
      });
      return;
    }
    ctx.io.stdout(`organisation ${made.org.id}  CVR ${made.org.cvr}  ${made.org.name}\n`);
    for (const a of made.admins) ctx.io.stdout(`${a.role} ${a.id}  ${a.name} <${a.email}>\n`);
  },
};

function parseYesNo(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  const s = v.trim().toLowerCase();
  if (s === 'yes' || s === 'true') return true;
  if (s === 'no' || s === 'false') return false;
  throw new UsageError('usage', '--private-allowed must be yes or no');
}

const orgPolicy: Command = {
  path: ['org', 'policy'],
  summary: "show or change an organisation's settings (private MitID, authenticators offered)",
  usage:
    'org policy --cvr CVR [--private-allowed yes|no] [--authenticators KIND,...] [--preselected KIND] [--admin ID] [--json]',
  help: `Without a change option, shows the settings. A change is made as the organisation's
organisation administrator (the first one, or --admin ID); refusals are written to the audit log.

Options:
  --cvr CVR                  the organisation
  --private-allowed yes|no   whether users may use their private MitID
  --authenticators LIST      authenticators offered for a separate MitID, comma-separated, from
                             ${AuthenticatorKinds.join(', ')}
  --preselected KIND         the authenticator shown first (one of those offered)
  --admin ID                 the administrator to act as
  --json                     print the settings as JSON
${storeHelp}`,
  options: {
    cvr: { type: 'string' },
    'private-allowed': { type: 'string' },
    authenticators: { type: 'string' },
    preselected: { type: 'string' },
    admin: { type: 'string' },
    ...jsonOpt,
    ...storeOpts,
  },
  async run(ctx) {
    const cvr = cvrOption(ctx);
    const privateAllowed = parseYesNo(str(ctx, 'private-allowed'));
    const list = str(ctx, 'authenticators');
    const preselected = str(ctx, 'preselected');
    const patch: OrganisationSettingsPatch = {
      ...(privateAllowed === undefined ? {} : { privateMitIdAllowed: privateAllowed }),
      ...(list === undefined
        ? {}
        : {
            separateAuthenticators: list
              .split(',')
              .map((s) => s.trim())
              .filter((s) => s !== '') as AuthenticatorKind[],
          }),
      ...(preselected === undefined ? {} : { preselected: preselected as AuthenticatorKind }),
    };
    const changing = Object.keys(patch).length > 0;
    const result = await withStore(ctx, (store) =>
      store.transaction(async (tx) => {
        const org = await orgByCvr(tx, cvr);
        if (!changing)
          return { org, change: undefined, settings: await tx.organisations.settings(org.id) };
        const admin = await actingAdmin(tx, ctx, org, 'change-org-settings');
        const change = await tx.organisations.changeSettings(org.id, patch, admin);
        return { org, change, settings: await tx.organisations.settings(org.id) };
      }),
    );
    if (result.change !== undefined && !result.change.ok) {
      const why = result.change.violations.map((v) => v.message.en).join(' ');
      throw new ActivationError(
        result.change.violations[0]?.code ?? 'invalid',
        `settings not changed: ${why}`,
      );
    }
    const s = result.settings;
    if (flag(ctx, 'json')) {
      printJson(ctx, { organisation: result.org, settings: s, changed: changing });
      return;
    }
    ctx.io.stdout(
      `${changing ? 'changed: ' : ''}CVR ${result.org.cvr}  ${result.org.name}\n` +
        `  private MitID allowed:  ${s.privateMitIdAllowed ? 'yes' : 'no'}\n` +
        `  authenticators offered: ${s.separateAuthenticators.join(', ')}\n` +
        `  preselected:            ${s.preselected}\n`,
    );
  },
};

const orgList: Command = {
  path: ['org', 'list'],
  summary: 'list the organisations',
  usage: 'org list [--json]',
  help: `Options:
  --json   print the organisations as JSON
${storeHelp}`,
  options: { ...jsonOpt, ...storeOpts },
  async run(ctx) {
    const orgs = await withStore(ctx, (store) =>
      store.transaction((tx) => tx.organisations.list()),
    );
    if (flag(ctx, 'json')) {
      printJson(ctx, orgs);
      return;
    }
    if (orgs.length === 0) ctx.io.stdout('(no organisations)\n');
    for (const o of orgs) ctx.io.stdout(`${o.cvr}  ${o.id}  ${o.name}\n`);
  },
};

// ---------------------------------------------------------------------------------------------
// user

const adminOpt = { admin: { type: 'string' } } as const;
const baseUrlOpt = { 'base-url': { type: 'string' } } as const;
const baseUrlHelp = `  --base-url URL    the service's public address, for the link in the e-mail (default
                    MITID_SIM_BASE_URL, else ${DEFAULT_BASE_URL})`;
const adminHelp = `  --admin ID        the administrator to act as (default: the organisation's first user
                    administrator)`;

const userCreate: Command = {
  path: ['user', 'create'],
  summary: 'create a business user and queue the activation e-mail',
  usage:
    'user create --cvr CVR --first-name F --surname S --email E (--cpr CPR | --birth-date YYYY-MM-DD) [--phone P] [--base-url URL] [--admin ID] [--json]',
  help: `Created as the organisation's user administrator. A user created by date of birth also needs an
activation code, printed here once for the administrator to hand over (only its hash is kept).

Options:
  --cvr CVR            the organisation
  --first-name F       first name(s)
  --surname S          surname
  --email E            where the activation e-mail goes
  --cpr CPR            the user's CPR number (fictitious test numbers)
  --birth-date DATE    or the date of birth, YYYY-MM-DD, for a user without a CPR number
  --phone P            phone number
${baseUrlHelp}
${adminHelp}
  --json               print the user, the e-mail's outbox id and any activation code as JSON
${storeHelp}`,
  options: {
    cvr: { type: 'string' },
    'first-name': { type: 'string' },
    surname: { type: 'string' },
    email: { type: 'string' },
    cpr: { type: 'string' },
    'birth-date': { type: 'string' },
    phone: { type: 'string' },
    ...baseUrlOpt,
    ...adminOpt,
    ...jsonOpt,
    ...storeOpts,
  },
  async run(ctx) {
    const cvr = cvrOption(ctx);
    const firstName = req(ctx, 'first-name');
    const surname = req(ctx, 'surname');
    const email = req(ctx, 'email');
    const cpr = str(ctx, 'cpr');
    const birthDate = str(ctx, 'birth-date');
    if ((cpr === undefined) === (birthDate === undefined))
      throw new UsageError('usage', 'give --cpr or --birth-date (one of them)');
    const phone = str(ctx, 'phone');
    const options = { baseUrl: baseUrl(ctx) };
    const created = await withStore(ctx, async (store) => {
      const { org, admin } = await store.transaction(async (tx) => {
        const o = await orgByCvr(tx, cvr);
        return { org: o, admin: await actingAdmin(tx, ctx, o, 'create-user') };
      });
      return createBusinessUser(
        store,
        admin.id,
        {
          organisationId: org.id,
          firstName,
          surname,
          email,
          ...(phone === undefined ? {} : { phone }),
          ...(cpr === undefined ? {} : { cpr }),
          ...(birthDate === undefined ? {} : { birthDate }),
        },
        options,
      );
    });
    const u = created.user;
    if (flag(ctx, 'json')) {
      printJson(ctx, {
        user: u,
        activationEmail: created.emailId,
        ...(created.activationCode === undefined ? {} : { activationCode: created.activationCode }),
      });
      return;
    }
    ctx.io.stdout(
      `user ${u.id}  ${u.firstName} ${u.surname} <${u.email}>  (by ${u.identifiedBy})\n` +
        `activation e-mail queued: ${created.emailId}\n`,
    );
    if (created.activationCode !== undefined)
      ctx.io.stdout(`activation code to hand over: ${created.activationCode}\n`);
  },
};

const userResend: Command = {
  path: ['user', 'resend'],
  summary: 'send a new activation e-mail; the old link stops working',
  usage: 'user resend USERID [--base-url URL] [--admin ID] [--json]',
  help: `Options:
${baseUrlHelp}
${adminHelp}
  --json            print the new e-mail's outbox id as JSON
${storeHelp}`,
  positionals: [1, 1],
  options: { ...baseUrlOpt, ...adminOpt, ...jsonOpt, ...storeOpts },
  async run(ctx) {
    const userId = ctx.positionals[0]!;
    const options = { baseUrl: baseUrl(ctx) };
    const emailId = await withStore(ctx, async (store) => {
      const admin = await adminForUser(store, ctx, userId, 'resend-activation-email');
      return resendActivationEmail(store, admin.id, userId, options);
    });
    if (flag(ctx, 'json')) printJson(ctx, { user: userId, activationEmail: emailId });
    else ctx.io.stdout(`activation e-mail queued: ${emailId}\n`);
  },
};

const userShow: Command = {
  path: ['user', 'show'],
  summary: 'show a user: status, authenticators, orders, whether a link or code is live',
  usage: 'user show USERID [--admin ID] [--json]',
  help: `Options:
  --admin ID   the administrator to act as (default: the organisation's first administrator)
  --json       print the overview as JSON
${storeHelp}`,
  positionals: [1, 1],
  options: { ...adminOpt, ...jsonOpt, ...storeOpts },
  async run(ctx) {
    const userId = ctx.positionals[0]!;
    const view = await withStore(ctx, async (store) => {
      const admin = await adminForUser(store, ctx, userId, 'view-users');
      return viewUser(store, admin.id, userId);
    });
    if (flag(ctx, 'json')) {
      printJson(ctx, view);
      return;
    }
    const u = view.user;
    const lines = [
      `user ${u.id}  ${u.firstName} ${u.surname} <${u.email}>`,
      `  status:            ${u.status}${u.mitidKind ? ` (${u.mitidKind} MitID)` : ''}`,
      `  identified by:     ${u.identifiedBy}`,
      `  phone:             ${u.phone ?? '-'}`,
      `  created:           ${iso(u.createdAt)}`,
      `  activated:         ${iso(u.activatedAt)}`,
      `  activation link:   ${view.activationLinkLive ? 'live' : 'none live'}`,
      `  activation code:   ${view.activationCodeLive ? 'live' : 'none live'}`,
      `  authenticators:    ${view.authenticators.length === 0 ? '-' : view.authenticators.map((a) => `${a.kind} ${a.serial} (${a.lockout})`).join(', ')}`,
      `  orders:            ${view.orders.length === 0 ? '-' : view.orders.map((o) => `${o.kind} ${o.serial ?? '-'} (${o.status})`).join(', ')}`,
    ];
    ctx.io.stdout(lines.join('\n') + '\n');
  },
};

const userCode: Command = {
  path: ['user', 'code'],
  summary:
    'issue a fresh activation code for a user created by date of birth (the old one stops working)',
  usage: 'user code USERID [--admin ID] [--json]',
  help: `Only a hash of the code is kept, so showing it means issuing a new one.

Options:
${adminHelp}
  --json       print the code as JSON
${storeHelp}`,
  positionals: [1, 1],
  options: { ...adminOpt, ...jsonOpt, ...storeOpts },
  async run(ctx) {
    const userId = ctx.positionals[0]!;
    const code = await withStore(ctx, async (store) => {
      const admin = await adminForUser(store, ctx, userId, 'show-activation-code');
      return showActivationCode(store, admin.id, userId);
    });
    if (flag(ctx, 'json')) printJson(ctx, { user: userId, activationCode: code });
    else ctx.io.stdout(`activation code to hand over: ${code}\n`);
  },
};

const userList: Command = {
  path: ['user', 'list'],
  summary: "list an organisation's users",
  usage: 'user list --cvr CVR [--json]',
  help: `Options:
  --cvr CVR   the organisation
  --json      print the users as JSON
${storeHelp}`,
  options: { cvr: { type: 'string' }, ...jsonOpt, ...storeOpts },
  async run(ctx) {
    const cvr = cvrOption(ctx);
    const users = await withStore(ctx, (store) =>
      store.transaction(async (tx) => tx.users.list((await orgByCvr(tx, cvr)).id)),
    );
    if (flag(ctx, 'json')) {
      printJson(ctx, users);
      return;
    }
    if (users.length === 0) ctx.io.stdout('(no users)\n');
    for (const u of users)
      ctx.io.stdout(
        `${u.id}  ${u.status.padEnd(9)}  ${u.firstName} ${u.surname} <${u.email}>  (by ${u.identifiedBy})\n`,
      );
  },
};

// ---------------------------------------------------------------------------------------------
// inventory

const OTP_KINDS = ['code-display', 'audio-reader'] as const;
type OtpKind = (typeof OTP_KINDS)[number];

function keyOption(ctx: CommandContext): Uint8Array | undefined {
  const hex = str(ctx, 'key');
  if (hex === undefined) return undefined;
  try {
    return fromHex(hex.trim(), '--key');
  } catch {
    throw new UsageError(
      'usage',
      '--key must be the pre-shared key in hex (32 hex digits for AES-128)',
    );
  }
}

async function orgIdFor(tx: Repositories, cvr: string | undefined): Promise<string | undefined> {
  return cvr === undefined ? undefined : (await orgByCvr(tx, cvr.trim())).id;
}

function itemJson(i: InventoryItem): Record<string, unknown> {
  return {
    id: i.id,
    kind: i.kind,
    serial: i.serial,
    status: i.status,
    organisationId: i.organisationId,
    params: i.params,
    importedAt: new Date(i.importedAt).toISOString(),
  };
}

const inventoryImport: Command = {
  path: ['inventory', 'import'],
  summary: 'import every token of a PSKC or OATH CSV seed file into the inventory',
  usage:
    'inventory import SEEDFILE --kind code-display|audio-reader [--cvr CVR] [--key HEX | --password P] [--json]',
  help: `All or nothing: a wrong key or password, a tampered file, a key the device cannot hold (code
displays and audio readers are TOTP, 6 digits) or a serial already in the inventory imports nothing.
The seeds are sealed at rest and never printed.

Options:
  --kind KIND      code-display or audio-reader
  --cvr CVR        the organisation whose inventory it is (default: the shared pool)
  --key HEX        the pre-shared key of an encrypted PSKC file, in hex
  --password P     the password of a PBKDF2-protected PSKC file
  --json           print the imported tokens as JSON
${storeHelp}`,
  positionals: [1, 1],
  options: {
    kind: { type: 'string' },
    cvr: { type: 'string' },
    key: { type: 'string' },
    password: { type: 'string' },
    ...jsonOpt,
    ...storeOpts,
  },
  async run(ctx) {
    const kind = req(ctx, 'kind') as OtpKind;
    if (!OTP_KINDS.includes(kind))
      throw new UsageError('usage', '--kind must be code-display or audio-reader');
    if (str(ctx, 'password') !== undefined && str(ctx, 'key') !== undefined)
      throw new UsageError('usage', 'give --password or --key, not both');
    const path = ctx.positionals[0]!;
    const password = str(ctx, 'password');
    const key = keyOption(ctx);
    const bytes = new Uint8Array(await readFile(path));
    const keys = importSeedFile(bytes, {
      ...(password === undefined ? {} : { password }),
      ...(key === undefined ? {} : { key }),
    });
    if (keys.length === 0)
      throw new ActivationError('empty-seed-file', `${path} holds no key packages`);
    for (const [i, k] of keys.entries()) {
      const where = `key package ${i + 1} (serial ${JSON.stringify(k.serial).slice(0, 70)})`;
      if (k.type !== 'totp')
        throw new ActivationError(
          'not-time-based',
          `${where} is an HOTP key; a ${kind} is time-based (TOTP); nothing was imported`,
        );
      if (k.digits !== 6)
        throw new ActivationError(
          'bad-digits',
          `${where} has ${k.digits} digits; a ${kind} shows 6; nothing was imported`,
        );
    }
    const cvr = str(ctx, 'cvr');
    const items = await withStore(ctx, async (store) => {
      try {
        return await store.transaction(async (tx) => {
          const organisationId = await orgIdFor(tx, cvr);
          const out: InventoryItem[] = [];
          for (const k of keys) {
            out.push(
              await tx.inventory.importOtp({
                kind,
                key: k,
                ...(organisationId === undefined ? {} : { organisationId }),
              }),
            );
            await tx.audit.record({
              actor: CLI_ACTOR,
              action: 'inventory.import',
              outcome: 'ok',
              organisationId: organisationId ?? null,
              serial: k.serial,
              detail: { kind },
            });
          }
          return out;
        });
      } catch (e) {
        if (e instanceof ActivationError && e.code !== 'unknown-organisation')
          throw new ActivationError(e.code, `${e.message}; nothing was imported`, { cause: e });
        throw e;
      }
    });
    if (flag(ctx, 'json')) {
      printJson(ctx, items.map(itemJson));
      return;
    }
    ctx.io.stdout(`imported ${items.length} ${kind}${items.length === 1 ? '' : 's'}:\n`);
    for (const i of items) ctx.io.stdout(`  ${i.serial}\n`);
  },
};

const inventoryAddChip: Command = {
  path: ['inventory', 'add-chip'],
  summary: 'add a chip to the inventory by serial',
  usage: 'inventory add-chip --serial SERIAL [--cvr CVR] [--json]',
  help: `A chip carries no seed: its key is made when it is registered.

Options:
  --serial SERIAL   the chip's serial number
  --cvr CVR         the organisation whose inventory it is (default: the shared pool)
  --json            print the item as JSON
${storeHelp}`,
  options: { serial: { type: 'string' }, cvr: { type: 'string' }, ...jsonOpt, ...storeOpts },
  async run(ctx) {
    const serial = req(ctx, 'serial');
    const cvr = str(ctx, 'cvr');
    const item = await withStore(ctx, (store) =>
      store.transaction(async (tx) => {
        const organisationId = await orgIdFor(tx, cvr);
        const it = await tx.inventory.addChip({
          serial,
          ...(organisationId === undefined ? {} : { organisationId }),
        });
        await tx.audit.record({
          actor: CLI_ACTOR,
          action: 'inventory.add-chip',
          outcome: 'ok',
          organisationId: organisationId ?? null,
          serial,
        });
        return it;
      }),
    );
    if (flag(ctx, 'json')) printJson(ctx, itemJson(item));
    else ctx.io.stdout(`added chip ${item.serial} (${item.id})\n`);
  },
};

const inventoryList: Command = {
  path: ['inventory', 'list'],
  summary: 'list the token inventory (never the seeds)',
  usage: 'inventory list [--cvr CVR] [--kind KIND] [--json]',
  help: `Options:
  --cvr CVR     only this organisation's inventory
  --kind KIND   only code-display, audio-reader or chip
  --json        print the items as JSON
${storeHelp}`,
  options: { cvr: { type: 'string' }, kind: { type: 'string' }, ...jsonOpt, ...storeOpts },
  async run(ctx) {
    const kind = str(ctx, 'kind');
    if (kind !== undefined && !['code-display', 'audio-reader', 'chip'].includes(kind))
      throw new UsageError('usage', '--kind must be code-display, audio-reader or chip');
    const cvr = str(ctx, 'cvr');
    const items = await withStore(ctx, (store) =>
      store.transaction(async (tx) => {
        const organisationId = await orgIdFor(tx, cvr);
        return tx.inventory.list({
          ...(organisationId === undefined ? {} : { organisationId }),
          ...(kind === undefined ? {} : { kind: kind as InventoryItem['kind'] }),
        });
      }),
    );
    if (flag(ctx, 'json')) {
      printJson(ctx, items.map(itemJson));
      return;
    }
    if (items.length === 0) ctx.io.stdout('(the inventory is empty)\n');
    for (const i of items)
      ctx.io.stdout(
        `${i.kind.padEnd(12)}  ${i.serial.padEnd(16)}  ${i.status.padEnd(9)}  ${i.id}\n`,
      );
  },
};

// ---------------------------------------------------------------------------------------------
// mailbox, outbox, audit

const mailbox: Command = {
  path: ['mailbox'],
  summary: 'list the mail the built-in dev mailbox received, or show one',
  usage: 'mailbox [--to ADDRESS] [--show ID] [--json]',
  help: `The dev mailbox is the SMTP server the service runs on localhost; what it receives is kept in
the store. Mail holds activation links: it is a development mailbox, keep it to test data.

Options:
  --to ADDRESS   only mail to this address
  --show ID      print one mail (its headers and text)
  --json         print as JSON
${storeHelp}`,
  options: { to: { type: 'string' }, show: { type: 'string' }, ...jsonOpt, ...storeOpts },
  async run(ctx) {
    const to = str(ctx, 'to');
    const show = str(ctx, 'show');
    const mails = await withStore(ctx, (store) => listMail(store, to === undefined ? {} : { to }));
    if (show !== undefined) {
      const m = mails.find((x) => x.id === show || x.messageId === show);
      if (!m) throw new ActivationError('unknown-mail', `no mail with id ${show.slice(0, 80)}`);
      if (flag(ctx, 'json')) {
        printJson(ctx, { ...m, receivedAt: iso(m.receivedAt) });
        return;
      }
      ctx.io.stdout(
        `From: ${m.from ?? m.envelopeFrom}\nTo: ${m.to ?? m.envelopeTo.join(', ')}\n` +
          `Subject: ${m.subject ?? ''}\nDate: ${iso(m.receivedAt)}\nMessage-ID: ${m.messageId}\n\n` +
          `${(m.text ?? '(no text part)').replace(/\n?$/, '\n')}`,
      );
      return;
    }
    if (flag(ctx, 'json')) {
      printJson(
        ctx,
        mails.map((m) => ({
          id: m.id,
          messageId: m.messageId,
          from: m.from ?? m.envelopeFrom,
          to: m.envelopeTo,
          subject: m.subject,
          size: m.size,
          receivedAt: iso(m.receivedAt),
        })),
      );
      return;
    }
    if (mails.length === 0) ctx.io.stdout('(no mail)\n');
    for (const m of mails)
      ctx.io.stdout(
        `${m.id}  ${iso(m.receivedAt)}  from ${m.from ?? m.envelopeFrom}  to ${m.envelopeTo.join(', ')}  ${m.subject ?? '(no subject)'}\n`,
      );
  },
};

function outboxJson(e: OutboxEntry): Record<string, unknown> {
  // Never the body: an activation e-mail's holds a live link until it is sent, an SMS a code.
  return {
    id: e.id,
    channel: e.channel,
    to: e.to,
    subject: e.subject,
    status: e.status,
    attempts: e.attempts,
    createdAt: iso(e.createdAt),
    sentAt: e.sentAt === null ? null : iso(e.sentAt),
    lastError: e.lastError,
  };
}

const outbox: Command = {
  path: ['outbox'],
  summary: 'list the outbox: each message with its status (never its body)',
  usage: 'outbox [--to ADDRESS] [--status STATUS] [--json]',
  help: `Options:
  --to ADDRESS      only messages to this e-mail address or phone number
  --status STATUS   only pending, sending, sent or failed messages
  --json            print as JSON
${storeHelp}`,
  options: { to: { type: 'string' }, status: { type: 'string' }, ...jsonOpt, ...storeOpts },
  async run(ctx) {
    const to = str(ctx, 'to');
    const status = str(ctx, 'status');
    if (status !== undefined && !['pending', 'sending', 'sent', 'failed'].includes(status))
      throw new UsageError('usage', '--status must be pending, sending, sent or failed');
    const entries = await withStore(ctx, (store) =>
      listOutbox(store, {
        ...(to === undefined ? {} : { to }),
        ...(status === undefined ? {} : { status: status as OutboxEntry['status'] }),
      }),
    );
    if (flag(ctx, 'json')) {
      printJson(ctx, entries.map(outboxJson));
      return;
    }
    if (entries.length === 0) ctx.io.stdout('(the outbox is empty)\n');
    for (const e of entries)
      ctx.io.stdout(
        `${e.id}  ${iso(e.createdAt)}  ${e.channel.padEnd(5)}  ${e.status.padEnd(7)}  to ${e.to}  ${e.subject ?? ''}` +
          `${e.lastError === null ? '' : `  (last error: ${e.lastError})`}\n`,
      );
  },
};

const audit: Command = {
  path: ['audit'],
  summary: 'list the audit log (who did what, to whom, with which serial, when)',
  usage: 'audit [--cvr CVR] [--limit N] [--json]',
  help: `Options:
  --cvr CVR   only entries of this organisation
  --limit N   at most N entries, oldest first (default 1000)
  --json      print as JSON
${storeHelp}`,
  options: { cvr: { type: 'string' }, limit: { type: 'string' }, ...jsonOpt, ...storeOpts },
  async run(ctx) {
    const cvr = str(ctx, 'cvr');
    const limitText = str(ctx, 'limit');
    if (limitText !== undefined && !/^[1-9]\d{0,5}$/.test(limitText))
      throw new UsageError('usage', '--limit must be a whole number from 1 to 999999');
    const records = await withStore(ctx, (store) =>
      store.transaction(async (tx) => {
        const organisationId = await orgIdFor(tx, cvr);
        return tx.audit.list({
          ...(organisationId === undefined ? {} : { organisationId }),
          ...(limitText === undefined ? {} : { limit: Number(limitText) }),
        });
      }),
    );
    if (flag(ctx, 'json')) {
      printJson(
        ctx,
        records.map((r) => ({ ...r, at: iso(r.at) })),
      );
      return;
    }
    if (records.length === 0) ctx.io.stdout('(the audit log is empty)\n');
    for (const r of records) {
      const who = `${r.actor.kind}${r.actor.id === null ? '' : ` ${r.actor.id}`}`;
      const extra = [
        r.subjectId === null ? '' : `subject ${r.subjectId}`,
        r.serial === null ? '' : `serial ${r.serial}`,
        r.detail === null ? '' : JSON.stringify(r.detail),
      ]
        .filter((s) => s !== '')
        .join('  ');
      ctx.io.stdout(
        `${iso(r.at)}  ${r.action}  ${r.outcome}  by ${who}${extra ? `  ${extra}` : ''}\n`,
      );
    }
  },
};

/** The administration verbs of the activation service, working directly on its store. */
export const commands: Command[] = [
  orgCreate,
  orgPolicy,
  orgList,
  userCreate,
  userResend,
  userShow,
  userCode,
  userList,
  inventoryImport,
  inventoryAddChip,
  inventoryList,
  mailbox,
  outbox,
  audit,
];
