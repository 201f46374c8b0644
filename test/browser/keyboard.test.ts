/** A whole activation with the keyboard alone (Tab, typing, Space, Enter): no clicks. */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithTool } from '../support/tools.js';
import { expectPath, navigates } from './flows.js';
import {
  checkpoint,
  chromiumAvailable,
  codeOf,
  freshPage,
  launchBrowser,
  Shots,
  Site,
  type Organisation,
} from './support.js';

/** At most this many Tab presses to reach one control (a page has far fewer). */
const MAX_TABS = 40;

describeWithTool('chromium', chromiumAvailable, 'activation with the keyboard alone', () => {
  let browser: Browser;
  let site: Site;
  let org: Organisation;
  let page: Page | undefined;

  beforeAll(async () => {
    browser = await launchBrowser();
    site = await Site.start();
    org = await site.organisation({
      privateMitIdAllowed: true,
      separateAuthenticators: ['code-display', 'audio-reader', 'chip', 'app'],
      preselected: 'code-display',
    });
  });
  afterAll(async () => {
    await page?.context().close();
    await browser?.close();
    await site?.close();
  });

  /** True when the focused element matches `selector`. */
  async function focused(p: Page, selector: string): Promise<boolean> {
    return (await p.evaluate(
      `document.activeElement !== null && document.activeElement.matches(${JSON.stringify(selector)})`,
    )) as boolean;
  }

  /** The focused element's outline as drawn (WCAG 2.4.7: focus is visible). */
  async function focusOutline(p: Page): Promise<{ style: string; width: number }> {
    return (await p.evaluate(`(() => {
      const s = getComputedStyle(document.activeElement);
      return { style: s.outlineStyle, width: parseFloat(s.outlineWidth) || 0 };
    })()`)) as { style: string; width: number };
  }

  /**
   * Presses Tab until `selector` has the focus (fails after {@link MAX_TABS} presses), and checks
   * the focus can be seen there.
   */
  async function tabTo(p: Page, selector: string): Promise<void> {
    let i = 0;
    while (!(await focused(p, selector))) {
      if (i++ >= MAX_TABS) throw new Error(`Tab never reached ${selector} on ${p.url()}`);
      await p.keyboard.press('Tab');
    }
    const outline = await focusOutline(p);
    expect(outline.style, `focus outline on ${selector}`).not.toBe('none');
    expect(outline.width, `focus outline on ${selector}`).toBeGreaterThanOrEqual(2);
  }

  /** Presses `key` and waits for the next document. */
  function press(p: Page, key: string): Promise<number> {
    return navigates(p, () => p.keyboard.press(key));
  }

  it('private MitID, from the e-mail link to the confirmation', async () => {
    const shots = new Shots('keyboard-private');
    const citizen = await site.citizen();
    const user = await site.user(org, { cpr: citizen.cpr });
    page = await freshPage(browser);
    const p = page;
    await p.goto(user.link, { waitUntil: 'load' });
    await checkpoint(p, shots, 'activation link');
    // The first Tab reaches the skip link.
    await p.keyboard.press('Tab');
    expect(await focused(p, 'a.skip-link')).toBe(true);
    await tabTo(p, '#start-activation');
    await press(p, 'Enter');
    expectPath(p, /^\/activate\/[A-Za-z0-9_-]+\/login$/);
    await checkpoint(p, shots, 'login');

    await tabTo(p, 'form#private-login [name=userId]');
    await p.keyboard.type(citizen.userId);
    await p.keyboard.press('Tab');
    expect(await focused(p, 'form#private-login [name=code]')).toBe(true);
    await p.keyboard.type(await codeOf(citizen.device));
    await p.keyboard.press('Tab');
    expect(await focused(p, 'form#private-login [name=password]')).toBe(true);
    await p.keyboard.type(citizen.password);
    await press(p, 'Enter');
    site.tick();
    expectPath(p, '/activation/choose-mitid');
    await checkpoint(p, shots, 'choose mitid');

    // Tab enters the radio group; the arrows move within it and select.
    await tabTo(p, 'input[name=mitid]');
    for (let i = 0; i < 4 && !(await p.isChecked('#mitid-private')); i++)
      await p.keyboard.press('ArrowDown');
    expect(await p.isChecked('#mitid-private')).toBe(true);
    await tabTo(p, '#submit');
    await press(p, 'Enter');
    expectPath(p, '/activation/finish');
    await checkpoint(p, shots, 'finish');

    await tabTo(p, '#submit');
    await press(p, 'Enter');
    expectPath(p, '/activation/done');
    await checkpoint(p, shots, 'done');
    await expect(p.locator('#confirmation').innerText()).resolves.toContain(org.name);
  });
});
