/**
 * MitID app figures: whole logins approved in the app over HTTP (the login page's three requests,
 * the app's signed answer, the push in between), with biometrics and with the PIN, against bare
 * fastify routes doing the same round trips and the same signature (and scrypt) work.
 */
import {
  type KeyObject,
  generateKeyPairSync,
  randomBytes,
  scrypt as scryptCb,
  sign,
  verify,
} from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, type ClientRequest, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Fastify, { type FastifyInstance } from 'fastify';
import { VirtualClock } from '../../src/core/clock.js';
import { fromBase64Url, toBase64Url, utf8 } from '../../src/core/bytes.js';
import type { RateLimits } from '../../src/activation/flow.js';
import { normalisePhone } from '../../src/activation/rules.js';
import { startService, type RunningService } from '../../src/activation/service.js';
import { SCRYPT_PARAMS, generateServiceKeys } from '../../src/activation/store/secrets.js';
import {
  SseParser,
  activationTranscript,
  approvalTranscript,
  parseApprovalQr,
  parseApprovalRequest,
} from '../../devices/app/protocol.js';
import type { BenchCase, BenchModule, Contender } from './harness.js';

/** Server time at the start; the virtual clock stays there, so no request or login expires. */
const START_MS = Date.UTC(2026, 10, 25, 12, 0, 15);
/** Logins in flight over HTTP (biometric case), for the service and the bare routes alike. */
const CONCURRENCY = 8;
/** Activated apps (one citizen each) the biometric workload takes turns with. */
const APPS_HTTP = 32;
/** Activated apps the PIN workload takes turns with (it runs one login at a time). */
const APPS_PIN = 4;
/** Untimed warm-up of the biometric case, ms (fastify, kysely and SQLite paths; see activation). */
const WARM_UP_MS = 1500;
/** How long an approval push may take before the bench gives up (the stream's poll is 1 s). */
const PUSH_TIMEOUT_MS = 10_000;
const BASE_URL = 'http://localhost';
const APP_PIN = '258014';
/** Limits high enough that nothing in the bench is refused for its pace. */
const LIMITS: RateLimits = {
  perAddress: { limit: 1e9, windowMs: 60_000 },
  perUser: { limit: 1e9, windowMs: 60_000 },
  sms: { limit: 1e9, windowMs: 3_600_000 },
};

type Approval = 'biometric' | 'pin';

// ---------------------------------------------------------------------------------------------
// HTTP client.

/**
 * POSTs JSON (with a bearer token when given) over a keep-alive agent; resolves with the status
 * and the parsed answer.
 */
