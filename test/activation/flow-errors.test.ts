/** The activation flow's error paths over HTTP: links, activation codes, choices, replays, lockout and races, on SQLite and PostgreSQL. */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { checkLockoutPolicy, defaultLockoutPolicy } from '../../src/activation/index.js';
import { generateTotp } from '../../src/otp/generate.js';
import {
  codeOf,
  describeEngines,
  freshPassword,
  STEP_MS,
  World,
  type OtpDevice,
  type TestOrganisation,
} from './flow-support.js';

const DAY = 86_400_000;

/** A 6-digit code that is not `code`. */
function wrongCode(code: string): string {
  return String((Number(code) + 500_001) % 1_000_000).padStart(6, '0');
}

describeEngines('activation flow error paths', (engine) => {
  let w: World;
  let org: TestOrganisation;
  beforeEach(async () => {
    w = await World.start(engine);
    org = await w.organisation('Tyttebær Tømrer A/S');
  });
  afterEach(async () => {
    await w?.close();
  });

  /** A user activated with a separate MitID on a code display: user ID, password, device. */
  async function separateUser(): Promise<{
    id: string;
    userId: string;
    password: string;
    display: OtpDevice;
  }> {
    const citizen = await w.citizen();
    const { devices } = await w.devices('code-display', 1, org.userAdmin);
    const display = devices[0]!;
    const user = await w.user(org, { cpr: citizen.cpr });
    const token = await w.started(user.link, citizen);
    const { userId } = await w.separateUpToAuthenticator(token);
    await w.post('/api/activation/authenticator', { kind: 'code-display' }, token);
    const act = await w.post(
      '/api/activation/authenticator/activate',
      { serial: display.serial, code: await codeOf(display) },
      token,
    );
    expect(act.status).toBe(200);
    w.tick();
    const password = freshPassword();
    expect((await w.post('/api/activation/password', { password }, token)).status).toBe(200);
    expect((await w.post('/api/activation/finish', {}, token)).status).toBe(200);
    return { id: user.id, userId, password, display };
  }

  it('a resent e-mail replaces the link: the old one answers 410, the new one works', async () => {
    const citizen = await w.citizen();
    const user = await w.user(org, { cpr: citizen.cpr });
    w.clock.advance(DAY);
    const resent = await w.post(`/api/admin/users/${user.id}/resend`, {}, org.userAdmin);
    expect(resent.status).toBe(200);
    const fresh = await w.latestLink(user.email);
    expect(fresh).not.toBe(user.link);

    const old = await w.get(`/api/activation-links/${user.link}`);
    expect(old.status).toBe(410);
    expect(old.body.error).toBe('link-not-valid');
    expect(old.body.message).toContain(org.userAdminName);
    const oldStart = await w.start(user.link, citizen);
    expect(oldStart.status).toBe(410);
    expect((await w.get(`/api/activation-links/${fresh}`)).status).toBe(200);
    const token = await w.started(fresh, citizen);
    expect((await w.post('/api/activation/mitid', { mitid: 'private' }, token)).status).toBe(200);
    expect((await w.post('/api/activation/finish', {}, token)).status).toBe(200);
    // A used link answers 410 too, and resending to an activated user is refused.
    expect((await w.get(`/api/activation-links/${fresh}`)).status).toBe(410);
    const again = await w.post(`/api/admin/users/${user.id}/resend`, {}, org.userAdmin);
    expect(again.status).toBeGreaterThanOrEqual(400);
    expect(again.status).toBeLessThan(500);
  });

  it('a link expires after 30 days: 410 naming the user administrators; unknown links 404', async () => {
    const citizen = await w.citizen();
    const user = await w.user(org, { cpr: citizen.cpr });
    const page = await w.get(`/api/activation-links/${user.link}`);
    const expiresAt = page.body.expiresAt as number;
    w.clock.advance(expiresAt - w.clock.now() - 1);
    expect((await w.get(`/api/activation-links/${user.link}`)).status).toBe(200);
    w.clock.advance(2);
    const expired = await w.get(`/api/activation-links/${user.link}`);
    expect(expired.status).toBe(410);
    expect(expired.body.error).toBe('link-expired');
    expect(expired.body.message).toContain('30 days');
    expect(expired.body.message).toContain(org.userAdminName);
    expect(expired.body.message).toContain(org.userAdminEmail);
    expect(expired.body.contacts).toEqual([{ name: org.userAdminName, email: org.userAdminEmail }]);
    const start = await w.start(user.link, citizen);
    expect(start.status).toBe(410);
    expect(start.body.error).toBe('link-expired');
    // The admin view says there is no live link; a resend gives one that works.
    const view = await w.get(`/api/admin/users/${user.id}`, org.userAdmin);
    expect(view.body.activationLinkLive).toBe(false);
    await w.post(`/api/admin/users/${user.id}/resend`, {}, org.userAdmin);
    const fresh = await w.latestLink(user.email);
    w.tick();
    expect((await w.start(fresh, citizen)).status).toBe(200);

    const unknown = await w.get(`/api/activation-links/${'A'.repeat(43)}`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toBe('link-not-valid');
  });

  it('the 30 days hold exactly: 30 days + 1 ms after creation the link is refused', async () => {
    const citizen = await w.citizen();
    const created = w.clock.now();
    const user = await w.user(org, { cpr: citizen.cpr });
    w.clock.advance(created + 30 * DAY + 1 - w.clock.now());
    const r = await w.start(user.link, citizen);
    expect(r.status).toBe(410);
    expect(r.body.message).toContain(org.userAdminName);
  });

  it('a wrong activation code three times blocks it (423); the right one is then refused too; a new code works', async () => {
    const citizen = await w.citizen();
    const user = await w.user(org, { birthDate: '1985-03-15' });
    const token = await w.started(user.link, citizen);
    const chosen = await w.post('/api/activation/mitid', { mitid: 'private' }, token);
    expect(chosen.body.step).toBe('activation-code');
    const right = user.activationCode!;
    const wrong = right.replace(/^[A-Z2-9]/, (ch) => (ch === 'A' ? 'B' : 'A'));
    const answers = [];
    for (let i = 0; i < 3; i++)
      answers.push(await w.post('/api/activation/activation-code', { code: wrong }, token));
    expect(answers.map((a) => a.status)).toEqual([400, 400, 423]);
    expect(answers[2]!.body.error).toBe('activation-code-blocked');
    expect(answers[2]!.body.message).toContain(org.userAdminName);
    const late = await w.post('/api/activation/activation-code', { code: right }, token);
    expect(late.status).toBe(423);
    expect(late.body.message).not.toContain(right);
    expect((await w.post('/api/activation/finish', {}, token)).status).toBe(409);

    const fresh = await w.post(`/api/admin/users/${user.id}/activation-code`, {}, org.userAdmin);
    expect(fresh.status).toBe(200);
    const code = fresh.body.activationCode as string;
    expect(code).not.toBe(right);
    const ok = await w.post('/api/activation/activation-code', { code }, token);
    expect(ok.status).toBe(200);
    expect(ok.body.step).toBe('finish');
    expect((await w.post('/api/activation/finish', {}, token)).status).toBe(200);
  });

  it('a birth-date user whose private MitID has another date of birth is refused (403)', async () => {
    const citizen = await w.citizen();
    const user = await w.user(org, { birthDate: '1990-01-01' });
    const r = await w.start(user.link, citizen);
    expect(r.status).toBe(403);
    expect(r.body.error).toBe('identity-mismatch');
    // Refused before the link was used: the right person can still start.
    expect((await w.get(`/api/activation-links/${user.link}`)).status).toBe(200);
  });

  it('disallowed choices: private not allowed (403), separate not allowed for the user (403 naming the admin) until the admin allows it, authenticator not offered (403)', async () => {
    // Only the organisation administrator changes settings.
    const byUserAdmin = await w.call(
      'PATCH',
      '/api/admin/settings',
      { privateMitIdAllowed: false },
      org.userAdmin,
    );
    expect(byUserAdmin.status).toBe(403);
    const patched = await w.call(
      'PATCH',
      '/api/admin/settings',
      { privateMitIdAllowed: false, separateAuthenticators: ['chip'], preselected: 'chip' },
      org.orgAdmin,
    );
    expect(patched.status).toBe(200);

    const citizen = await w.citizen();
    const user = await w.user(org, { cpr: citizen.cpr });
    const token = await w.started(user.link, citizen);
    const view = await w.get('/api/activation', token);
    expect(view.body.choices).toEqual({
      private: false,
      separate: true,
      authenticators: ['chip'],
    });
    const priv = await w.post('/api/activation/mitid', { mitid: 'private' }, token);
    expect(priv.status).toBe(403);
    expect(priv.body.error).toBe('private-not-allowed');
    const { userId: _u } = await w.separateUpToAuthenticator(token);
    const notOffered = await w.post(
      '/api/activation/authenticator',
      { kind: 'code-display' },
      token,
    );
    expect(notOffered.status).toBe(403);
    expect(notOffered.body.error).toBe('authenticator-not-offered');
    expect(notOffered.body.message).toContain('chip');
    expect((await w.post('/api/activation/authenticator', { kind: 'chip' }, token)).status).toBe(
      200,
    );

    // Second organisation: private allowed, this user set up for private MitID only.
    const org2 = await w.organisation('Solbær Service I/S');
    const citizen2 = await w.citizen();
    const user2 = await w.user(org2, { cpr: citizen2.cpr, separateAllowed: false });
    const t2 = await w.started(user2.link, citizen2);
    const v2 = await w.get('/api/activation', t2);
    expect(v2.body.choices.private).toBe(true);
    expect(v2.body.choices.separate).toBe(false);
    const sep = await w.post('/api/activation/mitid', { mitid: 'separate' }, t2);
    expect(sep.status).toBe(403);
    expect(sep.body.error).toBe('separate-not-allowed');
    expect(sep.body.message).toContain(org2.userAdminName);
    expect(sep.body.contacts).toEqual([{ name: org2.userAdminName, email: org2.userAdminEmail }]);
    // Another organisation's administrator cannot allow it.
    const foreign = await w.post(
      `/api/admin/users/${user2.id}/separate-mitid`,
      { allowed: true },
      org.userAdmin,
    );
    expect(foreign.status).toBe(403);
    // The organisation administrator may not either (a user administrator's task).
    const wrongRole = await w.post(
      `/api/admin/users/${user2.id}/separate-mitid`,
      { allowed: true },
      org2.orgAdmin,
    );
    expect(wrongRole.status).toBe(403);
    const allowed = await w.post(
      `/api/admin/users/${user2.id}/separate-mitid`,
      { allowed: true },
      org2.userAdmin,
    );
    expect(allowed.status).toBe(200);
    const sep2 = await w.post('/api/activation/mitid', { mitid: 'separate' }, t2);
    expect(sep2.status).toBe(200);
    expect(sep2.body.step).toBe('user-id');
  });

  it('replayed codes: at activation start, at login (401, the generic message), at /api/validate (false)', async () => {
    const s = await separateUser();
    w.tick();
    const code = await codeOf(s.display);
    const l1 = await w.post('/api/login', { userId: s.userId });
    expect((await w.post('/api/login/code', { code }, l1.body.loginToken)).status).toBe(200);
    expect(
      (await w.post('/api/login/password', { password: s.password }, l1.body.loginToken)).body.done,
    ).toBe(true);
    const l2 = await w.post('/api/login', { userId: s.userId });
    const replay = await w.post('/api/login/code', { code }, l2.body.loginToken);
    expect(replay.status).toBe(401);
    expect(replay.body.error).toBe('login-failed');
    // The same answer as for a wrong code: nothing tells a replay from a mistake.
    const l3 = await w.post('/api/login', { userId: s.userId });
    const wrong = await w.post('/api/login/code', { code: wrongCode(code) }, l3.body.loginToken);
    expect(wrong.status).toBe(401);
    expect(wrong.body).toEqual(replay.body);
    expect(replay.body.message).not.toContain(code);

    w.tick();
    const fresh = await codeOf(s.display);
    expect((await w.post('/api/validate', { userId: s.userId, code: fresh })).body).toEqual({
      verified: true,
    });
    expect((await w.post('/api/validate', { userId: s.userId, code: fresh })).body).toEqual({
      verified: false,
    });

    // At "Start activation": a citizen's code used for one organisation's link cannot start another.
    const org2 = await w.organisation('Brombær Bryggeri ApS');
    const citizen = await w.citizen();
    const u1 = await w.user(org, { cpr: citizen.cpr });
    const u2 = await w.user(org2, { cpr: citizen.cpr });
    const c = await codeOf(citizen.device);
    expect((await w.start(u1.link, citizen, c)).status).toBe(200);
    const second = await w.start(u2.link, citizen, c);
    expect(second.status).toBe(401);
    expect(second.body.error).toBe('private-login-failed');
    w.tick();
    expect((await w.start(u2.link, citizen)).status).toBe(200);
  });

  it('lockout: 3 wrong codes block for a while (right code refused, admin view temporarily-blocked); after the period the right code works; 9 without a good one block for good', async () => {
    const policy = defaultLockoutPolicy;
    expect(policy.failuresBeforeTemporaryBlock).toBe(3);
    expect(policy.failuresBeforePermanentBlock).toBeLessThanOrEqual(100);
    expect(() => checkLockoutPolicy({ ...policy, failuresBeforePermanentBlock: 101 })).toThrow(
      RangeError,
    );
    const s = await separateUser();
    const adminView = async (): Promise<string> =>
      (await w.get(`/api/admin/users/${s.id}`, org.userAdmin)).body.authenticators[0].lockout;

    const failWith = async (code: string): Promise<number> => {
      const l = await w.post('/api/login', { userId: s.userId });
      return (await w.post('/api/login/code', { code }, l.body.loginToken)).status;
    };
    const round = async (): Promise<void> => {
      for (let i = 0; i < policy.failuresBeforeTemporaryBlock; i++) {
        w.tick();
        expect(await failWith(wrongCode(await codeOf(s.display)))).toBe(401);
      }
    };

    await round();
    expect(await adminView()).toBe('temporarily-blocked');
    w.tick();
    const blockedLogin = await w.loginWithCode(s.userId, s.password, s.display);
    expect(blockedLogin.status).toBe(401);
    expect(blockedLogin.body.error).toBe('login-failed');
    w.tick();
    expect(
      (await w.post('/api/validate', { userId: s.userId, code: await codeOf(s.display) })).body,
    ).toEqual({ verified: false });

    w.clock.advance(policy.temporaryBlockMs);
    expect(await adminView()).toBe('open');
    const after = await w.loginWithCode(s.userId, s.password, s.display);
    expect(after.status).toBe(200);
    expect(after.body.done).toBe(true);

    // Continued misuse: rounds without a good proof until the permanent count.
    const rounds = Math.ceil(
      policy.failuresBeforePermanentBlock / policy.failuresBeforeTemporaryBlock,
    );
    for (let r = 0; r < rounds; r++) {
      await round();
      if (r < rounds - 1) {
        expect(await adminView()).toBe('temporarily-blocked');
        w.clock.advance(policy.temporaryBlockMs);
      }
    }
    expect(await adminView()).toBe('blocked');
    w.clock.advance(30 * DAY);
    expect(await adminView()).toBe('blocked');
    const never = await w.loginWithCode(s.userId, s.password, s.display);
    expect(never.status).toBe(401);
  });

  it('wrong passwords after right codes count toward the lockout (3 in a row block the device)', async () => {
    const t = await separateUser();
    for (let i = 0; i < defaultLockoutPolicy.failuresBeforeTemporaryBlock; i++) {
      w.tick();
      const r = await w.loginWithCode(t.userId, `${t.password}x`, t.display);
      expect(r.status).toBe(401);
      expect(r.body.error).toBe('login-failed');
    }
    const tView = await w.get(`/api/admin/users/${t.id}`, org.userAdmin);
    expect(tView.body.authenticators[0].lockout).toBe('temporarily-blocked');
  });

  it('chip login: another chip’s assertion is refused (401); 3 wrong passwords block the chip', async () => {
    const citizen = await w.citizen();
    const chip = await w.chip();
    const stranger = await w.chip();
    const user = await w.user(org, { cpr: citizen.cpr });
    const token = await w.started(user.link, citizen);
    const { userId } = await w.separateUpToAuthenticator(token);
    const chosen = await w.post('/api/activation/authenticator', { kind: 'chip' }, token);
    const registration = await w.register(chip, chosen.body.options);
    expect(
      (await w.post('/api/activation/authenticator/activate', { registration }, token)).status,
    ).toBe(200);
    const password = freshPassword();
    await w.post('/api/activation/password', { password }, token);
    expect((await w.post('/api/activation/finish', {}, token)).status).toBe(200);

    const s = await w.post('/api/login', { userId });
    const p = await w.post('/api/login/password', { password }, s.body.loginToken);
    expect(p.body.next).toBe('chip');
    // The stranger chip holds no credential for this user: it cannot answer the options; an
    // assertion it makes for its own credential is not this user's.
    await expect(w.assert(stranger, p.body.chipOptions)).rejects.toThrow();
    const own = await w.assert(chip, p.body.chipOptions);
    const forged = { ...(own as Record<string, unknown>), id: 'AAAA', rawId: 'AAAA' };
    const refused = await w.post('/api/login/chip', { assertion: forged }, s.body.loginToken);
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('login-failed');

    for (let i = 0; i < defaultLockoutPolicy.failuresBeforeTemporaryBlock; i++) {
      const l = await w.post('/api/login', { userId });
      const r = await w.post(
        '/api/login/password',
        { password: `${password}!` },
        l.body.loginToken,
      );
      expect(r.status).toBe(401);
    }
    const view = await w.get(`/api/admin/users/${user.id}`, org.userAdmin);
    expect(view.body.authenticators).toEqual([
      expect.objectContaining({ kind: 'chip', lockout: 'temporarily-blocked' }),
    ]);
    const l = await w.post('/api/login', { userId });
    expect((await w.post('/api/login/password', { password }, l.body.loginToken)).status).toBe(401);
  });

  it('concurrent starts of one link with the same valid credentials: exactly one wins, its session works, the private MitID is not locked', async () => {
    const citizen = await w.citizen();
    const user = await w.user(org, { cpr: citizen.cpr });
    const code = await codeOf(citizen.device);
    const answers = await Promise.all(
      Array.from({ length: 8 }, () =>
        w.post(`/api/activation-links/${user.link}/start`, {
          userId: citizen.userId,
          code,
          password: citizen.password,
        }),
      ),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    for (const a of answers.filter((x) => x.status !== 200)) {
      expect(a.status).toBeGreaterThanOrEqual(400);
      expect(a.status).toBeLessThan(500);
      expect(typeof a.body.error).toBe('string');
    }
    const token = answers.find((a) => a.status === 200)!.body.activationToken as string;
    expect((await w.post('/api/activation/mitid', { mitid: 'private' }, token)).status).toBe(200);
    expect((await w.post('/api/activation/finish', {}, token)).status).toBe(200);
    // The losers' refusals did not lock the citizen's code display.
    w.tick();
    const login = await w.loginWithCode(citizen.userId, citizen.password, citizen.device);
    expect(login.status).toBe(200);
    expect(login.body.organisations).toEqual([{ name: org.name, cvr: org.cvr }]);
  });

  it('concurrent starts with different valid codes (previous, current, next step): exactly one wins', async () => {
    const citizen = await w.citizen();
    const user = await w.user(org, { cpr: citizen.cpr });
    const now = w.clock.now();
    const codes = [-1, 0, 1].map((k) => generateTotp(citizen.key, now + k * STEP_MS));
    expect(codes[1]).toBe(await codeOf(citizen.device));
    const answers = await Promise.all(
      [...codes, ...codes].map((code) =>
        w.post(`/api/activation-links/${user.link}/start`, {
          userId: citizen.userId,
          code,
          password: citizen.password,
        }),
      ),
    );
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(answers.every((a) => a.status === 200 || (a.status >= 400 && a.status < 500))).toBe(
      true,
    );
    const token = answers.find((a) => a.status === 200)!.body.activationToken as string;
    expect((await w.get('/api/activation', token)).body.step).toBe('choose-mitid');
  });

  it('concurrent "Finish activation": exactly one succeeds and one confirmation e-mail is sent', async () => {
    const citizen = await w.citizen();
    const user = await w.user(org, { cpr: citizen.cpr });
    const token = await w.started(user.link, citizen);
    await w.post('/api/activation/mitid', { mitid: 'private' }, token);
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => w.post('/api/activation/finish', {}, token)),
    );
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(answers.every((a) => a.status === 200 || (a.status >= 400 && a.status < 500))).toBe(
      true,
    );
    const confirmations = (await w.mail(user.email)).filter((m) =>
      m.subject.startsWith('Du er aktiveret'),
    );
    expect(confirmations).toHaveLength(1);
  });
});
