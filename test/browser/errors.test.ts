/** The activation pages' refusals in Chromium (expired link, blocked activation code, a choice not offered), the security the browser sees (CSP, cookies, CSRF), and code fields that take a paste. */
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { describeWithTool } from '../support/tools.js';
import {
  clickThrough,
  errorText,
  expectPath,
  navigates,
  passwordAndFinish,
  startWithPrivateMitId,
  step,
} from './flows.js';
import {
  checkpoint,
  chromiumAvailable,
  codeOf,
  freshPage,
  freshPassword,
  freshPhone,
  launchBrowser,
  Shots,
  Site,
  unique,
  type Organisation,
} from './support.js';

const DAY_MS = 24 * 60 * 60_000;

const ALL = {
  privateMitIdAllowed: true,
  separateAuthenticators: ['code-display', 'audio-reader', 'chip', 'app'],
  preselected: 'code-display',
} as const;

describeWithTool('chromium', chromiumAvailable, 'activation pages: refusals and security', () => {
  let browser: Browser;
  let site: Site;
  let org: Organisation;
  const pages: Page[] = [];
  const sites: Site[] = [];

  beforeAll(async () => {
    browser = await launchBrowser();
    site = await Site.start();
    org = await site.organisation(ALL);
  });
  afterEach(async () => {
    for (const p of pages.splice(0)) await p.context().close();
    for (const s of sites.splice(0)) await s.close();
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

  /** The field's error state: aria-invalid and described by the alert. */
  async function expectInvalid(p: Page, selector: string): Promise<void> {
    const input = p.locator(selector);
    expect(await input.getAttribute('aria-invalid')).toBe('true');
    expect((await input.getAttribute('aria-describedby')) ?? '').toMatch(/\berror\b/);
  }

  it('an expired link (30 days and 1 ms later) is a 410 page that says so', async () => {
    const shots = new Shots('error-expired-link');
    // Its own service: the clock jump must not age the other tests' links.
    const own = await Site.start();
    sites.push(own);
    const o = await own.organisation(ALL);
    const citizen = await own.citizen();
    const user = await own.user(o, { cpr: citizen.cpr });
    own.clock.advance(30 * DAY_MS + 1);
    const p = await page();
    const r = await p.goto(user.link, { waitUntil: 'load' });
    expect(r?.status()).toBe(410);
    expect(await errorText(p)).toMatch(/udløbet/);
    expect(await p.locator('#start-activation').count()).toBe(0);
    await checkpoint(p, shots, 'expired link');
    // The login page behind the link is refused the same way.
    const r2 = await p.goto(`${user.link}/login`, { waitUntil: 'load' });
    expect(r2?.status()).toBe(410);
    await checkpoint(p, shots, 'expired link login');
  });

  it('three wrong activation codes block it; then the right one is refused too', async () => {
    const shots = new Shots('error-blocked-activation-code');
    const citizen = await site.citizen();
    const user = await site.user(org, { birthDate: '1985-03-15' });
    const p = await page();
    await startWithPrivateMitId(site, p, shots, user.link, citizen, org.name);
    await p.check('#mitid-separate');
    await step(p, shots, 'choose separate', {}, '/activation/user-id');
    await step(
      p,
      shots,
      'user id',
      { '#user-id': `blok.${unique()}` },
      '/activation/activation-code',
    );
    const statuses: number[] = [];
    const texts: string[] = [];
    for (const wrong of ['AAAA-AAAA', 'BBBB-BBBB', 'CCCC-CCCC']) {
      await p.fill('#activation-code', wrong);
      statuses.push(await clickThrough(p, '#submit'));
      expectPath(p, '/activation/activation-code');
      texts.push(await errorText(p));
      if (statuses.length < 3) await expectInvalid(p, '#activation-code');
      await checkpoint(p, shots, `wrong code ${statuses.length}`);
    }
    expect(statuses.slice(0, 2)).toEqual([400, 400]);
    expect(texts[0]).toMatch(/2 forsøg tilbage/);
    expect(texts[1]).toMatch(/1 forsøg tilbage/);
    expect(statuses[2]).toBe(423);
    expect(texts[2]).toMatch(/spærret/);
    expect(texts[2]).toContain('Ulla Brugeradmin');
    // Blocked: no field to type into, only the way back for when a new code has been handed over.
    expect(await p.locator('#activation-code').count()).toBe(0);
    expect(await clickThrough(p, '#new-code')).toBe(200);
    expectPath(p, '/activation/activation-code');
    await p.fill('#activation-code', user.activationCode!);
    expect(await clickThrough(p, '#submit')).toBe(423);
    expect(await errorText(p)).toMatch(/spærret/);
    await checkpoint(p, shots, 'right code refused');
  });

  it('a choice the organisation does not offer is refused (private MitID, then the chip)', async () => {
    const shots = new Shots('error-disallowed-choice');
    const strict = await site.organisation(
      {
        privateMitIdAllowed: false,
        separateAuthenticators: ['code-display'],
        preselected: 'code-display',
      },
      'Streng ApS',
    );
    const citizen = await site.citizen();
    const user = await site.user(strict, { cpr: citizen.cpr });
    const p = await page();
    await startWithPrivateMitId(site, p, shots, user.link, citizen, strict.name);
    expectPath(p, '/activation/choose-mitid');
    expect(await p.locator('#mitid-private').count()).toBe(0);
    await checkpoint(p, shots, 'only separate offered');
    // A hand-made form: the offered radio's value changed to the refused one.
    await p.locator('#mitid-separate').evaluate((el) => {
      (el as unknown as { value: string; checked: boolean }).value = 'private';
      (el as unknown as { checked: boolean }).checked = true;
    });
    const s1 = await clickThrough(p, '#submit');
    expect(s1).toBeGreaterThanOrEqual(400);
    expect(s1).toBeLessThan(500);
    expect(await errorText(p)).not.toBe('');
    await checkpoint(p, shots, 'private refused');

    await p.check('#mitid-separate');
    await step(p, shots, 'choose separate', {}, '/activation/user-id');
    await step(p, shots, 'user id', { '#user-id': `streng.${unique()}` }, '/activation/phone');
    const phone = freshPhone();
    await step(p, shots, 'phone', { '#phone': phone }, '/activation/phone-code');
    await step(
      p,
      shots,
      'sms code',
      { '#phone-code': await site.smsCode(phone) },
      '/activation/authenticator',
    );
    expect(await p.locator('#kind-chip').count()).toBe(0);
    expect(await p.locator('#kind-app').count()).toBe(0);
    await p.locator('#kind-code-display').evaluate((el) => {
      (el as unknown as { value: string; checked: boolean }).value = 'chip';
      (el as unknown as { checked: boolean }).checked = true;
    });
    const s2 = await clickThrough(p, '#submit');
    expect(s2).toBeGreaterThanOrEqual(400);
    expect(s2).toBeLessThan(500);
    expectPath(p, '/activation/authenticator');
    expect(await errorText(p)).not.toBe('');
    await checkpoint(p, shots, 'chip refused');
  });

  it('security the browser sees: CSP enforced, HttpOnly SameSite=Strict cookies, no POST without the CSRF token', async () => {
    const shots = new Shots('security');
    const citizen = await site.citizen();
    const user = await site.user(org, { cpr: citizen.cpr });
    const p = await page();
    const violations: string[] = [];
    p.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
    });
    const r = await p.goto(user.link, { waitUntil: 'load' });
    const h = r!.headers();
    expect(h['content-security-policy']).toMatch(/script-src 'self'/);
    expect(h['content-security-policy']).toMatch(/frame-ancestors 'none'/);
    expect(h['x-content-type-options']).toBe('nosniff');
    await checkpoint(p, shots, 'link page');

    // The browser enforces the policy: an inline script added to the page does not run.
    await p.evaluate(
      `(() => { const s = document.createElement('script'); s.textContent = 'window.__inlineRan = true'; document.body.append(s); })()`,
    );
    expect(await p.evaluate('window.__inlineRan === true')).toBe(false);

    await clickThrough(p, '#start-activation');
    const cookies = await p.context().cookies();
    const sid = cookies.find((c) => c.name === 'mitid_sid');
    expect(sid, 'session cookie').toBeDefined();
    expect(sid!.httpOnly).toBe(true);
    expect(sid!.sameSite).toBe('Strict');
    expect(sid!.path).toBe('/');
    // Script cannot read it.
    expect(await p.evaluate('document.cookie')).not.toContain('mitid_sid');

    // The login form without its CSRF token: refused with 403, nothing done.
    const form = p.locator('form#private-login');
    await form.locator('[name=userId]').fill(citizen.userId);
    await form.locator('[name=code]').fill(await codeOf(citizen.device));
    await form.locator('[name=password]').fill(citizen.password);
    await form
      .locator('input[name=_csrf]')
      .evaluate((el) => (el as unknown as { remove(): void }).remove());
    expect(await clickThrough(p, '#submit-login')).toBe(403);
    await errorText(p);
    await checkpoint(p, shots, 'csrf refused');
    // The link is not used: the page still starts the activation with the token in place.
    const again = await p.goto(`${user.link}/login`, { waitUntil: 'load' });
    expect(again?.status()).toBe(200);
    const f2 = p.locator('form#private-login');
    await f2.locator('[name=userId]').fill(citizen.userId);
    await f2.locator('[name=code]').fill(await codeOf(citizen.device));
    await f2.locator('[name=password]').fill(citizen.password);
    // A wrong token is no better than none.
    await f2.locator('input[name=_csrf]').evaluate((el) => {
      (el as unknown as { value: string }).value = 'x'.repeat(43);
    });
    expect(await clickThrough(p, '#submit-login')).toBe(403);
    expect(violations).toEqual(expect.arrayContaining([expect.stringMatching(/script-src/)]));
  });

  it('code fields take a paste and say autocomplete="one-time-code"', async () => {
    const shots = new Shots('paste-codes');
    const citizen = await site.citizen();
    const display = await site.codeDisplay(org);
    const user = await site.user(org, { cpr: citizen.cpr });
    const p = await page();
    await p.context().grantPermissions(['clipboard-read', 'clipboard-write'], {
      origin: site.base,
    });
    /** Puts `text` on the clipboard and pastes it into `selector` with the keyboard. */
    const paste = async (selector: string, text: string): Promise<void> => {
      expect(await p.locator(selector).getAttribute('autocomplete')).toBe('one-time-code');
      await p.evaluate(`navigator.clipboard.writeText(${JSON.stringify(text)})`);
      await p.locator(selector).fill('');
      await p.focus(selector);
      await p.keyboard.press('ControlOrMeta+V');
      await expect.poll(() => p.locator(selector).inputValue()).toBe(text);
    };
    await p.goto(user.link, { waitUntil: 'load' });
    await clickThrough(p, '#start-activation');
    const form = p.locator('form#private-login');
    await form.locator('[name=userId]').fill(citizen.userId);
    await paste('form#private-login [name=code]', await codeOf(citizen.device));
    await form.locator('[name=password]').fill(citizen.password);
    await checkpoint(p, shots, 'login code pasted');
    await clickThrough(p, '#submit-login');
    site.tick();
    await p.check('#mitid-separate');
    await step(p, shots, 'choose separate', {}, '/activation/user-id');
    await step(p, shots, 'user id', { '#user-id': `paste.${unique()}` }, '/activation/phone');
    const phone = freshPhone();
    await step(p, shots, 'phone', { '#phone': phone }, '/activation/phone-code');
    await paste('#phone-code', await site.smsCode(phone));
    await checkpoint(p, shots, 'sms code pasted');
    await clickThrough(p, '#submit');
    expectPath(p, '/activation/authenticator');
    await p.check('#kind-code-display');
    await step(p, shots, 'choose code display', {}, '/activation/activate-authenticator');
    await p.fill('#serial', display.serial);
    // insertText is how an input method or a password manager's fill arrives.
    await p.focus('#device-code');
    expect(await p.locator('#device-code').getAttribute('autocomplete')).toBe('one-time-code');
    await p.keyboard.insertText(await codeOf(display));
    await checkpoint(p, shots, 'device code inserted');
    await navigates(p, () => p.click('#submit'));
    expectPath(p, '/activation/password');
    await passwordAndFinish(p, shots, freshPassword());
  });
});
