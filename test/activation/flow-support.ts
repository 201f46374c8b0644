/** Integration support for the activation flow: a running service on SQLite or PostgreSQL, a shared virtual clock, emulated devices, and the HTTP calls the guide's steps make. */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { describe } from 'vitest';
import { AudioReader } from '../../devices/audio-reader/index.js';
import { Chip } from '../../devices/chip/chip.js';
import { createChipDeviceFile } from '../../devices/chip/virtual.js';
import { CodeDisplay } from '../../devices/code-display/index.js';
import {
  generateServiceKeys,
  issueAdminToken,
  startService,
  type OrganisationSettings,
  type RateLimits,
  type RunningService,
  type StoreOptions,
} from '../../src/activation/index.js';
import { VirtualClock } from '../../src/core/clock.js';
import {
  bindResponseToJson,
  creationOptionsFromJson,
  proofToJson,
  requestOptionsFromJson,
} from '../../src/core/webauthn-json.js';
import { exportPskc } from '../../src/otp/seed/index.js';
import type { OtpKey } from '../../src/otp/types.js';
import { describeWithTool } from '../support/tools.js';
import { pgUrl, probePostgres } from './support.js';

/** The two store engines every flow suite runs against. */
export type Engine = 'sqlite' | 'postgres';

const pgAvailable = await probePostgres();

/**
 * Runs `fn` once per engine: SQLite always; PostgreSQL when it answers (skipped loudly
 * otherwise, and a failure under CI=true, like the store suites).
 */
export function describeEngines(name: string, fn: (engine: Engine) => void): void {
  describe(`${name} (SQLite)`, () => fn('sqlite'));
  describeWithTool('PostgreSQL', pgAvailable, `${name} (PostgreSQL)`, () => fn('postgres'));
}

/** One step of a TOTP device (30 s): wait this long between two uses of the same device. */
export const STEP_MS = 30_000;

/** An HTTP answer: status, parsed JSON body (or text) and headers. */
export interface Answer {
  readonly status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly body: any;
  readonly text: string;
  readonly headers: Headers;
}

/** An OTP device the test holds: a code display or an audio reader made from an imported key. */
export type OtpDevice = CodeDisplay | AudioReader;

/** The code a device shows when its button is pressed now (the audio reader shows what it says). */
export async function codeOf(device: OtpDevice): Promise<string> {
  const frame = await device.press();
  if (frame.code === null) throw new Error(`${device.serial} shows no code`);
  return frame.code;
}

/** An organisation with a user administrator and an organisation administrator (API tokens). */
export interface TestOrganisation {
  readonly id: string;
  readonly cvr: string;
  readonly name: string;
  /** Token of the user administrator. */
  readonly userAdmin: string;
  /** Token of the organisation administrator. */
  readonly orgAdmin: string;
  readonly userAdminName: string;
  readonly userAdminEmail: string;
}

/** A private MitID (citizen) with its code display. */
export interface TestCitizen {
  readonly cpr: string;
  readonly name: string;
  readonly userId: string;
  readonly password: string;
  readonly device: OtpDevice;
  /** The device's key (for codes of other time steps than the one shown now). */
  readonly key: OtpKey;
}

/** A business user created by an administrator, with the activation link from the dev mailbox. */
export interface TestUser {
  readonly id: string;
  readonly email: string;
  readonly link: string;
  readonly activationCode?: string;
}

/** Options of {@link World.start}. */
export interface WorldOptions {
  readonly limits?: Partial<RateLimits>;
  readonly logger?: boolean;
}

let serialCounter = 0;
/** A serial no other device in this process has. */
export function freshSerial(prefix: string): string {
  serialCounter += 1;
  return `${prefix}${process.pid}${String(serialCounter).padStart(4, '0')}${randomBytes(2).toString('hex').toUpperCase()}`;
}

let cvrCounter = 0;
function freshCvr(): string {
  cvrCounter += 1;
  return `9${String((process.pid * 97 + cvrCounter) % 10_000_000).padStart(7, '0')}`;
}

