/** Full activations in headless Chromium, one per kind of MitID, each page checked by axe-core and photographed. */
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { scanActivationQr, scanApprovalQr } from '../../devices/app/index.js';
import { describeWithTool } from '../support/tools.js';
import {
  activateOtpDevice,
  clickThrough,
  expectPath,
  finish,
  navigates,
  passwordAndFinish,
  separateUpToAuthenticator,
  startWithPrivateMitId,
  step,
} from './flows.js';
import {
  addVirtualAuthenticator,
  checkpoint,
  chromiumAvailable,
  elementPng,
  freshPage,
  freshPassword,
  freshPhone,
  launchBrowser,
  Shots,
  Site,
  unique,
  WAIT_MS,
  type Organisation,
} from './support.js';

const ALL = {
  privateMitIdAllowed: true,
  separateAuthenticators: ['code-display', 'audio-reader', 'chip', 'app'],
  preselected: 'code-display',
} as const;

describeWithTool('chromium', chromiumAvailable, 'activation in the browser', () => {
  let browser: Browser;
  let site: Site;
  let org: Organisation;
  const pages: Page[] = [];

  beforeAll(async () => {
    browser = await launchBrowser();
    site = await Site.start();
    org = await site.organisation(ALL);
  });
  afterEach(async () => {
    for (const p of pages.splice(0)) await p.context().close();
  });
  afterAll(async () => {
    await browser?.close();
    await site?.close();
  });

  async function page(): Promise<Page> {
    const p = await freshPage(browser);
    pages.push(p);
    return p;
  }

  it('private MitID (user identified by CPR)', async () => {
    const shots = new Shots('activation-private');
    const citizen = await site.citizen();
    const user = await site.user(org, { cpr: citizen.cpr });
    const p = await page();
    await startWithPrivateMitId(site, p, shots, user.link, citizen, org.name);
    expectPath(p, '/activation/choose-mitid');
    await p.check('#mitid-private');
    await step(p, shots, 'choose private MitID', {}, '/activation/finish');
    const done = await finish(p, shots);
    expect(done).toContain(org.name);
    const state = await site.call('GET', `/api/admin/users/${user.id}`, undefined, org.userAdmin);
    expect(state.body.user.status).toBe('activated');
  });

  it('private MitID in the app: the start is approved on the phone, the QR code read from a screenshot', async () => {
    const shots = new Shots('activation-private-app');
    const PIN = '246810';
    const citizen = await site.appCitizen(PIN);
    const user = await site.user(org, { cpr: citizen.cpr });
    const p = await page();
    await p.goto(user.link, { waitUntil: 'load' });
    await checkpoint(p, shots, 'activation link');
    await clickThrough(p, '#start-activation');
    await p.fill('#app-user-id', citizen.userId);
    await clickThrough(p, '#submit-login-app');
    expectPath(p, /^\/activate\/[A-Za-z0-9_-]+\/app$/);
    await checkpoint(p, shots, 'approve in the app');
    await expect(p.locator('#channel-code').innerText()).resolves.toMatch(/^\s*\d{4}\s*$/);
    const seen = scanApprovalQr(await elementPng(p.locator('#code-qr')));
    const request = await citizen.app.nextApproval({
      requestId: seen.requestId,
      timeoutMs: WAIT_MS,
    });
    await navigates(p, () =>
      citizen.app.answer(request, { decision: 'approve', channel: seen.channel, biometric: true }),
    );
    // The page noticed the approval by itself.
    expectPath(p, '/activation/choose-mitid');
    await p.check('#mitid-private');
    await step(p, shots, 'choose private MitID', {}, '/activation/finish');
    const done = await finish(p, shots);
    expect(done).toContain(org.name);
  });

  it('separate MitID on a code display', async () => {
    const shots = new Shots('activation-code-display');
    const citizen = await site.citizen();
    const display = await site.codeDisplay(org);
    const user = await site.user(org, { cpr: citizen.cpr });
    const p = await page();
    await startWithPrivateMitId(site, p, shots, user.link, citizen, org.name);
    const userId = `firma.${unique()}`;
    await separateUpToAuthenticator(site, p, shots, { userId, phone: freshPhone() });
    await p.check('#kind-code-display');
    await step(p, shots, 'choose code display', {}, '/activation/activate-authenticator');
    await activateOtpDevice(site, p, shots, display);
    const done = await passwordAndFinish(p, shots, freshPassword());
    expect(done).toContain(userId);
  });

  it('date-of-birth user: activation code, then an audio code reader', async () => {
    const shots = new Shots('activation-audio-reader');
    const citizen = await site.citizen();
    const reader = await site.audioReader(org);
    // freshCpr() people are born on 15 March 1985.
    const user = await site.user(org, { birthDate: '1985-03-15' });
    expect(user.activationCode).toMatch(/^[A-Z0-9]{4}-[A-Z0-9]{4}$/);
    const p = await page();
    await startWithPrivateMitId(site, p, shots, user.link, citizen, org.name);
    const userId = `lyd.${unique()}`;
    await separateUpToAuthenticator(site, p, shots, {
      userId,
      phone: freshPhone(),
      activationCode: user.activationCode!,
    });
    await p.check('#kind-audio-reader');
    await step(p, shots, 'choose audio reader', {}, '/activation/activate-authenticator');
    await activateOtpDevice(site, p, shots, reader);
    const done = await passwordAndFinish(p, shots, freshPassword());
    expect(done).toContain(userId);
  });

  it("chip: registered and used for a login through Chromium's virtual authenticator", async () => {
    const shots = new Shots('activation-chip');
    const citizen = await site.citizen();
    const user = await site.user(org, { cpr: citizen.cpr });
    const p = await page();
    const authenticator = await addVirtualAuthenticator(p);
    await startWithPrivateMitId(site, p, shots, user.link, citizen, org.name);
    const userId = `chip.${unique()}`;
    await separateUpToAuthenticator(site, p, shots, { userId, phone: freshPhone() });
    await p.check('#kind-chip');
    await step(p, shots, 'choose chip', {}, '/activation/activate-authenticator');
    await checkpoint(p, shots, 'register chip');
    await clickThrough(p, '#chip-register');
    expectPath(p, '/activation/password');
    const made = await authenticator.credentials();
    expect(made).toHaveLength(1);
    expect(made[0]!.rpId).toBe('localhost');
    const password = freshPassword();
    await passwordAndFinish(p, shots, password);

    // The login, in the same browser and with the same virtual authenticator.
    await p.goto(site.url('/login'), { waitUntil: 'load' });
    await checkpoint(p, shots, 'login user id');
    await p.fill('#user-id', userId);
    await clickThrough(p, '#submit');
    expectPath(p, '/login/password');
    await checkpoint(p, shots, 'login password');
    await p.fill('#password', password);
    await clickThrough(p, '#submit');
    expectPath(p, '/login/chip');
    await checkpoint(p, shots, 'login chip');
    await clickThrough(p, '#chip-login');
    expectPath(p, '/login/done');
    await checkpoint(p, shots, 'logged in');
    await expect(p.locator('#logged-in-as').innerText()).resolves.toContain(userId);
    await expect(p.locator('#organisations').innerText()).resolves.toContain(org.name);
    const used = await authenticator.credentials();
    expect(used[0]!.signCount).toBeGreaterThan(made[0]!.signCount);
  });

  it('the app: the phone scans the QR code from a screenshot, then approves a login', async () => {
    const shots = new Shots('activation-app');
    const citizen = await site.citizen();
    const user = await site.user(org, { cpr: citizen.cpr });
    const p = await page();
    await startWithPrivateMitId(site, p, shots, user.link, citizen, org.name);
    const userId = `app.${unique()}`;
    const number = freshPhone();
    await separateUpToAuthenticator(site, p, shots, { userId, phone: number });
    await p.check('#kind-app');
    await p.check('#placement-new-device');
    await step(p, shots, 'choose app', {}, '/activation/activate-authenticator');
    await checkpoint(p, shots, 'app qr code');

    // The work phone photographs the QR code on the screen.
    const scanned = scanActivationQr(await elementPng(p.locator('#code-qr')));
    expect(scanned.userId.toLowerCase()).toBe(userId.toLowerCase());
    const app = site.app(await site.phone(number));
    const PIN = '135799';
    await navigates(p, () =>
      app.bind({ ...scanned, pin: PIN, biometrics: true, mitid: 'separate' }).then(() => undefined),
    );
    // The page noticed by itself and moved on.
    expectPath(p, '/activation/finish');
    const done = await finish(p, shots);
    expect(done).toContain(userId);

    // A login by the app: the QR code on the login page, photographed.
    await p.goto(site.url('/login'), { waitUntil: 'load' });
    await p.fill('#user-id', userId);
    await clickThrough(p, '#submit');
    expectPath(p, '/login/app');
    await checkpoint(p, shots, 'login app qr code');
    const seen = scanApprovalQr(await elementPng(p.locator('#code-qr')));
    await expect(p.locator('#channel-code').innerText()).resolves.toMatch(/\d{4}/);
    const request = await app.nextApproval({ requestId: seen.requestId, timeoutMs: WAIT_MS });
    await navigates(p, () =>
      app.answer(request, { decision: 'approve', channel: seen.channel, pin: PIN }),
    );
    expectPath(p, '/login/done');
    await checkpoint(p, shots, 'logged in');
    await expect(p.locator('#logged-in-as').innerText()).resolves.toContain(userId);
  });
});
