/**
 * The code check behind /api/validate (and the OTP logins): outcomes and stored state follow a
 * reference built from the pure verifier and lockout rules, on SQLite and PostgreSQL; replay,
 * lockout, rate limits counted in the database, audit on refusal, and races between instances.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ActivationFlow,
  ChipVerifier,
  FlowError,
  afterAttempt,
  defaultLockoutPolicy,
  freshLockoutState,
  lockoutStatus,
  type LockoutState,
  type Store,
} from '../../src/activation/index.js';
import { generateTotp } from '../../src/otp/generate.js';
import type { OtpKey } from '../../src/otp/types.js';
import { OtpVerifier, bindingFromKey, type OtpBinding } from '../../src/otp/verify.js';
import { describeWithTool } from '../support/tools.js';
import { freshDatabase, probePostgres, type TestDatabase } from './support.js';

const pgAvailable = await probePostgres();
const STEP = 30_000;
const CLIENT = { address: '192.0.2.7' };
const HIGH = { limit: 1_000_000, windowMs: 60_000 };

function flowOver(store: Store, limits = { perAddress: HIGH, perUser: HIGH }): ActivationFlow {
  const chip = new ChipVerifier({ rpId: 'localhost', rpName: 'test', origin: 'http://localhost' });
  return new ActivationFlow(store, { baseUrl: 'http://localhost', chip, limits });
}

function totpKey(serial: string): OtpKey {
  return {
    serial,
    type: 'totp',
    secret: new Uint8Array(randomBytes(20)),
    algorithm: 'SHA1',
    digits: 6,
    period: 30,
  };
}

/** A 6-digit code that no step near `now` (±5) shows. */
function wrongCode(secret: Uint8Array, now: number): string {
  const near = new Set<string>();
  for (let d = -5; d <= 5; d++) near.add(generateTotp({ secret }, now + d * STEP));
  for (let i = 0; ; i++) {
    const c = String(i * 111_111 + 7)
      .padStart(6, '0')
      .slice(-6);
    if (!near.has(c)) return c;
  }
}

interface Fixture {
  /** A business user's separate MitID with a code display. */
  readonly separate: { userId: string; ownerId: string; authId: string; key: OtpKey };
  /** A citizen's private MitID with an audio reader. */
  readonly citizen: { userId: string; ownerId: string; authId: string; key: OtpKey };
  /** A business user not yet activated (its user ID is reserved). */
  readonly pendingUserId: string;
  /** A citizen with no OTP device. */
  readonly bareCitizenUserId: string;
}

async function setUp(store: Store): Promise<Fixture> {
  return store.transaction(async (tx) => {
    const org = await tx.organisations.create({ cvr: '91234567', name: 'Prøve ApS' });
    const c1 = await tx.citizens.create({ cpr: '010170-1234', name: 'Cit One', userId: 'borger1' });
    const c2 = await tx.citizens.create({ cpr: '020270-1234', name: 'Cit Two', userId: 'borger2' });
    const bind = async (
      ownerKind: 'citizen' | 'business-user',
      ownerId: string,
      kind: 'code-display' | 'audio-reader',
      serial: string,
    ): Promise<{ key: OtpKey; authId: string }> => {
      const key = totpKey(serial);
      const item = await tx.inventory.importOtp({
        kind,
        key: { ...key, secret: key.secret.slice() },
      });
      const {
        secret: _s,
        state,
        ...binding
      } = bindingFromKey({ ...key, secret: key.secret.slice() });
      const a = await tx.authenticators.bind({ ownerKind, ownerId, kind, serial, binding, state });
      await tx.inventory.setStatus(item.id, 'bound');
      return { key, authId: a.id };
    };
    const user = await tx.users.create({
      organisationId: org.id,
      firstName: 'Sep',
      surname: 'Arat',
      email: 's@p.example',
      birthDate: '1970-01-01',
    });
    const sep = await bind('business-user', user.id, 'code-display', 'CD-0001');
    await tx.users.reserveUserId(user.id, 'separat1');
    await tx.users.markActivated(user.id, {
      mitidKind: 'separate',
      citizenId: c1.id,
      userId: 'separat1',
    });
    const cit = await bind('citizen', c1.id, 'audio-reader', 'AR-0001');
    const pending = await tx.users.create({
      organisationId: org.id,
      firstName: 'Pen',
      surname: 'Ding',
      email: 'p@p.example',
      birthDate: '1971-01-01',
    });
    await tx.users.reserveUserId(pending.id, 'ventende1');
    return {
      separate: { userId: 'separat1', ownerId: user.id, ...sep },
      citizen: { userId: 'borger1', ownerId: c1.id, ...cit },
      pendingUserId: 'ventende1',
      bareCitizenUserId: c2.userId,
    };
  });
}

