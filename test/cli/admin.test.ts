/** The activation service's administration verbs, run in-process against a real store: a SQLite file, and PostgreSQL. */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openStore, storeMail, type Store } from '../../src/activation/index.js';
import { commands } from '../../src/cli/commands/admin.js';
import { runCli } from '../../src/cli/main.js';
import { resolveStoreLocation } from '../../src/cli/store-option.js';
import { exportOathCsv, exportPskc } from '../../src/otp/seed/index.js';
import type { OtpKey } from '../../src/otp/types.js';
import { probePostgres, pgUrl } from '../activation/support.js';
import { describeWithTool } from '../support/tools.js';

const pgAvailable = await probePostgres();

// Fictitious organisation and people (test CVR numbers start with 9).
const CVR = '98765432';
const CPR = '150385-4321';
const PSK = new Uint8Array(randomBytes(16));

interface Result {
  status: number;
  stdout: string;
  stderr: string;
}

/** A one-line error on stderr, no stack trace, nothing on stdout. */
function expectOneLineError(r: Result, pattern: RegExp): void {
  expect(r.status).not.toBe(0);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(/^mitid-sim: [^\n]+\n$/);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

function otpKey(serial: string, seedByte: number): OtpKey {
  return {
    serial,
    type: 'totp',
    secret: new Uint8Array(20).fill(seedByte),
    algorithm: 'SHA1',
    digits: 6,
    period: 30,
  };
}

function suite(engine: 'sqlite' | 'postgres'): void {
  let dir: string;
  let where: string[];
  let schema: string | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mitid-admin-cli-'));
    if (engine === 'sqlite') {
      where = ['--db', join(dir, 'store.sqlite'), '--data', join(dir, 'data')];
    } else {
      schema = `t_${randomBytes(6).toString('hex')}`;
      const sep = pgUrl.includes('?') ? '&' : '?';
      where = ['--db', `${pgUrl}${sep}schema=${schema}`, '--data', join(dir, 'data')];
    }
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
    if (schema !== undefined) {
      const c = new pg.Client({ connectionString: pgUrl });
      await c.connect();
      try {
        await c.query(`drop schema if exists ${schema} cascade`);
      } finally {
        await c.end();
      }
      schema = undefined;
    }
  });

  async function cli(...args: string[]): Promise<Result> {
    let stdout = '';
    let stderr = '';
    const status = await runCli(
      [...args, ...where],
      { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) },
      commands,
    );
    return { status, stdout, stderr };
  }

  async function ok(...args: string[]): Promise<string> {
    const r = await cli(...args);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    return r.stdout;
  }

  async function json<T>(...args: string[]): Promise<T> {
    return JSON.parse(await ok(...args, '--json')) as T;
  }

  /** The same store the CLI uses, opened directly (to put a mail in the mailbox). */
  async function directStore(): Promise<Store> {
    const loc = resolveStoreLocation({ db: where[1], data: where[3] });
    return openStore({
      url: loc.url,
      dataDir: loc.dataDir,
      ...(loc.schema === undefined ? {} : { schema: loc.schema }),
    });
  }

  async function orgWithAdmin(): Promise<void> {
    await ok(
      'org',
      'create',
      '--cvr',
      CVR,
      '--name',
      'Testfirma ApS',
      '--admin-name',
      'Ulla Admin',
      '--admin-email',
      'ulla@testfirma.example',
    );
  }

  it('creates an organisation with its administrators, lists it, and changes its policy', async () => {
    const made = await json<{
      organisation: { id: string; cvr: string };
      administrators: { id: string; role: string }[];
    }>(
      'org',
      'create',
      '--cvr',
      CVR,
      '--name',
      'Testfirma ApS',
      '--admin-name',
      'Ulla Admin',
      '--admin-email',
      'ulla@testfirma.example',
    );
    expect(made.organisation.cvr).toBe(CVR);
    expect(made.administrators.map((a) => a.role).sort()).toEqual([
      'organisation-administrator',
      'user-administrator',
    ]);

    const list = await ok('org', 'list');
    expect(list).toContain(CVR);
    expect(list).toContain(made.organisation.id);

    const shown = await json<{ settings: { privateMitIdAllowed: boolean; preselected: string } }>(
      'org',
      'policy',
      '--cvr',
      CVR,
    );
    expect(shown.settings).toMatchObject({ privateMitIdAllowed: true, preselected: 'app' });

    const changed = await json<{
      changed: boolean;
      settings: {
        privateMitIdAllowed: boolean;
        separateAuthenticators: string[];
        preselected: string;
      };
    }>(
      'org',
      'policy',
      '--cvr',
      CVR,
      '--private-allowed',
      'no',
      '--authenticators',
      'code-display,chip',
      '--preselected',
      'chip',
    );
    expect(changed.changed).toBe(true);
    expect(changed.settings).toEqual({
      privateMitIdAllowed: false,
      separateAuthenticators: ['code-display', 'chip'],
      preselected: 'chip',
    });
    const text = await ok('org', 'policy', '--cvr', CVR);
    expect(text).toContain('private MitID allowed:  no');
    expect(text).toContain('authenticators offered: code-display, chip');

    // Refusals: a preselected authenticator that is not offered, an unknown one, a bad flag value.
    expectOneLineError(
      await cli('org', 'policy', '--cvr', CVR, '--authenticators', 'chip', '--preselected', 'app'),
      /settings not changed: The preselected authenticator must be one of those offered/,
    );
    expectOneLineError(
      await cli('org', 'policy', '--cvr', CVR, '--authenticators', 'chip,smoke-signal'),
      /settings not changed: Unknown authenticator/,
    );
    const bad = await cli('org', 'policy', '--cvr', CVR, '--private-allowed', 'maybe');
    expectOneLineError(bad, /--private-allowed must be yes or no/);
    expect(bad.status).toBe(2);
    // Nothing changed by the refusals.
    const after = await json<{ settings: unknown }>('org', 'policy', '--cvr', CVR);
    expect(after.settings).toEqual(changed.settings);

    // Both the change and the refusals are in the audit log.
    const audit = await json<{ action: string; outcome: string }[]>('audit', '--cvr', CVR);
    const changes = audit.filter((a) => a.action === 'org.settings.change').map((a) => a.outcome);
    expect(changes).toEqual([
      'ok',
      'settings-preselected-not-offered',
      'settings-unknown-authenticator',
    ]);
    expect(audit[0]).toMatchObject({ action: 'org.create', outcome: 'ok' });

    // An organisation without an organisation administrator cannot change its policy.
    await ok('org', 'create', '--cvr', '91234567', '--name', 'Uden Admin A/S');
    expectOneLineError(
      await cli('org', 'policy', '--cvr', '91234567', '--private-allowed', 'no'),
      /has no organisation administrator/,
    );
    // A CVR that is not fictitious, and one already taken.
    expectOneLineError(
      await cli('org', 'create', '--cvr', '12345678', '--name', 'Rigtig A/S'),
      /CVR/,
    );
    expectOneLineError(await cli('org', 'create', '--cvr', CVR, '--name', 'Igen A/S'), /CVR/);
    expectOneLineError(await cli('org', 'policy', '--cvr', '97777777'), /no organisation with CVR/);
  });

  it('creates users by CPR and by date of birth, resends, shows and re-issues codes', async () => {
    await orgWithAdmin();

    // By CPR: an activation e-mail is queued; the CPR number is printed nowhere.
    const byCpr = await cli(
      'user',
      'create',
      '--cvr',
      CVR,
      '--first-name',
      'Karen',
      '--surname',
      'Prøve',
      '--email',
      'karen@testfirma.example',
      '--cpr',
      CPR,
    );
    expect(byCpr.stderr).toBe('');
    expect(byCpr.status).toBe(0);
    expect(byCpr.stdout).not.toContain(CPR);
    expect(byCpr.stdout).not.toContain(CPR.replace('-', ''));
    expect(byCpr.stdout).not.toMatch(/activation code/);
    const karenId = /^user (\S+)/.exec(byCpr.stdout)?.[1] as string;
    expect(karenId).toMatch(/^[0-9a-f-]{36}$/);

    type OutboxRow = { id: string; channel: string; to: string; status: string; subject: string };
    let outbox = await json<OutboxRow[]>('outbox');
    expect(outbox).toHaveLength(1);
    expect(outbox[0]).toMatchObject({
      channel: 'email',
      to: 'karen@testfirma.example',
      status: 'pending',
    });
    expect(outbox[0]?.subject).toMatch(/MitID Erhverv/);
    // The body holds a live link: the outbox listing never prints it.
    const outboxText = await ok('outbox');
    expect(outboxText).toContain('karen@testfirma.example');
    expect(outboxText).not.toMatch(/activate\//);
    expect(JSON.stringify(outbox)).not.toMatch(/activate\//);

    // By date of birth: the activation code to hand over is printed, in its XXXX-XXXX shape.
    const byDate = await json<{
      user: { id: string; identifiedBy: string; status: string };
      activationEmail: string;
      activationCode: string;
    }>(
      'user',
      'create',
      '--cvr',
      CVR,
      '--first-name',
      'Jens',
      '--surname',
      'Udlænding',
      '--email',
      'jens@testfirma.example',
      '--birth-date',
      '1990-04-01',
      '--phone',
      '+4522345678',
      '--base-url',
      'https://activation.example',
    );
    expect(byDate.user).toMatchObject({ identifiedBy: 'birth-date', status: 'created' });
    expect(byDate.activationCode).toMatch(/^[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}$/);
    const jensId = byDate.user.id;

    // Resend: a second e-mail; the overview still shows a live link.
    const resent = await json<{ activationEmail: string }>('user', 'resend', karenId);
    outbox = await json<OutboxRow[]>('outbox', '--to', 'karen@testfirma.example');
    expect(outbox.map((o) => o.id)).toEqual([outbox[0]?.id, resent.activationEmail]);

    const view = await json<{
      user: { id: string; status: string };
      activationLinkLive: boolean;
      activationCodeLive: boolean;
    }>('user', 'show', jensId);
    expect(view).toMatchObject({
      user: { id: jensId, status: 'created' },
      activationLinkLive: true,
      activationCodeLive: true,
    });
    const shownText = await ok('user', 'show', karenId);
    expect(shownText).toContain('activation link:   live');
    expect(shownText).toContain('activation code:   none live');
    expect(shownText).not.toContain(CPR);

    // A fresh code for the date-of-birth user; none for a CPR user.
    const code = await ok('user', 'code', jensId);
    expect(code).toMatch(/^activation code to hand over: [A-Z2-9]{4}-[A-Z2-9]{4}\n$/);
    expect(code).not.toContain(byDate.activationCode);
    expectOneLineError(await cli('user', 'code', karenId), /no activation code/);

    const users = await json<{ id: string }[]>('user', 'list', '--cvr', CVR);
    expect(users.map((u) => u.id).sort()).toEqual([karenId, jensId].sort());
    const usersText = await ok('user', 'list', '--cvr', CVR);
    expect(usersText).not.toContain(CPR);

    // Clear errors for bad input.
    expectOneLineError(await cli('user', 'show', 'no-such-user'), /no such user/);
    expectOneLineError(
      await cli(
        'user',
        'create',
        '--cvr',
        CVR,
        '--first-name',
        'A',
        '--surname',
        'B',
        '--email',
        'a@b.example',
      ),
      /--cpr or --birth-date/,
    );
    expectOneLineError(
      await cli(
        'user',
        'create',
        '--cvr',
        CVR,
        '--first-name',
        'A',
        '--surname',
        'B',
        '--email',
        'not-an-address',
        '--birth-date',
        '1990-01-01',
      ),
      /e-?mail/i,
    );
    expectOneLineError(await cli('user', 'resend', karenId, '--base-url', 'ftp://x'), /--base-url/);

    // The audit log names the creations and the code re-issue, and holds no code or CPR.
    const auditText = await ok('audit', '--cvr', CVR);
    expect(auditText).toContain('user.create');
    expect(auditText).toContain('activation-email.resend');
    expect(auditText).toContain('activation-code.show');
    expect(auditText).not.toContain(CPR);
    expect(auditText).not.toContain(byDate.activationCode);
  });

  it('imports PSKC and CSV seed files into the inventory, all or nothing', async () => {
    await orgWithAdmin();
    const pskc = join(dir, 'tokens.pskc');
    await writeFile(
      pskc,
      exportPskc([otpKey('CD1001', 0x11), otpKey('CD1002', 0x22)], { key: PSK }),
    );
    const csv = join(dir, 'tokens.csv');
    await writeFile(csv, exportOathCsv([otpKey('AR2001', 0x33)]));

    // A wrong key: one clear line, nothing imported.
    const wrong = await cli(
      'inventory',
      'import',
      pskc,
      '--kind',
      'code-display',
      '--key',
      randomBytes(16).toString('hex'),
    );
    expectOneLineError(wrong, /mitid-sim: .*(key|MAC|decrypt)/i);
    expect(await json<unknown[]>('inventory', 'list')).toEqual([]);

    const imported = await json<{ serial: string; kind: string; status: string }[]>(
      'inventory',
      'import',
      pskc,
      '--kind',
      'code-display',
      '--cvr',
      CVR,
      '--key',
      Buffer.from(PSK).toString('hex'),
    );
    expect(imported.map((i) => [i.kind, i.serial, i.status])).toEqual([
      ['code-display', 'CD1001', 'available'],
      ['code-display', 'CD1002', 'available'],
    ]);
    await ok('inventory', 'import', csv, '--kind', 'audio-reader');
    await ok('inventory', 'add-chip', '--serial', 'CH3001', '--cvr', CVR);

    const all = await json<{ kind: string; serial: string; organisationId: string | null }[]>(
      'inventory',
      'list',
    );
    expect(all.map((i) => `${i.kind}:${i.serial}`)).toEqual([
      'audio-reader:AR2001',
      'chip:CH3001',
      'code-display:CD1001',
      'code-display:CD1002',
    ]);
    const ours = await json<{ serial: string }[]>('inventory', 'list', '--cvr', CVR);
    expect(ours.map((i) => i.serial).sort()).toEqual(['CD1001', 'CD1002', 'CH3001']);
    // Never a seed, in any form.
    const listing = (await ok('inventory', 'list', '--json')) + (await ok('inventory', 'list'));
    for (const b of [0x11, 0x22, 0x33]) {
      const seed = new Uint8Array(20).fill(b);
      expect(listing).not.toContain(Buffer.from(seed).toString('hex'));
      expect(listing).not.toContain(Buffer.from(seed).toString('base64'));
    }

    // A file with one new serial and one already present: an error, and the new one is not imported.
    const dup = join(dir, 'dup.csv');
    await writeFile(dup, exportOathCsv([otpKey('CD1003', 0x44), otpKey('CD1001', 0x55)]));
    const r = await cli('inventory', 'import', dup, '--kind', 'code-display');
    expectOneLineError(r, /serial CD1001 is already in the inventory; nothing was imported/);
    const afterDup = await json<{ serial: string }[]>(
      'inventory',
      'list',
      '--kind',
      'code-display',
    );
    expect(afterDup.map((i) => i.serial)).toEqual(['CD1001', 'CD1002']);

    expectOneLineError(await cli('inventory', 'add-chip', '--serial', 'CH3001'), /already/);
    expectOneLineError(
      await cli('inventory', 'import', csv, '--kind', 'chip'),
      /--kind must be code-display or audio-reader/,
    );
    expectOneLineError(
      await cli('inventory', 'import', join(dir, 'missing.pskc'), '--kind', 'code-display'),
      /no such file/,
    );
    const audit = await json<{ action: string; serial: string | null }[]>('audit');
    expect(audit.filter((a) => a.action === 'inventory.import').map((a) => a.serial)).toEqual([
      'CD1001',
      'CD1002',
      'AR2001',
    ]);
  });

  it('lists the dev mailbox and shows one mail', async () => {
    expect(await ok('mailbox')).toBe('(no mail)\n');
    const store = await directStore();
    try {
      const raw = [
        'From: MitID Erhverv <noreply@mitid-sim.example>',
        'To: karen@testfirma.example',
        'Subject: Aktiver dig som bruger',
        'Message-ID: <m1@mitid-sim.example>',
        'Date: Wed, 25 Nov 2026 12:00:00 +0000',
        'Content-Type: text/plain; charset=utf-8',
        '',
        'Hej Karen',
        'http://localhost:8080/activate/TESTLINK',
        '',
      ].join('\r\n');
      await storeMail(store, new TextEncoder().encode(raw), {
        from: 'noreply@mitid-sim.example',
        to: ['karen@testfirma.example'],
      });
      await storeMail(
        store,
        new TextEncoder().encode(
          'From: x@mitid-sim.example\r\nTo: jens@testfirma.example\r\nSubject: Anden\r\nMessage-ID: <m2@mitid-sim.example>\r\n\r\nHej Jens\r\n',
        ),
        { from: 'x@mitid-sim.example', to: ['jens@testfirma.example'] },
      );
    } finally {
      await store.close();
    }
    const list =
      await json<{ id: string; subject: string; to: string[]; from: string }[]>('mailbox');
    expect(list.map((m) => m.subject)).toEqual(['Aktiver dig som bruger', 'Anden']);
    expect(list[0]?.to).toEqual(['karen@testfirma.example']);
    expect(JSON.stringify(list)).not.toContain('TESTLINK');
    const text = await ok('mailbox', '--to', 'KAREN@testfirma.example');
    expect(text).toContain('Aktiver dig som bruger');
    expect(text).not.toContain('Anden');

    const one = await ok('mailbox', '--show', list[0]!.id);
    expect(one).toContain('Subject: Aktiver dig som bruger');
    expect(one).toContain('http://localhost:8080/activate/TESTLINK');
    expectOneLineError(await cli('mailbox', '--show', 'nope'), /no mail with id nope/);
  });
}

describe('admin verbs on a SQLite store', () => suite('sqlite'));
describeWithTool('PostgreSQL', pgAvailable, 'admin verbs on PostgreSQL', () => suite('postgres'));

describe('where the store is', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mitid-admin-where-'));
    // These tests are about the defaults: the environment must not choose for them.
    vi.stubEnv('DATABASE_URL', undefined);
    vi.stubEnv('MITID_SIM_DATA', undefined);
    vi.stubEnv('MITID_SERVICE_KEYS', undefined);
  });
  afterEach(async () => {
    vi.unstubAllEnvs();
    await rm(dir, { recursive: true, force: true });
  });

  async function cli(...args: string[]): Promise<Result> {
    let stdout = '';
    let stderr = '';
    const status = await runCli(
      args,
      { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) },
      commands,
    );
    return { status, stdout, stderr };
  }

  it('follows --db, DATABASE_URL, --data, MITID_SIM_DATA, then ./.mitid-sim', () => {
    expect(resolveStoreLocation({}, {}, '/w')).toMatchObject({
      engine: 'sqlite',
      url: '/w/.mitid-sim/activation.sqlite',
      dataDir: '/w/.mitid-sim',
    });
    expect(resolveStoreLocation({}, { MITID_SIM_DATA: '/d' }, '/w')).toMatchObject({
      url: '/d/activation.sqlite',
      dataDir: '/d',
    });
    expect(resolveStoreLocation({ data: 'x' }, { MITID_SIM_DATA: '/d' }, '/w')).toMatchObject({
      url: '/w/x/activation.sqlite',
      dataDir: '/w/x',
    });
    const env = { DATABASE_URL: 'postgres://u:secret@db.example:5433/app?schema=s1' };
    const fromEnv = resolveStoreLocation({}, env, '/w');
    expect(fromEnv).toMatchObject({
      engine: 'postgres',
      schema: 's1',
      dataDir: '/w/.mitid-sim',
      label: 'postgres://db.example:5433/app',
    });
    expect(fromEnv.url).not.toContain('schema');
    expect(resolveStoreLocation({ db: 'here.sqlite' }, env, '/w')).toMatchObject({
      engine: 'sqlite',
      url: '/w/here.sqlite',
    });
  });

  it('makes the data directory private (0700) with the key file in it', async () => {
    const data = join(dir, 'data');
    const r = await cli('org', 'list', '--data', data);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('(no organisations)\n');
    expect((await stat(data)).mode & 0o777).toBe(0o700);
    expect((await stat(join(data, 'activation.sqlite'))).isFile()).toBe(true);
    expect((await stat(join(data, 'service-keys.json'))).mode & 0o777).toBe(0o600);
  });

  it('says clearly when --db cannot be a database', async () => {
    const data = ['--data', join(dir, 'data')];
    expectOneLineError(
      await cli('org', 'list', '--db', dir, ...data),
      /is a directory, not a SQLite database/,
    );
    const file = join(dir, 'plain.txt');
    await writeFile(file, 'not a database');
    expectOneLineError(
      await cli('org', 'list', '--db', join(file, 'store.sqlite'), ...data),
      /cannot use .*plain\.txt\/store\.sqlite as the database/,
    );
    expectOneLineError(await cli('org', 'list', '--db', file, ...data), /plain\.txt: .*database/);
    expect(await readFile(file, 'utf8')).toBe('not a database');
    expectOneLineError(await cli('org', 'list', '--data', file), /not a directory|cannot use/);
  });

  it('names an unreachable PostgreSQL server without its password', async () => {
    const r = await cli(
      'org',
      'list',
      '--db',
      'postgres://someone:hunter2secret@127.0.0.1:1/nothing',
      '--data',
      join(dir, 'data'),
    );
    expectOneLineError(r, /^mitid-sim: postgres:\/\/127\.0\.0\.1:1\/nothing: cannot open/);
    expect(r.stderr).not.toContain('hunter2secret');
    expect(r.stderr).not.toContain('someone');
  });

  it('has --help for every verb', async () => {
    for (const c of commands) {
      const r = await cli(...c.path, '--help');
      expect(r.status).toBe(0);
      expect(r.stdout).toContain(`usage: mitid-sim ${c.path.join(' ')}`);
      expect(r.stdout).toContain('--db FILE|URL');
    }
  });
});
