/**
 * Activation service figures: code validation over HTTP against a bare fastify route, in process
 * against a bare SQLite write transaction, and whole activations against the scrypt work they need.
 */
import { randomBytes, scrypt as scryptCb } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { VirtualClock } from '../../src/core/clock.js';
import { generateTotp } from '../../src/otp/generate.js';
import { bindingFromKey } from '../../src/otp/verify.js';
import type { OtpKey } from '../../src/otp/types.js';
import { createBusinessUser } from '../../src/activation/admin.js';
import { ActivationFlow, type Client, type RateLimits } from '../../src/activation/flow.js';
import { normalisePhone } from '../../src/activation/rules.js';
import { startService, type RunningService } from '../../src/activation/service.js';
import { SCRYPT_PARAMS, generateServiceKeys } from '../../src/activation/store/secrets.js';
import { hashPassword } from '../../src/activation/store/secrets.js';
import { openStore, type Store } from '../../src/activation/store/store.js';
import { ChipVerifier } from '../../src/activation/webauthn.js';
import type { BenchCase, BenchModule, Contender } from './harness.js';

/** Server time at the start: mid-step, so a code is never read at a step boundary. */
const START_MS = Date.UTC(2026, 10, 25, 12, 0, 15);
const STEP_MS = 30_000;
/**
 * Bound code displays in the validation workload. Each TOTP step is accepted once per device, so
 * the workload walks through the devices and moves the service's virtual clock one step on each
 * time round; a user's replay, lockout and rate-limit rows are then touched once per round.
 */
const DEVICES = 2000;
/** Rounds of codes worked out during set-up (more are worked out if a run goes further). */
const ROUNDS_AHEAD = 8;
/** Requests in flight over HTTP, for the service and the bare route alike. */
const CONCURRENCY = 8;
/** Private MitIDs (citizens) the activation workload takes turns with. */
const CITIZENS = 32;
/** Untimed warm-up of the validation cases, ms (see {@link warmUp}). */
const WARM_UP_MS = 1500;
const BASE_URL = 'http://localhost';
const CLIENT: Client = { address: '127.0.0.1' };
/** Limits high enough that nothing in the bench is refused for its pace. */
const LIMITS: RateLimits = {
  perAddress: { limit: 1e9, windowMs: 60_000 },
  perUser: { limit: 1e9, windowMs: 60_000 },
  sms: { limit: 1e9, windowMs: 3_600_000 },
};
const CITIZEN_PASSWORD = 'Havregrød-med-smør-71';
const SEPARATE_PASSWORD = 'Rugbrød+leverpostej-38';

// ---------------------------------------------------------------------------------------------
// Databases and bound users (set-up, not timed).

/** A temporary directory for one case's SQLite file; `dispose` removes it. */
async function tempDatabase(): Promise<{ url: string; dispose(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'mitid-bench-activation-'));
  return {
    url: join(dir, 'activation.sqlite'),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}

/** A random TOTP key package (SHA-1, 6 digits, 30 s), as a seed file would carry it. */
function totpKey(serial: string): OtpKey {
  return {
    serial,
    type: 'totp',
    secret: new Uint8Array(randomBytes(20)),
    algorithm: 'SHA1',
    digits: 6,
    period: 30,
  };
}

/** What a bound device's owner knows: the user ID to send and the seed to read codes from. */
interface BoundDevice {
  readonly userId: string;
  readonly secret: Uint8Array;
  readonly authenticatorId: string;
}

/**
 * `count` activated business users with a separate MitID and a bound code display each, written
 * straight into the store in one transaction (the state a finished activation leaves).
 */
