/** Roles, the permission table, organisation settings and the lockout step. */
import { describe, expect, it } from 'vitest';
import {
  Actions,
  AdministratorRoles,
  Roles,
  afterAttempt,
  can,
  canAny,
  changeOrganisationSettings,
  checkLockoutPolicy,
  checkOrganisationSettings,
  defaultLockoutPolicy,
  defaultOrganisationSettings,
  freshLockoutState,
  lockoutStatus,
  mitIdChoices,
  type Action,
  type LockoutState,
  type Role,
} from '../../src/activation/index.js';

describe('permission table', () => {
  // The whole matrix, written out: a change to Permissions must change this table too.
  const U = 'user',
    UA = 'user-administrator',
    OA = 'organisation-administrator',
    RA = 'rights-administrator',
    TE = 'trusted-employee';
  const expected: Record<Action, Role[]> = {
    'create-user': [UA],
    'resend-activation-email': [UA],
    'show-activation-code': [UA],
    'view-users': [UA, OA, RA],
    'block-user': [UA],
    'order-device': [UA],
    'import-inventory': [UA, OA],
    'allow-separate-mitid': [UA],
    'approve-shared-mitid': [UA, OA],
    'change-org-settings': [OA],
    'view-org-settings': [UA, OA, RA],
    'assign-roles': [OA],
    'assign-rights': [RA],
    'assist-citizen': [TE],
    'act-for-organisation': [U, UA, OA, RA, TE],
    'view-own-profile': [U, UA, OA, RA, TE],
  };
  it('lists exactly the actions of the table', () => {
    expect([...Actions].sort()).toEqual(Object.keys(expected).sort());
  });
  for (const action of Object.keys(expected) as Action[]) {
    for (const role of Roles) {
      const allowed = expected[action].includes(role);
      it(`${role} ${allowed ? 'may' : 'may not'} ${action}`, () => {
        expect(can(role, action)).toBe(allowed);
      });
    }
  }
  it('only the organisation administrator changes settings; every administrator views them (MITID.md)', () => {
    expect(Roles.filter((r) => can(r, 'change-org-settings'))).toEqual([
      'organisation-administrator',
    ]);
    expect(Roles.filter((r) => can(r, 'view-org-settings'))).toEqual([...AdministratorRoles]);
  });
  it('unknown actions and roles may do nothing; several roles combine', () => {
    expect(can('user-administrator', 'launch-rockets' as Action)).toBe(false);
    expect(can('root' as Role, 'create-user')).toBe(false);
    expect(canAny(['user', 'rights-administrator'], 'assign-rights')).toBe(true);
    expect(canAny(['user'], 'assign-rights')).toBe(false);
  });
});

