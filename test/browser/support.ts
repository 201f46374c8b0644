/** Browser end-to-end support: Debian's Chromium through playwright-core, a running activation service on a shared virtual clock, emulated devices, axe-core checks and step screenshots. */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type CDPSession, type Locator, type Page } from 'playwright-core';
import { AudioReader } from '../../devices/audio-reader/index.js';
import { CodeDisplay } from '../../devices/code-display/index.js';
import { MitIdApp, VirtualPhone } from '../../devices/app/index.js';
import {
  issueAdminToken,
  startService,
  type OrganisationSettings,
  type RunningService,
} from '../../src/activation/index.js';
import { VirtualClock } from '../../src/core/clock.js';
import { exportPskc } from '../../src/otp/seed/index.js';
import type { OtpKey } from '../../src/otp/types.js';
import { toolAvailable } from '../support/tools.js';

/** Debian's Chromium (playwright-core never downloads a browser of its own here). */
export const CHROMIUM = '/usr/bin/chromium';

/** True when Chromium runs on this machine. */
export const chromiumAvailable = toolAvailable(CHROMIUM);

/** Bounded waits: generous for 2 busy cores, never unbounded. */
export const WAIT_MS = 20_000;

/** The flags every launch uses: no sandbox (root in CI), no GPU, no traffic of its own. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-quic',
  '--disable-sync',
] as const;

/** Launches headless Chromium (one per test file; a fresh context per test). */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS],
    timeout: 60_000,
  });
}

/** A new page in a fresh context (its own cookies and storage), with bounded default waits. */
export async function freshPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext({
    locale: 'da-DK',
    viewport: { width: 1024, height: 900 },
  });
  context.setDefaultTimeout(WAIT_MS);
  context.setDefaultNavigationTimeout(WAIT_MS);
  return context.newPage();
}

const require = createRequire(import.meta.url);
let axeSource: string | undefined;

/** The axe-core rule tags checked: WCAG 2.0, 2.1 and 2.2, levels A and AA. */
export const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa'];

/** One axe-core violation, as much as a report needs. */
export interface AxeViolation {
  readonly id: string;
  readonly impact: string | null;
  readonly help: string;
  readonly nodes: readonly { readonly target: readonly string[]; readonly html: string }[];
}

/**
 * Runs axe-core on the page as it is now and returns the violations of {@link AXE_TAGS}. The
 * pages' CSP allows only their own scripts, so axe is evaluated through the DevTools protocol
 * (which CSP does not govern) rather than added as a script element.
 */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  axeSource ??= await readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
  const loaded = await page.evaluate('typeof window.axe === "object"');
  if (loaded !== true) await page.evaluate(axeSource);
  const script = `(async () => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: ${JSON.stringify(AXE_TAGS)} } });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact ?? null,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target.map(String), html: n.html.slice(0, 200) })),
    }));
  })()`;
  return (await page.evaluate(script)) as AxeViolation[];
}

/** Every axe violation found, by page label: the suite's report reads it at the end. */
export const axeLog: { readonly label: string; readonly url: string; readonly ids: string[] }[] =
  [];

/** Readable lines for violations. */
export function describeViolations(vs: readonly AxeViolation[]): string {
  return vs
    .map(
      (v) =>
        `${v.id} (${v.impact ?? '?'}): ${v.help}\n` +
        v.nodes.map((n) => `    ${n.target.join(' ')}  ${n.html}`).join('\n'),
    )
    .join('\n');
}

/** Checks the page with axe-core and throws, listing every violation, when there is one. */
export async function expectAccessible(page: Page, label: string): Promise<void> {
  const vs = await axeViolations(page);
  axeLog.push({ label, url: new URL(page.url()).pathname, ids: vs.map((v) => v.id) });
  if (vs.length > 0)
    throw new Error(`axe-core: ${vs.length} violation(s) on ${label}:\n${describeViolations(vs)}`);
}

/** Screenshots of one test's steps, numbered in order: artifacts/screenshots/<test>/<nn-step>.png. */
export class Shots {
  readonly dir: string;
  #n = 0;

  constructor(test: string) {
    this.dir = resolve('artifacts', 'screenshots', slug(test));
  }

  /** A full-page screenshot of the current step. */
  async take(page: Page, step: string): Promise<string> {
    // A test's folder holds only this run's pictures.
    if (this.#n === 0) await rm(this.dir, { recursive: true, force: true });
    this.#n += 1;
    await mkdir(this.dir, { recursive: true });
    const file = join(this.dir, `${String(this.#n).padStart(2, '0')}-${slug(step)}.png`);
    await page.screenshot({ path: file, fullPage: true, animations: 'disabled' });
    return file;
  }
}

/** A file-name-safe slug. */
export function slug(s: string): string {
  return (
    s
      .toLowerCase()
      .normalize('NFKD')
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60) || 'step'
  );
}

