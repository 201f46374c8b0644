/** The store: one database (SQLite or PostgreSQL), the service's secrets, and transactions over repositories. */
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { systemClock, type Clock } from '../../core/clock.js';
import {
  openDatabase,
  runTransaction,
  storeError,
  withRetries,
  type Settled,
  type SqliteSteps,
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
import { runSteps, type StepContext, type Steps } from './steps.js';

/** A transaction of steps waiting for the next group commit. */
interface PendingSteps {
  readonly make: (ctx: StepContext) => Steps<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly maxRetries: number | undefined;
}

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
    /** SQLite: the connection for transactions of steps run synchronously. */
    private readonly sync?: SqliteSteps,
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

  /**
   * Runs the steps `make` returns in one serialisable transaction, as {@link transaction} does
   * (retried on conflicts, so keep their effects inside the database). On SQLite the steps wait
   * for the end of this turn of the event loop, and all that were asked for by then run together
   * in one write transaction, each in its own savepoint (a group commit: the requests a server
   * read in one go share one commit); a member that fails is rolled back alone.
   */
  steps<T>(make: (ctx: StepContext) => Steps<T>, options: TransactionOptions = {}): Promise<T> {
    const sync = this.sync;
    if (sync === undefined)
      return this.transaction((tx) => runSteps(tx.db, this.engine, make(tx)), options);
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({
        make,
        resolve: resolve as (value: unknown) => void,
        reject,
        maxRetries: options.maxRetries,
      });
      if (!this.#flushing) {
        this.#flushing = true;
        setImmediate(() => void this.#flush(sync));
      }
    });
  }

  readonly #pending: PendingSteps[] = [];
  #flushing = false;

  async #flush(sync: SqliteSteps): Promise<void> {
    this.#flushing = false;
    const batch = this.#pending.splice(0);
    const makers = batch.map((p) => () => p.make(this.#context()));
    const run = (): Promise<Settled[]> => {
      // At once when the connection is free; else after the transaction that holds it.
      if (sync.busy)
        return this.db.connection().execute(() => Promise.resolve(sync.runBatch(makers)));
      try {
        return Promise.resolve(sync.runBatch(makers));
      } catch (e) {
        return Promise.reject(e);
      }
    };
    let settled: Settled[];
    try {
      const maxRetries = Math.min(...batch.map((p) => p.maxRetries ?? 20));
      settled = await withRetries(this.engine, run, { maxRetries }, this.stats);
    } catch (e) {
      for (const p of batch) p.reject(e);
      return;
    }
    batch.forEach((p, i) => {
      const s = settled[i]!;
      if (s.ok) p.resolve(s.value);
      else p.reject(storeError(s.error));
    });
  }

  #context(): StepContext {
    return {
      engine: this.engine,
      now: this.clock.now(),
      secrets: this.secrets,
      config: this.config,
    };
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
  const { db, engine, sync } = await openDatabase({
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
    sync,
  );
}