/** What the rules say should happen, from the pure verifier and lockout functions. */
class Reference {
  readonly #verifier: OtpVerifier;
  readonly #binding: OtpBinding;
  state: OtpBinding['state'];
  lock: LockoutState = freshLockoutState;
  constructor(kind: 'code-display' | 'audio-reader', key: OtpKey) {
    this.#verifier = new OtpVerifier(kind);
    this.#binding = bindingFromKey({ ...key, secret: key.secret.slice() });
    this.state = this.#binding.state;
  }
  async attempt(code: string, now: number): Promise<{ verified: boolean; reason: string }> {
    const status = lockoutStatus(this.lock, now);
    if (status !== 'open') return { verified: false, reason: status };
    const out = await this.#verifier.verify(
      { ...this.#binding, state: this.state } as OtpBinding,
      { type: 'otp', serial: this.#binding.serial, code, deviceTime: now },
      { now },
    );
    this.lock = afterAttempt(this.lock, out.verified, now, defaultLockoutPolicy);
    if (out.verified) this.state = out.binding.state;
    return { verified: out.verified, reason: out.reason };
  }
}

async function storedRow(store: Store, id: string) {
  const row = await store.db
    .selectFrom('authenticators')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
  return {
    state: JSON.parse(row.state) as unknown,
    lock: {
      failCount: Number(row.fail_count),
      totalFailCount: Number(row.total_fail_count),
      blockedUntil: row.blocked_until === null ? null : Number(row.blocked_until),
      blockedAt: row.blocked_at === null ? null : Number(row.blocked_at),
    },
  };
}

async function refusals(store: Store): Promise<{ reason: unknown; serial: string | null }[]> {
  const list = await store.transaction((tx) => tx.audit.list({ action: 'validate' }));
  return list.map((e) => ({ reason: e.detail?.reason, serial: e.serial }));
}

function validateSuite(engine: 'sqlite' | 'postgres'): void {
  let t: TestDatabase;
  let a: Store;
  let b: Store;
  let fx: Fixture;
  beforeEach(async () => {
    t = await freshDatabase(engine);
    a = await t.open();
    b = await t.open();
    fx = await setUp(a);
    t.clock.set(Date.UTC(2026, 10, 25, 12, 0, 15));
  });
  afterEach(async () => {
    await t.dispose();
  });

  for (const who of ['separate', 'citizen'] as const) {
    it(`${who}: outcomes, stored state and audit follow the rules through replay, lockout and recovery`, async () => {
      const dev = fx[who];
      const ref = new Reference(who === 'separate' ? 'code-display' : 'audio-reader', dev.key);
      const flow = flowOver(a);
      const expectedAudit: { reason: unknown; serial: string | null }[] = [];
      // right, replay, wrong ×3 (temporary block), right while blocked, after the block: wrong
      // ×3 … until blocked for good; then right codes are refused unchecked.
      const script: ('right' | 'same' | 'wrong' | 'wait' | 'step')[] = [
        'right',
        'same',
        'step',
        'wrong',
        'right',
        'step',
        'wrong',
        'wrong',
        'wrong',
        'step',
        'right',
        'wait',
        'right',
        'step',
        'wrong',
        'wrong',
        'wrong',
        'wait',
        'wrong',
        'wrong',
        'wrong',
        'wait',
        'wrong',
        'wrong',
        'wrong',
        'wait',
        'step',
        'right',
      ];
      let last = '';
      for (const action of script) {
        if (action === 'step') {
          t.clock.advance(STEP);
          continue;
        }
        if (action === 'wait') {
          t.clock.advance(defaultLockoutPolicy.temporaryBlockMs + STEP);
          continue;
        }
        const now = t.clock.now();
        const code =
          action === 'wrong'
            ? wrongCode(dev.key.secret, now)
            : action === 'same'
              ? last
              : generateTotp({ secret: dev.key.secret }, now);
        last = code;
        const want = await ref.attempt(code, now);
        const got = await flow.validateCode({ userId: dev.userId, code }, CLIENT);
        expect(got, `${action} at ${now}`).toEqual({ verified: want.verified });
        if (!want.verified) expectedAudit.push({ reason: want.reason, serial: dev.key.serial });
        const row = await storedRow(a, dev.authId);
        expect(row.lock).toEqual(ref.lock);
        expect(row.state).toEqual(ref.state);
      }
      expect(lockoutStatus(ref.lock, t.clock.now())).toBe('blocked');
      expect(await refusals(a)).toEqual(expectedAudit);
    });
  }

  it('unknown, not activated and device-less user IDs are refused and audited', async () => {
    const flow = flowOver(a);
    const code = '123456';
    for (const userId of ['ingen-saadan', fx.pendingUserId, 'x'.repeat(101), ''])
      expect(await flow.validateCode({ userId, code }, CLIENT)).toEqual({ verified: false });
    expect(await flow.validateCode({ userId: fx.bareCitizenUserId, code }, CLIENT)).toEqual({
      verified: false,
    });
    expect(await refusals(a)).toEqual([
      ...Array.from({ length: 4 }, () => ({ reason: 'unknown-user-id', serial: null })),
      { reason: 'no-otp-device', serial: null },
    ]);
  });

  it('a user ID is found however it is typed (case), as the login finds it', async () => {
    const flow = flowOver(a);
    const code = generateTotp({ secret: fx.separate.key.secret }, t.clock.now());
    expect(await flow.validateCode({ userId: 'SEPARAT1', code }, CLIENT)).toEqual({
      verified: true,
    });
  });

  it('of two instances checking the same code at once exactly one accepts it (10 steps)', async () => {
    const fa = flowOver(a);
    const fb = flowOver(b);
    for (let i = 0; i < 10; i++) {
      t.clock.advance(STEP);
      const code = generateTotp({ secret: fx.separate.key.secret }, t.clock.now());
      const input = { userId: fx.separate.userId, code };
      const out = await Promise.all([
        fa.validateCode(input, CLIENT),
        fb.validateCode(input, CLIENT),
      ]);
      expect(out.filter((o) => o.verified)).toHaveLength(1);
    }
    // Each step the winner cleared the counters and the loser's replay counted once after it.
    const row = await storedRow(a, fx.separate.authId);
    expect(row.lock).toEqual({ ...freshLockoutState, failCount: 1, totalFailCount: 1 });
    expect((await refusals(a)).map((r) => r.reason)).toEqual(Array(10).fill('replayed'));
  });

  it('wrong codes from two instances at once are all counted: the 3rd blocks', async () => {
    const fa = flowOver(a);
    const fb = flowOver(b);
    const code = wrongCode(fx.separate.key.secret, t.clock.now());
    const input = { userId: fx.separate.userId, code };
    await Promise.all([fa.validateCode(input, CLIENT), fb.validateCode(input, CLIENT)]);
    await fb.validateCode(input, CLIENT);
    const row = await storedRow(a, fx.separate.authId);
    expect(row.lock.totalFailCount).toBe(3);
    expect(lockoutStatus(row.lock, t.clock.now())).toBe('temporarily-blocked');
    const right = generateTotp({ secret: fx.separate.key.secret }, t.clock.now());
    expect(await fa.validateCode({ ...input, code: right }, CLIENT)).toEqual({ verified: false });
    expect((await storedRow(a, fx.separate.authId)).state).toEqual(row.state);
  });

  it('per-user and per-address limits are counted in the database, across instances', async () => {
    const limits = {
      perAddress: { limit: 5, windowMs: 60_000 },
      perUser: { limit: 3, windowMs: 60_000 },
    };
    const fa = flowOver(a, limits);
    const fb = flowOver(b, limits);
    const code = wrongCode(fx.citizen.key.secret, t.clock.now());
    const user = { userId: fx.citizen.userId, code };
    expect(await fa.validateCode(user, CLIENT)).toEqual({ verified: false });
    expect(await fb.validateCode(user, CLIENT)).toEqual({ verified: false });
    expect(await fa.validateCode(user, CLIENT)).toEqual({ verified: false });
    const limited = await fb.validateCode(user, CLIENT).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(FlowError);
    expect((limited as FlowError).status).toBe(429);
    expect((limited as FlowError).code).toBe('rate-limited');
    // The refused attempt was not checked: the device saw three wrong codes, not four.
    expect((await storedRow(a, fx.citizen.authId)).lock.totalFailCount).toBe(3);
    // Another user from the same address: the address has had 4, so one more passes.
    const other = {
      userId: fx.separate.userId,
      code: wrongCode(fx.separate.key.secret, t.clock.now()),
    };
    expect(await fb.validateCode(other, CLIENT)).toEqual({ verified: false });
    await expect(fa.validateCode(other, CLIENT)).rejects.toMatchObject({ code: 'rate-limited' });
    // Another address is its own count; the user's own limit still holds.
    await expect(fa.validateCode(user, { address: '192.0.2.8' })).rejects.toMatchObject({
      code: 'rate-limited',
    });
    const rows = await a.db.selectFrom('rate_limits').selectAll().execute();
    expect(rows.map((r) => `${r.key.split(':')[0]}=${Number(r.count)}`).sort()).toEqual([
      'addr=1',
      'addr=6',
      'user=2',
      'user=5',
    ]);
    // Keys hold no typed text: the user part is a hash.
    expect(JSON.stringify(rows)).not.toContain(fx.citizen.userId);
    const scopes = await a.transaction((tx) => tx.audit.list({ action: 'rate-limit' }));
    expect(scopes.map((s) => s.detail?.scope)).toEqual(['user', 'address', 'user']);
    // A new window starts the counts again.
    t.clock.advance(60_000);
    expect(await fa.validateCode(user, CLIENT)).toEqual({ verified: false });
  });

  it('hitMany counts each key once per call, in one window per limit, in the order given', async () => {
    const out = await a.transaction((tx) =>
      tx.rateLimits.hitMany([
        { key: 'k:a', limit: 2, windowMs: 60_000 },
        { key: 'k:b', limit: 1, windowMs: 1_000 },
      ]),
    );
    const now = t.clock.now();
    expect(out).toEqual([
      { allowed: true, count: 1, limit: 2, resetAt: now - (now % 60_000) + 60_000 },
      { allowed: true, count: 1, limit: 1, resetAt: now - (now % 1_000) + 1_000 },
    ]);
    const again = await b.transaction((tx) =>
      tx.rateLimits.hitMany([
        { key: 'k:b', limit: 1, windowMs: 1_000 },
        { key: 'k:a', limit: 2, windowMs: 60_000 },
      ]),
    );
    expect(again.map((r) => [r.count, r.allowed])).toEqual([
      [2, false],
      [2, true],
    ]);
    expect(await a.transaction((tx) => tx.rateLimits.hit('k:a', 2, 60_000))).toMatchObject({
      count: 3,
      allowed: false,
    });
    await expect(
      a.transaction((tx) =>
        tx.rateLimits.hitMany([
          { key: 'k:c', limit: 1, windowMs: 1_000 },
          { key: 'k:c', limit: 1, windowMs: 1_000 },
        ]),
      ),
    ).rejects.toThrow(RangeError);
  });

  it('the seed stays sealed at rest', async () => {
    const rows = await a.db.selectFrom('inventory').selectAll().execute();
    const text = JSON.stringify(rows);
    for (const k of [fx.separate.key, fx.citizen.key]) {
      expect(text).not.toContain(Buffer.from(k.secret).toString('base64'));
      expect(text).not.toContain(Buffer.from(k.secret).toString('hex'));
    }
  });
}

describe('validate (SQLite)', () => validateSuite('sqlite'));
describeWithTool('PostgreSQL', pgAvailable, 'validate (PostgreSQL)', () =>
  validateSuite('postgres'),
);