let cprCounter = 0;
/**
 * A fictitious CPR number born on 15 March 1985 (modulus 11 is not applied by the service). The
 * serial part starts with 0-3, the century digits that put '85 in the 1900s.
 */
export function freshCpr(): string {
  cprCounter += 1;
  return `150385-${String((process.pid * 31 + cprCounter * 7) % 4000).padStart(4, '0')}`;
}

/**
 * A running service on one engine with a virtual clock shared by the service and every device;
 * one fresh database (a temporary SQLite folder, or a fresh PostgreSQL schema) per world.
 */
export class World {
  readonly engine: Engine;
  readonly clock: VirtualClock;
  readonly svc: RunningService;
  readonly dir: string;
  readonly #cleanup: () => Promise<void>;
  readonly #store: StoreOptions;
  readonly #others: RunningService[] = [];
  readonly #devices: { close(): Promise<void> }[] = [];
  /** Every answer the service gave in this world, with the request line (for secret checks). */
  readonly answers: { readonly method: string; readonly path: string; readonly answer: Answer }[] =
    [];

  private constructor(
    engine: Engine,
    clock: VirtualClock,
    svc: RunningService,
    dir: string,
    cleanup: () => Promise<void>,
    store: StoreOptions,
  ) {
    this.engine = engine;
    this.clock = clock;
    this.svc = svc;
    this.dir = dir;
    this.#cleanup = cleanup;
    this.#store = store;
  }

  /** Starts a service on a fresh database of `engine`. */
  static async start(engine: Engine, options: WorldOptions = {}): Promise<World> {
    const clock = new VirtualClock({ start: Date.UTC(2026, 10, 25, 12, 0, 0) });
    const dir = await mkdtemp(join(tmpdir(), 'mitid-flow-'));
    let cleanup = (): Promise<void> => rm(dir, { recursive: true, force: true });
    let store: StoreOptions;
    if (engine === 'sqlite') {
      store = { dataDir: dir };
    } else {
      const schema = `f_${randomBytes(6).toString('hex')}`;
      store = { url: pgUrl, schema, keys: generateServiceKeys() };
      const removeDir = cleanup;
      cleanup = async () => {
        await removeDir();
        const c = new pg.Client({ connectionString: pgUrl });
        await c.connect();
        try {
          await c.query(`drop schema if exists ${schema} cascade`);
        } finally {
          await c.end();
        }
      };
    }
    try {
      const svc = await startService({
        store,
        clock,
        port: 0,
        // The tests drain the outbox themselves.
        dispatchIntervalMs: 3_600_000,
        ...(options.limits === undefined ? {} : { limits: options.limits }),
        ...(options.logger === undefined ? {} : { logger: options.logger }),
      });
      return new World(engine, clock, svc, dir, cleanup, store);
    } catch (e) {
      await cleanup();
      throw e;
    }
  }

  /**
   * A second service instance on the same database and clock (as several instances behind a
   * load balancer share one PostgreSQL database). Its base URL is the first one's, so links and
   * the WebAuthn origin agree.
   */
  async another(): Promise<RunningService> {
    const svc = await startService({
      store: this.#store,
      clock: this.clock,
      port: 0,
      baseUrl: `http://localhost:${this.svc.port}`,
      dispatchIntervalMs: 3_600_000,
    });
    this.#others.push(svc);
    return svc;
  }

