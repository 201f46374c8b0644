/** Administrator operations over the store and outbox, and a scan proving no secret rests in plain text. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { describeWithTool } from '../support/tools.js';
import {
  ForbiddenError,
  OutboxDispatcher,
  SmsAdapter,
  SmtpEmailAdapter,
  TABLES,
  createBusinessUser,
  enqueue,
  hashPassword,
  listMail,
  listOutbox,
  resendActivationEmail,
  showActivationCode,
  viewUser,
  startDevMailbox,
  type Admin,
  type Organisation,
  type Store,
} from '../../src/activation/index.js';
import { freshDatabase, probePostgres, type TestDatabase } from './support.js';

const pgAvailable = await probePostgres();
const BASE = 'https://erhverv.example';

/** `code` not touching other hex digits. */
function alone(code: string): RegExp {
  return new RegExp(`(?<![0-9a-fA-F])${code}(?![0-9a-fA-F])`);
}

function tokenFrom(text: string): string {
  const m = /\/activate\/([A-Za-z0-9_-]+)/.exec(text);
  if (!m) throw new Error('no activation link in the mail');
  return m[1]!;
}

function adminSuite(engine: 'sqlite' | 'postgres'): void {
  let t: TestDatabase;
  let store: Store;
  let org: Organisation;
  let ua: Admin;
  let ra: Admin;
  beforeEach(async () => {
    t = await freshDatabase(engine);
    store = await t.open();
    ({ org, ua, ra } = await store.transaction(async (tx) => {
      const o = await tx.organisations.create({ cvr: '98765432', name: 'Prøvehuset A/S' });
      return {
        org: o,
        ua: await tx.admins.create({
          organisationId: o.id,
          name: 'Ulla Admin',
          email: 'ulla@proevehuset.example',
          role: 'user-administrator',
        }),
        ra: await tx.admins.create({
          organisationId: o.id,
          name: 'Rasmus Ret',
          email: 'rasmus@proevehuset.example',
          role: 'rights-administrator',
        }),
      };
    }));
  });
  afterEach(async () => {
    await t.dispose();
  });

  it('creating a user by CPR queues an activation e-mail naming the organisation and the user administrator', async () => {
    const created = await createBusinessUser(
      store,
      ua.id,
      {
        organisationId: org.id,
        firstName: 'Karen',
        surname: 'Testesen',
        email: 'karen@proevehuset.example',
        cpr: '150385-4321',
      },
      { baseUrl: BASE },
    );
    expect(created.activationCode).toBeUndefined();
    const [mail] = await listOutbox(store, { channel: 'email' });
    expect(mail).toMatchObject({
      id: created.emailId,
      to: 'karen@proevehuset.example',
      status: 'pending',
    });
    expect(mail!.text).toContain('Prøvehuset A/S har oprettet dig som bruger i MitID Erhverv.');
    expect(mail!.text).toContain('Din brugeradministrator: Ulla Admin <ulla@proevehuset.example>');
    expect(mail!.text).toContain('udløber 2026-12-25');
    expect(mail!.text).not.toContain('Rasmus');
    const token = tokenFrom(mail!.text);
    expect(await store.transaction((tx) => tx.links.inspect(token))).toMatchObject({
      ok: true,
      businessUserId: created.user.id,
    });
    expect(
      await store.transaction((tx) => tx.audit.list({ subjectId: created.user.id })),
    ).toMatchObject([
      {
        action: 'user.create',
        outcome: 'ok',
        actor: { kind: 'admin', id: ua.id },
        detail: { identifiedBy: 'cpr' },
      },
    ]);
  });

  it('a user by date of birth also gets a handover code; showing it again issues a new one', async () => {
    const created = await createBusinessUser(
      store,
      ua.id,
      {
        organisationId: org.id,
        firstName: 'Bo',
        surname: 'Prøve',
        email: 'bo@proevehuset.example',
        birthDate: '1990-07-01',
      },
      { baseUrl: BASE },
    );
    expect(created.activationCode).toMatch(/^[A-Z2-9]{4}-[A-Z2-9]{4}$/);
    const [mail] = await listOutbox(store, { channel: 'email' });
    expect(mail!.text).toContain(
      'Du skal bruge den aktiveringskode, din brugeradministrator giver dig.',
    );
    const again = await showActivationCode(store, ua.id, created.user.id);
    expect(
      await store.transaction((tx) =>
        tx.codes.check(created.user.id, 'handover', created.activationCode!),
      ),
    ).toMatchObject({
      ok: false,
      reason: 'wrong', // the old code is now just a wrong guess
      triesLeft: 2,
    });
    expect(
      await store.transaction((tx) => tx.codes.check(created.user.id, 'handover', again)),
    ).toEqual({ ok: true });
  });

  it('resending supersedes the old link', async () => {
    const created = await createBusinessUser(
      store,
      ua.id,
      {
        organisationId: org.id,
        firstName: 'Karen',
        surname: 'T',
        email: 'karen@proevehuset.example',
        cpr: '150385-4321',
      },
      { baseUrl: BASE },
    );
    t.clock.advance(1);
    await resendActivationEmail(store, ua.id, created.user.id, { baseUrl: BASE });
    const mails = await listOutbox(store, { channel: 'email' });
    expect(mails).toHaveLength(2);
    const [oldToken, newToken] = mails.map((m) => tokenFrom(m.text));
    expect(await store.transaction((tx) => tx.links.consume(oldToken!))).toMatchObject({
      ok: false,
      reason: 'superseded',
    });
    expect(await store.transaction((tx) => tx.links.consume(newToken!))).toMatchObject({
      ok: true,
    });
  });

  it("any administrator of the organisation sees a user's state; nobody else", async () => {
    const created = await createBusinessUser(
      store,
      ua.id,
      {
        organisationId: org.id,
        firstName: 'Bo',
        surname: 'P',
        email: 'bo@proevehuset.example',
        birthDate: '1990-07-01',
      },
      { baseUrl: BASE },
    );
    await store.transaction(async (tx) => {
      await tx.inventory.addChip({ serial: 'CHIP-7', organisationId: org.id });
      await tx.orders.create({ businessUserId: created.user.id, kind: 'chip', orderedBy: ua.id });
    });
    const view = await viewUser(store, ra.id, created.user.id);
    expect(view).toMatchObject({
      user: { status: 'created', identifiedBy: 'birth-date' },
      authenticators: [],
      orders: [{ kind: 'chip', serial: 'CHIP-7', status: 'ordered' }],
      activationLinkLive: true,
      activationCodeLive: true,
    });
    expect(JSON.stringify(view)).not.toContain(created.activationCode!);
    t.clock.advance(30 * 86_400_000);
    expect(await viewUser(store, ua.id, created.user.id)).toMatchObject({
      activationLinkLive: false,
      activationCodeLive: false,
    });
    const plain = await store.transaction((tx) =>
      tx.admins.create({
        organisationId: org.id,
        name: 'Ida',
        email: 'ida@proevehuset.example',
        role: 'trusted-employee',
      }),
    );
    await expect(viewUser(store, plain.id, created.user.id)).rejects.toBeInstanceOf(ForbiddenError);
  });

  it('other roles and other organisations are refused, and the refusal stays in the audit log', async () => {
    const input = {
      organisationId: org.id,
      firstName: 'Karen',
      surname: 'T',
      email: 'k@proevehuset.example',
      cpr: '150385-4321',
    };
    await expect(createBusinessUser(store, ra.id, input, { baseUrl: BASE })).rejects.toBeInstanceOf(
      ForbiddenError,
    );
    const other = await store.transaction(async (tx) => {
      const o = await tx.organisations.create({ cvr: '97777777', name: 'Andet ApS' });
      return tx.admins.create({
        organisationId: o.id,
        name: 'Anne',
        email: 'anne@andet.example',
        role: 'user-administrator',
      });
    });
    await expect(
      createBusinessUser(store, other.id, input, { baseUrl: BASE }),
    ).rejects.toMatchObject({ code: 'forbidden' });
    expect(await listOutbox(store)).toEqual([]);
    const audit = await store.transaction((tx) => tx.audit.list({ organisationId: org.id }));
    expect(audit.map((a) => [a.actor.id, a.action, a.outcome])).toEqual([
      [ra.id, 'create-user', 'forbidden'],
      [other.id, 'create-user', 'forbidden'],
    ]);
  });

  it('no secret rests in plain text: the audit log holds none, other tables only sealed or hashed forms', async () => {
    const secrets: string[] = [];
    let smsCode = '';
    const remember = (...s: string[]) => secrets.push(...s);
    const CPR = '150385-4321';
    const CITIZEN_CPR = '020292-1234';
    const PASSWORD = 'hest-batteri-klips-77';
    const SEED = Buffer.from('fictitious seed 0123456789abcdef');
    remember(CPR, CPR.replace('-', ''), CITIZEN_CPR, CITIZEN_CPR.replace('-', ''), PASSWORD);
    remember(
      SEED.toString('hex'),
      SEED.toString('base64'),
      SEED.toString('base64url'),
      SEED.toString('latin1'),
    );
    remember(
      Buffer.from(t.keys.pepper).toString('base64'),
      Buffer.from(t.keys.pepper).toString('hex'),
    );
    remember(
      Buffer.from(t.keys.keys.k1!).toString('base64'),
      Buffer.from(t.keys.keys.k1!).toString('hex'),
    );

    const karen = await createBusinessUser(
      store,
      ua.id,
      {
        organisationId: org.id,
        firstName: 'Karen',
        surname: 'T',
        email: 'karen@proevehuset.example',
        cpr: CPR,
      },
      { baseUrl: BASE },
    );
    const bo = await createBusinessUser(
      store,
      ua.id,
      {
        organisationId: org.id,
        firstName: 'Bo',
        surname: 'P',
        email: 'bo@proevehuset.example',
        birthDate: '1990-07-01',
      },
      { baseUrl: BASE },
    );
    remember(bo.activationCode!, bo.activationCode!.replace('-', ''));
    const passwordHash = await hashPassword(PASSWORD, { N: 1 << 14, r: 8, p: 1 });
    const citizen = await store.transaction((tx) =>
      tx.citizens.create({ cpr: CITIZEN_CPR, name: 'Bo Prøve', userId: 'bo.proeve', passwordHash }),
    );
    const [linkMail] = await listOutbox(store, {
      channel: 'email',
      to: 'karen@proevehuset.example',
    });
    const token = tokenFrom(linkMail!.text);
    remember(token);
    await store.transaction(async (tx) => {
      await tx.inventory.importOtp({
        kind: 'code-display',
        organisationId: org.id,
        key: {
          serial: 'CD-0042',
          type: 'totp',
          secret: new Uint8Array(SEED),
          algorithm: 'SHA1',
          digits: 6,
          period: 30,
        },
      });
      await tx.orders.create({
        businessUserId: karen.user.id,
        kind: 'code-display',
        orderedBy: ua.id,
      });
      const link = await tx.links.consume(token);
      await tx.audit.record({
        actor: { kind: 'business-user', id: karen.user.id },
        action: 'link.consume',
        outcome: link.ok ? 'ok' : link.reason,
      });
      const wrong = await tx.codes.check(bo.user.id, 'handover', 'ZZZZ-ZZZZ');
      await tx.audit.record({
        actor: { kind: 'business-user', id: bo.user.id },
        action: 'activation-code.check',
        outcome: wrong.ok ? 'ok' : wrong.reason,
      });
      const v = await tx.phones.start(karen.user.id, '20304050');
      smsCode = v.code;
      await enqueue(tx, {
        channel: 'sms',
        to: v.phone,
        text: `Din bekræftelseskode: ${v.code}`,
        idempotencyKey: `sms:${v.id}`,
      });
      await tx.audit.record({
        actor: { kind: 'business-user', id: karen.user.id },
        action: 'phone.verify.start',
        outcome: 'ok',
        detail: { phone: v.phone },
      });
      const a = await tx.authenticators.bind({
        ownerKind: 'business-user',
        ownerId: karen.user.id,
        kind: 'code-display',
        serial: 'CD-0042',
        binding: { inventorySerial: 'CD-0042' },
        state: { lastStep: 59_000_000 },
      });
      await tx.audit.record({
        actor: { kind: 'business-user', id: karen.user.id },
        action: 'authenticator.bind',
        outcome: 'ok',
        serial: a.serial,
      });
      await tx.users.markActivated(karen.user.id, { mitidKind: 'private', citizenId: citizen.id });
    });

    // Deliver the mail through the real dev mailbox, then look at every table.
    const mailbox = await startDevMailbox(store);
    const email = new SmtpEmailAdapter({
      host: mailbox.host,
      port: mailbox.port,
      from: 'no-reply@proevehuset.example',
      ignoreTLS: true,
    });
    try {
      expect(
        (await new OutboxDispatcher(store, { email, sms: new SmsAdapter() }).drain()).failed,
      ).toBe(0);
    } finally {
      email.close();
      await mailbox.close();
    }
    expect((await listMail(store)).some((m) => m.text?.includes(token))).toBe(true); // the recipient has it

    const dump: Record<string, string> = {};
    for (const table of TABLES) {
      const rows = (
        await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(store.db)
      ).rows;
      dump[table] = JSON.stringify(rows);
    }
    expect(dump.audit_log!.length).toBeGreaterThan(100);
    for (const s of secrets) expect(dump.audit_log, 'audit log').not.toContain(s);
    expect(dump.audit_log).not.toMatch(alone(smsCode));
    for (const table of TABLES) {
      if (table === 'mailbox') continue; // the dev mailbox is the recipient's inbox
      for (const s of secrets) expect(dump[table], `table ${table}`).not.toContain(s);
      // A 6-digit code could turn up inside a timestamp or hash by chance: look for it standing alone.
      if (table !== 'outbox') expect(dump[table], `table ${table}`).not.toMatch(alone(smsCode));
    }
    expect(smsCode).toMatch(/^\d{6}$/);
    // Virtual phones read their SMS from the outbox, so the SMS code is there by design.
    expect(dump.outbox).toContain(smsCode);
  });
}

describe('administrator operations on SQLite', () => adminSuite('sqlite'));
describeWithTool('PostgreSQL', pgAvailable, 'administrator operations on PostgreSQL', () =>
  adminSuite('postgres'),
);