function post(
  agent: Agent,
  port: number,
  path: string,
  body: unknown,
  token?: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const text = JSON.stringify(body);
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { agent, host: '127.0.0.1', port, path, method: 'POST', headers },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (data += chunk));
        res.on('end', () => {
          try {
            resolve({
              status: res.statusCode ?? 0,
              body: JSON.parse(data) as Record<string, unknown>,
            });
          } catch (e) {
            reject(e instanceof Error ? e : new Error(String(e)));
          }
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

/** `post`, rejecting unless the answer is 200. */
async function post200(
  agent: Agent,
  port: number,
  path: string,
  body: unknown,
  token?: string,
): Promise<Record<string, unknown>> {
  const res = await post(agent, port, path, body, token);
  if (res.status !== 200)
    throw new Error(`HTTP ${res.status} from ${path}: ${JSON.stringify(res.body).slice(0, 200)}`);
  return res.body;
}

// ---------------------------------------------------------------------------------------------
// The apps: activated in the store (set-up, not timed), each listening on its event stream.

/** One activated app as the phone holds it: its user ID, token and key, and its event stream. */
interface BenchApp {
  readonly userId: string;
  readonly appToken: string;
  readonly privateKey: KeyObject;
  /** Requests pushed to this app, by request ID, until a login claims them. */
  readonly arrived: Map<string, string>;
  /** Logins waiting for a push, by request ID. */
  readonly waiting: Map<string, (request: string) => void>;
  stream?: ClientRequest;
}

/**
 * `count` private MitIDs on the app, each activated as the protocol's steps 2-4 do it (the
 * activation code, the temporary PIN from the SMS outbox, the key, the PIN and biometrics), in
 * process through the service's AppService.
 */
async function activateApps(service: RunningService, count: number): Promise<BenchApp[]> {
  const flow = service.flow;
  const one = async (i: number): Promise<BenchApp> => {
    const userId = `appborger${String(i).padStart(4, '0')}`;
    const phone = `3${String(i).padStart(7, '0')}`;
    const day = String(1 + (i % 28)).padStart(2, '0');
    const month = String(1 + (Math.floor(i / 28) % 12)).padStart(2, '0');
    const { activationCode } = await flow.registerCitizenWithApp({
      cpr: `${day}${month}80-${String(2000 + i)}`,
      name: `App Borger ${i}`,
      userId,
      phone,
    });
    const started = await flow.apps.startActivation({ userId, activationCode });
    const sms = await service.store.db
      .selectFrom('outbox')
      .select('body')
      .where('recipient', '=', normalisePhone(phone)!)
      .orderBy('created_at', 'desc')
      .executeTakeFirstOrThrow();
    const temporaryPin = /(?<!\d)(\d{8})(?!\d)/.exec(sms.body)?.[1];
    if (temporaryPin === undefined) throw new Error('app bench: no temporary PIN in the SMS');
    await flow.apps.temporaryPin(started.activationToken, temporaryPin);
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = toBase64Url(new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })));
    const appId = `benchapp${String(i).padStart(4, '0')}`;
    const proof = sign(
      'sha256',
      utf8(activationTranscript(started.activationId, appId, spki)),
      privateKey,
    );
    const done = await flow.apps.complete(started.activationToken, {
      appId,
      publicKey: spki,
      pin: APP_PIN,
      biometrics: true,
      notifications: true,
      proof: toBase64Url(new Uint8Array(proof)),
    });
    return {
      userId,
      appToken: done.appToken,
      privateKey,
      arrived: new Map(),
      waiting: new Map(),
    };
  };
  // The PIN's scrypt runs on the thread pool: activating side by side takes a fraction of the time.
  return Promise.all(Array.from({ length: count }, (_, i) => one(i)));
}

/**
 * Opens the app's event stream (GET /api/app/events) and files every approval request pushed on
 * it; resolves once the stream's first bytes arrived (the service then follows the identity).
 */
function listen(app: BenchApp, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const parser = new SseParser();
    const req = httpRequest(
      {
        agent: false,
        host: '127.0.0.1',
        port,
        path: '/api/app/events',
        method: 'GET',
        headers: { authorization: `Bearer ${app.appToken}`, accept: 'text/event-stream' },
      },
      (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`app bench: event stream answered HTTP ${res.statusCode ?? '?'}`));
          res.resume();
          return;
        }
        let first = true;
        res.on('data', (chunk: Buffer) => {
          if (first) {
            first = false;
            resolve();
          }
          for (const ev of parser.push(new Uint8Array(chunk))) {
            if (ev.event !== 'approval') continue;
            const r = parseApprovalRequest(JSON.parse(ev.data));
            const w = app.waiting.get(r.requestId);
            if (w === undefined) app.arrived.set(r.requestId, r.request);
            else {
              app.waiting.delete(r.requestId);
              w(r.request);
            }
          }
        });
        res.on('error', () => undefined);
      },
    );
    req.on('error', (e) => (app.stream === undefined ? reject(e) : undefined));
    req.end();
    app.stream = req;
  });
}

/** The request bytes pushed for `requestId`, now or when they arrive. */
function pushed(app: BenchApp, requestId: string): Promise<string> {
  const have = app.arrived.get(requestId);
  if (have !== undefined) {
    app.arrived.delete(requestId);
    return Promise.resolve(have);
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      app.waiting.delete(requestId);
      reject(new Error(`app bench: no push for request ${requestId}`));
    }, PUSH_TIMEOUT_MS);
    app.waiting.set(requestId, (r) => {
      clearTimeout(timer);
      resolve(r);
    });
  });
}

