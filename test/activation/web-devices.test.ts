/** The devices page that `mitid-sim serve` adds: pictures of the emulated code displays and audio readers in a directory, their current code, a button to press. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AudioReader } from '../../devices/audio-reader/index.js';
import { CodeDisplay } from '../../devices/code-display/index.js';
import { addPageExtension } from '../../src/activation/web/extensions.js';
import { devicePages } from '../../src/cli/web-devices.js';
import { World } from './flow-support.js';
import { decode, PageClient } from './web-support.js';

describe('the emulated devices page', () => {
  let w: World;
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mitid-web-devices-'));
    const remove = addPageExtension(devicePages(dir));
    try {
      w = await World.start('sqlite');
    } finally {
      remove();
    }
  });
  afterEach(async () => {
    await w?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('shows each device as a picture with its code in text, and presses its button', async () => {
    const display = await CodeDisplay.create({ serial: 'CD-WEB-1', out: join(dir, 'cd.json') });
    await display.close();
    const reader = await AudioReader.create({ serial: 'AR-WEB-1', out: join(dir, 'ar.json') });
    await reader.close();

    const b = new PageClient(w.svc.url, 'en');
    let page = await b.get('/dev/devices');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("img-src 'self' data:");
    expect(page.html).toContain('data-serial="CD-WEB-1"');
    expect(page.html).toContain('data-serial="AR-WEB-1"');
    expect(page.html).toMatch(
      /<img\s+src="data:image\/svg\+xml;base64,[^"]+"\s+alt="Code display CD-WEB-1 with its screen off"/,
    );
    expect(page.html.match(/<h1[ >]/g)?.length).toBe(1);

    page = await b.submit(page, '/dev/devices/press', { file: 'cd.json' });
    expect(page.path).toBe('/dev/devices');
    const alt = /alt="Code display CD-WEB-1 showing (\d{6})"/.exec(page.html)?.[1];
    expect(alt).toBeDefined();
    // The code in the picture's text is the one the device shows now.
    const again = await CodeDisplay.open(join(dir, 'cd.json'));
    try {
      expect(again.lcd().code).toBe(alt);
    } finally {
      await again.close();
    }
    expect(decode(page.html)).toContain(`<strong class="code device-code">${alt}</strong>`);

    // Only files of the directory; nothing else can be named.
    const refused = await b.submit(page, '/dev/devices/press', { file: '../cd.json' });
    expect(refused.status).toBe(404);
    expect(refused.html).toContain('role="alert"');
  });

  it('is not there on a service started without it', async () => {
    const other = await World.start('sqlite');
    try {
      const r = await fetch(`${other.svc.url}/dev/devices`);
      expect(r.status).toBe(404);
    } finally {
      await other.close();
    }
  });
});