describe('organisation settings', () => {
  it('defaults: private allowed, every authenticator, the app preselected', () => {
    expect(defaultOrganisationSettings).toEqual({
      privateMitIdAllowed: true,
      separateAuthenticators: ['code-display', 'audio-reader', 'chip', 'app'],
      preselected: 'app',
    });
    expect(checkOrganisationSettings(defaultOrganisationSettings)).toEqual([]);
  });

  it.each([
    [
      { separateAuthenticators: [] },
      ['settings-no-authenticator', 'settings-preselected-not-offered'],
    ],
    [{ separateAuthenticators: ['chip'] }, ['settings-preselected-not-offered']],
    [
      { separateAuthenticators: ['chip', 'chip'], preselected: 'chip' },
      ['settings-duplicate-authenticator'],
    ],
    [
      { separateAuthenticators: ['chip', 'phone'], preselected: 'chip' },
      ['settings-unknown-authenticator'],
    ],
    [{ privateMitIdAllowed: 'yes' }, ['settings-private-flag']],
    [{ privateMitIdAllowed: false, separateAuthenticators: ['chip'], preselected: 'chip' }, []],
  ])('%j → %j', (patch, expected) => {
    const s = { ...defaultOrganisationSettings, ...patch } as never;
    expect(checkOrganisationSettings(s).map((v) => v.code)).toEqual(expected);
  });

  it('changes: only by an organisation administrator; preselected follows what is offered', () => {
    for (const role of Roles.filter((r) => r !== 'organisation-administrator')) {
      expect(
        changeOrganisationSettings(
          defaultOrganisationSettings,
          { privateMitIdAllowed: false },
          role,
        ),
      ).toMatchObject({
        ok: false,
        violations: [{ code: 'forbidden' }],
      });
    }
    const r = changeOrganisationSettings(
      defaultOrganisationSettings,
      { separateAuthenticators: ['audio-reader', 'chip'] },
      'organisation-administrator',
    );
    expect(r).toEqual({
      ok: true,
      settings: {
        privateMitIdAllowed: true,
        separateAuthenticators: ['audio-reader', 'chip'],
        preselected: 'audio-reader',
      },
    });
    expect(
      changeOrganisationSettings(
        defaultOrganisationSettings,
        { separateAuthenticators: ['chip'], preselected: 'app' },
        'organisation-administrator',
      ),
    ).toMatchObject({ ok: false, violations: [{ code: 'settings-preselected-not-offered' }] });
  });

  it('choices shown to a user: preselected first; private only if allowed; never no choice at all', () => {
    const s = {
      privateMitIdAllowed: true,
      separateAuthenticators: ['code-display', 'chip', 'app'],
      preselected: 'chip',
    } as const;
    expect(mitIdChoices(s)).toEqual({
      private: true,
      separate: true,
      authenticators: ['chip', 'code-display', 'app'],
    });
    expect(mitIdChoices(s, { separateAllowedForUser: false })).toEqual({
      private: true,
      separate: false,
      authenticators: [],
    });
    expect(
      mitIdChoices({ ...s, privateMitIdAllowed: false }, { separateAllowedForUser: false }),
    ).toEqual({
      private: false,
      separate: true,
      authenticators: ['chip', 'code-display', 'app'],
    });
  });
});

describe('lockout', () => {
  const p = defaultLockoutPolicy;
  const run = (
    outcomes: boolean[],
    start: LockoutState = freshLockoutState,
    at = 0,
  ): LockoutState => outcomes.reduce((s, ok) => afterAttempt(s, ok, at, p), start);

  it('the third wrong proof in a row blocks for a while; a good one resets', () => {
    expect(lockoutStatus(run([false, false]), 0)).toBe('open');
    const blocked = run([false, false, false]);
    expect(blocked).toEqual({
      failCount: 0,
      totalFailCount: 3,
      blockedUntil: p.temporaryBlockMs,
      blockedAt: null,
    });
    expect(lockoutStatus(blocked, p.temporaryBlockMs - 1)).toBe('temporarily-blocked');
    expect(lockoutStatus(blocked, p.temporaryBlockMs)).toBe('open');
    expect(run([false, false, true])).toEqual(freshLockoutState);
  });

  it('continued failures block for good, at the policy count', () => {
    let s = freshLockoutState;
    let now = 0;
    for (let i = 0; i < p.failuresBeforePermanentBlock; i++) {
      if (lockoutStatus(s, now) === 'temporarily-blocked') now = s.blockedUntil!;
      expect(lockoutStatus(s, now)).toBe('open');
      s = afterAttempt(s, false, now, p);
    }
    expect(lockoutStatus(s, now + 10 * p.temporaryBlockMs)).toBe('blocked');
    expect(s.totalFailCount).toBe(p.failuresBeforePermanentBlock);
  });

  it('policies beyond 100 consecutive failures are refused (NIST SP 800-63B §5.2.2)', () => {
    expect(() => checkLockoutPolicy({ ...p, failuresBeforePermanentBlock: 101 })).toThrow(
      RangeError,
    );
    expect(() => checkLockoutPolicy({ ...p, failuresBeforePermanentBlock: 2 })).toThrow(RangeError);
    expect(() => checkLockoutPolicy({ ...p, failuresBeforeTemporaryBlock: 0 })).toThrow(RangeError);
    expect(checkLockoutPolicy({ ...p, failuresBeforePermanentBlock: 100 })).toBeTruthy();
  });
});
