/** The activation store on both engines: migrations from empty, every repository, secrets at rest. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { describeWithTool } from '../support/tools.js';
import {
  CODE_TRIES,
  RuleError,
  StoreRuleError,
  TABLES,
  defaultLockoutPolicy,
  migrateDownAll,
  migrateToLatest,
  migrator,
  type Admin,
  type Organisation,
  type Store,
} from '../../src/activation/index.js';
import { freshDatabase, probePostgres, type TestDatabase } from './support.js';

const pgAvailable = await probePostgres();

// Fictitious people and organisations (MITID.md: test CVRs start with 9).
const CVR = '99887766';
const CPR = '150385-4321';
const SEED = new Uint8Array([
  0x3a, 0x7f, 0x11, 0xc2, 0x99, 0x05, 0xe4, 0x6b, 0x20, 0x8d, 0x41, 0xbb, 0x5e, 0x72, 0x0c, 0xf3,
  0x68, 0x1d, 0xa9, 0x34,
]);

function storeSuite(engine: 'sqlite' | 'postgres'): void {
  let t: TestDatabase;
  let store: Store;
  beforeEach(async () => {
    t = await freshDatabase(engine);
    store = await t.open();
  });
  afterEach(async () => {
    await t.dispose();
  });

  async function orgWithAdmins(): Promise<{
    org: Organisation;
    userAdmin: Admin;
    orgAdmin: Admin;
  }> {
    return store.transaction(async (tx) => {
      const org = await tx.organisations.create({ cvr: CVR, name: 'Testfirma ApS' });
      const userAdmin = await tx.admins.create({
        organisationId: org.id,
        name: 'Ulla Admin',
        email: 'ulla@testfirma.example',
        role: 'user-administrator',
      });
      const orgAdmin = await tx.admins.create({
        organisationId: org.id,
        name: 'Otto Org',
        email: 'otto@testfirma.example',
        role: 'organisation-administrator',
      });
      return { org, userAdmin, orgAdmin };
    });
  }

  it('migrates up from empty: every table exists, a second run does nothing, down and up again work', async () => {
    const tables =
      engine === 'postgres'
        ? (
            await sql<{
              name: string;
            }>`select table_name as name from information_schema.tables where table_schema = current_schema()`.execute(
              store.db,
            )
          ).rows
        : (
            await sql<{
              name: string;
            }>`select name from sqlite_master where type = 'table'`.execute(store.db)
          ).rows;
    const names = tables.map((r) => r.name);
    for (const table of TABLES) expect(names).toContain(table);
    expect(await migrateToLatest(store.db, store.engine, store.schema)).toEqual([]);
    await migrateDownAll(store.db, store.engine, store.schema);
    const after =
      engine === 'postgres'
        ? (
            await sql<{
              name: string;
            }>`select table_name as name from information_schema.tables where table_schema = current_schema()`.execute(
              store.db,
            )
          ).rows
        : (
            await sql<{
              name: string;
            }>`select name from sqlite_master where type = 'table'`.execute(store.db)
          ).rows;
    expect(
      after.map((r) => r.name).filter((n) => (TABLES as readonly string[]).includes(n)),
    ).toEqual([]);
    expect(await migrateToLatest(store.db, store.engine, store.schema)).toEqual([
      '0001_initial',
      '0002_shared_mitid',
      '0003_sessions',
      '0004_apps',
      '0005_hot_path',
    ]);
  });

  it('0005 keeps the rate-limit counts, and on SQLite stores them without a rowid', async () => {
    await migrator(store.db, store.engine, store.schema).migrateTo('0004_apps');
    await sql`insert into rate_limits ("key", window_start, "count") values ('addr:192.0.2.1', 60000, 7)`.execute(
      store.db,
    );
    expect(await migrateToLatest(store.db, store.engine, store.schema)).toEqual(['0005_hot_path']);
    const hit = await store.transaction((tx) => tx.rateLimits.hit('addr:192.0.2.1', 100, 60_000));
    // The window of the stored row is the one the clock is in only by chance; count directly.
    const rows = (
      await sql<{
        count: number;
      }>`select "count" from rate_limits where "key" = 'addr:192.0.2.1' and window_start = 60000`.execute(
        store.db,
      )
    ).rows;
    expect(rows.map((r) => Number(r.count))).toEqual([7]);
    expect(hit.count).toBe(1);
    if (engine === 'sqlite') {
      const ddl = (
        await sql<{
          sql: string;
        }>`select sql from sqlite_master where type = 'table' and name = 'rate_limits'`.execute(
          store.db,
        )
      ).rows;
      expect(ddl[0]?.sql.toLowerCase()).toContain('without rowid');
    }
    // And back: 0004's shape, the row still there.
    await migrator(store.db, store.engine, store.schema).migrateTo('0004_apps');
    const back = (
      await sql<{
        count: number;
      }>`select "count" from rate_limits where "key" = 'addr:192.0.2.1' and window_start = 60000`.execute(
        store.db,
      )
    ).rows;
    expect(back.map((r) => Number(r.count))).toEqual([7]);
  });

  it('creates organisations with default settings; only an organisation administrator changes them', async () => {
    const { org, userAdmin, orgAdmin } = await orgWithAdmins();
    await store.transaction(async (tx) => {
      expect(await tx.organisations.settings(org.id)).toEqual({
        privateMitIdAllowed: true,
        separateAuthenticators: ['code-display', 'audio-reader', 'chip', 'app'],
        preselected: 'app',
      });
      expect((await tx.organisations.byCvr(CVR))?.id).toBe(org.id);
    });
    const refused = await store.transaction((tx) =>
      tx.organisations.changeSettings(org.id, { privateMitIdAllowed: false }, userAdmin),
    );
    expect(refused).toMatchObject({ ok: false, violations: [{ code: 'forbidden' }] });
    const changed = await store.transaction((tx) =>
      tx.organisations.changeSettings(
        org.id,
        { privateMitIdAllowed: false, separateAuthenticators: ['code-display', 'chip'] },
        orgAdmin,
      ),
    );
    const expected = {
      privateMitIdAllowed: false,
      separateAuthenticators: ['code-display', 'chip'],
      preselected: 'code-display',
    };
    expect(changed).toEqual({ ok: true, settings: expected });
    expect(await store.transaction((tx) => tx.organisations.settings(org.id))).toEqual(expected);
    expect(
      await store.transaction((tx) =>
        tx.organisations.changeSettings(org.id, { preselected: 'app' }, orgAdmin),
      ),
    ).toMatchObject({
      ok: false,
      violations: [{ code: 'settings-preselected-not-offered' }],
    });
    await expect(
      store.transaction((tx) => tx.organisations.create({ cvr: CVR, name: 'Igen' })),
    ).rejects.toMatchObject({ code: 'cvr-taken' });
    await expect(
      store.transaction((tx) => tx.organisations.create({ cvr: '12345678', name: 'Ægte' })),
    ).rejects.toBeInstanceOf(RuleError);
    const audit = await store.transaction((tx) =>
      tx.audit.list({ organisationId: org.id, action: 'org.settings.change' }),
    );
    expect(audit.map((a) => a.outcome)).toEqual([
      'forbidden',
      'ok',
      'settings-preselected-not-offered',
    ]);
  });

  it('creates business users by CPR (sealed and hashed, never plain) and by date of birth', async () => {
    const { org, userAdmin } = await orgWithAdmins();
    const byCpr = await store.transaction((tx) =>
      tx.users.create({
        organisationId: org.id,
        firstName: 'Karen',
        surname: 'Testesen',
        email: 'karen@testfirma.example',
        cpr: CPR,
        createdBy: userAdmin.id,
      }),
    );
    expect(byCpr).toMatchObject({
      identifiedBy: 'cpr',
      birthDate: '1985-03-15',
      status: 'created',
    });
    t.clock.advance(1);
    const byDob = await store.transaction((tx) =>
      tx.users.create({
        organisationId: org.id,
        firstName: 'Bo',
        surname: 'Prøve',
        email: 'bo@testfirma.example',
        birthDate: '1990-07-01',
        phone: '20 30 40 50',
      }),
    );
    expect(byDob).toMatchObject({
      identifiedBy: 'birth-date',
      birthDate: '1990-07-01',
      phone: '+4520304050',
    });
    await store.transaction(async (tx) => {
      expect(await tx.users.cprOf(byCpr.id)).toBe(CPR);
      expect(await tx.users.cprMatches(byCpr.id, '1503854321')).toBe(true);
      expect(await tx.users.cprMatches(byCpr.id, '150385-4322')).toBe(false);
      expect((await tx.users.list(org.id)).map((u) => u.firstName)).toEqual(['Karen', 'Bo']);
    });
    const raw = await store.db
      .selectFrom('business_users')
      .selectAll()
      .where('id', '=', byCpr.id)
      .executeTakeFirstOrThrow();
    expect(JSON.stringify(raw)).not.toContain('150385');
    expect(raw.cpr_sealed).toMatch(/^v1\.k1\./);
    await expect(
      store.transaction((tx) =>
        tx.users.create({
          organisationId: org.id,
          firstName: 'K',
          surname: 'T',
          email: 'k@testfirma.example',
          cpr: '1503854321',
        }),
      ),
    ).rejects.toMatchObject({ code: 'user-exists' });
    await expect(
      store.transaction((tx) =>
        tx.users.create({
          organisationId: org.id,
          firstName: 'K',
          surname: 'T',
          email: 'k@testfirma.example',
          cpr: CPR,
          birthDate: '1985-03-15',
        }),
      ),
    ).rejects.toMatchObject({ code: 'cpr-or-birth-date' });
    await expect(
      store.transaction((tx) =>
        tx.users.create({
          organisationId: org.id,
          firstName: 'K',
          surname: 'T',
          email: 'no-at-sign',
          birthDate: '2999-01-01',
        }),
      ),
    ).rejects.toSatisfy(
      (e: RuleError) => e.violations.map((v) => v.code).join() === 'email-shape,birth-date-future',
    );
  });

  it('activation links: single use, superseded on resend, expire after 30 days', async () => {
    const { org } = await orgWithAdmins();
    const user = await store.transaction((tx) =>
      tx.users.create({
        organisationId: org.id,
        firstName: 'Karen',
        surname: 'T',
        email: 'k@testfirma.example',
        cpr: CPR,
      }),
    );
    const first = await store.transaction((tx) => tx.links.issue(user.id));
    expect(first.token.length).toBeGreaterThanOrEqual(43); // 256 bits in base64url
    const second = await store.transaction((tx) => tx.links.issue(user.id));
    expect(await store.transaction((tx) => tx.links.consume(first.token))).toEqual({
      ok: false,
      reason: 'superseded',
      businessUserId: user.id,
    });
    expect(await store.transaction((tx) => tx.links.inspect(second.token))).toMatchObject({
      ok: true,
      businessUserId: user.id,
    });
    expect(await store.transaction((tx) => tx.links.consume(second.token))).toMatchObject({
      ok: true,
      businessUserId: user.id,
    });
    expect(await store.transaction((tx) => tx.links.consume(second.token))).toMatchObject({
      ok: false,
      reason: 'used',
    });
    expect(await store.transaction((tx) => tx.links.consume('A'.repeat(43)))).toEqual({
      ok: false,
      reason: 'unknown',
    });
    expect(await store.transaction((tx) => tx.links.consume('not a token'))).toEqual({
      ok: false,
      reason: 'malformed',
    });
    const third = await store.transaction((tx) => tx.links.issue(user.id));
    expect(third.expiresAt - t.clock.now()).toBe(30 * 86_400_000);
    t.clock.advance(30 * 86_400_000 - 1);
    expect(await store.transaction((tx) => tx.links.inspect(third.token))).toMatchObject({
      ok: true,
    });
    t.clock.advance(1);
    expect(await store.transaction((tx) => tx.links.consume(third.token))).toMatchObject({
      ok: false,
      reason: 'expired',
    });
    const stored = await store.db.selectFrom('activation_links').select('token_hash').execute();
    for (const { token_hash } of stored) expect(token_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('activation codes: the right one works once; three wrong tries block it', async () => {
    const { org } = await orgWithAdmins();
    const user = await store.transaction((tx) =>
      tx.users.create({
        organisationId: org.id,
        firstName: 'Bo',
        surname: 'P',
        email: 'b@testfirma.example',
        birthDate: '1990-07-01',
      }),
    );
    const { code } = await store.transaction((tx) => tx.codes.issue(user.id, 'handover'));
    expect(code).toMatch(/^[A-Z2-9]{4}-[A-Z2-9]{4}$/);
    expect(
      await store.transaction((tx) =>
        tx.codes.check(user.id, 'handover', code.toLowerCase().replace('-', ' ')),
      ),
    ).toEqual({ ok: true });
    expect(
      await store.transaction((tx) => tx.codes.check(user.id, 'handover', code)),
    ).toMatchObject({ ok: false, reason: 'used' });

    const again = await store.transaction((tx) => tx.codes.issue(user.id, 'handover'));
    const wrong = again.code.startsWith('A') ? 'BBBB-BBBB' : 'AAAA-AAAA';
    const results = [];
    for (let i = 0; i < CODE_TRIES; i++)
      results.push(await store.transaction((tx) => tx.codes.check(user.id, 'handover', wrong)));
    expect(results).toEqual([
      { ok: false, reason: 'wrong', triesLeft: 2 },
      { ok: false, reason: 'wrong', triesLeft: 1 },
      { ok: false, reason: 'blocked', triesLeft: 0 },
    ]);
    // Blocked: even the right code is refused now.
    expect(
      await store.transaction((tx) => tx.codes.check(user.id, 'handover', again.code)),
    ).toMatchObject({ ok: false, reason: 'blocked' });
    expect(await store.transaction((tx) => tx.codes.pending(user.id, 'handover'))).toBe(false);
    const late = await store.transaction((tx) => tx.codes.issue(user.id, 'handover'));
    t.clock.advance(48 * 3600_000);
    expect(
      await store.transaction((tx) => tx.codes.check(user.id, 'handover', late.code)),
    ).toMatchObject({ ok: false, reason: 'expired' });
  });

  it('inventory: seeds sealed at rest, opened for the verifier; orders reserve a device', async () => {
    const { org, userAdmin } = await orgWithAdmins();
    const user = await store.transaction((tx) =>
      tx.users.create({
        organisationId: org.id,
        firstName: 'Karen',
        surname: 'T',
        email: 'k@testfirma.example',
        cpr: CPR,
      }),
    );
    await store.transaction(async (tx) => {
      await tx.inventory.importOtp({
        kind: 'code-display',
        organisationId: org.id,
        key: {
          serial: 'CD-0001',
          type: 'totp',
          secret: SEED,
          algorithm: 'SHA1',
          digits: 6,
          period: 30,
          t0: 0,
        },
      });
      await tx.inventory.importOtp({
        kind: 'audio-reader',
        key: {
          serial: 'AR-0001',
          type: 'totp',
          secret: SEED.slice(0, 16),
          algorithm: 'SHA256',
          digits: 6,
          period: 30,
        },
      });
      await tx.inventory.addChip({ serial: 'CHIP-0001', organisationId: org.id });
    });
    await expect(
      store.transaction((tx) =>
        tx.inventory.importOtp({
          kind: 'code-display',
          key: { serial: 'CD-0001', type: 'totp', secret: SEED, algorithm: 'SHA1', digits: 6 },
        }),
      ),
    ).rejects.toMatchObject({ code: 'serial-exists' });
    const key = await store.transaction((tx) => tx.inventory.otpKey('code-display', 'CD-0001'));
    expect(key?.secret).toEqual(SEED);
    expect(key).toMatchObject({ serial: 'CD-0001', algorithm: 'SHA1', digits: 6, period: 30 });
    const row = await store.db
      .selectFrom('inventory')
      .selectAll()
      .where('serial', '=', 'CD-0001')
      .executeTakeFirstOrThrow();
    expect(row.seed_sealed).not.toContain(Buffer.from(SEED).toString('hex'));
    expect(row.seed_sealed).not.toContain(Buffer.from(SEED).toString('base64'));
    // An envelope moved to another row does not open there (the serial is bound as additional data).
    await store.db
      .updateTable('inventory')
      .set({ seed_sealed: row.seed_sealed })
      .where('serial', '=', 'AR-0001')
      .execute();
    await expect(
      store.transaction((tx) => tx.inventory.otpKey('audio-reader', 'AR-0001')),
    ).rejects.toMatchObject({ code: 'tampered' });

    const order = await store.transaction((tx) =>
      tx.orders.create({ businessUserId: user.id, kind: 'code-display', orderedBy: userAdmin.id }),
    );
    expect(order).toMatchObject({ serial: 'CD-0001', status: 'ordered' });
    expect(
      (await store.transaction((tx) => tx.inventory.get('code-display', 'CD-0001')))?.status,
    ).toBe('ordered');
    await expect(
      store.transaction((tx) =>
        tx.orders.create({
          businessUserId: user.id,
          kind: 'code-display',
          orderedBy: userAdmin.id,
        }),
      ),
    ).rejects.toMatchObject({
      code: 'out-of-stock',
    });
    await store.transaction((tx) => tx.orders.setStatus(order.id, 'delivered'));
    expect(
      (await store.transaction((tx) => tx.orders.forUser(user.id))).map((o) => [
        o.serial,
        o.status,
      ]),
    ).toEqual([['CD-0001', 'delivered']]);
  });

  it('bound authenticators: limits per kind, one owner per device, lockout after wrong proofs', async () => {
    const citizen = await store.transaction((tx) =>
      tx.citizens.create({ cpr: CPR, name: 'Karen Testesen', userId: 'karen.test' }),
    );
    const bind = (
      kind: 'code-display' | 'audio-reader' | 'chip' | 'app',
      serial: string,
      ownerId = citizen.id,
    ) =>
      store.transaction((tx) =>
        tx.authenticators.bind({
          ownerKind: 'citizen',
          ownerId,
          kind,
          serial,
          binding: { serial },
          state: { lastStep: null },
        }),
      );
    const cd = await bind('code-display', 'CD-1');
    await expect(bind('audio-reader', 'AR-1')).rejects.toMatchObject({
      code: 'authenticator-limit',
    });
    await bind('chip', 'CHIP-1');
    await expect(bind('chip', 'CHIP-2')).rejects.toMatchObject({ code: 'authenticator-limit' });
    for (const s of ['APP-1', 'APP-2', 'APP-3']) await bind('app', s);
    await expect(bind('app', 'APP-4')).rejects.toMatchObject({ code: 'authenticator-limit' });
    await expect(bind('code-display', 'CD-1', 'someone-else')).rejects.toMatchObject({
      code: 'serial-bound',
    });

    const attempt = (ok: boolean) =>
      store.transaction((tx) => tx.authenticators.recordAttempt(cd.id, ok, { lastStep: 1 }));
    const status = () => store.transaction((tx) => tx.authenticators.lockoutStatus(cd.id));
    await attempt(false);
    await attempt(false);
    expect(await status()).toBe('open');
    await attempt(false);
    expect(await status()).toBe('temporarily-blocked');
    // While blocked, attempts are neither counted nor stored.
    await store.transaction((tx) => tx.authenticators.recordAttempt(cd.id, true, { lastStep: 99 }));
    expect(await store.transaction((tx) => tx.authenticators.get(cd.id))).toMatchObject({
      totalFailCount: 3,
      state: { lastStep: 1 },
    });
    t.clock.advance(defaultLockoutPolicy.temporaryBlockMs);
    expect(await status()).toBe('open');
    await attempt(true);
    expect(await store.transaction((tx) => tx.authenticators.get(cd.id))).toMatchObject({
      failCount: 0,
      totalFailCount: 0,
      state: { lastStep: 1 },
    });
    for (let i = 0; i < defaultLockoutPolicy.failuresBeforePermanentBlock; i++) {
      if ((await status()) === 'temporarily-blocked')
        t.clock.advance(defaultLockoutPolicy.temporaryBlockMs);
      await attempt(false);
    }
    expect(await status()).toBe('blocked');
    await store.transaction((tx) => tx.authenticators.revoke(cd.id));
    expect(
      await store.transaction((tx) => tx.authenticators.bySerial('code-display', 'CD-1')),
    ).toBeUndefined();
  });

  it('user IDs are unique across private and separate MitIDs, case- and NFC-insensitively', async () => {
    const { org } = await orgWithAdmins();
    await store.transaction((tx) =>
      tx.citizens.create({ cpr: CPR, name: 'Karen Testesen', userId: 'Rødgrød.Å' }),
    );
    const user = await store.transaction((tx) =>
      tx.users.create({
        organisationId: org.id,
        firstName: 'Karen',
        surname: 'T',
        email: 'k@testfirma.example',
        cpr: CPR,
      }),
    );
    // "å" written as a + combining ring: the same ID after NFC.
    await expect(
      store.transaction((tx) => tx.users.reserveUserId(user.id, 'RØDGRØD.a\u030a')),
    ).rejects.toMatchObject({ code: 'user-id-taken' });
    await expect(
      store.transaction((tx) => tx.users.reserveUserId(user.id, '1503854321')),
    ).rejects.toBeInstanceOf(RuleError);
    await store.transaction((tx) => tx.users.reserveUserId(user.id, 'karen@firma'));
    const karen = await store.transaction((tx) => tx.citizens.byUserId('rødgrød.å'));
    const stranger = await store.transaction((tx) =>
      tx.citizens.create({ cpr: '020292-1234', name: 'Bo', userId: 'bo.stranger' }),
    );
    expect(await store.transaction((tx) => tx.users.cprMatchesCitizen(user.id, karen!.id))).toBe(
      true,
    );
    expect(await store.transaction((tx) => tx.users.cprMatchesCitizen(user.id, stranger.id))).toBe(
      false,
    );
    expect(await store.transaction((tx) => tx.citizens.byUserId('rødgrød.å'))).toMatchObject({
      name: 'Karen Testesen',
      birthDate: '1985-03-15',
    });
    expect(
      await store.transaction((tx) =>
        tx.users.markActivated(user.id, {
          mitidKind: 'separate',
          citizenId: 'c',
          userId: 'karen@firma',
        }),
      ),
    ).toBe(true);
    expect(
      await store.transaction((tx) =>
        tx.users.markActivated(user.id, {
          mitidKind: 'separate',
          citizenId: 'c',
          userId: 'karen@firma',
        }),
      ),
    ).toBe(false);
    expect(await store.transaction((tx) => tx.users.byUserId('KAREN@FIRMA'))).toMatchObject({
      status: 'activated',
      mitidKind: 'separate',
    });
  });

  it('phone verification: 6-digit code, three wrong tries end it', async () => {
    const { org } = await orgWithAdmins();
    const user = await store.transaction((tx) =>
      tx.users.create({
        organisationId: org.id,
        firstName: 'Karen',
        surname: 'T',
        email: 'k@testfirma.example',
        cpr: CPR,
      }),
    );
    const v = await store.transaction((tx) => tx.phones.start(user.id, '+45 20 30 40 50'));
    expect(v.phone).toBe('+4520304050');
    expect(v.code).toMatch(/^\d{6}$/);
    const wrong = v.code === '000000' ? '111111' : '000000';
    expect(await store.transaction((tx) => tx.phones.check(user.id, wrong))).toEqual({
      ok: false,
      reason: 'wrong',
      triesLeft: 2,
    });
    expect(await store.transaction((tx) => tx.phones.check(user.id, v.code))).toEqual({
      ok: true,
      phone: '+4520304050',
    });
    const w = await store.transaction((tx) => tx.phones.start(user.id, '20304050'));
    for (let i = 0; i < 3; i++)
      await store.transaction((tx) =>
        tx.phones.check(user.id, w.code === '000000' ? '111111' : '000000'),
      );
    expect(await store.transaction((tx) => tx.phones.check(user.id, w.code))).toMatchObject({
      ok: false,
      reason: 'blocked',
    });
    await expect(store.transaction((tx) => tx.phones.start(user.id, '1234'))).rejects.toMatchObject(
      { code: 'phone-shape' },
    );
  });

  it('rate limits count across instances in fixed windows', async () => {
    const other = await t.open();
    const hit = (s: Store) => s.transaction((tx) => tx.rateLimits.hit('login:user:u1', 3, 60_000));
    const counts = [];
    for (const s of [store, other, store, other]) counts.push(await hit(s));
    expect(counts.map((c) => [c.count, c.allowed])).toEqual([
      [1, true],
      [2, true],
      [3, true],
      [4, false],
    ]);
    t.clock.advance(60_000);
    expect(await hit(other)).toMatchObject({ count: 1, allowed: true });
    expect(await store.transaction((tx) => tx.rateLimits.prune(t.clock.now()))).toBe(1);
  });

  it('the audit log refuses secret-looking details', async () => {
    const secretDetails: Record<string, string>[] = [
      { code: 'x' },
      { pin: 'x' },
      { password: 'x' },
      { seed: 'x' },
      { note: '150385-4321' },
      { note: '123456' },
    ];
    for (const detail of secretDetails) {
      await expect(
        store.transaction((tx) =>
          tx.audit.record({ actor: { kind: 'system' }, action: 'test', outcome: 'ok', detail }),
        ),
      ).rejects.toMatchObject({
        code: 'audit-secret',
      });
    }
    await store.transaction((tx) =>
      tx.audit.record({
        actor: { kind: 'admin', id: 'a1' },
        action: 'test',
        outcome: 'ok',
        serial: 'CD-1',
        detail: { kind: 'code-display' },
      }),
    );
    expect(await store.transaction((tx) => tx.audit.list())).toMatchObject([
      {
        actor: { kind: 'admin', id: 'a1' },
        action: 'test',
        outcome: 'ok',
        serial: 'CD-1',
        detail: { kind: 'code-display' },
        at: t.clock.now(),
      },
    ]);
  });

  it('a separate MitID is shared with another organisation once both organisations approve', async () => {
    const { org, userAdmin } = await orgWithAdmins();
    const { other, otherAdmin, otherRights } = await store.transaction(async (tx) => {
      const o = await tx.organisations.create({ cvr: '95555555', name: 'Søsterselskab ApS' });
      return {
        other: o,
        otherAdmin: await tx.admins.create({
          organisationId: o.id,
          name: 'Sara',
          email: 'sara@soester.example',
          role: 'organisation-administrator',
        }),
        otherRights: await tx.admins.create({
          organisationId: o.id,
          name: 'Rolf',
          email: 'rolf@soester.example',
          role: 'rights-administrator',
        }),
      };
    });
    const user = await store.transaction((tx) =>
      tx.users.create({
        organisationId: org.id,
        firstName: 'Karen',
        surname: 'T',
        email: 'k@testfirma.example',
        cpr: CPR,
      }),
    );
    await expect(
      store.transaction((tx) => tx.shares.request(user.id, other.id)),
    ).rejects.toMatchObject({ code: 'not-separate' });
    await store.transaction((tx) =>
      tx.users.markActivated(user.id, {
        mitidKind: 'separate',
        citizenId: 'c1',
        userId: 'karen.sep',
      }),
    );
    const share = await store.transaction((tx) => tx.shares.request(user.id, other.id));
    expect(share).toMatchObject({
      issuerOrganisationId: org.id,
      organisationId: other.id,
      active: false,
    });
    // A rights administrator may not approve; nothing changes, the refusal is audited.
    expect(await store.transaction((tx) => tx.shares.approve(share.id, otherRights))).toMatchObject(
      { receiverApproved: false },
    );
    expect(await store.transaction((tx) => tx.shares.approve(share.id, otherAdmin))).toMatchObject({
      receiverApproved: true,
      active: false,
    });
    expect(await store.transaction((tx) => tx.shares.organisationsOf(user.id))).toEqual([org.id]);
    expect(await store.transaction((tx) => tx.shares.approve(share.id, userAdmin))).toMatchObject({
      issuerApproved: true,
      active: true,
    });
    expect(await store.transaction((tx) => tx.shares.organisationsOf(user.id))).toEqual([
      org.id,
      other.id,
    ]);
    await store.transaction((tx) => tx.shares.revoke(share.id));
    expect(await store.transaction((tx) => tx.shares.organisationsOf(user.id))).toEqual([org.id]);
    const audit = await store.transaction((tx) =>
      tx.audit.list({ subjectId: user.id, action: 'mitid-share.approve' }),
    );
    expect(audit.map((a) => [a.actor.id, a.outcome])).toEqual([
      [otherRights.id, 'forbidden'],
      [otherAdmin.id, 'ok'],
      [userAdmin.id, 'ok'],
    ]);
  });

  it('a transaction that throws leaves nothing behind', async () => {
    await expect(
      store.transaction(async (tx) => {
        await tx.organisations.create({ cvr: CVR, name: 'Testfirma ApS' });
        throw new StoreRuleError('boom', 'rolled back');
      }),
    ).rejects.toMatchObject({ code: 'boom' });
    expect(await store.transaction((tx) => tx.organisations.byCvr(CVR))).toBeUndefined();
  });
}

describe('activation store on SQLite', () => storeSuite('sqlite'));
describeWithTool('PostgreSQL', pgAvailable, 'activation store on PostgreSQL', () =>
  storeSuite('postgres'),
);