/** What the app sends to approve: the channel from the page's QR code, the signature, PIN or not. */
function answerBody(
  privateKey: KeyObject,
  channelValue: string,
  request: string,
  how: Approval,
): Record<string, unknown> {
  const channel = { type: 'qr', value: channelValue } as const;
  const signature = sign(
    'sha256',
    utf8(approvalTranscript('approve', channel, request)),
    privateKey,
  );
  return {
    decision: 'approve',
    channel,
    ...(how === 'pin' ? { pin: APP_PIN } : { biometric: true }),
    signature: toBase64Url(new Uint8Array(signature)),
  };
}

/**
 * One whole login: POST /api/login (the page; the service pushes the request to the app), the
 * app reads the page's QR code and its push, signs and answers POST /api/app/approvals/:id, and
 * the page's POST /api/login/app answers the finished login. True when it says `done: true`.
 */
async function approveLogin(
  agent: Agent,
  port: number,
  app: BenchApp,
  how: Approval,
): Promise<boolean> {
  const started = await post200(agent, port, '/api/login', { userId: app.userId });
  const channel = started.channel as { qr?: { text?: unknown } } | undefined;
  const qr = parseApprovalQr(String(channel?.qr?.text ?? ''));
  const request = await pushed(app, qr.requestId);
  const answered = await post200(
    agent,
    port,
    `/api/app/approvals/${qr.requestId}`,
    answerBody(app.privateKey, qr.channel, request, how),
    app.appToken,
  );
  if (answered.ok !== true) return false;
  const login = await post200(agent, port, '/api/login/app', {}, String(started.loginToken));
  return login.done === true;
}

/** Runs `n` operations with `inFlight` at a time; throws unless every one said true. */
async function drive(
  n: number,
  inFlight: number,
  op: (i: number) => Promise<boolean>,
  who: string,
): Promise<number> {
  let sent = 0;
  let ok = 0;
  const worker = async (): Promise<void> => {
    while (sent < n) {
      if (await op(sent++)) ok++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, worker));
  if (ok !== n) throw new Error(`${who}: ${n - ok} of ${n} logins did not end done: true`);
  return ok;
}

// ---------------------------------------------------------------------------------------------
// The limit: bare fastify routes, three round trips, one ECDSA P-256 signature made and checked.

/** The raw scrypt a PIN approval comes down to (same parameters as the service's PIN hash). */
function scryptOnce(pin: string, salt: Buffer): Promise<Buffer> {
  const { N, r, p } = SCRYPT_PARAMS;
  return new Promise((resolve, reject) =>
    scryptCb(pin, salt, 32, { N, r, p, maxmem: 128 * N * r * 2 }, (e, k) =>
      e ? reject(e) : resolve(k),
    ),
  );
}

// The bodies the service's routes accept, checked the same way by the bare routes.
const str = (max: number, min = 1) =>
  ({ type: 'string', minLength: min, maxLength: max, pattern: '^[^\\u0000]*$' }) as const;
const obj = (properties: Record<string, unknown>, required: string[]) => ({
  type: 'object',
  additionalProperties: false,
  properties,
  required,
});
const anyObject = { type: 'object', additionalProperties: true } as const;
const approvalSchema = {
  params: obj({ id: str(100) }, ['id']),
  body: obj(
    {
      decision: { type: 'string', enum: ['approve', 'reject'] },
      channel: obj({ type: { type: 'string', enum: ['qr', 'code'] }, value: str(100) }, [
        'type',
        'value',
      ]),
      pin: str(16),
      biometric: { type: 'boolean' },
      signature: str(200),
    },
    ['decision', 'channel', 'signature'],
  ),
  response: { 200: anyObject },
};