async function bindUsers(store: Store, count: number): Promise<BoundDevice[]> {
  return store.transaction(async (tx) => {
    const org = await tx.organisations.create({ cvr: '91234567', name: 'Bænkprøve ApS' });
    const citizen = await tx.citizens.create({
      cpr: '010170-1234',
      name: 'Bente Bænk',
      userId: 'bentebaenk',
    });
    const out: BoundDevice[] = [];
    for (let i = 0; i < count; i++) {
      const user = await tx.users.create({
        organisationId: org.id,
        firstName: 'Bruger',
        surname: `Nummer ${i}`,
        email: `bruger${i}@baenk.example`,
        birthDate: '1970-01-01',
      });
      const key = totpKey(`BENCH-CD-${String(i).padStart(5, '0')}`);
      const item = await tx.inventory.importOtp({ kind: 'code-display', key });
      const { secret: _secret, state, ...binding } = bindingFromKey(key);
      const bound = await tx.authenticators.bind({
        ownerKind: 'business-user',
        ownerId: user.id,
        kind: 'code-display',
        serial: key.serial,
        binding,
        state,
      });
      await tx.inventory.setStatus(item.id, 'bound');
      const userId = `baenkbruger${String(i).padStart(5, '0')}`;
      // As the activation does: the user ID is reserved (unique across every MitID), then set.
      await tx.users.reserveUserId(user.id, userId);
      await tx.users.markActivated(user.id, {
        mitidKind: 'separate',
        citizenId: citizen.id,
        userId,
      });
      out.push({ userId, secret: key.secret, authenticatorId: bound.id });
    }
    return out;
  });
}

/**
 * The validation workload: request `i` is device `i % DEVICES` with its code at round
 * `i / DEVICES`. Codes are worked out ahead (the device's work, not the service's); the
 * service's clock moves one step when a round begins.
 */
class CodeWorkload {
  readonly #devices: readonly BoundDevice[];
  readonly #clock: VirtualClock;
  readonly #rounds: string[][] = [];
  #next = 0;

  constructor(devices: readonly BoundDevice[], clock: VirtualClock) {
    this.#devices = devices;
    this.#clock = clock;
    for (let r = 0; r < ROUNDS_AHEAD; r++) this.#round(r);
  }

  #round(r: number): string[] {
    let codes = this.#rounds[r];
    if (codes === undefined) {
      const at = START_MS + r * STEP_MS;
      codes = this.#devices.map((d) => generateTotp({ secret: d.secret }, at));
      this.#rounds[r] = codes;
    }
    return codes;
  }

  /** The next request: its user ID and a code the service has not seen yet. */
  next(): { userId: string; code: string } {
    const i = this.#next++;
    const k = i % this.#devices.length;
    const r = Math.floor(i / this.#devices.length);
    if (k === 0 && r > 0) this.#clock.set(START_MS + r * STEP_MS);
    return { userId: this.#devices[k]!.userId, code: this.#round(r)[k]! };
  }

  /** A body of the same shape and size for the bare route. */
  sample(i: number): { userId: string; code: string } {
    const k = i % this.#devices.length;
    return { userId: this.#devices[k]!.userId, code: this.#round(0)[k]! };
  }

  get devices(): readonly BoundDevice[] {
    return this.#devices;
  }
}

/**
 * Runs the contenders in turns for `ms` before anything is timed. The service's path goes
 * through fastify, kysely and better-sqlite3, far more code than the harness's short warm-up
 * lets V8 optimise: without this the first trials measure the compiler, and the figure moved
 * with --slice.
 */
async function warmUp(contenders: readonly Contender[], ms: number): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) for (const c of contenders) await c.run(32);
}

// ---------------------------------------------------------------------------------------------
// HTTP: the service's /api/validate against a bare fastify route.

const validateBodySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    userId: { type: 'string', minLength: 1, maxLength: 100 },
    code: { type: 'string', minLength: 1, maxLength: 16 },
  },
  required: ['userId', 'code'],
} as const;

/**
 * The limit: a fastify route with the same body schema and the same response schema as
 * /api/validate, answering `{verified:true}` and doing nothing else.
 */
