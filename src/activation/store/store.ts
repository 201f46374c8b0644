/** The store: one database (SQLite or PostgreSQL), the service's secrets, and transactions over repositories. */
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { systemClock, type Clock } from '../../core/clock.js';
import {
  openDatabase,
  runTransaction,
  type TransactionOptions,
  type TransactionStats,
} from './db.js';
import type { Engine } from './migrations.js';
import { defaultRepositoryConfig, Repositories, type RepositoryConfig } from './repositories.js';
import type { Database } from './schema.js';
import {
  SecretError,
  loadOrCreateServiceKeys,
  secretsFrom,
  serviceKeysFromJson,
  type Secrets,
  type ServiceKeys,
} from './secrets.js';

/** Options for {@link openStore}. */
export interface StoreOptions {
  /**
   * The database: a `postgres://` URL, or a SQLite file path. Default: `DATABASE_URL` when set,
   * else `activation.sqlite` in `dataDir`.
   */
  readonly url?: string;
  /** PostgreSQL only: the schema to use (created if missing). */
  readonly schema?: string;
  readonly poolSize?: number;
  /** Where the SQLite file and the generated key file live. Needed unless `url` and `keys` are given. */
  readonly dataDir?: string;
  /** Keys from configuration; otherwise loaded from (or generated into) `dataDir`. */
  readonly keys?: ServiceKeys;
  readonly clock?: Clock;
  readonly config?: Partial<RepositoryConfig>;
}

/**
 * A handle on the service's state. Every read and write runs in {@link Store.transaction}, which
 * gives serialisable behaviour on both engines, so a check and the update it guards can never be
 * split by another instance.
 */
export class Store {
  /** Commits and conflict retries so far. */
  readonly stats: TransactionStats = { committed: 0, retries: 0 };

  constructor(
    readonly db: Kysely<Database>,
    readonly engine: Engine,
    readonly secrets: Secrets,
    readonly clock: Clock = systemClock,
    readonly config: RepositoryConfig = defaultRepositoryConfig,
    /** PostgreSQL: the schema the store lives in. */
    readonly schema?: string,
  ) {}

  /**
   * Runs `fn` in one serialisable transaction with repositories bound to it and to one `now`.
   * `fn` may run more than once (conflict retries): keep its effects inside the database.
   */
  transaction<T>(
    fn: (tx: Repositories) => Promise<T>,
    options: TransactionOptions = {},
  ): Promise<T> {
    return runTransaction(
      this.db,
      this.engine,
      (trx) => fn(new Repositories(trx, this.engine, this.secrets, this.clock.now(), this.config)),
      options,
      this.stats,
    );
  }

  /** Closes the connections. */
  async close(): Promise<void> {
    await this.db.destroy();
  }
}

function parseKeysEnv(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new SecretError('bad-service-keys', 'MITID_SERVICE_KEYS is not JSON', { cause: e });
  }
}

/** Opens the store: connects, migrates to the latest schema, loads or creates the keys. */
export async function openStore(options: StoreOptions = {}): Promise<Store> {
  const url =
    options.url ??
    process.env.DATABASE_URL ??
    (options.dataDir === undefined ? undefined : join(options.dataDir, 'activation.sqlite'));
  if (url === undefined) throw new TypeError('openStore needs url, DATABASE_URL or dataDir');
  let keys = options.keys;
  if (keys === undefined) {
    const env = process.env.MITID_SERVICE_KEYS;
    if (env !== undefined && env.length > 0) keys = serviceKeysFromJson(parseKeysEnv(env));
    else if (options.dataDir !== undefined) keys = await loadOrCreateServiceKeys(options.dataDir);
    else throw new TypeError('openStore needs keys, MITID_SERVICE_KEYS or dataDir');
  }
  const { db, engine } = await openDatabase({
    url,
    ...(options.schema === undefined ? {} : { schema: options.schema }),
    ...(options.poolSize === undefined ? {} : { poolSize: options.poolSize }),
  });
  return new Store(
    db,
    engine,
    secretsFrom(keys),
    options.clock ?? systemClock,
    { ...defaultRepositoryConfig, ...options.config },
    engine === 'postgres' ? options.schema : undefined,
  );
}
