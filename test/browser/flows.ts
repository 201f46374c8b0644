/** The activation pages as a person goes through them in the browser: steps shared by the browser suites. */
import type { Page } from 'playwright-core';
import { expect } from 'vitest';
import type { AudioReader } from '../../devices/audio-reader/index.js';
import type { CodeDisplay } from '../../devices/code-display/index.js';
import { checkpoint, codeOf, WAIT_MS, type Citizen, type Shots, type Site } from './support.js';

/**
 * Does `action` (a click, a key, a phone's answer the page polls for) that loads a new document,
 * and waits until the new document has loaded: a 303 to another page or a form shown again at the
 * same URL alike. Returns the new document's HTTP status.
 */
export async function navigates(page: Page, action: () => Promise<void>): Promise<number> {
  const loaded = page.waitForEvent('load', { timeout: WAIT_MS });
  // If the action throws, its error is the one to report.
  loaded.catch(() => undefined);
  await action();
  await loaded;
  return documentStatus(page);
}

/** The HTTP status of the document shown (Navigation Timing). */
export async function documentStatus(page: Page): Promise<number> {
  return (await page.evaluate(
    'performance.getEntriesByType("navigation")[0]?.responseStatus ?? 0',
  )) as number;
}

/** Clicks `selector` and waits for the next document. */
export function clickThrough(page: Page, selector: string): Promise<number> {
  return navigates(page, () => page.click(selector));
}

/** The path of the page shown. */
export function pathOf(page: Page): string {
  return new URL(page.url()).pathname;
}

/** Expects the page shown to be `path` (exactly). */
export function expectPath(page: Page, path: string | RegExp): void {
  if (typeof path === 'string') expect(pathOf(page)).toBe(path);
  else expect(pathOf(page)).toMatch(path);
}

/** The text of the error box, which must be there with role=alert. */
export async function errorText(page: Page): Promise<string> {
  const box = page.locator('#error');
  await box.waitFor({ state: 'visible' });
  expect(await box.getAttribute('role')).toBe('alert');
  return (await box.innerText()).trim();
}

/**
 * From the e-mailed link to the first activation step: the link page (organisation named), "Start
 * activation", and the private MitID login with the citizen's code display and password.
 */
export async function startWithPrivateMitId(
  site: Site,
  page: Page,
  shots: Shots,
  link: string,
  citizen: Citizen,
  orgName: string,
): Promise<void> {
  const status = (await page.goto(link, { waitUntil: 'load' }))?.status();
  expect(status).toBe(200);
  await expect(page.locator('#organisation-name').innerText()).resolves.toContain(orgName);
  await checkpoint(page, shots, 'activation link');
  await clickThrough(page, '#start-activation');
  expectPath(page, /^\/activate\/[A-Za-z0-9_-]+\/login$/);
  await checkpoint(page, shots, 'log in with private MitID');
  const form = page.locator('form#private-login');
  await form.locator('[name=userId]').fill(citizen.userId);
  await form.locator('[name=code]').fill(await codeOf(citizen.device));
  await form.locator('[name=password]').fill(citizen.password);
  await clickThrough(page, '#submit-login');
  site.tick();
  expectPath(page, /^\/activation\//);
}

/** Fills one field by id and submits the step with `#submit`; the next page must be `next`. */
export async function step(
  page: Page,
  shots: Shots,
  name: string,
  fields: Record<string, string>,
  next: string,
): Promise<void> {
  await checkpoint(page, shots, name);
  for (const [id, value] of Object.entries(fields)) await page.fill(id, value);
  const status = await clickThrough(page, '#submit');
  if (pathOf(page) !== next) {
    const err = await page
      .locator('#error')
      .innerText()
      .catch(() => '(no #error)');
    throw new Error(`${name}: expected ${next}, got ${pathOf(page)} (${status}): ${err}`);
  }
}

/**
 * Separate MitID up to the authenticator page: choose separate, a user ID, (the activation
 * code), a phone number and the SMS code. Returns the user ID.
 */
export async function separateUpToAuthenticator(
  site: Site,
  page: Page,
  shots: Shots,
  options: { userId: string; phone: string; activationCode?: string },
): Promise<void> {
  expectPath(page, '/activation/choose-mitid');
  await page.check('#mitid-separate');
  await step(page, shots, 'choose separate MitID', {}, '/activation/user-id');
  await step(
    page,
    shots,
    'user id',
    { '#user-id': options.userId },
    options.activationCode === undefined ? '/activation/phone' : '/activation/activation-code',
  );
  if (options.activationCode !== undefined)
    await step(
      page,
      shots,
      'activation code',
      { '#activation-code': options.activationCode },
      '/activation/phone',
    );
  await step(page, shots, 'phone number', { '#phone': options.phone }, '/activation/phone-code');
  const sms = await site.smsCode(options.phone);
  await step(page, shots, 'sms code', { '#phone-code': sms }, '/activation/authenticator');
}

/** The code-display or audio-reader page: serial and the code it shows now. */
export async function activateOtpDevice(
  site: Site,
  page: Page,
  shots: Shots,
  device: CodeDisplay | AudioReader,
): Promise<void> {
  expectPath(page, '/activation/activate-authenticator');
  await step(
    page,
    shots,
    `activate ${device.kind}`,
    { '#serial': device.serial, '#device-code': await codeOf(device) },
    '/activation/password',
  );
  site.tick();
}

/** The password page, the finish page and the confirmation. */
export async function passwordAndFinish(
  page: Page,
  shots: Shots,
  password: string | undefined,
): Promise<string> {
  if (password !== undefined)
    await step(
      page,
      shots,
      'password',
      { '#password': password, '#password-repeat': password },
      '/activation/finish',
    );
  return finish(page, shots);
}

/** The finish page and the confirmation: the confirmation's text. */
export async function finish(page: Page, shots: Shots): Promise<string> {
  await step(page, shots, 'finish', {}, '/activation/done');
  await checkpoint(page, shots, 'done');
  return (await page.locator('#confirmation').innerText()).trim();
}
