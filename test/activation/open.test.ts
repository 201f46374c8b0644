/** Opening the store: embedded defaults in a data directory, DATABASE_URL, several instances at once, clear errors. */
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeWithTool } from '../support/tools.js';
import {
  KEY_FILE,
  StoreError,
  generateServiceKeys,
  openStore,
  type Store,
} from '../../src/activation/index.js';
import { pgUrl, probePostgres } from './support.js';

const pgAvailable = await probePostgres();

describe('opening the store', () => {
  let dir: string;
  const opened: Store[] = [];
  const savedEnv = {
    DATABASE_URL: process.env.DATABASE_URL,
    MITID_SERVICE_KEYS: process.env.MITID_SERVICE_KEYS,
  };
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mitid-open-'));
    delete process.env.DATABASE_URL;
    delete process.env.MITID_SERVICE_KEYS;
  });
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
    for (const [k, v] of Object.entries(savedEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await rm(dir, { recursive: true, force: true });
  });
  const open = async (...args: Parameters<typeof openStore>) => {
    const s = await openStore(...args);
    opened.push(s);
    return s;
  };

  it('embedded default: a SQLite file and a 0600 key file in the data directory; reopening finds both', async () => {
    const data = join(dir, 'data');
    const first = await open({ dataDir: data });
    expect(first.engine).toBe('sqlite');
    const user = await first.transaction(async (tx) => {
      const org = await tx.organisations.create({ cvr: '91111111', name: 'Fil ApS' });
      return tx.users.create({
        organisationId: org.id,
        firstName: 'K',
        surname: 'T',
        email: 'k@fil.example',
        cpr: '150385-4321',
      });
    });
    await first.close();
    opened.splice(0);
    expect((await stat(join(data, 'activation.sqlite'))).isFile()).toBe(true);
    expect((await stat(join(data, KEY_FILE))).mode & 0o777).toBe(0o600);
    const again = await open({ dataDir: data });
    // The sealed CPR opens: the same keys were loaded, not new ones made.
    expect(await again.transaction((tx) => tx.users.cprOf(user.id))).toBe('150385-4321');
  });

  it('keys can come from MITID_SERVICE_KEYS; a malformed value is a clear error', async () => {
    const keys = generateServiceKeys('prod1');
    process.env.MITID_SERVICE_KEYS = JSON.stringify({
      current: 'prod1',
      keys: { prod1: Buffer.from(keys.keys.prod1!).toString('base64') },
      pepper: Buffer.from(keys.pepper).toString('base64'),
    });
    const s = await open({ url: join(dir, 'x.sqlite') });
    expect(s.secrets.box.currentKeyId).toBe('prod1');
    process.env.MITID_SERVICE_KEYS = '{oops';
    await expect(openStore({ url: join(dir, 'y.sqlite') })).rejects.toMatchObject({
      code: 'bad-service-keys',
    });
  });

  it('several instances opening one fresh SQLite file at once all succeed', async () => {
    const url = join(dir, 'shared.sqlite');
    const keys = generateServiceKeys();
    const stores = await Promise.all(Array.from({ length: 4 }, () => open({ url, keys })));
    await stores[0]!.transaction((tx) =>
      tx.organisations.create({ cvr: '92222222', name: 'Delt ApS' }),
    );
    expect(await stores[3]!.transaction((tx) => tx.organisations.byCvr('92222222'))).toMatchObject({
      name: 'Delt ApS',
    });
  });

  it('bad locations give one-line StoreErrors that do not leak a password', async () => {
    await writeFile(
      join(dir, 'not-a-db.sqlite'),
      'this is not a database file, just text. '.repeat(50),
    );
    const cases: [string, string | undefined, string][] = [
      [join(dir, 'not-a-db.sqlite'), undefined, 'cannot-open-database'],
      ['postgres://someone:hemmelig@127.0.0.1:1/nowhere', undefined, 'cannot-open-database'],
      [pgUrl, 'Bad; drop table x', 'bad-schema'],
    ];
    for (const [url, schema, code] of cases) {
      let err: unknown;
      try {
        await openStore({
          url,
          keys: generateServiceKeys(),
          ...(schema === undefined ? {} : { schema }),
        });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(StoreError);
      expect(err).toMatchObject({ code });
      expect((err as Error).message).not.toMatch(/\n|hemmelig/);
    }
  });

  describeWithTool('PostgreSQL', pgAvailable, 'with PostgreSQL', () => {
    let schema: string;
    beforeEach(() => {
      schema = `t_${randomBytes(6).toString('hex')}`;
    });
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
      const c = new pg.Client({ connectionString: pgUrl });
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
    });

    it('DATABASE_URL picks PostgreSQL; several instances migrating one fresh schema at once all succeed', async () => {
      process.env.DATABASE_URL = pgUrl;
      const keys = generateServiceKeys();
      const stores = await Promise.all(
        Array.from({ length: 4 }, () => open({ schema, keys, dataDir: dir })),
      );
      expect(stores.map((s) => s.engine)).toEqual(['postgres', 'postgres', 'postgres', 'postgres']);
      await stores[1]!.transaction((tx) =>
        tx.organisations.create({ cvr: '93333333', name: 'Pg ApS' }),
      );
      expect(
        await stores[2]!.transaction((tx) => tx.organisations.byCvr('93333333')),
      ).toMatchObject({ name: 'Pg ApS' });
      const c = new pg.Client({ connectionString: pgUrl });
      await c.connect();
      const migrations = await c.query(`select name from ${schema}.kysely_migration order by name`);
      await c.end();
      expect(migrations.rows).toEqual([
        { name: '0001_initial' },
        { name: '0002_shared_mitid' },
        { name: '0003_sessions' },
        { name: '0004_apps' },
        { name: '0005_hot_path' },
      ]);
    });
  });
});
