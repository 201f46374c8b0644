/** Opening the database (SQLite file or PostgreSQL URL) and running serialisable transactions on it. */
import { randomInt } from 'node:crypto';
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CompiledQuery,
  Kysely,
  PostgresDialect,
  SqliteAdapter,
  sql,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  type SqliteDatabase,
  type Transaction,
} from 'kysely';
import pg from 'pg';
import { ActivationError } from '../violations.js';
import { StoreError, migrateToLatest, type Engine } from './migrations.js';
import type { Database } from './schema.js';
import type { Query, Steps } from './steps.js';

export { StoreError };

/** What we use of a better-sqlite3 connection (kysely's interface plus pragmas). */
interface BetterSqliteDatabase extends SqliteDatabase {
  pragma(source: string): unknown;
  /** True while a transaction is open on the connection. */
  readonly inTransaction: boolean;
}
type PreparedStatement = ReturnType<SqliteDatabase['prepare']>;
// better-sqlite3 ships no types of its own; kysely's SqliteDatabase describes what the dialect uses.
const BetterSqlite3 = createRequire(import.meta.url)('better-sqlite3') as new (
  file: string,
) => BetterSqliteDatabase;

/**
 * The connection with a cache of prepared statements: kysely prepares every query afresh, and
 * preparing costs more than running the short statements the service uses. Statements are
 * re-prepared by SQLite itself when the schema changes, so a cached one never goes stale.
 */
function withStatementCache(db: BetterSqliteDatabase, max = 512): BetterSqliteDatabase {
  const cache = new Map<string, PreparedStatement>();
  return {
    close: () => db.close(),
    pragma: (source: string) => db.pragma(source),
    get inTransaction() {
      return db.inTransaction;
    },
    prepare(text: string) {
      let st = cache.get(text);
      if (st === undefined) {
        st = db.prepare(text);
        if (cache.size >= max) {
          const oldest = cache.keys().next().value;
          if (oldest !== undefined) cache.delete(oldest);
        }
        cache.set(text, st);
      }
      return st;
    },
  };
}

/**
 * A statement written by hand once for both engines, for the hot paths where building and
 * compiling a query each time costs more than running it. The text uses `?` placeholders (never
 * inside a literal); PostgreSQL gets them numbered (`$1`, `$2`, …) once, here.
 */
export class Statement<Row = Record<string, unknown>> {
  /** The text as SQLite takes it. */
  readonly sqlite: string;
  readonly #postgres: string;
  /** Only for the type checker: the shape of the rows the statement returns. */
  declare readonly row?: Row;
  constructor(text: string) {
    this.sqlite = text;
    let n = 0;
    this.#postgres = text.replace(/\?/g, () => `$${++n}`);
  }

  /** The statement with `parameters`, ready for `executeQuery` on a connection of `engine`. */
  compile(engine: Engine, parameters: readonly unknown[]): CompiledQuery<Row> {
    return CompiledQuery.raw(
      engine === 'postgres' ? this.#postgres : this.sqlite,
      parameters as unknown[],
    ) as CompiledQuery<Row>;
  }
}

const NONE: readonly unknown[] = [];

/** How one member of a batch ended. */
export type Settled =
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

/**
 * The SQLite connection used synchronously, for transactions written as steps (see steps.ts): a
 * batch of them runs from BEGIN IMMEDIATE to COMMIT in one turn of the event loop, with no
 * promise in between, so nothing else in this process can run inside it. Only while no other
 * transaction is open on the connection ({@link busy}); the store waits for the connection
 * otherwise.
 */
export class SqliteSteps {
  readonly #db: BetterSqliteDatabase;
  readonly #prepared = new Map<Statement<unknown>, PreparedStatement>();
  readonly #begin: PreparedStatement;
  readonly #commit: PreparedStatement;
  readonly #rollback: PreparedStatement;
  readonly #savepoint: PreparedStatement;
  readonly #release: PreparedStatement;
  readonly #rollbackTo: PreparedStatement;