/** The service's answers, taken from a real login so the bare routes send as many bytes. */
interface Samples {
  readonly started: Record<string, unknown>;
  readonly request: string;
  readonly done: Record<string, unknown>;
}

/**
 * Three routes with the service's paths: /api/login answers a recorded login start (QR code and
 * all) with the request bytes in it (no push); /api/app/approvals/:id checks the signature over
 * the approval text with a ready key (and, for PIN approvals, runs one scrypt); /api/login/app
 * answers a recorded finished login. Bodies are checked with the service's schemas.
 */
async function bareRoutes(
  samples: Samples,
  publicKey: KeyObject,
  how: Approval,
): Promise<{ app: FastifyInstance; port: number }> {
  const app = Fastify({ logger: false });
  const started = { ...samples.started, request: samples.request };
  const salt = randomBytes(16);
  app.post(
    '/api/login',
    { schema: { body: obj({ userId: str(100) }, ['userId']), response: { 200: anyObject } } },
    () => Promise.resolve(started),
  );
  app.post<{
    Params: { id: string };
    Body: { channel: { type: 'qr' | 'code'; value: string }; signature: string; pin?: string };
  }>('/api/app/approvals/:id', { schema: approvalSchema }, async (req) => {
    const b = req.body;
    const ok = verify(
      'sha256',
      utf8(approvalTranscript('approve', b.channel, samples.request)),
      publicKey,
      fromBase64Url(b.signature),
    );
    if (how === 'pin') await scryptOnce(String(b.pin), salt);
    return { ok };
  });
  app.post('/api/login/app', { schema: { response: { 200: anyObject } } }, () =>
    Promise.resolve(samples.done),
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  return { app, port: typeof addr === 'object' && addr !== null ? addr.port : 0 };
}

/** The limit's login: the same three POSTs and bodies, the same signature made on this side. */
async function bareLogin(
  agent: Agent,
  port: number,
  privateKey: KeyObject,
  userId: string,
  how: Approval,
): Promise<boolean> {
  const started = await post200(agent, port, '/api/login', { userId });
  const channel = started.channel as { qr?: { text?: unknown } } | undefined;
  const qr = parseApprovalQr(String(channel?.qr?.text ?? ''));
  const answered = await post200(
    agent,
    port,
    `/api/app/approvals/${qr.requestId}`,
    answerBody(privateKey, qr.channel, String(started.request), how),
    'bench-token',
  );
  if (answered.ok !== true) return false;
  const login = await post200(agent, port, '/api/login/app', {}, String(started.loginToken));
  return login.done === true;
}

// ---------------------------------------------------------------------------------------------
// The cases.

function approveCase(how: Approval): BenchCase {
  let dir: string | undefined;
  let service: RunningService | undefined;
  let bare: { app: FastifyInstance; port: number } | undefined;
  let apps: BenchApp[] = [];
  let bareKey: KeyObject | undefined;
  const inFlight = how === 'pin' ? 1 : CONCURRENCY;
  const agent = new Agent({ keepAlive: true, maxSockets: inFlight });
  let next = 0;
  const ours: Contender = {
    label:
      how === 'pin'
        ? 'mitid-sim login approved in the app with the PIN'
        : 'mitid-sim login approved in the app with biometrics',
    run: (n) =>
      drive(
        n,
        inFlight,
        () => approveLogin(agent, service!.port, apps[next++ % apps.length]!, how),
        'app approvals',
      ),
  };
  const limit: Contender = {
    label:
      how === 'pin'
        ? 'bare fastify, same schemas, 3 round trips + P-256 sign/verify + scrypt N=2^15 r=8 p=1'
        : 'bare fastify, same schemas, 3 round trips + node:crypto P-256 sign + verify',
    run: (n) =>
      drive(
        n,
        inFlight,
        () => bareLogin(agent, bare!.port, bareKey!, apps[next++ % apps.length]!.userId, how),
        'bare routes',
      ),
  };
  return {
    name: `app.approve.${how === 'pin' ? 'pin' : 'http'}`,
    description:
      how === 'pin'
        ? 'POST /api/login → push on the event stream → POST /api/app/approvals/:id signed, with the PIN (1 scrypt) → POST /api/login/app done; one at a time'
        : `POST /api/login → push on the event stream → POST /api/app/approvals/:id signed, biometrics → POST /api/login/app done; ${CONCURRENCY} in flight over keep-alive node:http`,
    unit: 'approvals/s',
    ours,
    limit,
    // Client, service, SQLite and the scrypt of PIN approvals (thread pool) all run in this
    // process: its CPU time is the whole of the work, and steadier than the wall clock on a
    // shared machine.
    clock: 'cpu',
    async check() {
      dir = await mkdtemp(join(tmpdir(), 'mitid-bench-app-'));
      const clock = new VirtualClock({ start: START_MS });
      service = await startService({
        port: 0,
        store: { url: join(dir, 'activation.sqlite'), keys: generateServiceKeys() },
        clock,
        limits: LIMITS,
        logger: false,
        baseUrl: BASE_URL,
      });
      apps = await activateApps(service, how === 'pin' ? APPS_PIN : APPS_HTTP);
      await Promise.all(apps.map((a) => listen(a, service!.port)));
      const port = service.port;
      const first = apps[0]!;

      // A signature over another text is refused and the login stays pending, so `done: true`
      // means the approval was checked.
      const started = await post200(agent, port, '/api/login', { userId: first.userId });
      const qr = parseApprovalQr(
        String((started.channel as { qr: { text: string } } | undefined)?.qr.text),
      );
      const request = await pushed(first, qr.requestId);
      const forged = answerBody(first.privateKey, qr.channel, `${request}x`, how);
      const refused = await post(
        agent,
        port,
        `/api/app/approvals/${qr.requestId}`,
        forged,
        first.appToken,
      );
      if (refused.status !== 400 || refused.body.error !== 'bad-signature')
        throw new Error('app bench: a signature over another request was not refused');
      if (how === 'pin') {
        const wrongPin = {
          ...answerBody(first.privateKey, qr.channel, request, how),
          pin: '000000',
        };
        const res = await post(
          agent,
          port,
          `/api/app/approvals/${qr.requestId}`,
          wrongPin,
          first.appToken,
        );
        if (res.status !== 401 || res.body.error !== 'pin-wrong')
          throw new Error('app bench: a wrong PIN was not refused');
      }
      const waiting = await post200(agent, port, '/api/login/app', {}, String(started.loginToken));
      if (waiting.done !== false || waiting.pending !== true)
        throw new Error('app bench: a login finished without an approved answer');
      // The same request answered properly finishes the login: the samples for the bare routes.
      const ok = await post200(
        agent,
        port,
        `/api/app/approvals/${qr.requestId}`,
        answerBody(first.privateKey, qr.channel, request, how),
        first.appToken,
      );
      const done = await post200(agent, port, '/api/login/app', {}, String(started.loginToken));
      if (ok.ok !== true || done.done !== true)
        throw new Error('app bench: an approved login did not finish');

      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      bareKey = privateKey;
      bare = await bareRoutes({ started, request, done }, publicKey, how);
      // The bare route checks the signature too: one over another text is not `ok`.
      const bad = await post200(
        agent,
        bare.port,
        `/api/app/approvals/${qr.requestId}`,
        answerBody(first.privateKey, qr.channel, request, how),
      );
      if (bad.ok !== false) throw new Error('app bench: the bare route took a foreign signature');
      if (how === 'biometric') {
        const end = performance.now() + WARM_UP_MS;
        while (performance.now() < end) {
          await ours.run(32);
          await limit.run(32);
        }
      }
    },
    async teardown() {
      for (const a of apps) a.stream?.destroy();
      agent.destroy();
      await bare?.app.close();
      await service?.close();
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The app group. Set-up happens in each case's check, so a filtered-out case costs nothing. */
export const appBench: BenchModule = {
  group: 'app',
  cases: () => [approveCase('biometric'), approveCase('pin')],
};
