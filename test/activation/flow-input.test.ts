/** The activation API under bad input, its OpenAPI document, its secrets and its rate limits, on SQLite and PostgreSQL. */
import fs from 'node:fs';
import { request } from 'node:http';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  codeOf,
  describeEngines,
  freshPassword,
  World,
  type Answer,
  type TestOrganisation,
} from './flow-support.js';

/** Every route of the API, as "METHOD /path" in OpenAPI's template form. */
const ROUTES = [
  'GET /healthz',
  'GET /api/activation-links/{token}',
  'POST /api/activation-links/{token}/start',
  'GET /api/activation',
  'POST /api/activation/mitid',
  'POST /api/activation/user-id',
  'POST /api/activation/activation-code',
  'POST /api/activation/phone',
  'POST /api/activation/phone-code',
  'POST /api/activation/authenticator',
  'POST /api/activation/authenticator/activate',
  'POST /api/activation/password',
  'POST /api/activation/finish',
  'POST /api/login',
  'POST /api/login/code',
  'POST /api/login/password',
  'POST /api/login/chip',
  'POST /api/validate',
  'GET /api/admin/me',
  'GET /api/admin/users',
  'POST /api/admin/users',
  'GET /api/admin/users/{id}',
  'POST /api/admin/users/{id}/resend',
  'POST /api/admin/users/{id}/activation-code',
  'POST /api/admin/users/{id}/separate-mitid',
  'POST /api/admin/users/{id}/orders',
  'GET /api/admin/settings',
  'PATCH /api/admin/settings',
  'GET /api/admin/inventory',
  'POST /api/admin/inventory/seeds',
  'POST /api/admin/inventory/chips',
  'POST /api/admin/shares',
  'POST /api/admin/shares/{id}/approve',
  'GET /api/admin/audit',
  'GET /api/dev/mailbox',
  'GET /api/dev/sms',
  'POST /api/dev/citizens',
  'POST /api/dev/inventory/seeds',
] as const;

interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  enum?: unknown[];
  maxLength?: number;
  minLength?: number;
  items?: Schema;
}

/**
 * A body that passes the route's schema but carries hostile values (variant picks which), so the
 * handler, not only the validator, meets it.
 */
function garbage(schema: Schema | undefined, variant: number): unknown {
  if (schema === undefined) return {};
  if (schema.enum !== undefined) return schema.enum[variant % schema.enum.length];
  switch (schema.type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, s] of Object.entries(schema.properties ?? {})) out[k] = garbage(s, variant);
      return out;
    }
    case 'array':
      return [];
    case 'boolean':
      return variant % 2 === 0;
    case 'string': {
      const max = Math.min(schema.maxLength ?? 64, 5000);
      const min = schema.minLength ?? 0;
      const pick = [
        'x',
        '\u0000\u202e\ufeff',
        ' '.repeat(Math.max(min, 1)),
        'A'.repeat(max),
        '9'.repeat(Math.min(max, 20)),
        '\ud800'.repeat(Math.max(min, 1)),
        '../../etc/passwd',
        'é'.repeat(max),
        "' or 1=1 --",
        '__proto__',
      ][variant % 10]!;
      const s = pick.length < min ? pick.padEnd(min, 'Z') : pick;
      return s.slice(0, max);
    }
    default:
      return null;
  }
}

/** Sends a JSON body of `bytes` bytes; the status the service answers with (it may stop reading). */
function oversize(w: World, path: string, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = Buffer.from(JSON.stringify({ userId: 'x'.repeat(bytes) }));
    const req = request(
      `${w.svc.url}${path}`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': body.length },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    // The service may answer and close before it has read everything: that is fine.
    req.on('error', (e) => setTimeout(() => reject(e), 1000));
    req.end(body);
  });
}

function expectClean(a: Answer, what: string): void {
  expect(a.status, `${what}: ${a.text.slice(0, 300)}`).toBeLessThan(500);
  if (a.status >= 400) {
    expect(typeof a.body?.error, `${what}: error`).toBe('string');
    expect(typeof a.body?.message, `${what}: message`).toBe('string');
    expect(a.text).not.toMatch(/ at .*\.(ts|js):\d+/);
  }
}

