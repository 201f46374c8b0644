/**
 * A newcomer runs `mitid-sim serve` in a new data folder and opens the pages: the landing page leads
 * to the sandbox, the mailbox, the activation link and the private MitID login, to the finish.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CodeDisplay } from '../../devices/code-display/index.js';
import { startCli } from '../support/cli.js';
import { describeWithTool } from '../support/tools.js';
import { clickThrough, expectPath, step } from './flows.js';
import { checkpoint, chromiumAvailable, freshPage, launchBrowser, Shots } from './support.js';

describeWithTool('chromium', chromiumAvailable, 'a newcomer opens mitid-sim serve', () => {
  let browser: Browser;
  let served: Awaited<ReturnType<typeof startCli>>;
  let data: string;
  let base: string;
  const pages: Page[] = [];

  beforeAll(async () => {
    browser = await launchBrowser();
    data = await mkdtemp(join(tmpdir(), 'mitid-newcomer-'));
    served = await startCli(['serve', '--port', '0', '--json', '--data', data], /"sandbox"/);
    const facts = JSON.parse(served.output().stdout.trim().split('\n')[0]!) as {
      url: string;
      sandbox: string | null;
    };
    expect(facts.sandbox).toMatch(/\/dev\/sandbox$/);
    base = facts.url.replace('127.0.0.1', 'localhost');
  });
  afterAll(async () => {
    for (const p of pages.splice(0)) await p.context().close();
    await browser?.close();
    expect(await served?.stop()).toBe(0);
  });

  it('the landing page leads through an activation with the sandbox', async () => {
    const shots = new Shots('newcomer');
    const p = await freshPage(browser);
    pages.push(p);
    await p.goto(`${base}/?lang=en`, { waitUntil: 'load' });
    await checkpoint(p, shots, 'landing');
    await clickThrough(p, '#link-sandbox');
    expectPath(p, '/dev/sandbox');
    await checkpoint(p, shots, 'sandbox');
    const userId = (await p.locator('#sandbox-user-id').innerText()).trim();
    const password = (await p.locator('#sandbox-password').innerText()).trim();
    expect(userId).toBe('sofie.privat');

    // The activation e-mail reaches the dev mailbox a moment after start-up.
    let link: string | null = null;
    for (let i = 0; i < 40 && link === null; i++) {
      await p.goto(`${base}/dev/mailbox`, { waitUntil: 'load' });
      const mails = p.locator('a[href^="/dev/mailbox/"]');
      if ((await mails.count()) > 0) {
        await clickThrough(p, 'a[href^="/dev/mailbox/"] >> nth=0');
        link = await p.locator('#activation-link').getAttribute('href');
      } else await p.waitForTimeout(250);
    }
    expect(link).toMatch(/\/activate\/[A-Za-z0-9_-]+$/);
    await checkpoint(p, shots, 'the activation e-mail');

    const target = new URL(link!, base);
    target.hostname = 'localhost';
    await p.goto(target.toString(), { waitUntil: 'load' });
    await expect(p.locator('#organisation-name').innerText()).resolves.toContain('Sandkassen');
    await checkpoint(p, shots, 'activation link');
    await clickThrough(p, '#start-activation');
    const device = await CodeDisplay.open(join(data, 'devices', 'KV-SANDKASSE-1.json'));
    const code = (await device.prove({})).code;
    await device.close();
    const form = p.locator('form#private-login');
    await form.locator('[name=userId]').fill(userId);
    await form.locator('[name=code]').fill(code);
    await form.locator('[name=password]').fill(password);
    await clickThrough(p, '#submit-login');
    expectPath(p, '/activation/choose-mitid');
    await p.check('#mitid-private');
    await step(p, shots, 'choose private MitID', {}, '/activation/finish');
    await step(p, shots, 'finish', {}, '/activation/done');
    await checkpoint(p, shots, 'done');
    await expect(p.locator('#confirmation').innerText()).resolves.toContain('Sandkassen');
  });
});