  constructor(db: BetterSqliteDatabase) {
    this.#db = db;
    this.#begin = db.prepare('begin immediate');
    this.#commit = db.prepare('commit');
    this.#rollback = db.prepare('rollback');
    this.#savepoint = db.prepare('savepoint batch_member');
    this.#release = db.prepare('release batch_member');
    this.#rollbackTo = db.prepare('rollback to batch_member');
  }

  /** True while a transaction (ours or kysely's) is open on the connection. */
  get busy(): boolean {
    return this.#db.inTransaction;
  }

  /**
   * Runs a batch of transactions of steps now, as one BEGIN IMMEDIATE … COMMIT (a group commit),
   * so they share the cost of the commit. Should a member's steps throw, the batch is rolled back
   * and run again with each member in its own savepoint (steps may always run again: see
   * Store.steps): the member that fails is rolled back alone and answered with its error, the
   * others commit. Throws (and none of the batch is done) when the batch cannot start (another
   * process holds the write lock), when the commit fails, or when SQLite itself ended the
   * transaction.
   */
  runBatch(batch: readonly (() => Steps<unknown>)[]): Settled[] {
    this.#begin.run(NONE);
    const values: unknown[] = [];
    try {
      for (const make of batch) values.push(this.#drive(make()));
    } catch (error) {
      // SQLite ended the transaction itself (an I/O error, a full disk): the whole batch failed.
      if (!this.#db.inTransaction) throw error;
      this.#rollback.run(NONE);
      return batch.length === 1 ? [{ ok: false, error }] : this.#runInSavepoints(batch);
    }
    this.#end();
    return values.map((value) => ({ ok: true, value }));
  }

  /** {@link runBatch} with each member in a savepoint, so one that fails is undone alone. */
  #runInSavepoints(batch: readonly (() => Steps<unknown>)[]): Settled[] {
    this.#begin.run(NONE);
    const out: Settled[] = [];
    try {
      for (const make of batch) {
        this.#savepoint.run(NONE);
        try {
          out.push({ ok: true, value: this.#drive(make()) });
          this.#release.run(NONE);
        } catch (error) {
          if (!this.#db.inTransaction) throw error;
          this.#rollbackTo.run(NONE);
          this.#release.run(NONE);
          out.push({ ok: false, error });
        }
      }
    } catch (e) {
      if (this.#db.inTransaction) this.#rollback.run(NONE);
      throw e;
    }
    this.#end();
    return out;
  }

  /** COMMIT; should it fail, the transaction is rolled back and the error thrown. */
  #end(): void {
    try {
      this.#commit.run(NONE);
    } catch (e) {
      if (this.#db.inTransaction) this.#rollback.run(NONE);
      throw e;
    }
  }

  /** Runs each statement `steps` yields and hands back its rows; a statement's error is thrown in. */
  #drive(steps: Steps<unknown>): unknown {
    let r = steps.next();
    while (r.done !== true) {
      let found: unknown[];
      try {
        found = this.#execute(r.value);
      } catch (e) {
        r = steps.throw(e);
        continue;
      }
      r = steps.next(found);
    }
    return r.value;
  }

  #execute(q: Query): unknown[] {
    let st = this.#prepared.get(q.statement);
    if (st === undefined) {
      st = this.#db.prepare(q.statement.sqlite);
      this.#prepared.set(q.statement, st);
    }
    if (st.reader) return st.all(q.parameters);
    st.run(q.parameters);
    return [];
  }
}

/** Where the database is. */
export interface DatabaseLocation {
  /**
   * `postgres://…` / `postgresql://…` for PostgreSQL (as in `DATABASE_URL`); anything else is a
   * SQLite file path (`:memory:` for a private in-memory database).
   */
  readonly url: string;
  /** PostgreSQL only: the schema to work in (set as the connections' search_path). */
  readonly schema?: string;
  /** PostgreSQL only: most connections in the pool (default 10). */
  readonly poolSize?: number;
}

/** True when `url` names a PostgreSQL database. */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/** A schema name we are willing to put into a connection option: no quoting games. */
const SAFE_SCHEMA = /^[a-z_][a-z0-9_]{0,62}$/;

/** A connection to one database, with the engine it speaks. */
export interface Connected {
  readonly db: Kysely<Database>;
  readonly engine: Engine;
  /** SQLite: the same connection, for transactions of steps run synchronously. */
  readonly sync?: SqliteSteps;
}

/**
 * better-sqlite3's driver, but transactions start with BEGIN IMMEDIATE: the write lock is taken at
 * the start, so two connections never both read and then both write (SQLite docs, "BEGIN
 * TRANSACTION": IMMEDIATE starts a write transaction at once).
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

/**
 * SQLite's DDL is transactional, so migrations can run inside one transaction; kysely's adapter
 * says otherwise because it assumes a single connection. With BEGIN IMMEDIATE that transaction is
 * also the migration lock between instances sharing the file.
 */
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: ConstructorParameters<typeof SqliteDialect>[0];
  constructor(config: ConstructorParameters<typeof SqliteDialect>[0]) {
    super(config);
    this.#config = config;
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }
  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

/** Opens (without migrating) the database at `location`. */
export function connect(location: DatabaseLocation): Connected {
  if (typeof location.url !== 'string' || location.url.length === 0)
    throw new StoreError('bad-database-url', 'no database given');
  if (isPostgresUrl(location.url)) {
    const schema = location.schema;
    if (schema !== undefined && !SAFE_SCHEMA.test(schema)) {
      throw new StoreError('bad-schema', 'schema must be lower-case letters, digits and _');
    }
    const pool = new pg.Pool({
      connectionString: location.url,
      max: location.poolSize ?? 10,
      ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
      // 64-bit integers are our ms timestamps: well inside Number's 2^53.
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === pg.types.builtins.INT8
            ? (v: string) => Number(v)
            : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
      },
    });
    // An idle client's error (server restart) must not crash the process; the next query reports it.
    pool.on('error', () => undefined);
    return {
      db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }),
      engine: 'postgres',
    };
  }
  const file = location.url.replace(/^sqlite:(\/\/)?/i, '');
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  let sqlite: BetterSqliteDatabase | undefined;
  try {
    sqlite = new BetterSqlite3(file);
    // WAL lets readers run beside the one writer; a busy lock is retried asynchronously by
    // runTransaction (a non-zero busy_timeout would block this thread, and with it the very
    // transaction that holds the lock when both connections live in one process).
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 0');
  } catch (e) {
    sqlite?.close();
    throw new StoreError(
      'cannot-open-database',
      `cannot open the SQLite database: ${(e as Error).message.split('\n')[0] ?? 'error'}`,
      { cause: e },
    );
  }
  return {
    db: new Kysely<Database>({
      dialect: new ImmediateSqliteDialect({ database: withStatementCache(sqlite) }),
    }),
    engine: 'sqlite',
    sync: new SqliteSteps(sqlite),
  };
}