async function bareFastify(): Promise<{ app: FastifyInstance; port: number }> {
  const app = Fastify({ logger: false });
  app.post(
    '/api/validate',
    {
      schema: {
        body: validateBodySchema,
        response: {
          200: {
            type: 'object',
            additionalProperties: false,
            properties: { verified: { type: 'boolean' } },
            required: ['verified'],
          },
        },
      },
    },
    () => Promise.resolve({ verified: true }),
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  return { app, port: typeof addr === 'object' && addr !== null ? addr.port : 0 };
}

/** POSTs JSON over a keep-alive agent; resolves with the parsed answer, rejects on non-200. */
function postJson(agent: Agent, port: number, path: string, body: unknown): Promise<unknown> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        agent,
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(text),
        },
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (data += chunk));
        res.on('end', () => {
          if (res.statusCode !== 200)
            reject(new Error(`HTTP ${res.statusCode ?? '?'} from ${path}: ${data.slice(0, 200)}`));
          else resolve(JSON.parse(data));
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

/**
 * Sends `n` requests with {@link CONCURRENCY} in flight and counts `{verified:true}` answers;
 * throws if any answer was not one (a bench of refusals measures the wrong thing).
 */
async function drive(
  agent: Agent,
  port: number,
  n: number,
  body: () => { userId: string; code: string },
  who: string,
): Promise<number> {
  let sent = 0;
  let verified = 0;
  const worker = async (): Promise<void> => {
    while (sent < n) {
      sent++;
      const answer = (await postJson(agent, port, '/api/validate', body())) as {
        verified?: unknown;
      };
      if (answer.verified === true) verified++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, n) }, worker));
  if (verified !== n) throw new Error(`${who}: ${n - verified} of ${n} answers did not verify`);
  return verified;
}

