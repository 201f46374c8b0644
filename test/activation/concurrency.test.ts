/** Two concurrent attempts can never both succeed: two pools (PostgreSQL) or two connections (SQLite) race on one row. */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeWithTool } from '../support/tools.js';
import type { Repositories, Store } from '../../src/activation/index.js';
import { freshDatabase, probePostgres, type TestDatabase } from './support.js';

const pgAvailable = await probePostgres();

function concurrencySuite(engine: 'sqlite' | 'postgres'): void {
  let t: TestDatabase;
  let a: Store;
  let b: Store;
  let userId: string;
  beforeEach(async () => {
    t = await freshDatabase(engine);
    // Two independent stores: on PostgreSQL two pools, on SQLite two connections to one file,
    // as two service instances would have.
    a = await t.open();
    b = await t.open();
    userId = await a.transaction(async (tx) => {
      const org = await tx.organisations.create({ cvr: '91234567', name: 'Kapløb A/S' });
      const u = await tx.users.create({
        organisationId: org.id,
        firstName: 'Karen',
        surname: 'T',
        email: 'k@kaploeb.example',
        cpr: '150385-4321',
      });
      return u.id;
    });
  });
  afterEach(async () => {
    await t.dispose();
  });

  it('of two concurrent consumers of one activation link exactly one wins (20 links)', async () => {
    for (let i = 0; i < 20; i++) {
      const { token } = await a.transaction((tx) => tx.links.issue(userId));
      const results = await Promise.all([
        a.transaction((tx) => tx.links.consume(token)),
        b.transaction((tx) => tx.links.consume(token)),
      ]);
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      expect(results.filter((r) => !r.ok)).toEqual([
        { ok: false, reason: 'used', businessUserId: userId },
      ]);
    }
  });

  // A check-then-act written naively (read, wait, unconditional write): only the transaction
  // keeps the two apart. The wait forces both readers to overlap.
  async function naiveConsume(
    tx: Pick<Repositories, 'db' | 'now'>,
    linkId: string,
  ): Promise<boolean> {
    const row = await tx.db
      .selectFrom('activation_links')
      .select('used_at')
      .where('id', '=', linkId)
      .executeTakeFirstOrThrow();
    if (row.used_at !== null) return false;
    await sleep(40);
    await tx.db
      .updateTable('activation_links')
      .set({ used_at: tx.now })
      .where('id', '=', linkId)
      .execute();
    return true;
  }

  it('even a naive check-then-update is safe inside Store.transaction: exactly one wins, the loser was retried', async () => {
    for (let i = 0; i < 3; i++) {
      const { linkId } = await a.transaction((tx) => tx.links.issue(userId));
      const retriesBefore = a.stats.retries + b.stats.retries;
      const wins = await Promise.all([
        a.transaction((tx) => naiveConsume(tx, linkId)),
        b.transaction((tx) => naiveConsume(tx, linkId)),
      ]);
      expect(wins.filter(Boolean)).toHaveLength(1);
      expect(a.stats.retries + b.stats.retries).toBeGreaterThan(retriesBefore);
    }
  });

  it('control: without a transaction the same naive code lets both win (the race is real)', async () => {
    const { linkId } = await a.transaction((tx) => tx.links.issue(userId));
    const bare = (s: Store) => naiveConsume({ db: s.db, now: t.clock.now() }, linkId);
    const wins = await Promise.all([bare(a), bare(b)]);
    expect(wins).toEqual([true, true]);
  });

  it('concurrent wrong guesses of an activation code never exceed three tries', async () => {
    const { code } = await a.transaction((tx) => tx.codes.issue(userId, 'handover'));
    const wrong = code.startsWith('A') ? 'BBBB-BBBB' : 'AAAA-AAAA';
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        (i % 2 === 0 ? a : b).transaction((tx) => tx.codes.check(userId, 'handover', wrong)),
      ),
    );
    expect(results.filter((r) => !r.ok && r.reason === 'wrong')).toHaveLength(2);
    expect(results.filter((r) => !r.ok && r.reason === 'blocked')).toHaveLength(6);
    const row = await a.db
      .selectFrom('activation_codes')
      .select(['tries', 'blocked_at'])
      .executeTakeFirstOrThrow();
    expect(row.tries).toBe(3);
    expect(row.blocked_at).not.toBeNull();
  });

  it('of two concurrent activations of one user exactly one marks it activated', async () => {
    const results = await Promise.all(
      [a, b].map((s) =>
        s.transaction((tx) =>
          tx.users.markActivated(userId, { mitidKind: 'private', citizenId: 'citizen-1' }),
        ),
      ),
    );
    expect(results.sort()).toEqual([false, true]);
  });
}

describe('concurrency on SQLite', () => concurrencySuite('sqlite'));
describeWithTool('PostgreSQL', pgAvailable, 'concurrency on PostgreSQL', () =>
  concurrencySuite('postgres'),
);