/** How a transaction isolates itself. */
export type Isolation = 'serializable' | 'read-committed';

/** Options for {@link Database.transaction}. */
export interface TransactionOptions {
  /**
   * `serializable` (default): PostgreSQL SERIALIZABLE, retried on serialisation failures.
   * `read-committed`: for work that locks its own rows (SELECT … FOR UPDATE SKIP LOCKED).
   * SQLite always runs one writer at a time (BEGIN IMMEDIATE).
   */
  readonly isolation?: Isolation;
  /** How many times to retry a conflicting transaction (default 20). */
  readonly maxRetries?: number;
}

/** True when `e` says the transaction lost a race and may simply be run again. */
export function isRetryable(e: unknown, engine: Engine): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  if (engine === 'postgres') return code === '40001' || code === '40P01'; // serialization_failure, deadlock_detected
  return code === 'SQLITE_BUSY' || code === 'SQLITE_BUSY_SNAPSHOT' || code === 'SQLITE_LOCKED';
}

/** Counters of what transactions did, for tests and the bench. */
export interface TransactionStats {
  committed: number;
  retries: number;
}

/**
 * What the store answers for an error a transaction ended with: better-sqlite3's refusal to bind
 * a value of the wrong type (PostgreSQL would simply have found nothing) becomes one line; any
 * other error is itself.
 */
export function storeError(e: unknown): unknown {
  if (e instanceof TypeError && /can only bind/.test(e.message))
    return new StoreError('bad-input', 'a value of the wrong type was given', { cause: e });
  return e;
}

