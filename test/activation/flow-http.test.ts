/** The activation guide's paths over HTTP, end to end, with emulated devices, on SQLite and PostgreSQL. */
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  codeOf,
  describeEngines,
  freshPassword,
  World,
  type TestOrganisation,
} from './flow-support.js';

describeEngines('activation guide over HTTP', (engine) => {
  let w: World;
  let org: TestOrganisation;
  beforeEach(async () => {
    w = await World.start(engine);
    org = await w.organisation('Blåbær Konsulenter ApS');
  });
  afterEach(async () => {
    await w?.close();
  });

  it('CPR user with private MitID: link page → start → private → finish → e-mail, admin view, login lists the organisation', async () => {
    const citizen = await w.citizen();
    const user = await w.user(org, { cpr: citizen.cpr });

    const page = await w.get(`/api/activation-links/${user.link}`);
    expect(page.status).toBe(200);
    expect(page.body.organisation).toEqual({ name: 'Blåbær Konsulenter ApS', cvr: org.cvr });
    expect(page.body.needsActivationCode).toBe(false);
    expect(page.body.expiresAt).toBe(w.clock.now() + 30 * 86_400_000);

    const started = await w.start(user.link, citizen);
    expect(started.status).toBe(200);
    const token = started.body.activationToken as string;
    expect(started.body.view).toMatchObject({
      step: 'choose-mitid',
      organisation: { name: 'Blåbær Konsulenter ApS' },
      choices: { private: true, separate: true },
    });
    w.tick();

    const chosen = await w.post('/api/activation/mitid', { mitid: 'private' }, token);
    expect(chosen.status).toBe(200);
    expect(chosen.body.step).toBe('finish');
    const fin = await w.post('/api/activation/finish', {}, token);
    expect(fin.status).toBe(200);
    expect(fin.body).toMatchObject({ mitid: 'private', userId: null, authenticator: null });

    // The session has ended; the link too.
    expect((await w.get('/api/activation', token)).status).toBe(404);
    expect((await w.get(`/api/activation-links/${user.link}`)).status).toBe(410);

    const mails = await w.mail(user.email);
    expect(mails.map((m) => m.subject)).toContain(
      'Du er aktiveret i MitID Erhverv / You are activated in MitID Erhverv',
    );
    const confirmation = mails.find((m) => m.subject.startsWith('Du er aktiveret'))!;
    expect(confirmation.text).toContain('Blåbær Konsulenter ApS');
    expect(confirmation.text).toContain('your private MitID');

    const view = await w.get(`/api/admin/users/${user.id}`, org.userAdmin);
    expect(view.status).toBe(200);
    expect(view.body.user.status).toBe('activated');
    expect(view.body.user.mitidKind).toBe('private');
    expect(view.body.activationLinkLive).toBe(false);

    const login = await w.loginWithCode(citizen.userId, citizen.password, citizen.device);
    expect(login.status).toBe(200);
    expect(login.body).toEqual({
      done: true,
      identity: { mitid: 'private', userId: citizen.userId },
      organisations: [{ name: 'Blåbær Konsulenter ApS', cvr: org.cvr }],
    });
  });

  it('CPR user, separate MitID with a code display from the inventory: every step, then login and validate', async () => {
    const citizen = await w.citizen();
    const { devices } = await w.devices('code-display', 2, org.userAdmin);
    const display = devices[1]!;
    const user = await w.user(org, { cpr: citizen.cpr });
    const token = await w.started(user.link, citizen);
    const { userId, phone } = await w.separateUpToAuthenticator(token);

    const st = await w.get('/api/activation', token);
    expect(st.body).toMatchObject({ step: 'authenticator', mitid: 'separate', userId, phone });

    const chosen = await w.post('/api/activation/authenticator', { kind: 'code-display' }, token);
    expect(chosen.status).toBe(200);
    expect(chosen.body).toEqual({ kind: 'code-display', needs: ['serial', 'code'] });
    const act = await w.post(
      '/api/activation/authenticator/activate',
      { serial: display.serial, code: await codeOf(display) },
      token,
    );
    expect(act.status).toBe(200);
    expect(act.body.step).toBe('password');
    w.tick();

    const password = freshPassword();
    expect((await w.post('/api/activation/password', { password }, token)).body.step).toBe(
      'finish',
    );
    const fin = await w.post('/api/activation/finish', {}, token);
    expect(fin.status).toBe(200);
    expect(fin.body).toEqual({
      mitid: 'separate',
      userId,
      organisation: { name: org.name, cvr: org.cvr },
      authenticator: 'code-display',
      serial: display.serial,
    });
    const mails = await w.mail(user.email);
    expect(mails.some((m) => m.text.includes('a separate MitID'))).toBe(true);

    const view = await w.get(`/api/admin/users/${user.id}`, org.userAdmin);
    expect(view.body.user.status).toBe('activated');
    expect(view.body.authenticators).toEqual([
      { kind: 'code-display', serial: display.serial, lockout: 'open' },
    ]);

    // Login: user ID → code → password.
    const s = await w.post('/api/login', { userId });
    expect(s.status).toBe(200);
    expect(s.body).toMatchObject({ authenticator: 'code-display', steps: ['code', 'password'] });
    const lt = s.body.loginToken as string;
    // The password is not next.
    expect((await w.post('/api/login/password', { password }, lt)).status).toBe(409);
    const c = await w.post('/api/login/code', { code: await codeOf(display) }, lt);
    expect(c.body).toEqual({ done: false, next: 'password' });
    const p = await w.post('/api/login/password', { password }, lt);
    expect(p.status).toBe(200);
    expect(p.body).toEqual({
      done: true,
      identity: { mitid: 'separate', userId },
      organisations: [{ name: org.name, cvr: org.cvr }],
    });
    // The finished login cannot be used again.
    expect((await w.post('/api/login/password', { password }, lt)).status).toBe(404);

    w.tick();
    const v = await w.post('/api/validate', { userId, code: await codeOf(display) });
    expect(v.status).toBe(200);
    expect(v.body).toEqual({ verified: true });
    // Upper case is the same user ID.
    w.tick();
    const upper = await w.post('/api/validate', {
      userId: userId.toUpperCase(),
      code: await codeOf(display),
    });
    expect(upper.body).toEqual({ verified: true });
  });

  it('birth-date user, separate MitID with an audio reader: activation code (two wrong, then right), full activation, login with the reader', async () => {
    const citizen = await w.citizen();
    const { devices } = await w.devices('audio-reader', 1, org.userAdmin);
    const reader = devices[0]!;
    const user = await w.user(org, { birthDate: '1985-03-15' });
    expect(user.activationCode).toMatch(/^[A-Z2-9]{4}-?[A-Z2-9]{4}$/);

    const page = await w.get(`/api/activation-links/${user.link}`);
    expect(page.body.needsActivationCode).toBe(true);
    const token = await w.started(user.link, citizen);
    expect((await w.post('/api/activation/mitid', { mitid: 'separate' }, token)).status).toBe(200);
    const userId = `lyd.${Date.now().toString(36)}`;
    expect((await w.post('/api/activation/user-id', { userId }, token)).body.step).toBe(
      'activation-code',
    );
    const wrong = user.activationCode!.replace(/[A-Z2-9]$/, (ch) => (ch === 'A' ? 'B' : 'A'));
    const w1 = await w.post('/api/activation/activation-code', { code: wrong }, token);
    expect(w1.status).toBe(400);
    expect(w1.body).toMatchObject({ error: 'activation-code-wrong', triesLeft: 2 });
    const w2 = await w.post('/api/activation/activation-code', { code: wrong }, token);
    expect(w2.body).toMatchObject({ error: 'activation-code-wrong', triesLeft: 1 });
    // Typed in lower case with spaces: the same code.
    const typed = user.activationCode!.replace('-', ' ').toLowerCase();
    const ok = await w.post('/api/activation/activation-code', { code: typed }, token);
    expect(ok.status).toBe(200);
    expect(ok.body.step).toBe('phone');

    const phone = '+4592345678';
    expect((await w.post('/api/activation/phone', { phone: '92 34 56 78' }, token)).status).toBe(
      200,
    );
    const sms = await w.smsCode(phone);
    expect((await w.post('/api/activation/phone-code', { code: sms }, token)).body.phone).toBe(
      phone,
    );
    expect(
      (await w.post('/api/activation/authenticator', { kind: 'audio-reader' }, token)).status,
    ).toBe(200);
    const bound = await reader.bind({});
    const act = await w.post(
      '/api/activation/authenticator/activate',
      { serial: bound.serial, code: bound.code },
      token,
    );
    expect(act.status).toBe(200);
    w.tick();
    const password = freshPassword();
    expect((await w.post('/api/activation/password', { password }, token)).status).toBe(200);
    const fin = await w.post('/api/activation/finish', {}, token);
    expect(fin.body).toMatchObject({ mitid: 'separate', authenticator: 'audio-reader' });

    // Login: the code the reader speaks (a WAV comes with it).
    const s = await w.post('/api/login', { userId });
    expect(s.body.steps).toEqual(['code', 'password']);
    expect(s.body.authenticator).toBe('audio-reader');
    const spoken = await reader.prove({});
    expect(spoken.audio?.length ?? 0).toBeGreaterThan(44);
    const c = await w.post('/api/login/code', { code: spoken.code }, s.body.loginToken);
    expect(c.status).toBe(200);
    const p = await w.post('/api/login/password', { password }, s.body.loginToken);
    expect(p.body).toMatchObject({ done: true, organisations: [{ cvr: org.cvr }] });
  });

  it('separate MitID with the chip: creation options → chip → registration; login password → assertion', async () => {
    const citizen = await w.citizen();
    const chip = await w.chip();
    const user = await w.user(org, { cpr: citizen.cpr });
    const token = await w.started(user.link, citizen);
    const { userId } = await w.separateUpToAuthenticator(token);

    const chosen = await w.post('/api/activation/authenticator', { kind: 'chip' }, token);
    expect(chosen.status).toBe(200);
    expect(chosen.body.kind).toBe('chip');
    expect(chosen.body.options.rp.id).toBe('localhost');
    const registration = await w.register(chip, chosen.body.options);
    const act = await w.post('/api/activation/authenticator/activate', { registration }, token);
    expect(act.status).toBe(200);
    expect(act.body.step).toBe('password');
    // The challenge was single use: the same registration again is not a step any more.
    expect(
      (await w.post('/api/activation/authenticator/activate', { registration }, token)).status,
    ).toBe(409);
    const password = freshPassword();
    expect((await w.post('/api/activation/password', { password }, token)).status).toBe(200);
    const fin = await w.post('/api/activation/finish', {}, token);
    expect(fin.body).toMatchObject({ mitid: 'separate', authenticator: 'chip' });
    expect(fin.body.serial).toMatch(/^fido-[0-9a-f]{32}$/);

    const s = await w.post('/api/login', { userId });
    expect(s.body).toMatchObject({ authenticator: 'chip', steps: ['password', 'chip'] });
    const lt = s.body.loginToken as string;
    const p = await w.post('/api/login/password', { password }, lt);
    expect(p.status).toBe(200);
    expect(p.body.done).toBe(false);
    expect(p.body.next).toBe('chip');
    const assertion = await w.assert(chip, p.body.chipOptions);
    const done = await w.post('/api/login/chip', { assertion }, lt);
    expect(done.status).toBe(200);
    expect(done.body).toEqual({
      done: true,
      identity: { mitid: 'separate', userId },
      organisations: [{ name: org.name, cvr: org.cvr }],
    });

    // A second login: the old assertion (old challenge, old counter) is refused.
    const s2 = await w.post('/api/login', { userId });
    const lt2 = s2.body.loginToken as string;
    expect((await w.post('/api/login/password', { password }, lt2)).status).toBe(200);
    const replay = await w.post('/api/login/chip', { assertion }, lt2);
    expect(replay.status).toBe(401);
    expect(replay.body.error).toBe('login-failed');
  });

  it('shared separate MitID: org A asks org B, both approve, login lists both organisations', async () => {
    const orgB = await w.organisation('Hyldebær Holding A/S');
    const citizen = await w.citizen();
    const { devices } = await w.devices('code-display', 1, org.userAdmin);
    const display = devices[0]!;
    const user = await w.user(org, { cpr: citizen.cpr });
    const token = await w.started(user.link, citizen);
    const { userId } = await w.separateUpToAuthenticator(token);
    await w.post('/api/activation/authenticator', { kind: 'code-display' }, token);
    expect(
      (
        await w.post(
          '/api/activation/authenticator/activate',
          { serial: display.serial, code: await codeOf(display) },
          token,
        )
      ).status,
    ).toBe(200);
    w.tick();
    const password = freshPassword();
    await w.post('/api/activation/password', { password }, token);
    expect((await w.post('/api/activation/finish', {}, token)).status).toBe(200);

    const share = await w.post(
      '/api/admin/shares',
      { userId: user.id, cvr: orgB.cvr },
      org.userAdmin,
    );
    expect(share.status).toBe(201);
    const shareId = share.body.id as string;
    // Before both approve, the login lists only A.
    const before = await w.loginWithCode(userId, password, display);
    expect(before.body.organisations).toEqual([{ name: org.name, cvr: org.cvr }]);
    w.tick();
    expect((await w.post(`/api/admin/shares/${shareId}/approve`, {}, org.userAdmin)).status).toBe(
      200,
    );
    const half = await w.loginWithCode(userId, password, display);
    expect(half.body.organisations).toHaveLength(1);
    w.tick();
    expect((await w.post(`/api/admin/shares/${shareId}/approve`, {}, orgB.orgAdmin)).status).toBe(
      200,
    );
    const both = await w.loginWithCode(userId, password, display);
    expect(both.status).toBe(200);
    expect((both.body.organisations as { cvr: string }[]).map((o) => o.cvr).sort()).toEqual(
      [org.cvr, orgB.cvr].sort(),
    );
  });
});
