/** The activation steps' own refusals (order, sessions, SMS and device tries, taken user IDs) and two service instances on one database, on SQLite and PostgreSQL. */
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  codeOf,
  describeEngines,
  freshPassword,
  World,
  type Answer,
  type TestOrganisation,
} from './flow-support.js';

describeEngines('activation steps and instances', (engine) => {
  let w: World;
  let org: TestOrganisation;
  beforeEach(async () => {
    w = await World.start(engine);
    org = await w.organisation('Rønnebær Revision P/S');
  });
  afterEach(async () => {
    await w?.close();
  });

  it('steps out of order are 409 wrong-step naming the next step; the activation session ends after an hour', async () => {
    const citizen = await w.citizen();
    const user = await w.user(org, { cpr: citizen.cpr });
    const token = await w.started(user.link, citizen);
    const early = await w.post('/api/activation/finish', {}, token);
    expect(early.status).toBe(409);
    expect(early.body).toMatchObject({ error: 'wrong-step', step: 'choose-mitid' });
    expect((await w.post('/api/activation/phone', { phone: '+4591111111' }, token)).status).toBe(
      409,
    );
    expect(
      (await w.post('/api/activation/password', { password: freshPassword() }, token)).status,
    ).toBe(409);
    await w.post('/api/activation/mitid', { mitid: 'separate' }, token);
    // The choice is made: choosing again is not a step any more.
    expect((await w.post('/api/activation/mitid', { mitid: 'private' }, token)).body).toMatchObject(
      { error: 'wrong-step', step: 'user-id' },
    );
    w.clock.advance(3_600_000);
    const late = await w.get('/api/activation', token);
    expect(late.status).toBe(404);
    expect(late.body.error).toBe('activation-not-found');
    // The link was used by the start: a new one comes from the administrator.
    expect((await w.get(`/api/activation-links/${user.link}`)).status).toBe(410);
  });

  it('a second start of the same user (after a resend) ends the first activation session', async () => {
    const citizen = await w.citizen();
    const user = await w.user(org, { cpr: citizen.cpr });
    const first = await w.started(user.link, citizen);
    w.clock.advance(60_000);
    await w.post(`/api/admin/users/${user.id}/resend`, {}, org.userAdmin);
    const second = await w.started(await w.latestLink(user.email), citizen);
    expect((await w.get('/api/activation', first)).status).toBe(404);
    expect((await w.get('/api/activation', second)).status).toBe(200);
  });

  it('another person’s private MitID cannot start the activation (403), and the link stays usable', async () => {
    const owner = await w.citizen();
    const other = await w.citizen();
    const user = await w.user(org, { cpr: owner.cpr });
    const r = await w.start(user.link, other);
    expect(r.status).toBe(403);
    expect(r.body.error).toBe('identity-mismatch');
    expect((await w.start(user.link, owner)).status).toBe(200);
  });

  it('a wrong password or an unknown user ID at "Start activation" is the same generic 401', async () => {
    const citizen = await w.citizen();
    const user = await w.user(org, { cpr: citizen.cpr });
    const wrongPw = await w.post(`/api/activation-links/${user.link}/start`, {
      userId: citizen.userId,
      code: await codeOf(citizen.device),
      password: `${citizen.password}x`,
    });
    w.tick();
    const unknown = await w.post(`/api/activation-links/${user.link}/start`, {
      userId: 'nobody.here',
      code: await codeOf(citizen.device),
      password: citizen.password,
    });
    expect(wrongPw.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrongPw.body).toEqual(unknown.body);
    w.tick();
    expect((await w.start(user.link, citizen)).status).toBe(200);
  });

  it('SMS code: 3 wrong tries end it (423); entering the number again sends a new code that works', async () => {
    const citizen = await w.citizen();
    const user = await w.user(org, { cpr: citizen.cpr });
    const token = await w.started(user.link, citizen);
    await w.post('/api/activation/mitid', { mitid: 'separate' }, token);
    await w.post('/api/activation/user-id', { userId: `sms.${user.id.slice(0, 8)}` }, token);
    const badPhone = await w.post('/api/activation/phone', { phone: '12 34' }, token);
    expect(badPhone.status).toBe(400);
    expect(badPhone.body.violations[0]).toMatchObject({ field: 'phone' });
    const phone = '+4593333333';
    await w.post('/api/activation/phone', { phone }, token);
    const first = await w.smsCode(phone);
    const wrong = String((Number(first) + 1) % 1_000_000).padStart(6, '0');
    const tries: Answer[] = [];
    for (let i = 0; i < 3; i++)
      tries.push(await w.post('/api/activation/phone-code', { code: wrong }, token));
    expect(tries.map((t) => t.status)).toEqual([400, 400, 423]);
    expect(tries[0]!.body.triesLeft).toBe(2);
    expect((await w.post('/api/activation/phone-code', { code: first }, token)).status).toBe(423);
    // A moment later (the SMS inbox lists by time; see the note on equal times).
    w.clock.advance(1_000);
    await w.post('/api/activation/phone', { phone }, token);
    const second = await w.smsCode(phone);
    const ok = await w.post('/api/activation/phone-code', { code: second }, token);
    expect(ok.status).toBe(200);
    expect(ok.body.step).toBe('authenticator');
  });

  it('the handed-over activation code runs out after 48 hours: the right code is then refused with "ask for a new one" (423), and a new code works', async () => {
    const citizen = await w.citizen();
    const user = await w.user(org, { birthDate: '1985-03-15' });
    w.clock.advance(48 * 3_600_000 + 1);
    const token = await w.started(user.link, citizen);
    await w.post('/api/activation/mitid', { mitid: 'private' }, token);
    const late = await w.post(
      '/api/activation/activation-code',
      { code: user.activationCode },
      token,
    );
    expect(late.status).not.toBe(200);
    expect(late.body.error).toBe('activation-code-blocked');
    expect(late.status).toBe(423);
    expect(late.body.message).toContain(org.userAdminName);
    const fresh = await w.post(`/api/admin/users/${user.id}/activation-code`, {}, org.userAdmin);
    const ok = await w.post(
      '/api/activation/activation-code',
      { code: fresh.body.activationCode },
      token,
    );
    expect(ok.status).toBe(200);
  });

  it('the SMS code runs out after 30 minutes: refused with "enter the number again" (423)', async () => {
    const citizen = await w.citizen();
    const user = await w.user(org, { cpr: citizen.cpr });
    const token = await w.started(user.link, citizen);
    await w.post('/api/activation/mitid', { mitid: 'separate' }, token);
    await w.post('/api/activation/user-id', { userId: `udløb.${user.id.slice(0, 8)}` }, token);
    const phone = '+4594444444';
    await w.post('/api/activation/phone', { phone }, token);
    const sms = await w.smsCode(phone);
    w.clock.advance(30 * 60_000 + 1);
    const stale = await w.post('/api/activation/phone-code', { code: sms }, token);
    expect(stale.status).not.toBe(200);
    expect(stale.body.error).toBe('sms-code-blocked');
    expect(stale.status).toBe(423);
  });

  it('a login not finished within 10 minutes has ended (404)', async () => {
    const citizen = await w.citizen();
    const login = await w.post('/api/login', { userId: citizen.userId });
    w.clock.advance(10 * 60_000);
    const gone = await w.post(
      '/api/login/code',
      { code: await codeOf(citizen.device) },
      login.body.loginToken,
    );
    expect(gone.status).toBe(404);
    expect(gone.body.error).toBe('login-not-found');
  });

  it('device activation: an unknown serial, a wrong code or another organisation’s device are refused alike; after 5 wrong tries 423', async () => {
    const orgB = await w.organisation('Aronia Andel A.m.b.a.');
    const { devices } = await w.devices('code-display', 1, org.userAdmin);
    const { devices: foreign } = await w.devices('code-display', 1, orgB.userAdmin);
    const mine = devices[0]!;
    const citizen = await w.citizen();
    const user = await w.user(org, { cpr: citizen.cpr });
    const token = await w.started(user.link, citizen);
    await w.separateUpToAuthenticator(token);
    await w.post('/api/activation/authenticator', { kind: 'code-display' }, token);
    const code = await codeOf(mine);
    const attempts = [
      { serial: 'KV-NOT-THERE', code },
      { serial: mine.serial, code: String((Number(code) + 1) % 1_000_000).padStart(6, '0') },
      { serial: foreign[0]!.serial, code: await codeOf(foreign[0]!) },
      { serial: mine.serial, code: 'abcdef' },
      { serial: mine.serial, code: '' + '1'.repeat(6) },
    ];
    const answers: Answer[] = [];
    for (const a of attempts)
      answers.push(await w.post('/api/activation/authenticator/activate', a, token));
    const refused = answers.filter(
      (a) => a.status === 400 && a.body.error === 'device-not-accepted',
    );
    // '111111' could be the right code by chance (one in a million): every other try is refused.
    expect(refused.length).toBeGreaterThanOrEqual(4);
    expect(new Set(refused.map((a) => a.body.message)).size).toBe(1);
    if (refused.length === 5) {
      const sixth = await w.post(
        '/api/activation/authenticator/activate',
        { serial: mine.serial, code },
        token,
      );
      expect(sixth.status).toBe(423);
      expect(sixth.body.error).toBe('device-tries-used');
    }
    // The foreign organisation's device is still available to its own users.
    const inv = await w.get('/api/admin/inventory', orgB.userAdmin);
    expect(inv.body.items[0]).toMatchObject({ serial: foreign[0]!.serial, status: 'available' });
  });

  it('a user ID taken by another MitID is 409; the taken check ignores case', async () => {
    const c1 = await w.citizen();
    const c2 = await w.citizen();
    const u1 = await w.user(org, { cpr: c1.cpr });
    const u2 = await w.user(org, { cpr: c2.cpr });
    const t1 = await w.started(u1.link, c1);
    const t2 = await w.started(u2.link, c2);
    await w.post('/api/activation/mitid', { mitid: 'separate' }, t1);
    await w.post('/api/activation/mitid', { mitid: 'separate' }, t2);
    expect((await w.post('/api/activation/user-id', { userId: 'Fælles.Bruger' }, t1)).status).toBe(
      200,
    );
    const taken = await w.post('/api/activation/user-id', { userId: 'fælles.bruger' }, t2);
    expect(taken.status).toBe(409);
    expect(taken.body.error).toBe('user-id-taken');
    // The private MitID's own user ID is taken too.
    const priv = await w.post('/api/activation/user-id', { userId: c1.userId }, t2);
    expect(priv.status).toBe(409);
    // A user ID against the rules is 400 with the violation named.
    const bad = await w.post('/api/activation/user-id', { userId: 'ab' }, t2);
    expect(bad.status).toBe(400);
    expect(bad.body.violations[0]).toMatchObject({ field: 'userId', code: 'user-id-length' });
  });

  it('an administrator sees and changes only their own organisation’s users (403)', async () => {
    const orgB = await w.organisation('Havtorn Handel ApS');
    const citizen = await w.citizen();
    const user = await w.user(org, { cpr: citizen.cpr });
    expect((await w.get(`/api/admin/users/${user.id}`, orgB.userAdmin)).status).toBe(403);
    expect((await w.post(`/api/admin/users/${user.id}/resend`, {}, orgB.userAdmin)).status).toBe(
      403,
    );
    // The organisation administrator may not create users (a user administrator's task).
    const r = await w.post(
      '/api/admin/users',
      { firstName: 'A', surname: 'B', email: 'ab@flow.example', cpr: '150385-0001' },
      org.orgAdmin,
    );
    expect(r.status).toBe(403);
    // The refusals are in the audit log of the organisation whose user it was.
    const audit = JSON.stringify(await w.audit(org));
    expect(audit).toContain('forbidden');
  });

  it('two service instances on one database: concurrent starts of one link through both, exactly one wins; the winner continues on the other instance', async () => {
    const other = await w.another();
    const citizen = await w.citizen();
    const user = await w.user(org, { cpr: citizen.cpr });
    const code = await codeOf(citizen.device);
    const body = { userId: citizen.userId, code, password: citizen.password };
    const path = `/api/activation-links/${user.link}/start`;
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        w.call('POST', path, body, undefined, {}, i % 2 === 0 ? w.svc.url : other.url),
      ),
    );
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(answers.every((a) => a.status === 200 || (a.status >= 400 && a.status < 500))).toBe(
      true,
    );
    const token = answers.find((a) => a.status === 200)!.body.activationToken as string;
    const chosen = await w.call(
      'POST',
      '/api/activation/mitid',
      { mitid: 'private' },
      token,
      {},
      other.url,
    );
    expect(chosen.status).toBe(200);
    expect((await w.post('/api/activation/finish', {}, token)).status).toBe(200);
    const view = await w.call(
      'GET',
      `/api/admin/users/${user.id}`,
      undefined,
      org.userAdmin,
      {},
      other.url,
    );
    expect(view.body.user.status).toBe('activated');
  });
});