/**
 * Runs `attempt` (one whole transaction) until it ends other than by losing a race, after a short
 * random wait each time it lost; counts commits and retries in `stats`.
 */
export async function withRetries<T>(
  engine: Engine,
  attempt: () => Promise<T>,
  options: TransactionOptions = {},
  stats?: TransactionStats,
): Promise<T> {
  const maxRetries = options.maxRetries ?? 20;
  for (let n = 0; ; n++) {
    try {
      const result = await attempt();
      if (stats) stats.committed++;
      return result;
    } catch (e) {
      if (!isRetryable(e, engine)) throw storeError(e);
      if (n >= maxRetries) {
        throw new StoreError(
          'transaction-conflict',
          `the database stayed busy after ${maxRetries} retries; try again`,
          { cause: e },
        );
      }
      if (stats) stats.retries++;
      // Jittered exponential backoff, capped: desynchronises the contenders.
      await sleep(randomInt(1, 2 + Math.min(50, 2 ** n)));
    }
  }
}

/**
 * Runs `fn` in one transaction on `db`, so a check and the update it guards see the same state.
 * On a conflict the whole of `fn` runs again after a short random wait, so `fn` must not have
 * side effects outside the database (send messages through the outbox instead).
 */
export function runTransaction<T>(
  db: Kysely<Database>,
  engine: Engine,
  fn: (trx: Transaction<Database>) => Promise<T>,
  options: TransactionOptions = {},
  stats?: TransactionStats,
): Promise<T> {
  return withRetries(
    engine,
    () => {
      let builder = db.transaction();
      if (engine === 'postgres')
        builder = builder.setIsolationLevel(
          options.isolation === 'read-committed' ? 'read committed' : 'serializable',
        );
      return builder.execute(fn);
    },
    options,
    stats,
  );
}

/**
 * Opens the database at `location` and brings its schema up to date. Several instances may start
 * at once: PostgreSQL serialises migrations with kysely's lock table; on SQLite the migration's
 * BEGIN IMMEDIATE meets a busy lock, and we wait and try again (the second finds nothing to do).
 */
export async function openDatabase(location: DatabaseLocation): Promise<Connected> {
  const c = connect(location);
  for (let attempt = 0; ; attempt++) {
    try {
      if (c.engine === 'postgres') {
        // One instance migrates at a time: a connection-level advisory lock keyed by the schema, held on
        // one connection for the whole step (kysely's own lock table cannot be created safely by
        // several instances at once in a fresh schema).
        const schema = location.schema;
        await c.db.connection().execute(async (conn) => {
          await sql`select pg_advisory_lock(hashtext(${`mitid-sim-migrate:${schema ?? ''}`}))`.execute(
            conn,
          );
          try {
            if (schema !== undefined)
              await sql.raw(`create schema if not exists ${schema}`).execute(conn);
            await migrateToLatest(conn, c.engine, schema);
          } finally {
            await sql`select pg_advisory_unlock(hashtext(${`mitid-sim-migrate:${schema ?? ''}`}))`.execute(
              conn,
            );
          }
        });
      } else {
        await migrateToLatest(c.db, c.engine);
      }
      return c;
    } catch (e) {
      const root = e instanceof ActivationError && e.cause !== undefined ? e.cause : e;
      // 23505: two instances creating the same schema at once; the loser simply goes on.
      // 3F000 / 42P01: kysely's migrator looks at every schema's tables (pg_catalog), and a schema
      // another client drops at that moment vanishes under the query; looking again is enough.
      const pgCode = (root as { code?: unknown } | null)?.code;
      const racing =
        isRetryable(root, c.engine) ||
        pgCode === '23505' ||
        (c.engine === 'postgres' && (pgCode === '3F000' || pgCode === '42P01'));
      if (racing && attempt < 100) {
        await sleep(randomInt(10, 60));
        continue;
      }
      await c.db.destroy().catch(() => undefined);
      if (e instanceof ActivationError) throw e;
      throw new StoreError(
        'cannot-open-database',
        `cannot open the database: ${(e as Error).message.split('\n')[0] ?? 'error'}`,
        { cause: e },
      );
    }
  }
}
