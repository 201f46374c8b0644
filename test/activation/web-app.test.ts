/** The web pages with the MitID app, over real HTTP: the private MitID app at the start (QR code, 4-digit code, polling), the app as the separate MitID's authenticator (its QR code read back), and a login by the app. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  channelFromCode,
  MitIdApp,
  scanActivationQr,
  scanApprovalQr,
  VirtualPhone,
} from '../../devices/app/index.js';
import { freshSerial, World, type TestOrganisation } from './flow-support.js';
import { PageClient, textOfId } from './web-support.js';

const PIN = '482915';
const WAIT_MS = 20_000;

function phoneNumber(): string {
  return `+459${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;
}

function qrPng(html: string): Uint8Array {
  const b64 = /id="code-qr"\s+src="data:image\/png;base64,([A-Za-z0-9+/=]+)"/.exec(html)?.[1];
  if (b64 === undefined) throw new Error('no QR code image on the page');
  return new Uint8Array(Buffer.from(b64, 'base64'));
}

async function poll(b: PageClient, page: { html: string }, path: string): Promise<unknown> {
  const r = await b.request('POST', path, undefined, {
    accept: 'application/json',
    'x-csrf-token': PageClient.csrf(page.html),
  });
  expect(r.headers.get('content-type')).toMatch(/^application\/json/);
  return JSON.parse(r.html);
}

describe('activation web pages with the MitID app', () => {
  let w: World;
  let org: TestOrganisation;
  const closers: (() => Promise<void>)[] = [];
  beforeEach(async () => {
    w = await World.start('sqlite');
    org = await w.organisation('Appens Prøve ApS');
    // The apps wait for their temporary PIN by SMS: keep the outbox moving.
    const pump = setInterval(() => void w.svc.drainOutbox().catch(() => undefined), 100);
    closers.push(async () => clearInterval(pump));
  });
  afterEach(async () => {
    for (const c of closers.splice(0)) await c().catch(() => undefined);
    await w?.close();
  });

  const phone = (number = phoneNumber()) =>
    VirtualPhone.create({
      number,
      out: `${w.dir}/phone-${freshSerial('p')}.json`,
      serviceUrl: w.svc.url,
    });
  const freshApp = (p: VirtualPhone): MitIdApp => {
    const app = MitIdApp.fresh(p);
    closers.push(() => app.close());
    return app;
  };

  it('start with the private MitID app (4-digit code), the app as the separate authenticator (QR code), then a login by the app (QR code)', async () => {
    // A citizen whose private MitID is an app.
    const citizenPhone = phoneNumber();
    const citizenUserId = `emil.${freshSerial('').toLowerCase()}`;
    const cpr = `0101${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`;
    const reg = await w.post('/api/dev/citizens', {
      cpr,
      name: 'Emil Eriksen',
      userId: citizenUserId,
      app: { phone: citizenPhone },
    });
    expect(reg.status).toBe(201);
    const privateApp = freshApp(await phone(citizenPhone));
    await privateApp.bind({
      userId: citizenUserId,
      activationCode: String(reg.body.activationCode),
      pin: PIN,
      biometrics: true,
      mitid: 'private',
    });
    const user = await w.user(org, { cpr });

    const b = new PageClient(w.svc.url, 'en');
    const login = await b.get(`/activate/${user.link}/login`);
    const waiting = await b.submit(login, `/activate/${user.link}/login`, {
      method: 'app',
      userId: citizenUserId,
    });
    expect(waiting.path).toBe(`/activate/${user.link}/app`);
    const code = textOfId(waiting.html, 'channel-code') ?? '';
    expect(code).toMatch(/^\d{4}$/);
    expect(waiting.html).toMatch(/<img\s+id="code-qr"[^>]*alt="[^"]+"/);
    expect(await poll(b, waiting, `/activate/${user.link}/app/status`)).toEqual({ done: false });

    const request = await privateApp.nextApproval({ timeoutMs: WAIT_MS });
    await privateApp.answer(request, {
      decision: 'approve',
      channel: channelFromCode(code),
      pin: PIN,
    });
    expect(await poll(b, waiting, `/activate/${user.link}/app/status`)).toEqual({
      done: true,
      next: '/activation',
    });

    let page = await b.get('/activation');
    expect(page.path).toBe('/activation/choose-mitid');
    page = await b.submit(page, '/activation/choose-mitid', { mitid: 'separate' });
    const userId = `firma.${freshSerial('').toLowerCase()}`;
    page = await b.submit(page, '/activation/user-id', { userId });
    const workPhone = phoneNumber();
    page = await b.submit(page, '/activation/phone', { phone: workPhone });
    page = await b.submit(page, '/activation/phone-code', { code: await w.smsCode(workPhone) });
    expect(page.path).toBe('/activation/authenticator');
    page = await b.submit(page, '/activation/authenticator', {
      kind: 'app',
      placement: 'new-device',
    });
    expect(page.path).toBe('/activation/activate-authenticator');
    expect(textOfId(page.html, 'app-user-id')).toBe(userId);
    const activationCode = textOfId(page.html, 'app-activation-code') ?? '';
    expect(activationCode.length).toBeGreaterThan(3);
    // The QR code on the page carries the same user ID and activation code.
    expect(scanActivationQr(qrPng(page.html))).toEqual({ userId, activationCode });
    // A reload shows them again (kept in the page session, never in a URL).
    const reloaded = await b.get('/activation/activate-authenticator');
    expect(textOfId(reloaded.html, 'app-activation-code')).toBe(activationCode);
    const state = await b.request('GET', '/activation/state');
    expect(JSON.parse(state.html)).toEqual({ step: 'activate-authenticator' });

    const workApp = freshApp(await phone(workPhone));
    await workApp.bind({ userId, activationCode, pin: PIN, biometrics: true, mitid: 'separate' });
    expect(JSON.parse((await b.request('GET', '/activation/state')).html)).toEqual({
      step: 'finish',
    });
    page = await b.get('/activation');
    expect(page.path).toBe('/activation/finish');
    page = await b.submit(page, '/activation/finish', {});
    expect(textOfId(page.html, 'done-authenticator')).toBe('MitID app');

    // Log in by the app: the QR code is scanned from the page.
    const l = new PageClient(w.svc.url, 'da');
    let lp = await l.get('/login');
    lp = await l.submit(lp, '/login', { userId, authenticator: 'app' });
    expect(lp.path).toBe('/login/app');
    expect(textOfId(lp.html, 'channel-code')).toMatch(/^\d{4}$/);
    const seen = scanApprovalQr(qrPng(lp.html));
    expect(await poll(l, lp, '/login/app/status')).toEqual({ done: false });
    // Without script: "Continue" while pending shows the same page again.
    const still = await l.submit(lp, '/login/app', {});
    expect(still.status).toBe(200);
    expect(still.html).toContain('id="code-qr"');
    const approval = await workApp.nextApproval({ requestId: seen.requestId, timeoutMs: WAIT_MS });
    await workApp.answer(approval, { decision: 'approve', channel: seen.channel, pin: PIN });
    expect(await poll(l, lp, '/login/app/status')).toEqual({ done: true, next: '/login/done' });
    const done = await l.get('/login/done');
    expect(textOfId(done.html, 'logged-in-as')).toBe(userId);
    expect(textOfId(done.html, 'organisations')).toContain('Appens Prøve ApS');
  });
});