/**
 * The step done on each page: a screenshot, then axe-core. Screenshot first, so a page that
 * fails axe is still on disk to look at.
 */
export async function checkpoint(page: Page, shots: Shots, step: string): Promise<void> {
  await page.waitForLoadState('load');
  await shots.take(page, step);
  await expectAccessible(page, step);
}

/** The PNG bytes of an element as the screen shows it (what a phone's camera would see). */
export async function elementPng(el: Locator): Promise<Uint8Array> {
  await el.waitFor({ state: 'visible' });
  // The image must be decoded before it is photographed.
  await el.evaluate(async (node) => {
    const img = node as { complete?: boolean; addEventListener(t: string, f: () => void): void };
    if (img.complete === false)
      await new Promise<void>((r) => img.addEventListener('load', () => r()));
  });
  return new Uint8Array(await el.screenshot({ animations: 'disabled', scale: 'css' }));
}

/** Chromium's own virtual authenticator (CTAP2 over USB, a plain chip: no PIN, no resident keys). */
export interface VirtualAuthenticator {
  readonly cdp: CDPSession;
  readonly authenticatorId: string;
  /** The credentials it holds. */
  credentials(): Promise<{ credentialId: string; signCount: number; rpId?: string }[]>;
}

/** Adds Chromium's virtual authenticator to the page (DevTools WebAuthn domain). */
export async function addVirtualAuthenticator(page: Page): Promise<VirtualAuthenticator> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'usb',
      hasResidentKey: false,
      hasUserVerification: false,
      isUserVerified: false,
      automaticPresenceSimulation: true,
    },
  });
  return {
    cdp,
    authenticatorId,
    async credentials() {
      const r = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
      return r.credentials.map((c) => ({
        credentialId: c.credentialId,
        signCount: c.signCount,
        ...(c.rpId === undefined ? {} : { rpId: c.rpId }),
      }));
    },
  };
}

/** An HTTP answer from the service. */
export interface Answer {
  readonly status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly body: any;
  readonly text: string;
  readonly headers: Headers;
}

/** An organisation and its administrators' API tokens. */
export interface Organisation {
  readonly id: string;
  readonly name: string;
  readonly userAdmin: string;
  readonly orgAdmin: string;
}

/** A citizen with a private MitID on a code display. */
export interface Citizen {
  readonly cpr: string;
  readonly name: string;
  readonly userId: string;
  readonly password: string;
  readonly device: CodeDisplay;
}

/** A business user made by the user administrator, with the link e-mailed. */
export interface BusinessUser {
  readonly id: string;
  readonly email: string;
  /** The activation link's token. */
  readonly token: string;
  /** The whole activation link as e-mailed (http://localhost:PORT/activate/...). */
  readonly link: string;
  readonly activationCode?: string;
}

let counter = 0;
/** Something unique in this process (serials, user IDs, phone numbers). */
export function unique(): string {
  counter += 1;
  return `${process.pid % 10000}${String(counter).padStart(3, '0')}${randomBytes(2).toString('hex')}`;
}

/** A fresh Danish mobile number. */
export function freshPhone(): string {
  counter += 1;
  return `+452${String((process.pid * 131 + counter * 17) % 10_000_000).padStart(7, '0')}`;
}

/** A fictitious CPR number born 15 March 1985 (the serial's first digit 0-3 keeps it in the 1900s). */
export function freshCpr(): string {
  counter += 1;
  return `150385-${String((process.pid * 31 + counter * 7) % 4000).padStart(4, '0')}`;
}

/** A password that passes MitID's rules and holds no user ID. */
export function freshPassword(): string {
  return `Hyld\u00e6-Tr\u00e6-${randomBytes(3).toString('hex')}#`;
}

/** The code a device shows (or speaks) when its button is pressed now. */
export async function codeOf(device: CodeDisplay | AudioReader): Promise<string> {
  const frame = await device.press();
  if (frame.code === null) throw new Error(`${device.serial} shows no code`);
  return frame.code;
}

/** One TOTP step: the next press of a device shows a fresh code. */
export const STEP_MS = 30_000;

/**
 * The activation service for browser tests: a fresh SQLite database, the built-in dev mailbox,
 * links at http://localhost:PORT (a secure context, the WebAuthn origin), and a virtual clock
 * shared by the service and every emulated device.
 */
export class Site {
  readonly clock: VirtualClock;
  readonly svc: RunningService;
  readonly dir: string;
  /** The origin pages are opened at: http://localhost:PORT. */
  readonly base: string;
  readonly #closers: (() => Promise<void>)[] = [];

  private constructor(clock: VirtualClock, svc: RunningService, dir: string) {
    this.clock = clock;
    this.svc = svc;
    this.dir = dir;
    this.base = `http://localhost:${svc.port}`;
  }