  /** Stops the service, closes the devices and removes the database. */
  async close(): Promise<void> {
    for (const o of this.#others.splice(0)) await o.close().catch(() => undefined);
    for (const d of this.#devices.splice(0)) await d.close().catch(() => undefined);
    await this.svc.close();
    await this.#cleanup();
  }

  /** The origin the service expects WebAuthn answers from (its base URL). */
  get origin(): string {
    return `http://localhost:${this.svc.port}`;
  }

  /** Moves the shared clock on by one TOTP step, so the next press shows a fresh code. */
  tick(steps = 1): void {
    this.clock.advance(steps * STEP_MS);
  }

  /** One HTTP request to the service. `token` goes as "Authorization: Bearer". */
  async call(
    method: string,
    path: string,
    body?: unknown,
    token?: string,
    headers: Record<string, string> = {},
    base: string = this.svc.url,
  ): Promise<Answer> {
    const h: Record<string, string> = { ...headers };
    if (token !== undefined) h.authorization = `Bearer ${token}`;
    let payload: string | undefined;
    if (body !== undefined) {
      h['content-type'] ??= 'application/json';
      payload = typeof body === 'string' ? body : JSON.stringify(body);
    }
    const res = await fetch(`${base}${path}`, {
      method,
      headers: h,
      ...(payload === undefined ? {} : { body: payload }),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    const answer = { status: res.status, body: parsed, text, headers: res.headers };
    this.answers.push({ method, path, answer });
    return answer;
  }

  /** POST shorthand. */
  post(path: string, body?: unknown, token?: string): Promise<Answer> {
    return this.call('POST', path, body ?? {}, token);
  }

  /** GET shorthand. */
  get(path: string, token?: string): Promise<Answer> {
    return this.call('GET', path, undefined, token);
  }

  /** An organisation with its two administrators, created in the store; their API tokens. */
  async organisation(
    name = 'Flow Test ApS',
    settings?: OrganisationSettings,
  ): Promise<TestOrganisation> {
    const cvr = freshCvr();
    const suffix = cvr.slice(-4);
    const userAdminName = `Ulla Brugeradmin ${suffix}`;
    const userAdminEmail = `ulla.${cvr}@flow.example`;
    return this.svc.store.transaction(async (tx) => {
      const org = await tx.organisations.create({
        cvr,
        name,
        ...(settings === undefined ? {} : { settings }),
      });
      const ua = await tx.admins.create({
        organisationId: org.id,
        name: userAdminName,
        email: userAdminEmail,
        role: 'user-administrator',
      });
      const oa = await tx.admins.create({
        organisationId: org.id,
        name: `Otto Orgadmin ${suffix}`,
        email: `otto.${cvr}@flow.example`,
        role: 'organisation-administrator',
      });
      return {
        id: org.id,
        cvr,
        name: org.name,
        userAdmin: await issueAdminToken(tx, ua.id),
        orgAdmin: await issueAdminToken(tx, oa.id),
        userAdminName,
        userAdminEmail,
      };
    });
  }

  /**
   * Makes `count` fresh TOTP keys, imports them as a PSKC file (AES-128 pre-shared key) into the
   * shared inventory (no admin token) or an organisation's (with its admin token), and makes an
   * emulated device of `kind` from each key on the shared clock.
   */
  async devices(
    kind: 'code-display' | 'audio-reader',
    count: number,
    adminToken?: string,
  ): Promise<{ devices: OtpDevice[]; keys: OtpKey[]; file: string }> {
    const keys: OtpKey[] = [];
    for (let i = 0; i < count; i++) {
      keys.push({
        serial: freshSerial(kind === 'code-display' ? 'KV' : 'KO'),
        type: 'totp',
        secret: new Uint8Array(randomBytes(20)),
        algorithm: 'SHA1',
        digits: 6,
        period: 30,
        t0: 0,
      });
    }
    const transport = randomBytes(16);
    const file = Buffer.from(exportPskc(keys, { key: new Uint8Array(transport) })).toString(
      'base64',
    );
    const body = { kind, file, key: transport.toString('hex') };
    const r =
      adminToken === undefined
        ? await this.post('/api/dev/inventory/seeds', body)
        : await this.post('/api/admin/inventory/seeds', body, adminToken);
    if (r.status !== 201) throw new Error(`seed import: ${r.status} ${r.text}`);
    const devices: OtpDevice[] = [];
    for (const key of keys) {
      const out = join(this.dir, `${key.serial}.json`);
      const copy = { ...key, secret: new Uint8Array(key.secret) };
      const d =
        kind === 'code-display'
          ? await CodeDisplay.fromKey(copy, out, { reference: this.clock })
          : await AudioReader.fromKey(copy, out, { reference: this.clock });
      this.#devices.push(d);
      devices.push(d);
    }
    return { devices, keys, file };
  }

  /** A private MitID: a citizen registered with a code display from the shared inventory. */
  async citizen(overrides: Partial<Pick<TestCitizen, 'cpr' | 'name'>> = {}): Promise<TestCitizen> {
    const { devices, keys } = await this.devices('code-display', 1);
    const device = devices[0]!;
    const key = keys[0]!;
    const n = freshSerial('').toLowerCase();
    const c = {
      cpr: overrides.cpr ?? freshCpr(),
      name: overrides.name ?? 'Karen Borger',
      userId: `karen.${n}`,
      password: `Bl\u00e5b\u00e6r-Gr\u00f8d-${n.slice(-5)}!`,
    };
    const r = await this.post('/api/dev/citizens', {
      ...c,
      device: { kind: 'code-display', serial: device.serial, code: await codeOf(device) },
    });
    if (r.status !== 201) throw new Error(`citizen: ${r.status} ${r.text}`);
    // The registration used this step's code.
    this.tick();
    return { ...c, device, key };
  }

  /** Creates a user through the admin API and reads the activation link from the dev mailbox. */
  async user(
    org: TestOrganisation,
    input: { cpr?: string; birthDate?: string; separateAllowed?: boolean; phone?: string },
  ): Promise<TestUser> {
    const email = `user.${freshSerial('u').toLowerCase()}@flow.example`;
    const r = await this.post(
      '/api/admin/users',
      { firstName: 'Karen', surname: 'Borger', email, ...input },
      org.userAdmin,
    );
    if (r.status !== 201) throw new Error(`create user: ${r.status} ${r.text}`);
    const link = await this.latestLink(email);
    return {
      id: r.body.user.id as string,
      email,
      link,
      ...(typeof r.body.activationCode === 'string'
        ? { activationCode: r.body.activationCode as string }
        : {}),
    };
  }

  /** The e-mails the dev mailbox holds for `to`, after the outbox is drained. */
  async mail(to: string): Promise<{ subject: string; text: string; receivedAt: number }[]> {
    await this.svc.drainOutbox();
    const r = await this.get(`/api/dev/mailbox?to=${encodeURIComponent(to)}`);
    if (r.status !== 200) throw new Error(`mailbox: ${r.status} ${r.text}`);
    return r.body.messages as { subject: string; text: string; receivedAt: number }[];
  }

  /** The token of the newest activation link e-mailed to `to`. */
  async latestLink(to: string): Promise<string> {
    const messages = await this.mail(to);
    const tokens = messages
      .map((m) => /\/activate\/([A-Za-z0-9_-]{22,128})/.exec(m.text ?? '')?.[1])
      .filter((t): t is string => t !== undefined);
    const base = `http://localhost:${this.svc.port}/activate/`;
    if (!messages.some((m) => (m.text ?? '').includes(base))) {
      // Say what became of the mail, so a failure here can be told from a slow send.
      const outbox = await this.svc.store.transaction((tx) =>
        tx.db
          .selectFrom('outbox')
          .select(['status', 'attempts', 'last_error', 'next_attempt_at'])
          .where('recipient', '=', to)
          .execute(),
      );
      throw new Error(
        `no activation link to ${base} in the mailbox of ${to} (${messages.length} mails; outbox: ${JSON.stringify(outbox)}; now ${this.clock.now()})`,
      );
    }
    const last = tokens.at(-1);
    if (last === undefined) throw new Error(`no activation link for ${to}`);
    return last;
  }

  /** The newest SMS verification code sent to `phone`. */
  async smsCode(phone: string): Promise<string> {
    await this.svc.drainOutbox();
    const r = await this.get(`/api/dev/sms?to=${encodeURIComponent(phone)}`);
    if (r.status !== 200) throw new Error(`sms: ${r.status} ${r.text}`);
    const codes = (r.body.messages as { text: string }[])
      .map((m) => /(?<!\d)(\d{6})(?!\d)/.exec(m.text)?.[1])
      .filter((c): c is string => c !== undefined);
    const last = codes.at(-1);
    if (last === undefined) throw new Error(`no SMS code for ${phone}`);
    return last;
  }

  /** "Start activation" with a citizen's private MitID (a fresh code from their device). */
  async start(link: string, c: TestCitizen, code?: string): Promise<Answer> {
    return this.post(`/api/activation-links/${link}/start`, {
      userId: c.userId,
      code: code ?? (await codeOf(c.device)),
      password: c.password,
    });
  }

  /** Starts and checks it worked: the activation token. */
  async started(link: string, c: TestCitizen): Promise<string> {
    const r = await this.start(link, c);
    if (r.status !== 200) throw new Error(`start: ${r.status} ${r.text}`);
    this.tick();
    return r.body.activationToken as string;
  }

  /**
   * The separate-MitID steps up to the authenticator: choose separate, the user ID, (the
   * activation code), phone and SMS code. Returns the user ID chosen.
   */
  async separateUpToAuthenticator(
    token: string,
    options: { activationCode?: string; phone?: string } = {},
  ): Promise<{ userId: string; phone: string }> {
    const expect = async (r: Promise<Answer>, what: string): Promise<Answer> => {
      const a = await r;
      if (a.status !== 200) throw new Error(`${what}: ${a.status} ${a.text}`);
      return a;
    };
    await expect(this.post('/api/activation/mitid', { mitid: 'separate' }, token), 'mitid');
    const userId = `firma.${freshSerial('').toLowerCase()}`;
    await expect(this.post('/api/activation/user-id', { userId }, token), 'user-id');
    if (options.activationCode !== undefined)
      await expect(
        this.post('/api/activation/activation-code', { code: options.activationCode }, token),
        'activation-code',
      );
    const phone =
      options.phone ?? `+459${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;
    await expect(this.post('/api/activation/phone', { phone }, token), 'phone');
    const code = await this.smsCode(phone);
    await expect(this.post('/api/activation/phone-code', { code }, token), 'phone-code');
    return { userId, phone };
  }

  /** A new emulated chip in its own device file. */
  async chip(): Promise<Chip> {
    const out = join(this.dir, `chip-${freshSerial('c')}.json`);
    await createChipDeviceFile({ serial: freshSerial('CH'), out });
    const chip = await Chip.open(out);
    this.#devices.push(chip);
    return chip;
  }

  /** The chip answers creation options from the service: the registration JSON. */
  async register(chip: Chip, options: unknown): Promise<unknown> {
    const req = creationOptionsFromJson(JSON.parse(JSON.stringify(options)), {
      origin: this.origin,
    });
    return JSON.parse(JSON.stringify(bindResponseToJson(await chip.bind(req))));
  }

  /** The chip answers request options from the service: the assertion JSON. */
  async assert(chip: Chip, options: unknown): Promise<unknown> {
    const req = requestOptionsFromJson(JSON.parse(JSON.stringify(options)), {
      origin: this.origin,
    });
    return JSON.parse(JSON.stringify(proofToJson(await chip.prove(req))));
  }

  /** A full login with a code display or audio reader: the organisations listed. */
  async loginWithCode(userId: string, password: string, device: OtpDevice): Promise<Answer> {
    const s = await this.post('/api/login', { userId });
    if (s.status !== 200) throw new Error(`login: ${s.status} ${s.text}`);
    const t = s.body.loginToken as string;
    const c = await this.post('/api/login/code', { code: await codeOf(device) }, t);
    if (c.status !== 200) return c;
    this.tick();
    return this.post('/api/login/password', { password }, t);
  }

  /** The audit log of an organisation, as its user administrator sees it. */
  async audit(org: TestOrganisation): Promise<unknown[]> {
    const r = await this.get('/api/admin/audit?limit=1000', org.userAdmin);
    if (r.status !== 200) throw new Error(`audit: ${r.status} ${r.text}`);
    return r.body.entries as unknown[];
  }
}

/** A password that passes MitID's rules and contains no user ID. */
export function freshPassword(): string {
  return `Hyld\u00e6-Tr\u00e6-${randomBytes(3).toString('hex')}#`;
}
