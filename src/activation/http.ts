/**
 * The activation service's HTTP API (fastify): a JSON schema on every route, the OpenAPI document
 * at /openapi.json, bad input answered with a 4xx and a clear message, never a 500.
 */
import swagger from '@fastify/swagger';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import { AuthenticatorKinds, type AuthenticatorKind } from '../core/authenticator.js';
import { fromBase64, fromHex } from '../core/bytes.js';
import { MitidError, SeedFileError } from '../core/errors.js';
import type {
  AuthenticationResponseJSON,
  RegistrationResponseJSON,
} from '../core/webauthn-json.js';
import { importSeedFile } from '../otp/seed/index.js';
import {
  ForbiddenError,
  createBusinessUser,
  resendActivationEmail,
  showActivationCode,
  viewUser,
} from './admin.js';
import type { ActivationFlow, Client, MitIdKind } from './flow.js';
import { FlowError } from './refusal.js';
import { listMail } from './mailbox.js';
import { listOutbox } from './outbox.js';
import { can, type Action, type OrganisationSettingsPatch } from './roles.js';
import { adminForToken } from './sessions.js';
import { StoreError } from './store/migrations.js';
import { StoreRuleError, type Admin } from './store/repositories.js';
import { ActivationError, RuleError } from './violations.js';
import type { AppPlacement } from './app.js';
import { registerWebPages } from './web/pages.js';

