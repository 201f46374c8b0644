/**
 * Transactions written as steps (store/steps.ts): the same steps through kysely on both engines
 * and, on SQLite, synchronously in a group commit, with the rules a transaction keeps: a member
 * that fails leaves nothing behind, the others commit; nothing runs inside another transaction;
 * another process's write lock is waited for.
 */
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { Statement } from '../../src/activation/store/db.js';
import { rows, type StepContext, type Steps } from '../../src/activation/store/steps.js';
import type { Store } from '../../src/activation/index.js';
import { describeEngines } from './flow-support.js';
import { freshDatabase, type TestDatabase } from './support.js';

const INSERT = new Statement(
  'insert into rate_limits ("key", window_start, "count") values (?, ?, 1)',
);
const COUNT = new Statement<{ key: string; count: number }>(
  'select "key", "count" from rate_limits where "key" = ?',
);
const KEYS = new Statement<{ key: string }>(
  'select "key" from rate_limits where "key" like ? order by "key"',
);

/** Steps that insert `key` and read it back in the same transaction. */
function* insertAndRead(ctx: StepContext, key: string): Steps<number> {
  yield* rows(INSERT, [key, ctx.now]);
  const found = yield* rows(COUNT, [key]);
  return found.length;
}

/** Steps that insert `key` and then fail (a programming error after a write). */
function* insertThenFail(ctx: StepContext, key: string): Steps<never> {
  yield* rows(INSERT, [key, ctx.now]);
  throw new RangeError('the steps gave up');
}

async function keysLike(store: Store, prefix: string): Promise<string[]> {
  return store.steps(function* () {
    return (yield* rows(KEYS, [`${prefix}%`])).map((r) => r.key);
  });
}

let db: TestDatabase | undefined;
afterEach(async () => {
  await db?.dispose();
  db = undefined;
});

describeEngines('transactions of steps', (engine) => {
  it('hand each statement its rows and resolve with what the steps return', async () => {
    db = await freshDatabase(engine);
    const store = await db.open();
    expect(await store.steps((ctx) => insertAndRead(ctx, 'a:1'))).toBe(1);
    expect(await keysLike(store, 'a:')).toEqual(['a:1']);
  });

  it('a statement that fails rejects the transaction and leaves none of it behind', async () => {
    db = await freshDatabase(engine);
    const store = await db.open();
    await store.steps((ctx) => insertAndRead(ctx, 'b:1'));
    const dup = store.steps(function* (ctx) {
      yield* rows(INSERT, ['b:2', ctx.now]);
      // The primary key (key, window_start) is taken: the database refuses.
      yield* rows(INSERT, ['b:1', ctx.now - (ctx.now % 1)]);
      return 'written';
    });
    // b:1 was written at the same `now` (the test clock stands still), so this collides.
    await expect(dup).rejects.toThrow();
    expect(await keysLike(store, 'b:')).toEqual(['b:1']);
  });

  it('of several asked for at once, the one that fails leaves nothing and the others commit', async () => {
    db = await freshDatabase(engine);
    const store = await db.open();
    const before = store.stats.committed;
    const results = await Promise.allSettled([
      store.steps((ctx) => insertAndRead(ctx, 'c:1')),
      store.steps((ctx) => insertThenFail(ctx, 'c:2')),
      store.steps((ctx) => insertAndRead(ctx, 'c:3')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(RangeError);
    // SQLite: the three shared one write transaction (a group commit); PostgreSQL: one each
    // that committed.
    expect(store.stats.committed - before).toBe(engine === 'sqlite' ? 1 : 2);
    expect(await keysLike(store, 'c:')).toEqual(['c:1', 'c:3']);
  });
});

describe('transactions of steps on SQLite', () => {
  it('wait for a transaction that holds the connection instead of running inside it', async () => {
    db = await freshDatabase('sqlite');
    const store = await db.open();
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    let stepsRan = false;
    // A kysely transaction writes, waits, and is rolled back.
    const outer = store
      .transaction(async (tx) => {
        await tx.db
          .insertInto('rate_limits')
          .values({ key: 'd:outer', window_start: tx.now, count: 1 })
          .execute();
        await held;
        throw new Error('roll back');
      })
      .catch((e: Error) => e.message);
    await new Promise((r) => setTimeout(r, 20));
    const inner = store.steps((ctx) => {
      stepsRan = true;
      return insertAndRead(ctx, 'd:steps');
    });
    await new Promise((r) => setTimeout(r, 50));
    // Had the steps run inside the open transaction, they would be rolled back with it.
    expect(stepsRan).toBe(false);
    release();
    expect(await outer).toBe('roll back');
    expect(await inner).toBe(1);
    expect(await keysLike(store, 'd:')).toEqual(['d:steps']);
  });

  it("wait for another process's write lock, then commit", async () => {
    db = await freshDatabase('sqlite');
    const store = await db.open();
    await store.steps((ctx) => insertAndRead(ctx, 'e:0'));
    // A second connection to the file (as another process would open it) takes the write lock.
    const Database = createRequire(import.meta.url)('better-sqlite3') as new (file: string) => {
      exec(sql: string): void;
      close(): void;
    };
    const other = new Database(sqliteFileOf(db));
    try {
      other.exec('begin immediate');
      const retriesBefore = store.stats.retries;
      let done = false;
      const waiting = store
        .steps((ctx) => insertAndRead(ctx, 'e:1'))
        .then((n) => {
          done = true;
          return n;
        });
      await new Promise((r) => setTimeout(r, 60));
      expect(done).toBe(false);
      other.exec('commit');
      expect(await waiting).toBe(1);
      expect(store.stats.retries).toBeGreaterThan(retriesBefore);
    } finally {
      other.close();
    }
    expect(await keysLike(store, 'e:')).toEqual(['e:0', 'e:1']);
  });
});

/** The SQLite file of a test database (its `open` location). */
function sqliteFileOf(d: TestDatabase): string {
  const file = d.location?.url;
  if (typeof file !== 'string') throw new Error('not a SQLite test database');
  return file;
}