describeEngines('activation API input, documentation, secrets and limits', (engine) => {
  let w: World;
  let org: TestOrganisation;
  beforeEach(async () => {
    w = await World.start(engine);
    org = await w.organisation('Kirsebær Kontor K/S');
  });
  afterEach(async () => {
    await w?.close();
  });

  it('bad input is a 4xx with {error, message}: malformed JSON, wrong shapes, unknown fields, types, sizes, tokens, routes', async () => {
    const cases: [string, () => Promise<Answer>, number | number[]][] = [
      ['malformed JSON', () => w.post('/api/login', '{"userId":'), 400],
      ['array body', () => w.post('/api/login', '[]'), 400],
      ['null body', () => w.post('/api/login', 'null'), 400],
      ['string body', () => w.post('/api/login', '"karen"'), 400],
      ['unknown field', () => w.post('/api/login', { userId: 'karen1', admin: true }), 400],
      ['wrong type', () => w.post('/api/login', { userId: 12345 }), 400],
      ['missing field', () => w.post('/api/validate', { userId: 'karen1' }), 400],
      ['oversize user ID', () => w.post('/api/login', { userId: 'a'.repeat(101) }), 400],
      [
        'oversize code',
        () => w.post('/api/validate', { userId: 'karen1', code: '1'.repeat(17) }),
        400,
      ],
      ['bad enum', () => w.post('/api/login', { userId: 'karen1', authenticator: 'pigeon' }), 400],
      ['short link token', () => w.get('/api/activation-links/abc'), 400],
      ['no token', () => w.post('/api/activation/mitid', { mitid: 'private' }), 401],
      [
        'garbage token',
        () =>
          w.call('POST', '/api/activation/mitid', { mitid: 'private' }, undefined, {
            authorization: 'Bearer !!!<script>',
          }),
        401,
      ],
      [
        'basic auth',
        () => w.call('GET', '/api/admin/me', undefined, undefined, { authorization: 'Basic YTpi' }),
        401,
      ],
      [
        'unknown activation token',
        () => w.post('/api/activation/mitid', { mitid: 'private' }, 'A'.repeat(43)),
        404,
      ],
      [
        'unknown login token',
        () => w.post('/api/login/code', { code: '123456' }, 'B'.repeat(43)),
        404,
      ],
      ['unknown admin token', () => w.get('/api/admin/me', 'C'.repeat(43)), 401],
      ['admin without token', () => w.get('/api/admin/users'), 401],
      ['unknown route', () => w.get('/api/nothing-here'), 404],
      ['unknown method', () => w.call('DELETE', '/api/login'), 404],
      [
        'text/plain body',
        () =>
          w.call('POST', '/api/login', 'userId=karen', undefined, { 'content-type': 'text/plain' }),
        [400, 415],
      ],
      ['bad audit limit', () => w.get('/api/admin/audit?limit=abc', org.userAdmin), 400],
      ['unknown user', () => w.get('/api/admin/users/not-a-user', org.userAdmin), 404],
      [
        'seed file not base64',
        () =>
          w.post(
            '/api/admin/inventory/seeds',
            { kind: 'code-display', file: '<xml>' },
            org.userAdmin,
          ),
        400,
      ],
      [
        'seed file garbage',
        () =>
          w.post(
            '/api/admin/inventory/seeds',
            { kind: 'code-display', file: Buffer.from('not a seed file').toString('base64') },
            org.userAdmin,
          ),
        400,
      ],
      [
        'settings with no authenticator',
        () => w.call('PATCH', '/api/admin/settings', { separateAuthenticators: [] }, org.orgAdmin),
        400,
      ],
    ];
    for (const [what, call, status] of cases) {
      const a = await call();
      expect(
        Array.isArray(status) ? status : [status],
        `${what}: ${a.text.slice(0, 200)}`,
      ).toContain(a.status);
      expectClean(a, what);
    }
    expect(await oversize(w, '/api/login', 1_100_000)).toBe(413);
    expect((await w.get('/healthz')).status).toBe(200);
  });

  it('every route meets hostile bodies and tokens with a 4xx, never a 500', async () => {
    const doc = (await w.get('/openapi.json')).body as {
      paths: Record<
        string,
        Record<string, { requestBody?: { content: Record<string, { schema: Schema }> } }>
      >;
    };
    // Live tokens of every kind, so the handlers behind the token checks are reached too.
    const citizen = await w.citizen();
    const user = await w.user(org, { cpr: citizen.cpr });
    const activation = await w.started(user.link, citizen);
    const login = (await w.post('/api/login', { userId: citizen.userId })).body
      .loginToken as string;
    let sent = 0;
    const failures: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const schema = op.requestBody?.content['application/json']?.schema;
        const tokens = path.startsWith('/api/admin')
          ? [undefined, 'D'.repeat(43), org.userAdmin, org.orgAdmin]
          : path.startsWith('/api/activation/') || path === '/api/activation'
            ? [undefined, activation]
            : path.startsWith('/api/login/')
              ? [undefined, login]
              : [undefined];
        const concrete = [
          path.replace('{token}', user.link).replace('{id}', user.id),
          path.replace('{token}', 'Z'.repeat(128)).replace('{id}', 'x'),
        ];
        for (const url of new Set(concrete)) {
          for (const token of tokens) {
            const bodies: unknown[] =
              method === 'get'
                ? [undefined]
                : [
                    '{}',
                    '[]',
                    '0',
                    '{"__proto__":{"isAdmin":true},"constructor":{"prototype":{}}}',
                    `${'['.repeat(2000)}${']'.repeat(2000)}`,
                    ...Array.from({ length: 10 }, (_, v) => garbage(schema, v)),
                  ];
            for (const body of bodies) {
              const a = await w.call(method.toUpperCase(), url, body, token);
              const what = `${method.toUpperCase()} ${path} ${JSON.stringify(body)?.slice(0, 60)} (${token === undefined ? 'no token' : 'token'})`;
              if (
                a.status >= 500 ||
                (a.status >= 400 &&
                  (typeof a.body?.error !== 'string' || typeof a.body?.message !== 'string'))
              )
                failures.push(`${what}: ${a.status} ${a.text.slice(0, 120)}`);
              // Keep the per-address limit from answering for the handlers.
              if (++sent % 100 === 0) w.clock.advance(61_000);
            }
          }
        }
      }
    }
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(300);
    expect((await w.get('/healthz')).body).toEqual({ ok: true });
  });

  it('a NUL character in a text field is answered like any other unknown value, never with a 500 (PostgreSQL refuses NUL in text)', async () => {
    const citizen = await w.citizen();
    const user = await w.user(org, { cpr: citizen.cpr });
    const nul = 'karen\u0000x';
    const answers: [string, Answer][] = [
      [
        'start',
        await w.post(`/api/activation-links/${user.link}/start`, {
          userId: nul,
          code: '123456',
          password: 'Hyldebær-42!',
        }),
      ],
      ['login', await w.post('/api/login', { userId: nul })],
      ['validate', await w.post('/api/validate', { userId: nul, code: '123456' })],
      [
        'validate code',
        await w.post('/api/validate', { userId: citizen.userId, code: '12\u00003456' }),
      ],
      ['share', await w.post('/api/admin/shares', { userId: nul, cvr: '91234567' }, org.userAdmin)],
      [
        'user',
        await w.post(
          '/api/admin/users',
          { firstName: 'Ka\u0000ren', surname: 'B', email: 'k@flow.example', cpr: citizen.cpr },
          org.userAdmin,
        ),
      ],
      ['mailbox', await w.get('/api/dev/mailbox?to=a%00b%40flow.example')],
      ['sms', await w.get('/api/dev/sms?to=%2B45%0091234567')],
    ];
    const bad = answers
      .filter(([, a]) => a.status >= 500)
      .map(([what, a]) => `${what}: ${a.status} ${a.text.slice(0, 100)}`);
    expect(bad).toEqual([]);
    for (const [what, a] of answers) expectClean(a, what);
  });

  it('/openapi.json is an OpenAPI 3.1 document that documents every /api route with its schemas', async () => {
    const r = await w.get('/openapi.json');
    expect(r.status).toBe(200);
    const doc = r.body as {
      openapi: string;
      info: { title: string; version: string };
      paths: Record<string, Record<string, Record<string, unknown>>>;
      components: { securitySchemes: Record<string, unknown> };
    };
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info.title.length).toBeGreaterThan(0);
    expect(doc.info.version.length).toBeGreaterThan(0);
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
    );
    for (const route of ROUTES) expect(documented, route).toContain(route);
    // Everything documented is served (the not-found handler never answers it).
    for (const route of documented) {
      const [method, path] = route.split(' ') as [string, string];
      const url = path.replace(/\{\w+\}/g, 'Q'.repeat(43));
      const a = await w.call(method, url, method === 'GET' ? undefined : {});
      expect(a.body?.error === 'not-found' && /^no route/.test(a.body?.message), route).toBe(false);
    }
    expect(documented).not.toContain('GET /openapi.json');
    for (const [p, ops] of Object.entries(doc.paths)) {
      expect(p.startsWith('/')).toBe(true);
      const templated = [...p.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const [m, op] of Object.entries(ops)) {
        const o = op as {
          summary?: string;
          responses?: Record<string, unknown>;
          parameters?: { in: string; name: string; required?: boolean }[];
          security?: Record<string, unknown>[];
          requestBody?: { content: Record<string, { schema: object }> };
        };
        expect(typeof o.summary, `${m} ${p} summary`).toBe('string');
        expect(Object.keys(o.responses ?? {}).length, `${m} ${p} responses`).toBeGreaterThan(0);
        if (p.startsWith('/api/'))
          expect(Object.keys(o.responses ?? {}), `${m} ${p} 4xx`).toContain('4XX');
        for (const name of templated) {
          const param = o.parameters?.find((x) => x.in === 'path' && x.name === name);
          expect(param, `${m} ${p} path parameter ${name}`).toBeDefined();
          expect(param?.required).toBe(true);
        }
        for (const s of o.security ?? [])
          for (const k of Object.keys(s)) expect(doc.components.securitySchemes).toHaveProperty(k);
        const body = o.requestBody?.content['application/json']?.schema;
        if (body !== undefined) {
          const b = body as { type?: string; additionalProperties?: unknown };
          expect(b.type, `${m} ${p} body schema`).toBe('object');
          expect(b.additionalProperties, `${m} ${p} closed body`).toBe(false);
        }
      }
    }
    // The bearer routes say so.
    expect(doc.paths['/api/activation/mitid']!.post!.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/api/admin/users']!.post!.security).toEqual([{ bearer: [] }]);
  });

  it('after full runs no password, code, token, seed or CPR number is in the audit log or an error body', async () => {
    const secrets: string[] = [];
    const digits: string[] = [];
    // 1. Separate MitID with a code display, with mistakes on the way.
    const citizen = await w.citizen();
    secrets.push(citizen.password, citizen.cpr, citizen.cpr.replace('-', ''));
    const { devices, keys, file } = await w.devices('code-display', 1, org.userAdmin);
    for (const k of keys)
      secrets.push(
        Buffer.from(k.secret).toString('hex'),
        Buffer.from(k.secret).toString('base64'),
        Buffer.from(k.secret).toString('base64url'),
      );
    secrets.push(file.slice(0, 40));
    const display = devices[0]!;
    const user = await w.user(org, { cpr: citizen.cpr });
    secrets.push(user.link);
    const wrongStart = await w.post(`/api/activation-links/${user.link}/start`, {
      userId: citizen.userId,
      code: '000000',
      password: `${citizen.password}-wrong`,
    });
    expect(wrongStart.status).toBe(401);
    secrets.push(`${citizen.password}-wrong`);
    const token = await w.started(user.link, citizen);
    secrets.push(token);
    const { userId, phone } = await w.separateUpToAuthenticator(token);
    const sms = await w.smsCode(phone);
    digits.push(sms);
    await w.post('/api/activation/authenticator', { kind: 'code-display' }, token);
    const bad = await w.post(
      '/api/activation/authenticator/activate',
      { serial: display.serial, code: '999999' },
      token,
    );
    expect(bad.status).toBe(400);
    const c1 = await codeOf(display);
    digits.push(c1);
    expect(
      (
        await w.post(
          '/api/activation/authenticator/activate',
          { serial: display.serial, code: c1 },
          token,
        )
      ).status,
    ).toBe(200);
    w.tick();
    const weak = await w.post('/api/activation/password', { password: `${userId}Abc!` }, token);
    expect(weak.status).toBe(400);
    secrets.push(`${userId}Abc!`);
    const password = freshPassword();
    secrets.push(password);
    await w.post('/api/activation/password', { password }, token);
    expect((await w.post('/api/activation/finish', {}, token)).status).toBe(200);
    const s = await w.post('/api/login', { userId });
    secrets.push(s.body.loginToken as string);
    const c2 = await codeOf(display);
    digits.push(c2);
    await w.post('/api/login/code', { code: c2 }, s.body.loginToken);
    const wrongPw = await w.post(
      '/api/login/password',
      { password: `${password}7` },
      s.body.loginToken,
    );
    expect(wrongPw.status).toBe(401);
    secrets.push(`${password}7`);

    // 2. A birth-date user with an activation code, one wrong try, private MitID.
    const citizen2 = await w.citizen();
    secrets.push(citizen2.password, citizen2.cpr, citizen2.cpr.replace('-', ''));
    const user2 = await w.user(org, { birthDate: '1985-03-15' });
    secrets.push(user2.link, user2.activationCode!, user2.activationCode!.replace('-', ''));
    const t2 = await w.started(user2.link, citizen2);
    await w.post('/api/activation/mitid', { mitid: 'private' }, t2);
    await w.post('/api/activation/activation-code', { code: 'ZZZZ-ZZZZ' }, t2);
    await w.post('/api/activation/activation-code', { code: user2.activationCode }, t2);
    expect((await w.post('/api/activation/finish', {}, t2)).status).toBe(200);
    secrets.push(org.userAdmin, org.orgAdmin);

    const viaApi = JSON.stringify(await w.audit(org));
    const all = JSON.stringify(
      await w.svc.store.transaction((tx) => tx.audit.list({ limit: 5000 })),
    );
    expect(all.length).toBeGreaterThan(viaApi.length / 2);
    const errors = w.answers
      .filter((x) => x.answer.status >= 400)
      .map((x) => x.answer.text)
      .join('\n');
    for (const text of [viaApi, all, errors]) {
      for (const secret of secrets)
        expect(text.includes(secret), `secret ${secret.slice(0, 4)}…`).toBe(false);
      for (const d of digits) expect(text).not.toMatch(new RegExp(`(?<![0-9])${d}(?![0-9])`));
    }
    // The audit log does name what happened.
    expect(all).toContain('activation.finish');
    expect(all).toContain('login');
    expect(all).toContain(display.serial);
  });

  it('with the request log on, the log names requests but no password, code, token or CPR number', async () => {
    // The logger writes to file descriptor 1 through node:fs; the lines are read off there.
    const lines: string[] = [];
    const original = { write: fs.write, writeSync: fs.writeSync };
    const take = (fd: unknown, data: unknown): boolean => {
      if (fd !== 1) return false;
      lines.push(
        typeof data === 'string' ? data : Buffer.from(data as Uint8Array).toString('utf8'),
      );
      return true;
    };
    const size = (data: unknown): number =>
      typeof data === 'string' ? Buffer.byteLength(data) : (data as Uint8Array).length;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const mutable = fs as any;
    mutable.writeSync = (fd: number, data: unknown, ...rest: unknown[]) =>
      take(fd, data) ? size(data) : original.writeSync(fd, data as string, ...(rest as []));
    mutable.write = (fd: number, data: unknown, ...rest: unknown[]) => {
      if (!take(fd, data)) return (original.write as (...a: unknown[]) => void)(fd, data, ...rest);
      const cb = rest.at(-1) as (e: null, n: number) => void;
      process.nextTick(() => cb(null, size(data)));
    };
    try {
      await w.close();
      w = await World.start(engine, { logger: true });
      org = await w.organisation('Morbær Medier ApS');
      const citizen = await w.citizen();
      const user = await w.user(org, { cpr: citizen.cpr });
      const token = await w.started(user.link, citizen);
      await w.post('/api/activation/mitid', { mitid: 'private' }, token);
      expect((await w.post('/api/activation/finish', {}, token)).status).toBe(200);
      const wrong = await w.post('/api/login', { userId: citizen.userId });
      await w.post('/api/login/code', { code: '000000' }, wrong.body.loginToken);
      const log = lines.join('');
      expect(log).toContain('/api/activation/finish');
      // The activation link's token is a secret too: it must not be logged with the URL.
      expect(log).toContain('/api/activation-links/');
      const secrets: Record<string, string> = {
        password: citizen.password,
        cpr: citizen.cpr,
        'cpr digits': citizen.cpr.replace('-', ''),
        'link token': user.link,
        'activation token': token,
        'admin token': org.userAdmin,
        'login token': wrong.body.loginToken as string,
      };
      const leaked = Object.entries(secrets)
        .filter(([, v]) => log.includes(v))
        .map(([k]) => k);
      expect(leaked).toEqual([]);
    } finally {
      mutable.write = original.write;
      mutable.writeSync = original.writeSync;
    }
  });

  it('rate limits: the 6th request from one address in a window is 429 with retry-after; the next window is open again', async () => {
    await w.close();
    w = await World.start(engine, { limits: { perAddress: { limit: 5, windowMs: 60_000 } } });
    org = await w.organisation('Hindbær Handel ApS');
    const citizen = await w.citizen();
    const user = await w.user(org, { cpr: citizen.cpr });
    const answers: Answer[] = [];
    for (let i = 0; i < 6; i++) answers.push(await w.get(`/api/activation-links/${user.link}`));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 429]);
    const limited = answers[5]!;
    expect(limited.body.error).toBe('rate-limited');
    const retry = Number(limited.headers.get('retry-after'));
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(60);
    // Every public step shares the address's count.
    expect((await w.post('/api/login', { userId: citizen.userId })).status).toBe(429);
    expect((await w.post('/api/validate', { userId: citizen.userId, code: '123456' })).status).toBe(
      429,
    );
    w.clock.advance(retry * 1000);
    expect((await w.get(`/api/activation-links/${user.link}`)).status).toBe(200);
    // The refusals are in the audit log without the address.
    const all = JSON.stringify(
      await w.svc.store.transaction((tx) => tx.audit.list({ limit: 5000 })),
    );
    expect(all).toContain('rate-limit');
    expect(all).not.toContain('127.0.0.1');
  });

  it('rate limits: SMS codes to one user are limited (429)', async () => {
    await w.close();
    w = await World.start(engine, { limits: { sms: { limit: 2, windowMs: 3_600_000 } } });
    org = await w.organisation('Stikkelsbær Salg ApS');
    const citizen = await w.citizen();
    const user = await w.user(org, { cpr: citizen.cpr });
    const token = await w.started(user.link, citizen);
    await w.post('/api/activation/mitid', { mitid: 'separate' }, token);
    await w.post('/api/activation/user-id', { userId: `sms.${Date.now().toString(36)}` }, token);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++)
      statuses.push(
        (await w.post('/api/activation/phone', { phone: '+4591234567' }, token)).status,
      );
    expect(statuses).toEqual([200, 200, 429]);
  });
});