/** Options of {@link buildHttpApi}. */
export interface HttpApiOptions {
  /** Public base URL, for activation links in e-mails. */
  readonly baseUrl: string;
  /** Serve /api/dev (mailbox, SMS inbox, private MitID fixtures). Default false. */
  readonly dev?: boolean;
  /** Log requests (never bodies). Default false. */
  readonly logger?: boolean;
  /** Trust X-Forwarded-For for the client address (behind a proxy). Default false. */
  readonly trustProxy?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Schemas.

// No NUL in any text: PostgreSQL cannot store it, and no field has a use for it.
const str = (max = 200, min = 1) =>
  ({ type: 'string', minLength: min, maxLength: max, pattern: '^[^\\u0000]*$' }) as const;
const kindSchema = { type: 'string', enum: [...AuthenticatorKinds] } as const;
const obj = (properties: Record<string, unknown>, required: string[] = []) => ({
  type: 'object',
  additionalProperties: false,
  properties,
  required,
});
const anyObject = { type: 'object', additionalProperties: true } as const;
const errorSchema = {
  type: 'object',
  additionalProperties: true,
  properties: { error: { type: 'string' }, message: { type: 'string' } },
  required: ['error', 'message'],
} as const;
const bearer = [{ bearer: [] as string[] }];

function responses(ok: unknown, okStatus = 200): Record<string, unknown> {
  return {
    [okStatus]: ok,
    '4xx': errorSchema,
  };
}

const webauthnJson = {
  type: 'object',
  additionalProperties: true,
  properties: { id: str(1400), rawId: str(1400), type: { type: 'string' }, response: anyObject },
  required: ['id', 'rawId', 'type', 'response'],
} as const;

/** A seed file upload (admin inventory and the dev shared inventory take the same body). */
interface SeedUpload {
  kind: 'code-display' | 'audio-reader';
  file: string;
  key?: string;
  password?: string;
}
const SEED_UPLOAD_LIMIT = 8 * 1024 * 1024;
const seedUploadSchema = obj(
  {
    kind: { type: 'string', enum: ['code-display', 'audio-reader'] },
    file: str(SEED_UPLOAD_LIMIT),
    key: str(64),
    password: str(256),
  },
  ['kind', 'file'],
);

// ---------------------------------------------------------------------------------------------

function errorBody(
  code: string,
  message: string,
  extra: Record<string, unknown> = {},
): { error: string; message: string; [k: string]: unknown } {
  return { error: code, message, ...extra };
}

const CONFLICTS = new Set([
  'user-id-taken',
  'serial-exists',
  'serial-bound',
  'authenticator-limit',
  'user-exists',
  'citizen-exists',
  'out-of-stock',
  'already-activated',
  'organisation-exists',
  'cvr-exists',
  'same-organisation',
  'not-separate',
]);

/** Maps an error to a status and a body a user may read; undefined for our own bugs. */
export function publicError(
  e: unknown,
): { status: number; body: ReturnType<typeof errorBody> } | undefined {
  if (e instanceof FlowError)
    return { status: e.status, body: errorBody(e.code, e.message, { ...e.detail }) };
  if (e instanceof RuleError)
    return {
      status: 400,
      body: errorBody(e.code, e.message, {
        violations: e.violations.map((v) => ({ field: v.field, code: v.code, message: v.message })),
      }),
    };
  if (e instanceof ForbiddenError) return { status: 403, body: errorBody(e.code, e.message) };
  if (e instanceof StoreError) return undefined;
  if (e instanceof StoreRuleError) {
    const status = e.code.startsWith('unknown-') ? 404 : CONFLICTS.has(e.code) ? 409 : 400;
    return { status, body: errorBody(e.code, e.message) };
  }
  if (e instanceof SeedFileError)
    return { status: 400, body: errorBody(`seed-${e.code}`, e.message) };
  if (e instanceof ActivationError)
    return {
      status: CONFLICTS.has(e.code) ? 409 : 400,
      body: errorBody(e.code, e.message),
    };
  if (e instanceof MitidError) return { status: 400, body: errorBody(e.code, e.message) };
  const fe = e as Partial<FastifyError> | null;
  if (fe !== null && typeof fe === 'object' && Array.isArray(fe.validation)) {
    return {
      status: 400,
      body: errorBody(
        'bad-request',
        `${fe.validationContext ?? 'request'} ${firstLine(fe.message ?? 'is not valid')}`,
      ),
    };
  }
  if (
    fe !== null &&
    typeof fe === 'object' &&
    typeof fe.statusCode === 'number' &&
    fe.statusCode >= 400 &&
    fe.statusCode < 500
  ) {
    return {
      status: fe.statusCode,
      body: errorBody(
        typeof fe.code === 'string' ? fe.code.toLowerCase() : 'bad-request',
        firstLine(fe.message ?? 'bad request'),
      ),
    };
  }
  return undefined;
}

/** A request URL for logs: link tokens and query values replaced. */
export function redactUrl(url: string): string {
  const [path = '', query] = url.split('?', 2);
  const safe = path.replace(/^(\/api\/activation-links\/)[^/]+/, '$1[token]');
  return query === undefined ? safe : `${safe}?[query]`;
}

function firstLine(s: string): string {
  return (s.split('\n')[0] ?? '').slice(0, 300);
}

function bearerToken(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer ([A-Za-z0-9_-]{22,128})$/.exec(h.trim());
  return m?.[1];
}

function needToken(req: FastifyRequest, what: string): string {
  const t = bearerToken(req);
  if (t === undefined)
    throw new FlowError(
      401,
      'no-token',
      `Send the ${what} token as "Authorization: Bearer TOKEN".`,
    );
  return t;
}

declare module 'fastify' {
  interface FastifyRequest {
    admin?: Admin;
  }
}

/**
 * Builds the API over a flow. Routes:
 * - the activation: /api/activation-links/{token}, /api/activation/*;
 * - logins: /api/login, /api/login/{code,password,chip}; /api/validate;
 * - administrators (Bearer admin token): /api/admin/*;
 * - with `dev`: /api/dev/* (the dev mailbox, the SMS inbox of virtual phones, private MitID fixtures).
 */
export async function buildHttpApi(
  flow: ActivationFlow,
  options: HttpApiOptions,
): Promise<FastifyInstance> {
  const store = flow.store;
  const app = Fastify({
    logger:
      options.logger === true
        ? {
            level: 'info',
            // Activation links carry their token in the path: the log shows the route, never it.
            serializers: {
              req: (r: { method: string; url: string; ip?: string }) => ({
                method: r.method,
                url: redactUrl(r.url),
                ...(r.ip === undefined ? {} : { remoteAddress: r.ip }),
              }),
            },
          }
        : false,
    trustProxy: options.trustProxy ?? false,
    bodyLimit: 1024 * 1024,
    // Event streams stay open: closing the service ends them rather than waiting.
    forceCloseConnections: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'mitid-sim activation service',
        description:
          'The MitID Erhverv user activation flow, logins and administration, over emulated or physical MitID authenticators.',
        version: '1',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      },
      tags: [
        { name: 'activation', description: 'the activation flow of the user guide' },
        { name: 'login', description: 'logins after activation' },
        { name: 'admin', description: 'administrators (Bearer admin token)' },
        { name: 'dev', description: 'the embedded dev parts (mailbox, SMS inbox, fixtures)' },
      ],
    },
  });

  app.setErrorHandler((e, req, reply) => {
    const pub = publicError(e);
    if (pub !== undefined) {
      if (pub.status === 429 && typeof pub.body.retryAfterMs === 'number')
        void reply.header('retry-after', Math.ceil(pub.body.retryAfterMs / 1000));
      return reply.status(pub.status).send(pub.body);
    }
    // Our own failure: logged by name and code only (a message could quote input).
    req.log.error(
      { err: { name: (e as Error)?.name, code: (e as { code?: unknown })?.code } },
      'internal error',
    );
    return reply
      .status(e instanceof StoreError ? 503 : 500)
      .send(
        errorBody(
          e instanceof StoreError ? 'unavailable' : 'internal',
          e instanceof StoreError
            ? 'The service cannot reach its database. Try again shortly.'
            : 'Something went wrong on our side.',
        ),
      );
  });
  app.setNotFoundHandler((req, reply) =>
    reply
      .status(404)
      .send(errorBody('not-found', `no route ${req.method} ${req.url.split('?')[0]}`)),
  );

  const client = (req: FastifyRequest): Client => ({ address: req.ip });

  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
  app.get(
    '/healthz',
    {
      schema: {
        summary: 'liveness and database check',
        response: { 200: obj({ ok: { type: 'boolean' } }, ['ok']) },
      },
    },
    async () => {
      await store.transaction((tx) => tx.organisations.list());
      return { ok: true };
    },
  );

  // -------------------------------------------------------------------------------------------
  // Activation.

  const A = { tags: ['activation'] };
  const linkParams = obj({ token: str(128, 22) }, ['token']);

  app.get<{ Params: { token: string } }>(
    '/api/activation-links/:token',
    {
      schema: {
        ...A,
        summary: 'what the activation page shows for a link: the organisation',
        params: linkParams,
        response: responses(anyObject),
      },
    },
    (req) => flow.inspectLink(req.params.token, client(req)),
  );

  app.post<{
    Params: { token: string };
    Body: { userId: string; code?: string; password?: string };
  }>(
    '/api/activation-links/:token/start',
    {
      schema: {
        ...A,
        summary:
          '"Start activation": log in with the private MitID (code and password; without them, the private MitID app is asked); uses the link',
        params: linkParams,
        body: obj({ userId: str(100), code: str(16), password: str(256) }, ['userId']),
        response: { ...responses(anyObject), 202: anyObject },
      },
    },
    async (req, reply) => {
      const b = req.body;
      if ((b.code === undefined) !== (b.password === undefined))
        throw new FlowError(400, 'bad-request', 'Send both code and password, or neither (app).');
      const out = await flow.startActivation(
        req.params.token,
        b.code !== undefined && b.password !== undefined
          ? { userId: b.userId, code: b.code, password: b.password }
          : { userId: b.userId },
        client(req),
      );
      return reply.status('pending' in out ? 202 : 200).send(out);
    },
  );
  app.post<{ Params: { token: string } }>(
    '/api/activation-links/:token/start/app',
    {
      schema: {
        ...A,
        security: bearer,
        summary: 'a start waiting for the private MitID app: pending (202) or the activation',
        params: linkParams,
        response: { ...responses(anyObject), 202: anyObject },
      },
    },
    async (req, reply) => {
      const out = await flow.startActivationApp(
        req.params.token,
        needToken(req, 'start'),
        client(req),
      );
      return reply.status('pending' in out ? 202 : 200).send(out);
    },
  );

  const S = { ...A, security: bearer };
  app.get(
    '/api/activation',
    { schema: { ...S, summary: 'where the activation stands', response: responses(anyObject) } },
    (req) => flow.activation(needToken(req, 'activation'), client(req)),
  );
  app.post<{ Body: { mitid: MitIdKind } }>(
    '/api/activation/mitid',
    {
      schema: {
        ...S,
        summary: 'private or separate MitID',
        body: obj({ mitid: { type: 'string', enum: ['private', 'separate'] } }, ['mitid']),
        response: responses(anyObject),
      },
    },
    (req) => flow.chooseMitId(needToken(req, 'activation'), req.body.mitid, client(req)),
  );
  app.post<{ Body: { userId: string } }>(
    '/api/activation/user-id',
    {
      schema: {
        ...S,
        summary: 'separate MitID: the new user ID',
        body: obj({ userId: str(100) }, ['userId']),
        response: responses(anyObject),
      },
    },
    (req) => flow.chooseUserId(needToken(req, 'activation'), req.body.userId, client(req)),
  );
  app.post<{ Body: { code: string } }>(
    '/api/activation/activation-code',
    {
      schema: {
        ...S,
        summary: 'the activation code from the administrator (users created by date of birth)',
        body: obj({ code: str(32) }, ['code']),
        response: responses(anyObject),
      },
    },
    (req) => flow.enterActivationCode(needToken(req, 'activation'), req.body.code, client(req)),
  );
  app.post<{ Body: { phone: string } }>(
    '/api/activation/phone',
    {
      schema: {
        ...S,
        summary: 'separate MitID: the phone number (an SMS code is sent)',
        body: obj({ phone: str(32) }, ['phone']),
        response: responses(anyObject),
      },
    },
    (req) => flow.enterPhone(needToken(req, 'activation'), req.body.phone, client(req)),
  );
  app.post<{ Body: { code: string } }>(
    '/api/activation/phone-code',
    {
      schema: {
        ...S,
        summary: 'separate MitID: the SMS verification code',
        body: obj({ code: str(16) }, ['code']),
        response: responses(anyObject),
      },
    },
    (req) => flow.enterPhoneCode(needToken(req, 'activation'), req.body.code, client(req)),
  );
  app.post<{ Body: { kind: AuthenticatorKind; placement?: AppPlacement } }>(
    '/api/activation/authenticator',
    {
      schema: {
        ...S,
        summary:
          'separate MitID: choose the authenticator (the chip gets creation options; the app an activation code and QR code)',
        body: obj(
          {
            kind: kindSchema,
            placement: { type: 'string', enum: ['new-device', 'private-phone'] },
          },
          ['kind'],
        ),
        response: responses(anyObject),
      },
    },
    (req) =>
      flow.chooseAuthenticator(
        needToken(req, 'activation'),
        req.body.kind,
        client(req),
        req.body.placement ?? 'new-device',
      ),
  );
  app.post<{
    Body: { serial?: string; code?: string; registration?: RegistrationResponseJSON };
  }>(
    '/api/activation/authenticator/activate',
    {
      schema: {
        ...S,
        summary:
          'activate the chosen authenticator: serial and code, or the chip registration (PublicKeyCredential.toJSON())',
        body: obj({ serial: str(64), code: str(16), registration: webauthnJson }),
        response: responses(anyObject),
      },
    },
    (req) => {
      const b = req.body;
      const input =
        b.registration !== undefined
          ? {
              registration: b.registration,
              ...(b.serial === undefined ? {} : { serial: b.serial }),
            }
          : { serial: b.serial ?? '', code: b.code ?? '' };
      if (b.registration === undefined && (b.serial === undefined || b.code === undefined))
        throw new FlowError(400, 'bad-request', 'Send serial and code, or a chip registration.');
      return flow.activateAuthenticator(needToken(req, 'activation'), input, client(req));
    },
  );
  app.post<{ Body: { password: string } }>(
    '/api/activation/password',
    {
      schema: {
        ...S,
        summary: 'separate MitID: the password (code display, audio reader, chip)',
        body: obj({ password: str(256) }, ['password']),
        response: responses(anyObject),
      },
    },
    (req) => flow.choosePassword(needToken(req, 'activation'), req.body.password, client(req)),
  );
  app.post(
    '/api/activation/finish',
    {
      schema: {
        ...S,
        summary: '"Finish activation" (a confirmation e-mail follows)',
        response: responses(anyObject),
      },
    },
    (req) => flow.finish(needToken(req, 'activation'), client(req)),
  );

  // -------------------------------------------------------------------------------------------
  // Login.

  const L = { tags: ['login'] };
  app.post<{ Body: { userId: string; authenticator?: AuthenticatorKind } }>(
    '/api/login',
    {
      schema: {
        ...L,
        summary: 'start a login with a MitID user ID; says which steps follow',
        body: obj({ userId: str(100), authenticator: kindSchema }, ['userId']),
        response: responses(anyObject),
      },
    },
    (req) => flow.startLogin(req.body, client(req)),
  );
  app.post<{ Body: { code: string } }>(
    '/api/login/code',
    {
      schema: {
        ...L,
        security: bearer,
        summary: 'the code of the code display or audio reader',
        body: obj({ code: str(16) }, ['code']),
        response: responses(anyObject),
      },
    },
    (req) => flow.loginCode(needToken(req, 'login'), req.body.code, client(req)),
  );
  app.post<{ Body: { password: string } }>(
    '/api/login/password',
    {
      schema: {
        ...L,
        security: bearer,
        summary: 'the password (for the chip, the answer carries request options)',
        body: obj({ password: str(256) }, ['password']),
        response: responses(anyObject),
      },
    },
    (req) => flow.loginPassword(needToken(req, 'login'), req.body.password, client(req)),
  );
  app.post<{ Body: { assertion: AuthenticationResponseJSON } }>(
    '/api/login/chip',
    {
      schema: {
        ...L,
        security: bearer,
        summary: 'the chip assertion (PublicKeyCredential.toJSON())',
        body: obj({ assertion: webauthnJson }, ['assertion']),
        response: responses(anyObject),
      },
    },
    (req) => flow.loginChip(needToken(req, 'login'), req.body.assertion, client(req)),
  );
  app.post(
    '/api/login/app',
    {
      schema: {
        ...L,
        security: bearer,
        summary: 'a login waiting for the app: pending until the app answers, then the login',
        response: responses(anyObject),
      },
    },
    (req) => flow.loginApp(needToken(req, 'login'), client(req)),
  );
  app.post<{ Body: { userId: string; code: string } }>(
    '/api/validate',
    {
      schema: {
        ...L,
        summary:
          "check one code of a user's code display or audio reader (replay refusal, lockout, rate limits)",
        body: obj({ userId: str(100), code: str(16) }, ['userId', 'code']),
        response: responses(obj({ verified: { type: 'boolean' } }, ['verified'])),
      },
    },
    (req) => flow.validateCode(req.body, client(req)),
  );

  // -------------------------------------------------------------------------------------------
  // Administrators.

  await app.register(
    (admin, _opts, done) => {
      admin.addHook('preHandler', async (req: FastifyRequest) => {
        const token = needToken(req, 'administrator');
        const found = await store.transaction(async (tx) => {
          const id = await adminForToken(tx, token);
          return id === undefined ? undefined : tx.admins.get(id);
        });
        if (found === undefined)
          throw new FlowError(401, 'bad-token', 'The administrator token is not valid.');
        req.admin = found;
      });
      registerAdminRoutes(admin, flow, options);
      done();
    },
    { prefix: '/api/admin' },
  );

  registerAppRoutes(app, flow);
  if (options.dev === true) registerDevRoutes(app, flow);
  await registerWebPages(app, flow, options);

  return app;
}

