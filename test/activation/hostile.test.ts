/** Hostile input against every public entry point of the store and rules: a clear MitidError or a refusal, never a crash. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMitidError } from '../../src/core/errors.js';
import {
  checkActivationCode,
  checkAppPin,
  checkBirthDate,
  checkCpr,
  checkCvr,
  checkEmail,
  checkPassword,
  checkPhone,
  checkSmsCode,
  checkTemporaryPin,
  checkUserId,
  type Repositories,
  type Store,
} from '../../src/activation/index.js';
import { freshDatabase, type TestDatabase } from './support.js';

const HOSTILE: unknown[] = [
  undefined,
  null,
  0,
  -1,
  NaN,
  '',
  ' ',
  'x'.repeat(100_000),
  '\u0000',
  '\ud800',
  "'; drop table organisations; --",
  '<script>alert(1)</script>',
  {},
  [],
  { toString: () => 'sneaky' },
];

describe('rules never throw on hostile input', () => {
  const rules = [
    checkUserId,
    checkPassword,
    checkCpr,
    checkBirthDate,
    checkPhone,
    checkCvr,
    checkEmail,
    checkActivationCode,
    checkSmsCode,
    checkAppPin,
    checkTemporaryPin,
  ] as ((x: unknown) => unknown[])[];
  for (const rule of rules) {
    it(rule.name, () => {
      for (const input of HOSTILE) {
        const out = rule(input);
        expect(Array.isArray(out)).toBe(true);
        if (typeof input !== 'string' && rule !== checkPassword)
          expect(out.length).toBeGreaterThan(0);
      }
    });
  }
});

describe('store entry points refuse hostile input with a MitidError or a refusal', () => {
  let t: TestDatabase;
  let store: Store;
  let orgId: string;
  beforeAll(async () => {
    t = await freshDatabase('sqlite');
    store = await t.open();
    orgId = (
      await store.transaction((tx) =>
        tx.organisations.create({ cvr: '96666666', name: 'Fjendtlig ApS' }),
      )
    ).id;
  });
  afterAll(async () => {
    await t.dispose();
  });

  const calls: [string, (tx: Repositories, x: never) => Promise<unknown>][] = [
    ['organisations.create cvr', (tx, x) => tx.organisations.create({ cvr: x, name: 'N' })],
    ['organisations.create name', (tx, x) => tx.organisations.create({ cvr: '97000000', name: x })],
    ['organisations.get', (tx, x) => tx.organisations.get(x)],
    [
      'admins.create role',
      (tx, x) =>
        tx.admins.create({ organisationId: orgId, name: 'A', email: 'a@b.example', role: x }),
    ],
    [
      'users.create cpr',
      (tx, x) =>
        tx.users.create({
          organisationId: orgId,
          firstName: 'K',
          surname: 'T',
          email: 'k@t.example',
          cpr: x,
        }),
    ],
    [
      'users.create birthDate',
      (tx, x) =>
        tx.users.create({
          organisationId: orgId,
          firstName: 'K',
          surname: 'T',
          email: 'k@t.example',
          birthDate: x,
        }),
    ],
    [
      'users.create email',
      (tx, x) =>
        tx.users.create({
          organisationId: orgId,
          firstName: 'K',
          surname: 'T',
          email: x,
          birthDate: '1990-01-01',
        }),
    ],
    ['users.get', (tx, x) => tx.users.get(x)],
    ['links.consume', (tx, x) => tx.links.consume(x)],
    ['links.inspect', (tx, x) => tx.links.inspect(x)],
    ['codes.check', (tx, x) => tx.codes.check('no-such-user', 'handover', x)],
    [
      'inventory.importOtp key',
      (tx, x) => tx.inventory.importOtp({ kind: 'code-display', key: x }),
    ],
    ['inventory.addChip serial', (tx, x) => tx.inventory.addChip({ serial: x })],
    [
      'authenticators.bind serial',
      (tx, x) =>
        tx.authenticators.bind({
          ownerKind: 'citizen',
          ownerId: 'c',
          kind: 'chip',
          serial: x,
          binding: {},
          state: {},
        }),
    ],
    [
      'authenticators.bind kind',
      (tx, x) =>
        tx.authenticators.bind({
          ownerKind: 'citizen',
          ownerId: 'c',
          kind: x,
          serial: 'S1',
          binding: {},
          state: {},
        }),
    ],
    ['phones.check', (tx, x) => tx.phones.check('no-such-user', x)],
    [
      'citizens.create userId',
      (tx, x) => tx.citizens.create({ cpr: '150385-4321', name: 'K', userId: x }),
    ],
  ];

  for (const [name, call] of calls) {
    it(name, async () => {
      for (const input of HOSTILE) {
        let outcome: unknown;
        try {
          outcome = await store.transaction((tx) => call(tx, input as never));
        } catch (e) {
          expect(isMitidError(e), `${name}(${String(input).slice(0, 20)}) threw ${String(e)}`).toBe(
            true,
          );
          expect((e as Error).message).not.toContain('\n');
          expect((e as Error).message.length).toBeLessThan(300);
          continue;
        }
        if (name === 'organisations.create name') {
          // Free text: SQL or HTML in a name is just text, stored as given (parameters, never
          // string-built SQL) and the table is still there.
          expect(outcome).toMatchObject({ name: String(input).trim() });
          expect(await store.transaction((tx) => tx.organisations.list())).not.toHaveLength(0);
          continue;
        }
        // Not thrown: then it must be a refusal, not a success.
        expect(outcome, `${name} accepted ${String(input).slice(0, 20)}`).toMatchObject({
          ok: false,
        });
      }
    });
  }
});
