/** The activation service's web pages over real HTTP: headers, CSRF, escaping, both languages, and the guide's paths walked through the forms. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { codeOf, freshPassword, World, type TestOrganisation } from './flow-support.js';
import { decode, PageClient, textOfId } from './web-support.js';

const CSP =
  "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'";

function expectPageHeaders(headers: Headers): void {
  expect(headers.get('content-security-policy')).toBe(CSP);
  expect(headers.get('x-content-type-options')).toBe('nosniff');
  expect(headers.get('referrer-policy')).toBe('no-referrer');
  expect(headers.get('x-frame-options')).toBe('DENY');
  expect(headers.get('cross-origin-opener-policy')).toBe('same-origin');
}

function expectAccessibleShell(html: string, lang: 'da' | 'en'): void {
  expect(html).toContain(`<html lang="${lang}">`);
  expect(html.match(/<h1[ >]/g)?.length).toBe(1);
  expect(html).toContain('<a class="skip-link" href="#main">');
  expect(html).toContain('<main id="main"');
  // No inline script: only the served file and JSON data blocks.
  for (const m of html.matchAll(/<script([^>]*)>/g))
    expect(m[1]).toMatch(/src="\/static\/app\.js"|type="application\/json"/);
  // Every input that is not hidden has a label.
  for (const m of html.matchAll(/<input ([^>]*)>/g)) {
    const attrs = m[1]!;
    if (/type="hidden"/.test(attrs) || /\shidden(\s|$)/.test(attrs)) continue;
    const id = /id="([^"]+)"/.exec(attrs)?.[1];
    expect(id, attrs).toBeDefined();
    expect(html).toContain(`<label for="${id}">`);
  }
}

describe('activation web pages', () => {
  let w: World;
  let org: TestOrganisation;
  beforeEach(async () => {
    w = await World.start('sqlite');
    org = await w.organisation('Blåbær <script>alert("x")</script> & Co ApS');
  });
  afterEach(async () => {
    await w?.close();
  });

  it('every page without a session renders in Danish and English with the security headers', async () => {
    for (const lang of ['da', 'en'] as const) {
      const b = new PageClient(w.svc.url, lang);
      for (const path of ['/', '/login', '/admin/sign-in', '/dev/mailbox', '/dev/sms']) {
        const r = await b.get(path);
        expect(r.status, path).toBe(200);
        expect(r.headers.get('content-type')).toMatch(/^text\/html; charset=utf-8/);
        expectPageHeaders(r.headers);
        expectAccessibleShell(r.html, lang);
      }
      const none = await b.get('/activation');
      expect(none.status).toBe(404);
      expectAccessibleShell(none.html, lang);
      expect(none.html).toContain('role="alert"');
    }
    const b = new PageClient(w.svc.url, 'en');
    const landing = await b.get('/');
    expect(landing.html).toContain('id="link-mailbox"');
    expect(landing.html).toContain('id="link-admin"');
    expect(landing.html).toContain('Activation in MitID Erhverv');
    // ?lang= overrides Accept-Language and sticks in a cookie.
    const da = await b.get('/?lang=da');
    expect(da.html).toContain('<html lang="da">');
    expect((await b.get('/login')).html).toContain('<html lang="da">');
    // The script is a file with the same headers.
    const js = await b.request('GET', '/static/app.js');
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    expectPageHeaders(js.headers);
    const session = b.cookies.get('mitid_sid');
    expect(session).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('the session cookie is HttpOnly and SameSite=Strict', async () => {
    const res = await fetch(`${w.svc.url}/login`);
    const sid = res.headers.getSetCookie().find((c) => c.startsWith('mitid_sid='));
    expect(sid).toMatch(/HttpOnly/i);
    expect(sid).toMatch(/SameSite=Strict/i);
    expect(sid).toMatch(/Path=\//);
  });

  it('a POST without the CSRF token, with a wrong one, or with another session’s is refused (403)', async () => {
    const b = new PageClient(w.svc.url);
    const page = await b.get('/login');
    const none = await b.request('POST', '/login', { userId: 'someone' });
    expect(none.status).toBe(403);
    expect(none.html).toContain('role="alert"');
    expectPageHeaders(none.headers);
    const token = PageClient.csrf(page.html);
    const wrong = await b.request('POST', '/login', {
      _csrf: `${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`,
      userId: 'someone',
    });
    expect(wrong.status).toBe(403);
    const other = new PageClient(w.svc.url);
    await other.get('/login');
    const foreign = await other.request('POST', '/login', { _csrf: token, userId: 'someone' });
    expect(foreign.status).toBe(403);
    // No cookie at all (a cross-site form): refused too.
    const bare = await fetch(`${w.svc.url}/admin/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `_csrf=${token}&token=x`,
      redirect: 'manual',
    });
    expect(bare.status).toBe(403);
    // The polling endpoints want the header.
    const poll = await b.request('POST', '/login/app/status', undefined, {
      accept: 'application/json',
    });
    expect(poll.status).toBe(403);
    expect(JSON.parse(poll.html).error).toBe('csrf');
    // The right token passes.
    const ok = await b.request('POST', '/login', { _csrf: token, userId: 'someone.unknown' });
    expect(ok.status).toBe(303);
  });

  it('CPR user, private MitID, through the pages: link page → login → private → finish → confirmation; the used link names the administrator', async () => {
    const citizen = await w.citizen();
    const user = await w.user(org, { cpr: citizen.cpr });
    const b = new PageClient(w.svc.url, 'en');

    const link = await b.get(`/activate/${user.link}`);
    expect(link.status).toBe(200);
    expectPageHeaders(link.headers);
    expectAccessibleShell(link.html, 'en');
    // The organisation's name is escaped, never markup.
    expect(link.html).not.toContain('<script>alert');
    expect(decode(textOfId(link.html, 'organisation-name') ?? '')).toBe(org.name);
    expect(link.html).toContain(`href="/activate/${user.link}/login"`);

    const login = await b.get(`/activate/${user.link}/login`);
    expectAccessibleShell(login.html, 'en');
    // A wrong password: the form again, the message in an alert linked to the fields.
    const bad = await b.submit(login, `/activate/${user.link}/login`, {
      userId: citizen.userId,
      code: await codeOf(citizen.device),
      password: 'not-the-password',
    });
    expect(bad.status).toBe(401);
    expect(bad.html).toContain('id="error" class="error" role="alert"');
    expect(bad.html).toMatch(/id="password"[^>]*aria-invalid="true"[^>]*aria-describedby="error"/);
    w.tick();
    const before = b.cookies.get('mitid_sid');

    const chose = await b.submit(bad, `/activate/${user.link}/login`, {
      userId: citizen.userId,
      code: await codeOf(citizen.device),
      password: citizen.password,
    });
    expect(chose.path).toBe('/activation/choose-mitid');
    expect(chose.status).toBe(200);
    // The start renews the session id: one planted before does not carry the activation.
    expect(b.cookies.get('mitid_sid')).not.toBe(before);
    const planted = new PageClient(w.svc.url, 'en');
    planted.cookies.set('mitid_sid', before!);
    expect((await planted.get('/activation')).status).toBe(404);
    expect(chose.html).toContain('id="mitid-private"');
    expect(chose.html).toContain('id="mitid-separate"');
    expectAccessibleShell(chose.html, 'en');
    // The activation token is nowhere in a URL or the page.
    expect(chose.html).not.toContain(user.link);

    const finish = await b.submit(chose, '/activation/choose-mitid', { mitid: 'private' });
    expect(finish.path).toBe('/activation/finish');
    expect(finish.html).toContain('Finish activation');
    const done = await b.submit(finish, '/activation/finish', {});
    expect(done.path).toBe('/activation/done');
    expect(textOfId(done.html, 'done-mitid')).toBe('your private MitID');
    expect(decode(done.html)).toContain(org.name);

    const mails = await w.mail(user.email);
    expect(mails.map((m) => m.subject)).toContain(
      'Du er aktiveret i MitID Erhverv / You are activated in MitID Erhverv',
    );
    // The used link: 410, naming the user administrator, in Danish too.
    const used = await new PageClient(w.svc.url, 'da').get(`/activate/${user.link}`);
    expect(used.status).toBe(410);
    expect(used.html).toContain('role="alert"');
    expect(decode(used.html)).toContain(org.userAdminName);
    expect(used.html).toContain('<html lang="da">');
  });

  it('separate MitID with a code display through the pages, then a login through the pages', async () => {
    const citizen = await w.citizen();
    const user = await w.user(org, { cpr: citizen.cpr });
    const { devices } = await w.devices('code-display', 1, org.userAdmin);
    const device = devices[0]!;
    const b = new PageClient(w.svc.url, 'da');

    const login = await b.get(`/activate/${user.link}/login`);
    let page = await b.submit(login, `/activate/${user.link}/login`, {
      userId: citizen.userId,
      code: await codeOf(citizen.device),
      password: citizen.password,
    });
    w.tick();
    page = await b.submit(page, '/activation/choose-mitid', { mitid: 'separate' });
    expect(page.path).toBe('/activation/user-id');
    expectAccessibleShell(page.html, 'da');
    // A user ID breaking the rules: the Danish rule text, on the field.
    const refused = await b.submit(page, '/activation/user-id', { userId: '1234567890' });
    expect(refused.status).toBe(400);
    expect(refused.html).toMatch(/id="user-id"[^>]*aria-invalid="true"/);
    const userId = `firma.web${Date.now().toString(36)}`;
    page = await b.submit(refused, '/activation/user-id', { userId });
    expect(page.path).toBe('/activation/phone');
    const phone = `+459${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;
    page = await b.submit(page, '/activation/phone', { phone });
    expect(page.path).toBe('/activation/phone-code');
    expect(page.html).toContain('autocomplete="one-time-code"');
    expect(page.html).toContain('inputmode="numeric"');
    // The SMS shows on the dev SMS page.
    await w.svc.drainOutbox();
    const sms = await b.get(`/dev/sms?to=${encodeURIComponent(phone)}`);
    expect(sms.html).toContain('id="sms"');
    const smsCode = await w.smsCode(phone);
    expect(sms.html).toContain(smsCode);
    page = await b.submit(page, '/activation/phone-code', { code: smsCode });
    expect(page.path).toBe('/activation/authenticator');
    // The preselected authenticator (the app) first and checked; only offered ones.
    expect(page.html).toMatch(/id="kind-app"[^>]*checked/);
    expect(page.html).toContain('id="kind-code-display"');
    page = await b.submit(page, '/activation/authenticator', { kind: 'code-display' });
    expect(page.path).toBe('/activation/activate-authenticator');
    expect(page.html).toContain('id="serial"');
    expect(page.html).toMatch(
      /id="device-code"[^>]*autocomplete="one-time-code"[^>]*inputmode="numeric"/,
    );
    page = await b.submit(page, '/activation/activate-authenticator', {
      serial: device.serial,
      code: await codeOf(device),
    });
    expect(page.path).toBe('/activation/password');
    expect(page.html).toMatch(/id="password"[^>]*autocomplete="new-password"/);
    const password = freshPassword();
    const mismatch = await b.submit(page, '/activation/password', {
      password,
      passwordRepeat: `${password}x`,
    });
    expect(mismatch.status).toBe(400);
    expect(mismatch.html).toMatch(/id="password-repeat"[^>]*aria-invalid="true"/);
    page = await b.submit(mismatch, '/activation/password', { password, passwordRepeat: password });
    expect(page.path).toBe('/activation/finish');
    page = await b.submit(page, '/activation/finish', {});
    expect(page.path).toBe('/activation/done');
    expect(textOfId(page.html, 'done-user-id')).toBe(userId);
    expect(textOfId(page.html, 'done-authenticator')).toBe('MitID kodeviser');
    w.tick();

    // Log in: user ID → code → password → who and for which organisation.
    const l = new PageClient(w.svc.url, 'en');
    let lp = await l.get('/login');
    lp = await l.submit(lp, '/login', { userId, authenticator: '' });
    expect(lp.path).toBe('/login/code');
    lp = await l.submit(lp, '/login/code', { code: await codeOf(device) });
    expect(lp.path).toBe('/login/password');
    expect(lp.html).toMatch(/autocomplete="current-password"/);
    lp = await l.submit(lp, '/login/password', { password });
    expect(lp.path).toBe('/login/done');
    expect(textOfId(lp.html, 'logged-in-as')).toBe(userId);
    expect(decode(textOfId(lp.html, 'organisations') ?? '')).toContain(org.name);
  });

  it('the chip through the pages: creation options in a JSON data block, the registration posted by the form; a login with password and chip', async () => {
    const citizen = await w.citizen();
    const user = await w.user(org, { cpr: citizen.cpr });
    const chip = await w.chip();
    const b = new PageClient(w.svc.url, 'en');
    const login = await b.get(`/activate/${user.link}/login`);
    let page = await b.submit(login, `/activate/${user.link}/login`, {
      userId: citizen.userId,
      code: await codeOf(citizen.device),
      password: citizen.password,
    });
    w.tick();
    page = await b.submit(page, '/activation/choose-mitid', { mitid: 'separate' });
    const userId = `chip.web${Date.now().toString(36)}`;
    page = await b.submit(page, '/activation/user-id', { userId });
    const phone = `+459${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;
    page = await b.submit(page, '/activation/phone', { phone });
    page = await b.submit(page, '/activation/phone-code', { code: await w.smsCode(phone) });
    page = await b.submit(page, '/activation/authenticator', { kind: 'chip' });
    expect(page.path).toBe('/activation/activate-authenticator');
    const options = () => {
      const m = /<script type="application\/json" id="chip-options">([\s\S]*?)<\/script>/.exec(
        page.html,
      );
      if (m === null) throw new Error('no chip options on the page');
      return JSON.parse(m[1]!) as unknown;
    };
    expect(page.html).toContain('id="chip-register"');
    // A registration that is not one: refused, and the page offers new options.
    const refused = await b.submit(page, '/activation/activate-authenticator', {
      registration: '{"id":"x"}',
    });
    expect(refused.status).toBe(400);
    expect(refused.html).toContain('role="alert"');
    expect(refused.html).toContain('id="chip-again"');
    page = await b.submit(refused, '/activation/authenticator', { kind: 'chip' });
    const registration = await w.register(chip, options());
    page = await b.submit(page, '/activation/activate-authenticator', {
      registration: JSON.stringify(registration),
    });
    expect(page.path).toBe('/activation/password');
    const password = freshPassword();
    page = await b.submit(page, '/activation/password', { password, passwordRepeat: password });
    page = await b.submit(page, '/activation/finish', {});
    expect(textOfId(page.html, 'done-authenticator')).toBe('MitID chip');

    const l = new PageClient(w.svc.url, 'en');
    page = await l.get('/login');
    page = await l.submit(page, '/login', { userId, authenticator: 'chip' });
    expect(page.path).toBe('/login/password');
    page = await l.submit(page, '/login/password', { password });
    expect(page.path).toBe('/login/chip');
    expect(page.html).toContain('id="chip-login"');
    const assertion = await w.assert(chip, options());
    page = await l.submit(page, '/login/chip', { assertion: JSON.stringify(assertion) });
    expect(page.path).toBe('/login/done');
    expect(textOfId(page.html, 'logged-in-as')).toBe(userId);
  });

  it('a wrong activation code shows the tries left on the field; the third blocks it (423)', async () => {
    const citizen = await w.citizen();
    const birth = await w.svc.store.transaction(async (tx) => {
      const found = await tx.citizens.byUserId(citizen.userId);
      return (await tx.citizens.get(found!.id)).birthDate;
    });
    const user = await w.user(org, { birthDate: birth });
    const b = new PageClient(w.svc.url, 'da');
    const link = await b.get(`/activate/${user.link}`);
    expect(link.html).toContain('id="needs-code"');
    const login = await b.get(`/activate/${user.link}/login`);
    let page = await b.submit(login, `/activate/${user.link}/login`, {
      userId: citizen.userId,
      code: await codeOf(citizen.device),
      password: citizen.password,
    });
    page = await b.submit(page, '/activation/choose-mitid', { mitid: 'private' });
    expect(page.path).toBe('/activation/activation-code');
    const wrong = user.activationCode === '00000000' ? '11111111' : '00000000';
    page = await b.submit(page, '/activation/activation-code', { code: wrong });
    expect(page.status).toBe(400);
    expect(page.html).toMatch(/id="activation-code"[^>]*aria-invalid="true"/);
    expect(textOfId(page.html, 'error')).toContain('2 forsøg tilbage');
    page = await b.submit(page, '/activation/activation-code', { code: wrong });
    page = await b.submit(page, '/activation/activation-code', { code: wrong });
    expect(page.status).toBe(423);
    expect(decode(textOfId(page.html, 'error') ?? '')).toContain(org.userAdminName);
    // Blocked: no field to try again in, only the way back with a new code.
    expect(page.html).not.toContain('id="activation-code"');
    expect(page.html).toMatch(
      /<a id="new-code" href="\/activation">Jeg har fået en ny aktiveringskode<\/a>/,
    );
  });

  it('a choice the organisation does not allow is refused, naming the user administrator', async () => {
    const citizen = await w.citizen();
    const user = await w.user(org, { cpr: citizen.cpr, separateAllowed: false });
    const b = new PageClient(w.svc.url, 'en');
    const login = await b.get(`/activate/${user.link}/login`);
    const chose = await b.submit(login, `/activate/${user.link}/login`, {
      userId: citizen.userId,
      code: await codeOf(citizen.device),
      password: citizen.password,
    });
    expect(chose.path).toBe('/activation/choose-mitid');
    // Only what is offered is shown.
    expect(chose.html).toContain('id="mitid-private"');
    expect(chose.html).not.toContain('id="mitid-separate"');
    expect(chose.html).toContain('id="only-private"');
    // A forged choice: the flow's refusal with the administrator's name.
    const forged = await b.submit(chose, '/activation/choose-mitid', { mitid: 'separate' });
    expect(forged.status).toBe(403);
    expect(forged.html).toContain('role="alert"');
    expect(decode(forged.html)).toContain(org.userAdminName);
  });

  it('administration: sign in with a token (HttpOnly cookie), create a user by date of birth (the code shown once), list, detail, resend, settings', async () => {
    const b = new PageClient(w.svc.url, 'en');
    const redirect = await b.request('GET', '/admin');
    expect(redirect.status).toBe(303);
    expect(redirect.location).toBe('/admin/sign-in');
    let page = await b.get('/admin/sign-in');
    expect(page.html).toMatch(/id="token"[^>]*type="password"/);
    const bad = await b.submit(page, '/admin/sign-in', { token: 'A'.repeat(43) });
    expect(bad.status).toBe(401);
    expect(bad.html).toContain('role="alert"');
    const res = await b.request('POST', '/admin/sign-in', {
      _csrf: PageClient.csrf(bad.html),
      token: org.userAdmin,
    });
    expect(res.status).toBe(303);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('mitid_admin='));
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    expect(cookie).toMatch(/Path=\/admin/);
    page = await b.get('/admin');
    expect(textOfId(page.html, 'admin-name')).toBe(org.userAdminName);
    // The role by its name in the page's language, not the API's key.
    expect(page.html).toMatch(/id="admin-name">[^<]*<\/span> \(user administrator\)/);
    expect(page.html).not.toContain('user-administrator');
    expectAccessibleShell(page.html, 'en');

    page = await b.get('/admin/users/new');
    expectAccessibleShell(page.html, 'en');
    const email = `web.${Date.now().toString(36)}@flow.example`;
    const created = await b.submit(page, '/admin/users', {
      firstName: 'Bodil <b>',
      surname: 'Bagger',
      email,
      identifiedBy: 'birth-date',
      birthDate: '1980-02-29',
      separateAllowed: 'true',
    });
    expect(created.path).toMatch(/^\/admin\/users\/[A-Za-z0-9-]+$/);
    expect(textOfId(created.html, 'activation-code')).toMatch(/^\S{4,}$/);
    expect(created.html).not.toContain('<b>');
    expect(textOfId(created.html, 'user-state')).toBe('Created, not activated');
    // Shown once: a reload no longer shows it.
    const again = await b.get(created.path);
    expect(again.html).not.toContain('id="activation-code"');
    const resent = await b.submit(again, `${created.path}/resend`, {});
    expect(textOfId(resent.html, 'notice')).toContain('sent again');
    const code = await b.submit(resent, `${created.path}/activation-code`, {});
    expect(textOfId(code.html, 'activation-code')).toMatch(/^\S{4,}$/);

    const list = await b.get('/admin/users');
    expect(list.html).toContain('id="users"');
    expect(decode(list.html)).toContain('Bodil <b> Bagger');

    // A user administrator sees the settings read-only.
    const settings = await b.get('/admin/settings');
    expect(settings.html).toContain('id="read-only"');
    const refused = await b.submit(settings, '/admin/settings', {
      privateMitIdAllowed: 'true',
      separateAuthenticators: ['app'],
      preselected: 'app',
    });
    expect(refused.status).toBe(403);

    // The organisation administrator changes them.
    const o = new PageClient(w.svc.url, 'en');
    const signIn = await o.get('/admin/sign-in');
    await o.submit(signIn, '/admin/sign-in', { token: org.orgAdmin });
    const s = await o.get('/admin/settings');
    expect(s.html).not.toContain('id="read-only"');
    const saved = await o.submit(s, '/admin/settings', {
      separateAuthenticators: ['app', 'chip'],
      preselected: 'chip',
    });
    expect(saved.path).toBe('/admin/settings?saved=1');
    expect(saved.html).toMatch(/id="auth-chip"[^>]*checked/);
    expect(saved.html).not.toMatch(/id="auth-code-display"[^>]*checked/);
    expect(saved.html).not.toMatch(/id="private-allowed"[^>]*checked/);

    // Sign out clears the cookie.
    const out = await o.submit(saved, '/admin/sign-out', {});
    expect(out.path).toBe('/admin/sign-in');
    expect(o.cookies.has('mitid_admin')).toBe(false);
  });

  it('the dev mailbox shows each mail: its HTML in a sandboxed frame, the activation link on this site', async () => {
    const citizen = await w.citizen();
    const user = await w.user(org, { cpr: citizen.cpr });
    const b = new PageClient(w.svc.url, 'en');
    const list = await b.get('/dev/mailbox');
    expect(list.html).toContain('id="mails"');
    const id = new RegExp(`data-mail-id="([^"]+)"`).exec(list.html)?.[1];
    expect(id).toBeDefined();
    const mail = await b.get(`/dev/mailbox/${id}`);
    expect(mail.status).toBe(200);
    expectAccessibleShell(mail.html, 'en');
    expect(mail.html).toMatch(/<iframe\s+id="mail-html"[^>]*sandbox=""/);
    // The mail's HTML is inside the srcdoc attribute, escaped: no markup of it in the page itself.
    const srcdoc = /srcdoc="([^"]*)"/.exec(mail.html)?.[1] ?? '';
    expect(decode(srcdoc)).toContain('Content-Security-Policy');
    expect(mail.html).toContain(`id="activation-link" href="/activate/${user.link}"`);
    expect(textOfId(mail.html, 'mail-text')).toContain('/activate/');
  });
});
