/** The pages around the activation in Chromium: the landing page in both languages, the administrator making a user, the dev mailbox's link; axe-core on each (and shown to see what it should). */
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { describeWithTool } from '../support/tools.js';
import { clickThrough, expectPath, pathOf } from './flows.js';
import {
  axeViolations,
  checkpoint,
  chromiumAvailable,
  freshPage,
  launchBrowser,
  Shots,
  Site,
  unique,
  type Organisation,
} from './support.js';

describeWithTool('chromium', chromiumAvailable, 'landing, administration and dev pages', () => {
  let browser: Browser;
  let site: Site;
  let org: Organisation;
  const pages: Page[] = [];

  beforeAll(async () => {
    browser = await launchBrowser();
    site = await Site.start();
    org = await site.organisation({
      privateMitIdAllowed: true,
      separateAuthenticators: ['code-display', 'audio-reader', 'chip', 'app'],
      preselected: 'code-display',
    });
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

  it('axe-core, run as the suites run it, finds what a bad page lacks', async () => {
    const p = await page();
    await p.setContent(
      '<!doctype html><html><head><title>x</title></head><body><main><img src="data:image/png;base64,iVBORw0KGgo="><input type="text"></main></body></html>',
    );
    const ids = (await axeViolations(p)).map((v) => v.id);
    expect(ids).toEqual(expect.arrayContaining(['html-has-lang', 'image-alt', 'label']));
  });

  it('the landing page in Danish and English: one h1, a skip link, the language switch', async () => {
    const shots = new Shots('landing');
    const p = await page();
    const r = await p.goto(site.url('/'), { waitUntil: 'load' });
    expect(r?.status()).toBe(200);
    expect(await p.getAttribute('html', 'lang')).toBe('da');
    expect(await p.locator('h1').count()).toBe(1);
    expect(await p.getAttribute('a.skip-link', 'href')).toBe('#main');
    expect(await p.locator('main#main').count()).toBe(1);
    for (const id of ['#link-mailbox', '#link-sms', '#link-login', '#link-admin'])
      expect(await p.locator(id).count(), id).toBe(1);
    await checkpoint(p, shots, 'landing da');
    await clickThrough(p, '#lang-switch');
    expect(await p.getAttribute('html', 'lang')).toBe('en');
    expectPath(p, '/');
    await checkpoint(p, shots, 'landing en');
    // The choice is remembered: the login page comes in English too.
    await clickThrough(p, '#link-login');
    expect(await p.getAttribute('html', 'lang')).toBe('en');
    await checkpoint(p, shots, 'login en');
  });

  it('the user administrator signs in, makes a date-of-birth user, and the link is followed from the dev mailbox', async () => {
    const shots = new Shots('admin-and-mailbox');
    const p = await page();
    await p.goto(site.url('/admin'), { waitUntil: 'load' });
    expectPath(p, '/admin/sign-in');
    await checkpoint(p, shots, 'sign in');
    await p.fill('#token', org.userAdmin);
    await clickThrough(p, '#submit');
    expectPath(p, '/admin');
    await expect(p.locator('#organisation-name').innerText()).resolves.toContain(org.name);
    const adminCookie = (await p.context().cookies()).find((c) => c.name === 'mitid_admin');
    expect(adminCookie?.httpOnly).toBe(true);
    expect(adminCookie?.sameSite).toBe('Strict');
    await checkpoint(p, shots, 'overview');

    await clickThrough(p, '#link-new-user');
    expectPath(p, '/admin/users/new');
    await checkpoint(p, shots, 'new user');
    const email = `ny.${unique()}@browser.example`;
    await p.fill('#first-name', 'Nina');
    await p.fill('#surname', 'Nielsen');
    await p.fill('#email', email);
    await p.check('#identified-by-birth-date');
    await p.fill('#birth-date', '1990-01-02');
    await clickThrough(p, '#submit');
    expectPath(p, /^\/admin\/users\/[^/]+$/);
    const code = (await p.locator('#activation-code').innerText()).trim();
    expect(code).toMatch(/^[A-Z0-9]{4}-[A-Z0-9]{4}$/);
    expect(await p.getAttribute('#user-state', 'data-state')).toBe('created');
    await checkpoint(p, shots, 'user made');
    await p.goto(site.url('/admin/users'), { waitUntil: 'load' });
    expect(await p.locator('#users tr[data-user-id]').count()).toBeGreaterThan(0);
    await checkpoint(p, shots, 'users');

    // The dev mailbox, as a tester reads it.
    await site.svc.drainOutbox();
    await p.goto(site.url('/dev/mailbox'), { waitUntil: 'load' });
    await checkpoint(p, shots, 'mailbox');
    const mail = p.locator('#mails li', { hasText: email }).locator('a').first();
    await clickThrough(p, `#mails a[href="${await mail.getAttribute('href')}"]`);
    expectPath(p, /^\/dev\/mailbox\/[^/]+$/);
    await checkpoint(p, shots, 'mail');
    await clickThrough(p, 'a#activation-link');
    expect(pathOf(p)).toMatch(/^\/activate\/[A-Za-z0-9_-]+$/);
    await expect(p.locator('#organisation-name').innerText()).resolves.toContain(org.name);
    expect(await p.locator('#needs-code').count()).toBe(1);
    await checkpoint(p, shots, 'activation link from mailbox');
    await p.goto(site.url('/dev/sms'), { waitUntil: 'load' });
    await checkpoint(p, shots, 'sms outbox');
  });

  it('the organisation administrator changes the settings; the user administrator sees them read-only', async () => {
    const shots = new Shots('admin-settings');
    const other = await site.organisation(undefined, 'Indstillinger ApS');
    const p = await page();
    await p.goto(site.url('/admin/sign-in'), { waitUntil: 'load' });
    await p.fill('#token', other.orgAdmin);
    await clickThrough(p, '#submit');
    await clickThrough(p, '#link-settings');
    expectPath(p, '/admin/settings');
    await checkpoint(p, shots, 'settings');
    await p.uncheck('#auth-chip');
    await p.selectOption('#preselected', 'code-display');
    await clickThrough(p, '#submit');
    expect(await p.locator('#notice').count()).toBe(1);
    expect(await p.isChecked('#auth-chip')).toBe(false);
    await checkpoint(p, shots, 'saved');
    const saved = await site.call('GET', '/api/admin/settings', undefined, other.orgAdmin);
    expect(
      saved.body.settings?.separateAuthenticators ?? saved.body.separateAuthenticators,
    ).not.toContain('chip');

    const q = await page();
    await q.goto(site.url('/admin/sign-in'), { waitUntil: 'load' });
    await q.fill('#token', other.userAdmin);
    await clickThrough(q, '#submit');
    await q.goto(site.url('/admin/settings'), { waitUntil: 'load' });
    expect(await q.locator('#read-only').count()).toBe(1);
    expect(await q.locator('#settings-form #submit').count()).toBe(0);
    await checkpoint(q, shots, 'read only');
  });
});
