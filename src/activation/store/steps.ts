/**
 * Transactions written once as steps: a generator that yields each statement it needs and is
 * handed back the rows. The same steps run on either engine through kysely (awaiting each
 * statement) and, on SQLite, synchronously on the connection, from BEGIN to COMMIT in one turn of
 * the event loop ({@link SqliteSteps}), which is what the hot paths want. The logic lives once, in
 * the steps; only the driving differs.
 */
import type { CompiledQuery, QueryResult } from 'kysely';
import type { Statement } from './db.js';
import type { Engine } from './migrations.js';
import type { RepositoryConfig } from './repositories.js';
import type { Secrets } from './secrets.js';

/** One statement with its parameters, as a step yields it. */
export interface Query {
  readonly statement: Statement<unknown>;
  readonly parameters: readonly unknown[];
}

/** A transaction written as steps, ending with `T`. */
export type Steps<T> = Generator<Query, T, unknown>;

/** What steps know of their transaction besides the statements: one `now` for all of it. */
export interface StepContext {
  readonly engine: Engine;
  readonly now: number;
  readonly secrets: Secrets;
  readonly config: RepositoryConfig;
}

/** A step: runs `statement` with `parameters` and hands back its rows (none when it returns none). */
export function* rows<Row>(
  statement: Statement<Row>,
  parameters: readonly unknown[],
): Generator<Query, Row[], unknown> {
  return (yield { statement, parameters }) as Row[];
}

/** What {@link runSteps} needs of a connection or transaction: kysely's executeQuery. */
export interface QueryExecutor {
  executeQuery<R>(query: CompiledQuery<R>): Promise<QueryResult<R>>;
}

/**
 * Runs `steps` on `db` (inside the caller's transaction), awaiting each statement; a statement's
 * error is thrown into the steps, as the synchronous driver does.
 */
export async function runSteps<T>(db: QueryExecutor, engine: Engine, steps: Steps<T>): Promise<T> {
  let r = steps.next();
  while (r.done !== true) {
    let found: unknown[];
    try {
      found = (await db.executeQuery(r.value.statement.compile(engine, r.value.parameters))).rows;
    } catch (e) {
      r = steps.throw(e);
      continue;
    }
    r = steps.next(found);
  }
  return r.value;
}
