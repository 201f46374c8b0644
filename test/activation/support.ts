/** Test support for the activation store: a fresh SQLite file or PostgreSQL schema per test, dropped after. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { VirtualClock } from '../../src/core/clock.js';
import {
  generateServiceKeys,
  openStore,
  type ServiceKeys,
  type Store,
  type StoreOptions,
} from '../../src/activation/index.js';

/** The PostgreSQL server the suites use: TEST_DATABASE_URL, else DATABASE_URL, else the local default. */
export const pgUrl =
  process.env.TEST_DATABASE_URL ??
  process.env.DATABASE_URL ??
  'postgres://postgres@127.0.0.1:5432/postgres';

/** True when a real connection to {@link pgUrl} answers `select 1`. */
export async function probePostgres(url = pgUrl): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A place for one test's database: opened stores share it (and its keys and clock). */
export interface TestDatabase {
  readonly engine: 'sqlite' | 'postgres';
  readonly clock: VirtualClock;
  readonly keys: ServiceKeys;
  /** Where the database is (SQLite: its file; PostgreSQL: the URL and schema). */
  readonly location: Partial<StoreOptions>;
  /** Opens another store on the same database (a second connection, pool or instance). */
  open(options?: Partial<StoreOptions>): Promise<Store>;
  /** Closes every store opened and removes the database. */
  dispose(): Promise<void>;
}

/** A fresh database of `engine`. */
export async function freshDatabase(engine: 'sqlite' | 'postgres'): Promise<TestDatabase> {
  const clock = new VirtualClock({ start: Date.UTC(2026, 10, 25, 12, 0, 0) });
  const keys = generateServiceKeys();
  const stores: Store[] = [];
  let location: Partial<StoreOptions>;
  let cleanup: () => Promise<void>;
  if (engine === 'sqlite') {
    const dir = await mkdtemp(join(tmpdir(), 'mitid-activation-'));
    location = { url: join(dir, 'activation.sqlite') };
    cleanup = () => rm(dir, { recursive: true, force: true });
  } else {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    location = { url: pgUrl, schema };
    cleanup = async () => {
      const c = new pg.Client({ connectionString: pgUrl });
      await c.connect();
      try {
        await c.query(`drop schema if exists ${schema} cascade`);
      } finally {
        await c.end();
      }
    };
  }
  return {
    engine,
    clock,
    keys,
    location,
    async open(options = {}) {
      const s = await openStore({ ...location, keys, clock, ...options });
      stores.push(s);
      return s;
    },
    async dispose() {
      for (const s of stores.splice(0)) await s.close();
      await cleanup();
    },
  };
}