  /** Starts a service on a fresh database. */
  static async start(): Promise<Site> {
    const clock = new VirtualClock();
    const dir = await mkdtemp(join(tmpdir(), 'mitid-browser-'));
    // The base URL names the port, so the port is chosen first; another process may take it
    // before the service listens: then a fresh one is tried (a few times, no more).
    for (let attempt = 1; ; attempt++) {
      try {
        const port = await freePort();
        const svc = await startService({
          store: { dataDir: dir },
          clock,
          port,
          baseUrl: `http://localhost:${port}`,
          // Mails and SMS leave quickly, so the app's SMS wait and the mailbox see them.
          dispatchIntervalMs: 100,
        });
        return new Site(clock, svc, dir);
      } catch (e) {
        if ((e as { code?: unknown }).code === 'listen-failed' && attempt < 3) continue;
        await rm(dir, { recursive: true, force: true });
        throw e;
      }
    }
  }

  /** A URL on the site. */
  url(path: string): string {
    return `${this.base}${path}`;
  }

  /** Closes devices and phones, stops the service, removes the database. */
  async close(): Promise<void> {
    for (const c of this.#closers.splice(0).reverse()) await c().catch(() => undefined);
    await this.svc.close();
    await rm(this.dir, { recursive: true, force: true });
  }

  /** Moves the shared clock on by `steps` TOTP steps. */
  tick(steps = 1): void {
    this.clock.advance(steps * STEP_MS);
  }

  /** One JSON request to the service's API (not through the browser). */
  async call(method: string, path: string, body?: unknown, token?: string): Promise<Answer> {
    const headers: Record<string, string> = {};
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(this.url(path), {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      // not JSON
    }
    return { status: res.status, body: parsed, text, headers: res.headers };
  }

  async #ok(method: string, path: string, body: unknown, token: string | undefined, status = 200) {
    const r = await this.call(method, path, body, token);
    if (r.status !== status) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
    return r;
  }

  /** An organisation with a user administrator and an organisation administrator. */
  async organisation(
    settings?: OrganisationSettings,
    name = 'Browser Test ApS',
  ): Promise<Organisation> {
    const cvr = `9${String((process.pid * 97 + ++counter) % 10_000_000).padStart(7, '0')}`;
    const org = await this.svc.store.transaction(async (tx) => {
      const o = await tx.organisations.create({ cvr, name });
      const ua = await tx.admins.create({
        organisationId: o.id,
        name: 'Ulla Brugeradmin',
        email: `ulla.${cvr}@browser.example`,
        role: 'user-administrator',
      });
      const oa = await tx.admins.create({
        organisationId: o.id,
        name: 'Otto Orgadmin',
        email: `otto.${cvr}@browser.example`,
        role: 'organisation-administrator',
      });
      return {
        id: o.id,
        name: o.name,
        userAdmin: await issueAdminToken(tx, ua.id),
        orgAdmin: await issueAdminToken(tx, oa.id),
      };
    });
    if (settings !== undefined)
      await this.#ok('PATCH', '/api/admin/settings', settings, org.orgAdmin);
    return org;
  }

  /** Fresh TOTP keys imported as PSKC (shared inventory without a token, else the organisation's). */
  async devices(
    kind: 'code-display' | 'audio-reader',
    count: number,
    adminToken?: string,
  ): Promise<(CodeDisplay | AudioReader)[]> {
    const keys: OtpKey[] = [];
    for (let i = 0; i < count; i++)
      keys.push({
        serial: `${kind === 'code-display' ? 'KV' : 'KO'}${unique().toUpperCase()}`,
        type: 'totp',
        secret: new Uint8Array(randomBytes(20)),
        algorithm: 'SHA1',
        digits: 6,
        period: 30,
        t0: 0,
      });
    const transport = randomBytes(16);
    const file = Buffer.from(exportPskc(keys, { key: new Uint8Array(transport) })).toString(
      'base64',
    );
    const body = { kind, file, key: transport.toString('hex') };
    if (adminToken === undefined)
      await this.#ok('POST', '/api/dev/inventory/seeds', body, undefined, 201);
    else await this.#ok('POST', '/api/admin/inventory/seeds', body, adminToken, 201);
    const out: (CodeDisplay | AudioReader)[] = [];
    for (const key of keys) {
      const file = join(this.dir, `${key.serial}.json`);
      const d =
        kind === 'code-display'
          ? await CodeDisplay.fromKey(key, file, { reference: this.clock })
          : await AudioReader.fromKey(key, file, { reference: this.clock });
      this.#closers.push(() => d.close());
      out.push(d);
    }
    return out;
  }

  /** An organisation's code display. */
  async codeDisplay(org: Organisation): Promise<CodeDisplay> {
    return (await this.devices('code-display', 1, org.userAdmin))[0] as CodeDisplay;
  }

  /** An organisation's audio code reader. */
  async audioReader(org: Organisation): Promise<AudioReader> {
    return (await this.devices('audio-reader', 1, org.userAdmin))[0] as AudioReader;
  }

  /** A citizen with a private MitID on a code display from the shared inventory. */
  async citizen(): Promise<Citizen> {
    const device = (await this.devices('code-display', 1))[0] as CodeDisplay;
    const n = unique();
    const c = {
      cpr: freshCpr(),
      name: 'Karen Borger',
      userId: `karen.${n}`,
      password: `Bl\u00e5b\u00e6r-Gr\u00f8d-${n.slice(-5)}!`,
    };
    await this.#ok(
      'POST',
      '/api/dev/citizens',
      { ...c, device: { kind: 'code-display', serial: device.serial, code: await codeOf(device) } },
      undefined,
      201,
    );
    // The registration used this step's code.
    this.tick();
    return { ...c, device };
  }