function httpCase(): BenchCase {
  let db: { url: string; dispose(): Promise<void> } | undefined;
  let service: RunningService | undefined;
  let bare: { app: FastifyInstance; port: number } | undefined;
  let work: CodeWorkload | undefined;
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  let bareNext = 0;
  const ours: Contender = {
    label: 'mitid-sim POST /api/validate',
    run: (n) => drive(agent, service!.port, n, () => work!.next(), 'POST /api/validate'),
  };
  const limit: Contender = {
    label: 'bare fastify route, same schema',
    run: (n) => drive(agent, bare!.port, n, () => work!.sample(bareNext++), 'bare route'),
  };
  return {
    name: 'activation.validate.http',
    description: `POST /api/validate with a valid code display code, ${CONCURRENCY} in flight over keep-alive node:http; service and bare route in this process`,
    unit: 'verifications/s',
    ours,
    limit,
    // Client, servers and SQLite all run on this process's main thread, so its CPU time is the
    // whole of the work (loopback TCP is charged to the sending syscall); on a shared machine
    // the wall clock also counts other processes' turns and was far less steady.
    clock: 'cpu',
    async check() {
      db = await tempDatabase();
      const clock = new VirtualClock({ start: START_MS });
      service = await startService({
        port: 0,
        store: { url: db.url, keys: generateServiceKeys() },
        clock,
        limits: LIMITS,
        logger: false,
        baseUrl: BASE_URL,
      });
      work = new CodeWorkload(await bindUsers(service.store, DEVICES), clock);
      bare = await bareFastify();
      // A wrong code is refused, so a verified answer means what it says.
      const wrong = (await postJson(agent, service.port, '/api/validate', {
        userId: work.devices[0]!.userId,
        code: '000000' === work.sample(0).code ? '111111' : '000000',
      })) as { verified?: unknown };
      if (wrong.verified !== false) throw new Error('activation bench: a wrong code verified');
      await warmUp([ours, limit], WARM_UP_MS);
    },
    async teardown() {
      agent.destroy();
      await bare?.app.close();
      await service?.close();
      await db?.dispose();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// In process: ActivationFlow.validateCode against one bare write transaction.

function flowOver(store: Store): ActivationFlow {
  const chip = new ChipVerifier({ rpId: 'localhost', rpName: 'mitid-sim bench', origin: BASE_URL });
  return new ActivationFlow(store, { baseUrl: BASE_URL, chip, limits: LIMITS });
}

function inProcessCase(): BenchCase {
  let db: { url: string; dispose(): Promise<void> } | undefined;
  let store: Store | undefined;
  let flow: ActivationFlow | undefined;
  let work: CodeWorkload | undefined;
  let ids: string[] = [];
  let j = 0;
  const ours: Contender = {
    label: 'mitid-sim ActivationFlow.validateCode',
    async run(n) {
      let verified = 0;
      for (let i = 0; i < n; i++)
        if ((await flow!.validateCode(work!.next(), CLIENT)).verified) verified++;
      if (verified !== n) throw new Error(`validateCode: ${n - verified} of ${n} did not verify`);
      return verified;
    },
  };
  const limit: Contender = {
    label: 'Store.transaction + one UPDATE (kysely, better-sqlite3)',
    async run(n) {
      let updated = 0;
      for (let i = 0; i < n; i++) {
        const id = ids[j++ % ids.length]!;
        const res = await store!.transaction((tx) =>
          tx.db
            .updateTable('authenticators')
            .set({ fail_count: 0, updated_at: tx.now })
            .where('id', '=', id)
            .executeTakeFirst(),
        );
        updated += Number(res.numUpdatedRows);
      }
      return updated;
    },
  };
  return {
    name: 'activation.validate.inproc',
    description:
      'ActivationFlow.validateCode with a valid code, one at a time, SQLite file (WAL, synchronous=NORMAL), no HTTP',
    unit: 'verifications/s',
    ours,
    limit,
    // better-sqlite3 works synchronously on this thread: CPU time is the work, as above.
    clock: 'cpu',
    async check() {
      db = await tempDatabase();
      const clock = new VirtualClock({ start: START_MS });
      store = await openStore({ url: db.url, keys: generateServiceKeys(), clock });
      flow = flowOver(store);
      const devices = await bindUsers(store, DEVICES);
      ids = devices.map((d) => d.authenticatorId);
      work = new CodeWorkload(devices, clock);
      const wrong = await flow.validateCode(
        {
          userId: devices[0]!.userId,
          code: work.sample(0).code === '000000' ? '111111' : '000000',
        },
        CLIENT,
      );
      if (wrong.verified) throw new Error('activation bench: a wrong code verified');
      await warmUp([ours, limit], WARM_UP_MS);
    },
    async teardown() {
      await store?.close();
      await db?.dispose();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Whole activations, in process through ActivationFlow.

/** The raw scrypt the flow's password work comes down to (same parameters as hashPassword). */
function scryptOnce(): Promise<Buffer> {
  const { N, r, p } = SCRYPT_PARAMS;
  return new Promise((resolve, reject) =>
    scryptCb(randomBytes(20), randomBytes(16), 32, { N, r, p, maxmem: 128 * N * r * 2 }, (e, k) =>
      e ? reject(e) : resolve(k),
    ),
  );
}

interface Citizen {
  readonly cpr: string;
  readonly userId: string;
  readonly secret: Uint8Array;
}

/**
 * The set-up an activation starts from: private MitIDs (citizens) with a password and a bound code
 * display each, and a stock of code displays for separate MitIDs. Each activation creates its
 * user in the current organisation; a citizen can be a user once per organisation, so when the
 * citizens have all had a turn a new organisation is made and the clock moves a step (each
 * citizen's code display gives one code per step).
 */
class ActivationWorkload {
  readonly store: Store;
  readonly flow: ActivationFlow;
  readonly #clock: VirtualClock;
  readonly #citizens: Citizen[];
  readonly #stock: OtpKey[] = [];
  #org: { id: string; adminId: string } | undefined;
  #n = 0;

  private constructor(store: Store, clock: VirtualClock, citizens: Citizen[]) {
    this.store = store;
    this.flow = flowOver(store);
    this.#clock = clock;
    this.#citizens = citizens;
  }

  static async open(url: string, stock: number): Promise<ActivationWorkload> {
    const clock = new VirtualClock({ start: START_MS });
    const store = await openStore({ url, keys: generateServiceKeys(), clock });
    const hash = await hashPassword(CITIZEN_PASSWORD);
    const citizens = await store.transaction(async (tx) => {
      const out: Citizen[] = [];
      for (let i = 0; i < CITIZENS; i++) {
        const day = String(1 + (i % 28)).padStart(2, '0');
        const month = String(1 + Math.floor(i / 28)).padStart(2, '0');
        const cpr = `${day}${month}75-${String(1000 + i)}`;
        const userId = `borger${String(i).padStart(3, '0')}`;
        const c = await tx.citizens.create({
          cpr,
          name: `Borger ${i}`,
          userId,
          passwordHash: hash,
        });
        const key = totpKey(`BENCH-CITIZEN-${i}`);
        const item = await tx.inventory.importOtp({ kind: 'code-display', key });
        const { secret: _secret, state, ...binding } = bindingFromKey(key);
        await tx.authenticators.bind({
          ownerKind: 'citizen',
          ownerId: c.id,
          kind: 'code-display',
          serial: key.serial,
          binding,
          state,
        });
        await tx.inventory.setStatus(item.id, 'bound');
        out.push({ cpr, userId, secret: key.secret });
      }
      return out;
    });
    const w = new ActivationWorkload(store, clock, citizens);
    await w.#restock(stock);
    return w;
  }

  async #restock(count: number): Promise<void> {
    await this.store.transaction(async (tx) => {
      for (let i = 0; i < count; i++) {
        const key = totpKey(
          `BENCH-STOCK-${this.#stock.length + i}-${randomBytes(4).toString('hex')}`,
        );
        await tx.inventory.importOtp({ kind: 'code-display', key });
        this.#stock.push(key);
      }
    });
  }

  /** The next user to activate: their citizen and the administrator creating them. */
  async #turn(): Promise<{ i: number; citizen: Citizen; orgId: string; adminId: string }> {
    const i = this.#n++;
    const k = i % this.#citizens.length;
    const round = Math.floor(i / this.#citizens.length);
    if (k === 0 || this.#org === undefined) {
      this.#clock.set(START_MS + round * STEP_MS);
      this.#org = await this.store.transaction(async (tx) => {
        const org = await tx.organisations.create({
          cvr: String(92_000_000 + round),
          name: `Aktivering ${round} ApS`,
        });
        const admin = await tx.admins.create({
          organisationId: org.id,
          name: 'Anne Admin',
          email: `admin${round}@baenk.example`,
          role: 'user-administrator',
        });
        return { id: org.id, adminId: admin.id };
      });
    }
    return { i, citizen: this.#citizens[k]!, orgId: this.#org.id, adminId: this.#org.adminId };
  }

  /** Reads a message the outbox holds (the user's mailbox or phone). */
  async #outboxBody(where: { id: string } | { to: string }): Promise<string> {
    let q = this.store.db.selectFrom('outbox').select('body');
    q = 'id' in where ? q.where('id', '=', where.id) : q.where('recipient', '=', where.to);
    const row = await q.orderBy('created_at', 'desc').executeTakeFirstOrThrow();
    return row.body;
  }

  /**
   * The administrator creates the user; the user opens the link from the e-mail and logs in with
   * their private MitID (code display + password).
   */
  async #start(): Promise<{ i: number; token: string }> {
    const t = await this.#turn();
    const { emailId } = await createBusinessUser(
      this.store,
      t.adminId,
      {
        organisationId: t.orgId,
        firstName: 'Aktiv',
        surname: `Bruger ${t.i}`,
        email: `aktiv${t.i}@baenk.example`,
        cpr: t.citizen.cpr,
      },
      { baseUrl: BASE_URL },
    );
    const mail = await this.#outboxBody({ id: emailId });
    const link = /\/activate\/([A-Za-z0-9_-]{22,128})/.exec(mail)?.[1];
    if (link === undefined) throw new Error('activation bench: no link in the activation e-mail');
    const started = await this.flow.startActivation(
      link,
      {
        userId: t.citizen.userId,
        code: generateTotp({ secret: t.citizen.secret }, this.#clock.now()),
        password: CITIZEN_PASSWORD,
      },
      CLIENT,
    );
    // A login with a code and a password answers at once (only the app's approval is pending).
    if (!('activationToken' in started))
      throw new Error('activation bench: the private MitID start did not answer at once');
    return { i: t.i, token: started.activationToken };
  }

  /** One activation with the private MitID: start, choose private, finish. */
  async activatePrivate(): Promise<boolean> {
    const { token } = await this.#start();
    await this.flow.chooseMitId(token, 'private', CLIENT);
    const done = await this.flow.finish(token, CLIENT);
    return done.mitid === 'private';
  }

  /**
   * One activation with a separate MitID and a code display: start, choose separate, user ID,
   * phone and SMS code, the code display by serial and code, password, finish.
   */
  async activateSeparate(): Promise<boolean> {
    const { i, token } = await this.#start();
    const f = this.flow;
    await f.chooseMitId(token, 'separate', CLIENT);
    await f.chooseUserId(token, `separat${String(i).padStart(6, '0')}`, CLIENT);
    const phone = `2${String(i).padStart(7, '0')}`;
    await f.enterPhone(token, phone, CLIENT);
    const sms = await this.#outboxBody({ to: normalisePhone(phone)! });
    const smsCode = /(\d{6})/.exec(sms)?.[1];
    if (smsCode === undefined) throw new Error('activation bench: no code in the SMS');
    await f.enterPhoneCode(token, smsCode, CLIENT);
    await f.chooseAuthenticator(token, 'code-display', CLIENT);
    if (this.#stock.length === 0) await this.#restock(16);
    const key = this.#stock.pop()!;
    await f.activateAuthenticator(
      token,
      { serial: key.serial, code: generateTotp(key, this.#clock.now()) },
      CLIENT,
    );
    await f.choosePassword(token, SEPARATE_PASSWORD, CLIENT);
    const done = await f.finish(token, CLIENT);
    return done.mitid === 'separate' && done.serial === key.serial;
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}

function activationCase(kind: 'private' | 'separate'): BenchCase {
  let db: { url: string; dispose(): Promise<void> } | undefined;
  let w: ActivationWorkload | undefined;
  const scrypts = kind === 'private' ? 1 : 2;
  const ours: Contender = {
    label:
      kind === 'private'
        ? 'mitid-sim activation, private MitID'
        : 'mitid-sim activation, separate MitID + code display',
    async run(n) {
      let ok = 0;
      for (let i = 0; i < n; i++) {
        const done = kind === 'private' ? await w!.activatePrivate() : await w!.activateSeparate();
        if (!done) throw new Error(`activation bench: a ${kind} activation did not finish`);
        ok++;
      }
      return ok;
    },
  };
  const limit: Contender = {
    label: `node:crypto scrypt N=2^15 r=8 p=1 ×${scrypts} (what the flow hashes)`,
    async run(n) {
      let bytes = 0;
      for (let i = 0; i < n; i++)
        for (let s = 0; s < scrypts; s++) bytes += (await scryptOnce()).length;
      return bytes;
    },
  };
  return {
    name: `activation.activate.${kind}`,
    description:
      kind === 'private'
        ? 'create user → e-mail link → start with private MitID (code + password: 1 scrypt) → choose private → finish; in process, one at a time'
        : 'create user → link → start (1 scrypt) → separate → user ID → phone + SMS code → code display → password (1 scrypt) → finish; in process, one at a time',
    unit: 'activations/s',
    ours,
    limit,
    clock: 'wall',
    async check() {
      db = await tempDatabase();
      w = await ActivationWorkload.open(db.url, kind === 'separate' ? 48 : 0);
      await ours.run(1);
      const activated = await w.store.db
        .selectFrom('business_users')
        .select(['status', 'mitid_kind'])
        .where('status', '=', 'activated')
        .execute();
      if (activated.length !== 1 || activated[0]!.mitid_kind !== kind)
        throw new Error(`activation bench: the ${kind} activation is not in the store`);
    },
    async teardown() {
      await w?.close();
      await db?.dispose();
    },
  };
}

/** The activation group. Set-up happens in each case's check, so a filtered-out case costs nothing. */
export const activationBench: BenchModule = {
  group: 'activation',
  cases: () => [httpCase(), inProcessCase(), activationCase('private'), activationCase('separate')],
};