function me(req: FastifyRequest): Admin {
  const a = req.admin;
  if (a === undefined)
    throw new FlowError(401, 'bad-token', 'The administrator token is not valid.');
  return a;
}

async function authorise(flow: ActivationFlow, admin: Admin, action: Action): Promise<void> {
  if (can(admin.role, action)) return;
  await flow.store.transaction((tx) =>
    tx.audit.record({
      actor: { kind: 'admin', id: admin.id },
      action,
      outcome: 'forbidden',
      organisationId: admin.organisationId,
    }),
  );
  throw new ForbiddenError(`the role ${admin.role} may not ${action}`);
}

function registerAdminRoutes(
  app: FastifyInstance,
  flow: ActivationFlow,
  options: HttpApiOptions,
): void {
  const store = flow.store;
  const T = { tags: ['admin'], security: bearer };
  const idParams = obj({ id: str(100) }, ['id']);
  const mail = { baseUrl: options.baseUrl };

  app.get(
    '/me',
    {
      schema: {
        ...T,
        summary: 'the administrator the token belongs to',
        response: responses(anyObject),
      },
    },
    async (req) => {
      const a = me(req);
      const org = await store.transaction((tx) => tx.organisations.get(a.organisationId));
      return { admin: a, organisation: org };
    },
  );

  app.get(
    '/users',
    { schema: { ...T, summary: "the organisation's users", response: responses(anyObject) } },
    async (req) => {
      const a = me(req);
      await authorise(flow, a, 'view-users');
      return { users: await store.transaction((tx) => tx.users.list(a.organisationId)) };
    },
  );

  app.post<{
    Body: {
      firstName: string;
      surname: string;
      email: string;
      cpr?: string;
      birthDate?: string;
      phone?: string;
      separateAllowed?: boolean;
    };
  }>(
    '/users',
    {
      schema: {
        ...T,
        summary: 'create a user by CPR or by date of birth; the activation e-mail is queued',
        body: obj(
          {
            firstName: str(100),
            surname: str(100),
            email: str(320),
            cpr: str(11),
            birthDate: str(10),
            phone: str(32),
            separateAllowed: { type: 'boolean' },
          },
          ['firstName', 'surname', 'email'],
        ),
        response: responses(anyObject, 201),
      },
    },
    async (req, reply) => {
      const a = me(req);
      const created = await createBusinessUser(
        store,
        a.id,
        { ...req.body, organisationId: a.organisationId },
        mail,
      );
      return reply.status(201).send(created);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/users/:id',
    {
      schema: {
        ...T,
        summary: "a user's state: status, devices and their lockout, orders, live link or code",
        params: idParams,
        response: responses(anyObject),
      },
    },
    (req) => viewUser(store, me(req).id, req.params.id),
  );
  app.post<{ Params: { id: string } }>(
    '/users/:id/resend',
    {
      schema: {
        ...T,
        summary: 'resend the activation e-mail (the old link stops working)',
        params: idParams,
        response: responses(anyObject),
      },
    },
    async (req) => ({
      emailId: await resendActivationEmail(store, me(req).id, req.params.id, mail),
    }),
  );
  app.post<{ Params: { id: string } }>(
    '/users/:id/activation-code',
    {
      schema: {
        ...T,
        summary: 'a new activation code to hand over (users created by date of birth)',
        params: idParams,
        response: responses(anyObject),
      },
    },
    async (req) => ({ activationCode: await showActivationCode(store, me(req).id, req.params.id) }),
  );
  app.post<{ Params: { id: string }; Body: { allowed: boolean } }>(
    '/users/:id/separate-mitid',
    {
      schema: {
        ...T,
        summary: 'allow (or not) a separate MitID for a user',
        params: idParams,
        body: obj({ allowed: { type: 'boolean' } }, ['allowed']),
        response: responses(anyObject),
      },
    },
    async (req) => {
      const a = me(req);
      await authorise(flow, a, 'allow-separate-mitid');
      return store.transaction(async (tx) => {
        const u = await tx.users.get(req.params.id);
        if (u.organisationId !== a.organisationId)
          throw new ForbiddenError('the user belongs to another organisation');
        await tx.users.setSeparateAllowed(u.id, req.body.allowed);
        await tx.audit.record({
          actor: { kind: 'admin', id: a.id },
          action: 'user.separate-mitid',
          outcome: 'ok',
          organisationId: a.organisationId,
          subjectId: u.id,
          detail: { allowed: req.body.allowed },
        });
        return { separateAllowed: req.body.allowed };
      });
    },
  );
  app.post<{ Params: { id: string }; Body: { kind: 'code-display' | 'audio-reader' | 'chip' } }>(
    '/users/:id/orders',
    {
      schema: {
        ...T,
        summary: 'order a device from the token inventory for a user',
        params: idParams,
        body: obj({ kind: { type: 'string', enum: ['code-display', 'audio-reader', 'chip'] } }, [
          'kind',
        ]),
        response: responses(anyObject, 201),
      },
    },
    async (req, reply) => {
      const a = me(req);
      await authorise(flow, a, 'order-device');
      const order = await store.transaction(async (tx) => {
        const u = await tx.users.get(req.params.id);
        if (u.organisationId !== a.organisationId)
          throw new ForbiddenError('the user belongs to another organisation');
        const o = await tx.orders.create({
          businessUserId: u.id,
          kind: req.body.kind,
          orderedBy: a.id,
        });
        await tx.audit.record({
          actor: { kind: 'admin', id: a.id },
          action: 'device.order',
          outcome: 'ok',
          organisationId: a.organisationId,
          subjectId: u.id,
          serial: o.serial,
          detail: { kind: o.kind },
        });
        return o;
      });
      return reply.status(201).send(order);
    },
  );

  app.get(
    '/settings',
    { schema: { ...T, summary: "the organisation's settings", response: responses(anyObject) } },
    async (req) => {
      const a = me(req);
      await authorise(flow, a, 'view-org-settings');
      return store.transaction((tx) => tx.organisations.settings(a.organisationId));
    },
  );
  app.patch<{ Body: OrganisationSettingsPatch }>(
    '/settings',
    {
      schema: {
        ...T,
        summary: 'change the settings (organisation administrators only)',
        body: obj({
          privateMitIdAllowed: { type: 'boolean' },
          separateAuthenticators: {
            type: 'array',
            items: kindSchema,
            maxItems: 4,
            uniqueItems: true,
          },
          preselected: kindSchema,
        }),
        response: responses(anyObject),
      },
    },
    async (req) => {
      const a = me(req);
      const change = await store.transaction((tx) =>
        tx.organisations.changeSettings(a.organisationId, req.body, a),
      );
      if (!change.ok) {
        const first = change.violations[0];
        throw new FlowError(
          first?.code === 'forbidden' || first?.field === 'role' ? 403 : 400,
          first?.code ?? 'invalid',
          first?.message.en ?? 'the settings were not changed',
          { violations: change.violations },
        );
      }
      return change.settings;
    },
  );

  app.get(
    '/inventory',
    {
      schema: {
        ...T,
        summary: 'the token inventory (never a seed)',
        response: responses(anyObject),
      },
    },
    async (req) => {
      const a = me(req);
      await authorise(flow, a, 'view-users');
      return {
        items: await store.transaction((tx) =>
          tx.inventory.list({ organisationId: a.organisationId }),
        ),
      };
    },
  );
  app.post<{ Body: SeedUpload }>(
    '/inventory/seeds',
    {
      bodyLimit: SEED_UPLOAD_LIMIT,
      schema: {
        ...T,
        summary: 'import a PSKC or OATH CSV seed file (base64), all or nothing',
        body: seedUploadSchema,
        response: responses(anyObject, 201),
      },
    },
    async (req, reply) => {
      const a = me(req);
      await authorise(flow, a, 'import-inventory');
      const items = await importSeeds(flow, req.body, a.organisationId, {
        kind: 'admin',
        id: a.id,
      });
      return reply.status(201).send({ imported: items.length, serials: items });
    },
  );
  app.post<{ Body: { serial: string } }>(
    '/inventory/chips',
    {
      schema: {
        ...T,
        summary: 'add a chip to the inventory by serial',
        body: obj({ serial: str(64) }, ['serial']),
        response: responses(anyObject, 201),
      },
    },
    async (req, reply) => {
      const a = me(req);
      await authorise(flow, a, 'import-inventory');
      const item = await store.transaction((tx) =>
        tx.inventory.addChip({ serial: req.body.serial, organisationId: a.organisationId }),
      );
      return reply.status(201).send(item);
    },
  );

  app.post<{ Body: { userId: string; cvr: string } }>(
    '/shares',
    {
      schema: {
        ...T,
        summary: "ask to use a user's separate MitID in another organisation",
        body: obj({ userId: str(100), cvr: str(8, 8) }, ['userId', 'cvr']),
        response: responses(anyObject, 201),
      },
    },
    async (req, reply) => {
      const a = me(req);
      await authorise(flow, a, 'approve-shared-mitid');
      const share = await store.transaction(async (tx) => {
        const u = await tx.users.get(req.body.userId);
        if (u.organisationId !== a.organisationId)
          throw new ForbiddenError('the user belongs to another organisation');
        const org = await tx.organisations.byCvr(req.body.cvr);
        if (org === undefined)
          throw new StoreRuleError('unknown-organisation', 'no organisation has that CVR number');
        return tx.shares.request(u.id, org.id);
      });
      return reply.status(201).send(share);
    },
  );
  app.post<{ Params: { id: string } }>(
    '/shares/:id/approve',
    {
      schema: {
        ...T,
        summary: "approve a shared separate MitID for the administrator's organisation",
        params: idParams,
        response: responses(anyObject),
      },
    },
    async (req) => {
      const a = me(req);
      await authorise(flow, a, 'approve-shared-mitid');
      return store.transaction((tx) => tx.shares.approve(req.params.id, a));
    },
  );

  app.get<{ Querystring: { limit?: string } }>(
    '/audit',
    {
      schema: {
        ...T,
        summary: "the organisation's audit log (never a secret)",
        querystring: obj({ limit: { type: 'string', pattern: '^[0-9]{1,4}$' } }),
        response: responses(anyObject),
      },
    },
    async (req) => {
      const a = me(req);
      await authorise(flow, a, 'view-users');
      const limit = req.query.limit === undefined ? 200 : Number(req.query.limit);
      return {
        entries: await store.transaction((tx) =>
          tx.audit.list({ organisationId: a.organisationId, limit }),
        ),
      };
    },
  );
}

/** Imports a seed file's keys into the inventory in one transaction (all or nothing). */
export async function importSeeds(
  flow: ActivationFlow,
  body: SeedUpload,
  organisationId: string | undefined,
  actor: { kind: 'admin' | 'system'; id?: string },
): Promise<string[]> {
  if (!/^[A-Za-z0-9+/=\r\n]*$/.test(body.file))
    throw new FlowError(400, 'bad-request', 'file must be the seed file in base64');
  if (
    body.key !== undefined &&
    !/^([0-9a-fA-F]{32}|[0-9a-fA-F]{48}|[0-9a-fA-F]{64})$/.test(body.key)
  )
    throw new FlowError(400, 'bad-request', 'key must be 16, 24 or 32 bytes in hex');
  const keys = importSeedFile(fromBase64(body.file.replace(/\s+/g, '')), {
    ...(body.key === undefined ? {} : { key: fromHex(body.key) }),
    ...(body.password === undefined ? {} : { password: body.password }),
  });
  try {
    return await flow.store.transaction(async (tx) => {
      const out: string[] = [];
      for (const key of keys) {
        const item = await tx.inventory.importOtp({
          kind: body.kind,
          key,
          ...(organisationId === undefined ? {} : { organisationId }),
        });
        await tx.audit.record({
          actor,
          action: 'inventory.import',
          outcome: 'ok',
          organisationId: organisationId ?? null,
          serial: item.serial,
          detail: { kind: body.kind },
        });
        out.push(item.serial);
      }
      return out;
    });
  } finally {
    for (const k of keys) k.secret.fill(0);
  }
}

function registerDevRoutes(app: FastifyInstance, flow: ActivationFlow): void {
  const store = flow.store;
  const D = { tags: ['dev'] };
  app.get<{ Querystring: { to?: string } }>(
    '/api/dev/mailbox',
    {
      schema: {
        ...D,
        summary: 'mail received by the built-in dev mailbox',
        querystring: obj({ to: str(320) }),
        response: responses(anyObject),
      },
    },
    async (req) => ({
      messages: await listMail(store, req.query.to === undefined ? {} : { to: req.query.to }),
    }),
  );
  app.get<{ Querystring: { to: string } }>(
    '/api/dev/sms',
    {
      schema: {
        ...D,
        summary: "a virtual phone's SMS inbox (the default SMS gateway is the outbox)",
        querystring: obj({ to: str(32) }, ['to']),
        response: responses(anyObject),
      },
    },
    async (req) => ({
      messages: (await listOutbox(store, { channel: 'sms', to: req.query.to })).map((m) => ({
        id: m.id,
        to: m.to,
        text: m.text,
        status: m.status,
        createdAt: m.createdAt,
      })),
    }),
  );
  app.post<{
    Body: {
      cpr: string;
      name: string;
      userId: string;
      password?: string;
      device?: { kind: 'code-display' | 'audio-reader'; serial: string; code: string };
      app?: { phone: string };
    };
  }>(
    '/api/dev/citizens',
    {
      schema: {
        ...D,
        summary:
          'register a private MitID (a citizen): a password and a device from the shared inventory, or an app to activate',
        body: obj(
          {
            cpr: str(11),
            name: str(100),
            userId: str(100),
            password: str(256),
            device: obj(
              {
                kind: { type: 'string', enum: ['code-display', 'audio-reader'] },
                serial: str(64),
                code: str(16),
              },
              ['kind', 'serial', 'code'],
            ),
            app: obj({ phone: str(32) }, ['phone']),
          },
          ['cpr', 'name', 'userId'],
        ),
        response: responses(anyObject, 201),
      },
    },
    async (req, reply) => {
      const b = req.body;
      if (b.app !== undefined && b.device === undefined && b.password === undefined)
        return reply.status(201).send(
          await flow.registerCitizenWithApp({
            cpr: b.cpr,
            name: b.name,
            userId: b.userId,
            phone: b.app.phone,
          }),
        );
      if (b.device === undefined || b.password === undefined || b.app !== undefined)
        throw new FlowError(
          400,
          'bad-request',
          'Send a password and a device, or an app (with its phone number) alone.',
        );
      return reply.status(201).send(
        await flow.registerCitizen({
          cpr: b.cpr,
          name: b.name,
          userId: b.userId,
          password: b.password,
          device: b.device,
        }),
      );
    },
  );
  app.post<{ Body: SeedUpload }>(
    '/api/dev/inventory/seeds',
    {
      bodyLimit: SEED_UPLOAD_LIMIT,
      schema: {
        ...D,
        summary: 'import a seed file into the shared inventory (private MitID devices)',
        body: seedUploadSchema,
        response: responses(anyObject, 201),
      },
    },
    async (req, reply) => {
      const serials = await importSeeds(flow, req.body, undefined, { kind: 'system' });
      return reply.status(201).send({ imported: serials.length, serials });
    },
  );
}

function registerAppRoutes(app: FastifyInstance, flow: ActivationFlow): void {
  const apps = flow.apps;
  // Open event streams, ended when the server closes (they would keep it open otherwise).
  const streams = new Set<() => void>();
  app.addHook('onClose', (_instance, done) => {
    for (const end of [...streams]) end();
    done();
  });
  const P = { tags: ['app'] };
  const sec = { ...P, security: bearer };
  app.post<{ Body: { userId: string; activationCode: string } }>(
    '/api/app/activations',
    {
      schema: {
        ...P,
        summary:
          'the app starts its activation: user ID and activation code (the temporary PIN goes by SMS)',
        body: obj({ userId: str(100), activationCode: str(32) }, ['userId', 'activationCode']),
        response: responses(anyObject),
      },
    },
    (req) => apps.startActivation(req.body),
  );
  app.post<{ Body: { temporaryPin: string } }>(
    '/api/app/activations/temporary-pin',
    {
      schema: {
        ...sec,
        summary: 'the 8-digit temporary PIN from the SMS',
        body: obj({ temporaryPin: str(16) }, ['temporaryPin']),
        response: responses(anyObject),
      },
    },
    (req) => apps.temporaryPin(needToken(req, 'app activation'), req.body.temporaryPin),
  );
  app.post<{
    Body: {
      appId: string;
      publicKey: string;
      pin: string;
      biometrics: boolean;
      notifications: boolean;
      proof: string;
    };
  }>(
    '/api/app/activations/complete',
    {
      schema: {
        ...sec,
        summary:
          "the app's key (with a proof), its PIN, biometrics and notifications: the app is bound",
        body: obj(
          {
            appId: str(64, 8),
            publicKey: str(400),
            pin: str(16),
            biometrics: { type: 'boolean' },
            notifications: { type: 'boolean' },
            proof: str(200),
          },
          ['appId', 'publicKey', 'pin', 'biometrics', 'notifications', 'proof'],
        ),
        response: responses(anyObject, 201),
      },
    },
    async (req, reply) =>
      reply.status(201).send(await apps.complete(needToken(req, 'app activation'), req.body)),
  );
  app.post<{ Body: { pin: string; phone: string; placement?: AppPlacement } }>(
    '/api/app/additional',
    {
      schema: {
        ...sec,
        summary:
          'another app for the same MitID (up to 3), asked from an activated app with its PIN: an activation code and QR code for the new phone',
        body: obj(
          {
            pin: str(16),
            phone: str(32),
            placement: { type: 'string', enum: ['new-device', 'private-phone'] },
          },
          ['pin', 'phone'],
        ),
        response: responses(anyObject, 201),
      },
    },
    async (req, reply) =>
      reply.status(201).send(await apps.issueAdditional(needToken(req, 'app'), req.body)),
  );
  app.get(
    '/api/app/approvals',
    {
      schema: {
        ...sec,
        summary: "the pending approval requests of the app's identity (poll fallback)",
        response: responses(anyObject),
      },
    },
    (req) => apps.pending(needToken(req, 'app')),
  );
  app.post<{
    Params: { id: string };
    Body: {
      decision: 'approve' | 'reject';
      channel: { type: 'qr' | 'code'; value: string };
      pin?: string;
      biometric?: boolean;
      signature: string;
    };
  }>(
    '/api/app/approvals/:id',
    {
      schema: {
        ...sec,
        summary: 'approve (PIN or biometrics) or reject a request, signed over the exact request',
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
        response: responses(anyObject),
      },
    },
    (req) => apps.answer(needToken(req, 'app'), req.params.id, req.body),
  );
  app.get(
    '/api/app/events',
    {
      schema: {
        ...sec,
        summary: 'server-sent events: one "approval" event per approval request for the app',
        response: { 200: { type: 'string' }, '4xx': errorSchema },
      },
    },
    async (req, reply) => {
      const token = needToken(req, 'app');
      // A bad token is an ordinary 401 before the stream starts.
      await apps.pending(token);
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
      });
      raw.write(': mitid-sim app events\n\n');
      let stop: (() => void) | undefined;
      const ping = setInterval(() => raw.write(': ping\n\n'), 15_000);
      const end = (): void => {
        clearInterval(ping);
        stop?.();
        stop = undefined;
        streams.delete(end);
        if (!raw.writableEnded) raw.end();
      };
      streams.add(end);
      req.raw.on('close', end);
      try {
        stop = await apps.subscribe(token, (r) => {
          if (!raw.writableEnded) raw.write(`event: approval\ndata: ${JSON.stringify(r)}\n\n`);
        });
        if (raw.writableEnded) end();
      } catch {
        end();
      }
    },
  );
}