  /** A citizen whose private MitID is the app on their own phone (activated). */
  async appCitizen(pin: string): Promise<{ cpr: string; userId: string; app: MitIdApp }> {
    const number = freshPhone();
    const phone = await this.phone(number);
    const cpr = freshCpr();
    const userId = `emil.${unique()}`;
    const r = await this.#ok(
      'POST',
      '/api/dev/citizens',
      { cpr, name: 'Emil Eriksen', userId, app: { phone: number } },
      undefined,
      201,
    );
    const app = MitIdApp.fresh(phone);
    this.#closers.push(() => app.close());
    await app.bind({
      userId,
      activationCode: String(r.body.activationCode),
      pin,
      biometrics: true,
      mitid: 'private',
    });
    return { cpr, userId, app };
  }

  /** A virtual phone talking to this service. */
  async phone(number = freshPhone()): Promise<VirtualPhone> {
    return VirtualPhone.create({
      number,
      out: join(this.dir, `phone-${number.slice(1)}-${unique()}.json`),
      serviceUrl: this.svc.url,
    });
  }

  /** A fresh app on a phone (to be bound by the test). */
  app(phone: VirtualPhone): MitIdApp {
    const app = MitIdApp.fresh(phone);
    this.#closers.push(() => app.close());
    return app;
  }

  /** The user administrator creates a user; the activation link is read from the dev mailbox. */
  async user(
    org: Organisation,
    input: { cpr?: string; birthDate?: string; separateAllowed?: boolean },
  ): Promise<BusinessUser> {
    const email = `user.${unique()}@browser.example`;
    const r = await this.#ok(
      'POST',
      '/api/admin/users',
      { firstName: 'Karen', surname: 'Borger', email, ...input },
      org.userAdmin,
      201,
    );
    const link = await this.activationLink(email);
    return {
      id: r.body.user.id as string,
      email,
      token: link.slice(link.lastIndexOf('/') + 1),
      link,
      ...(typeof r.body.activationCode === 'string'
        ? { activationCode: r.body.activationCode as string }
        : {}),
    };
  }

  /** The mails in the dev mailbox for `to` (after the outbox is drained). */
  async mail(to: string): Promise<{ subject: string | null; text: string | null }[]> {
    await this.svc.drainOutbox();
    const r = await this.#ok(
      'GET',
      `/api/dev/mailbox?to=${encodeURIComponent(to)}`,
      undefined,
      undefined,
    );
    return r.body.messages as { subject: string | null; text: string | null }[];
  }

  /** The newest activation link e-mailed to `to`. */
  async activationLink(to: string): Promise<string> {
    const links = (await this.mail(to))
      .map((m) => /https?:\/\/[^\s"<>]+\/activate\/[A-Za-z0-9_-]+/.exec(m.text ?? '')?.[0])
      .filter((l): l is string => l !== undefined);
    const last = links.at(-1);
    if (last === undefined) throw new Error(`no activation link for ${to}`);
    if (!last.startsWith(`${this.base}/`))
      throw new Error(`the activation link is not on ${this.base}: ${last}`);
    return last;
  }

  /** The newest 6-digit SMS code sent to `phone`. */
  async smsCode(phone: string): Promise<string> {
    await this.svc.drainOutbox();
    const r = await this.#ok(
      'GET',
      `/api/dev/sms?to=${encodeURIComponent(phone)}`,
      undefined,
      undefined,
    );
    const codes = (r.body.messages as { text: string }[])
      .map((m) => /(?<!\d)(\d{6})(?!\d)/.exec(m.text)?.[1])
      .filter((c): c is string => c !== undefined);
    const last = codes.at(-1);
    if (last === undefined) throw new Error(`no SMS code for ${phone}`);
    return last;
  }
}

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => ok(port));
    });
  });
}
