/**
 * The activation flow of seed-activation-guide.txt and the logins after it, as service
 * operations. Every step runs in one store transaction that checks and updates together; a
 * refusal that must be remembered (a wrong code counted, a rate limit hit) is committed first and
 * thrown after, so the count survives the refusal.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { AuthenticatorKind } from '../core/authenticator.js';
import { fromBase64Url, toBase64Url, utf8 } from '../core/bytes.js';
import { OtpVerifier, type OtpBinding, type OtpVerifierOptions } from '../otp/verify.js';
import type {
  AuthenticationResponseJSON,
  RegistrationResponseJSON,
} from '../core/webauthn-json.js';
import {
  AppService,
  type AppPlacement,
  type AppTimings,
  type ApprovalChannel,
  type QrImage,
} from './app.js';
import { enqueue } from './outbox.js';
import { Refusal, refuse, runRefusable } from './refusal.js';
import { mitIdChoices } from './roles.js';
import { checkPassword, checkPhone, userIdKey } from './rules.js';
import { endSessionsOf, findSession, openSession, saveSession, type Session } from './sessions.js';
import type {
  Admin,
  BoundAuthenticator,
  BusinessUser,
  CodeRefusal,
  Organisation,
  Repositories,
} from './store/repositories.js';
import { auditSteps, rateLimitSteps } from './store/repositories.js';
import { hashPassword, verifyPassword } from './store/secrets.js';
import { runSteps, type StepContext, type Steps } from './store/steps.js';
import type { Store } from './store/store.js';
import { PreparedOtpKeys } from './otp-keys.js';
import { checkUserCodeSteps, findIdentity, otpAttempt, type OtpChecks } from './validate.js';
import { assertNoViolations } from './violations.js';
import type { ChipBinding, ChipVerifier } from './webauthn.js';

// ---------------------------------------------------------------------------------------------
// Errors and options.

/** A request limit: at most `limit` in each window of `windowMs`. */
export interface Limit {
  readonly limit: number;
  readonly windowMs: number;
}

/** Rate limits: per client address on every public step, per user on logins and codes. */
export interface RateLimits {
  readonly perAddress: Limit;
  readonly perUser: Limit;
  /** SMS codes sent to one user. */
  readonly sms: Limit;
}

/** The default limits. */
export const defaultRateLimits: RateLimits = Object.freeze({
  perAddress: { limit: 600, windowMs: 60_000 },
  perUser: { limit: 30, windowMs: 60_000 },
  sms: { limit: 5, windowMs: 3_600_000 },
});

/** The relying party the chip registers with. */
export interface RelyingParty {
  readonly id: string;
  readonly name: string;
}

/** What the flow needs besides the store. */
export interface FlowOptions {
  /** Public base URL (activation links and e-mails). */
  readonly baseUrl: string;
  /** The chip's verifier (WebAuthn). */
  readonly chip: ChipVerifier;
  readonly otp?: OtpVerifierOptions;
  readonly limits?: Partial<RateLimits>;
  /** Lifetimes of the app's codes and requests. */
  readonly appTimings?: Partial<AppTimings>;
  /** Session lifetimes; defaults: activation 1 hour, login 10 minutes. */
  readonly activationSessionMs?: number;
  readonly loginSessionMs?: number;
  /** Wrong serial-or-code tries per activation session before it refuses more (default 5). */
  readonly deviceTries?: number;
}

/** Who is calling: the client's address, for the per-address limit. */
export interface Client {
  readonly address: string;
}

// ---------------------------------------------------------------------------------------------
// Shapes.

/** The MitID the user activates with. */
export type MitIdKind = 'private' | 'separate';

/** Steps of an activation, in order (the guide's numbering differs between the two paths). */
export const ActivationSteps = [
  'choose-mitid',
  'user-id',
  'activation-code',
  'phone',
  'phone-code',
  'authenticator',
  'activate-authenticator',
  'password',
  'finish',
  'done',
] as const;
export type ActivationStep = (typeof ActivationSteps)[number];

interface ActivationState {
  readonly citizenId: string;
  readonly codeOk: boolean;
  readonly choice?: MitIdKind;
  readonly mitidUserId?: string;
  readonly phonePending?: string;
  readonly phone?: string;
  readonly authenticator?: AuthenticatorKind;
  /** Chip registration challenge (base64url), single use. */
  readonly challenge?: string;
  readonly boundId?: string;
  readonly passwordHash?: string;
  readonly deviceFailures: number;
  readonly done?: boolean;
}

/** What the activation page shows about a link. */
export interface LinkView {
  readonly organisation: { readonly name: string; readonly cvr: string };
  readonly user: { readonly firstName: string; readonly surname: string };
  readonly needsActivationCode: boolean;
  readonly expiresAt: number;
}

/** Where an activation stands, for the page or client driving it. */
export interface ActivationView {
  readonly step: ActivationStep;
  readonly organisation: { readonly name: string; readonly cvr: string };
  readonly choices: {
    readonly private: boolean;
    readonly separate: boolean;
    readonly authenticators: readonly AuthenticatorKind[];
  };
  readonly needsActivationCode: boolean;
  readonly mitid: MitIdKind | null;
  readonly userId: string | null;
  readonly phone: string | null;
  readonly authenticator: AuthenticatorKind | null;
  readonly expiresAt: number;
}

/** "Log in with your private MitID": the citizen's user ID, a code from their device, the password. */
export interface PrivateLogin {
  readonly userId: string;
  readonly code: string;
  readonly password: string;
}

/** A start waiting for the private MitID app's approval. */
export interface AppStartPending {
  readonly pending: true;
  readonly startToken: string;
  readonly channel?: ApprovalChannel;
  readonly expiresAt: number;
}

/** What the client needs to activate the chosen authenticator. */
export type AuthenticatorPrompt =
  | {
      readonly kind: 'app';
      readonly needs: readonly ['app'];
      readonly userId: string;
      readonly activationCode: string;
      readonly expiresAt: number;
      readonly qr: QrImage;
    }
  | { readonly kind: 'code-display' | 'audio-reader'; readonly needs: readonly ['serial', 'code'] }
  | { readonly kind: 'chip'; readonly needs: readonly ['registration']; readonly options: unknown };

/** Proof for activating the chosen authenticator. */
export type AuthenticatorActivation =
  | { readonly serial: string; readonly code: string }
  | { readonly registration: RegistrationResponseJSON; readonly serial?: string };

/** A finished activation. */
export interface Activated {
  readonly mitid: MitIdKind;
  readonly userId: string | null;
  readonly organisation: { readonly name: string; readonly cvr: string };
  readonly authenticator: AuthenticatorKind | null;
  readonly serial: string | null;
}

/** The steps a login asks for, by the authenticator in use (MITID.md, "login"). */
export type LoginStep = 'code' | 'password' | 'chip' | 'app';

interface LoginState {
  readonly authenticatorId: string | null;
  readonly kind: AuthenticatorKind;
  readonly identity: 'citizen' | 'business-user' | 'none';
  readonly steps: readonly LoginStep[];
  readonly done: readonly LoginStep[];
  readonly challenge?: string;
  /** A start of activation with the private MitID app: which link it is for (keyed hash). */
  readonly linkTokenHash?: string;
}

/** A login begun. */
export interface LoginStarted {
  readonly loginToken: string;
  readonly authenticator: AuthenticatorKind;
  readonly steps: readonly LoginStep[];
  readonly expiresAt: number;
  /** App logins: the QR code and 4-digit code the page shows. */
  readonly channel?: ApprovalChannel;
}

/** A login step's answer: the next step, or the finished login. */
export type LoginProgress =
  | {
      readonly done: false;
      readonly next: LoginStep;
      readonly chipOptions?: unknown;
      readonly pending?: boolean;
    }
  | {
      readonly done: true;
      readonly identity: { readonly mitid: MitIdKind; readonly userId: string };
      readonly organisations: readonly { readonly name: string; readonly cvr: string }[];
    };

const GENERIC_LOGIN =
  'Login failed. Check your user ID, code and password; after repeated failures the authenticator is blocked.';
const GENERIC_PRIVATE =
  'We could not confirm your identity with your private MitID. Check your user ID, code and password.';
const GENERIC_DEVICE =
  'The serial number or the code is not right. Read both off the device again.';

type OtpKind = 'code-display' | 'audio-reader';
const isOtpKind = (k: string): k is OtpKind => k === 'code-display' || k === 'audio-reader';

/** What the store keeps for an OTP device: public parameters (the seed stays in the inventory). */
type StoredOtpBinding = Omit<OtpBinding, 'secret' | 'state'>;

function contactsOf(admins: readonly Admin[]): string {
  return admins.length > 0
    ? admins.map((a) => `${a.name} <${a.email}>`).join(', ')
    : 'MitID Erhverv Support';
}

function orgView(o: Organisation): { name: string; cvr: string } {
  return { name: o.name, cvr: o.cvr };
}

// A stored hash to check passwords against when there is no user, so an unknown user ID costs
// what a known one does.
let decoyHash: Promise<string> | undefined;
function decoy(): Promise<string> {
  decoyHash ??= hashPassword(toBase64Url(new Uint8Array(randomBytes(16))));
  return decoyHash;
}

// ---------------------------------------------------------------------------------------------

/**
 * The MitID Erhverv activation flow and logins over a store. Stateless itself: every request
 * carries its session token, so several service instances can share one PostgreSQL database.
 */
export class ActivationFlow {
  readonly store: Store;
  readonly limits: RateLimits;
  /** The MitID app's side: activations, approval requests, pushes. */
  readonly apps: AppService;
  readonly #o: FlowOptions;
  readonly #otp: Record<OtpKind, OtpVerifier>;
  /** The verifiers with the devices' prepared keys, for the code checks. */
  readonly #checks: OtpChecks;
  readonly #activationMs: number;
  readonly #loginMs: number;
  readonly #deviceTries: number;

  constructor(store: Store, options: FlowOptions) {
    this.store = store;
    this.#o = options;
    this.limits = { ...defaultRateLimits, ...options.limits };
    this.apps = new AppService(store, options.appTimings);
    this.#otp = {
      'code-display': new OtpVerifier('code-display', options.otp),
      'audio-reader': new OtpVerifier('audio-reader', options.otp),
    };
    this.#checks = { verifiers: this.#otp, keys: new PreparedOtpKeys() };
    this.#activationMs = options.activationSessionMs ?? 3_600_000;
    this.#loginMs = options.loginSessionMs ?? 600_000;
    this.#deviceTries = options.deviceTries ?? 5;
  }

  /** The chip verifier in use. */
  get chip(): ChipVerifier {
    return this.#o.chip;
  }

  #run<T>(fn: (tx: Repositories) => Promise<T | Refusal>): Promise<T> {
    return runRefusable(this.store, fn);
  }

  #limit(tx: Repositories, client: Client, userKey?: string): Promise<Refusal | undefined> {
    return runSteps(tx.db, tx.engine, this.#limitSteps(tx, client, userKey));
  }

  /** Counts a request per address (and per user, given `userKey`); a refusal when one is over. */
  *#limitSteps(ctx: StepContext, client: Client, userKey?: string): Steps<Refusal | undefined> {
    // Both counts in one upsert; each is counted whether or not the other is over.
    const [a, u] = yield* rateLimitSteps(ctx, [
      { key: `addr:${client.address}`, ...this.limits.perAddress },
      ...(userKey === undefined ? [] : [{ key: `user:${userKey}`, ...this.limits.perUser }]),
    ]);
    if (a === undefined) throw new Error('the address limit was not counted');
    const over = !a.allowed ? a : u !== undefined && !u.allowed ? u : undefined;
    if (over === undefined) return undefined;
    yield* auditSteps(ctx, {
      actor: { kind: 'anonymous' },
      action: 'rate-limit',
      outcome: 'refused',
      detail: { scope: over === a ? 'address' : 'user' },
    });
    return refuse(429, 'rate-limited', 'Too many requests. Wait a moment and try again.', {
      retryAfterMs: Math.max(0, over.resetAt - ctx.now),
    });
  }

  // -------------------------------------------------------------------------------------------
  // The activation link and page.

  async #linkRefusal(
    tx: Repositories,
    reason: CodeRefusal,
    businessUserId: string | undefined,
  ): Promise<Refusal> {
    await tx.audit.record({
      actor: { kind: 'anonymous' },
      action: 'activation-link.open',
      outcome: 'refused',
      subjectId: businessUserId ?? null,
      detail: { reason },
    });
    if (businessUserId === undefined) {
      return refuse(
        404,
        'link-not-valid',
        'This activation link is not valid. Contact your user administrator; you find them in the activation e-mail.',
      );
    }
    const user = await tx.users.get(businessUserId);
    const admins = await tx.admins.list(user.organisationId, 'user-administrator');
    const why =
      reason === 'expired'
        ? 'This activation link has expired (links are valid for 30 days).'
        : 'This activation link can no longer be used.';
    return refuse(
      410,
      reason === 'expired' ? 'link-expired' : 'link-not-valid',
      `${why} Contact your user administrator, who can send you a new one: ${contactsOf(admins)}.`,
      { contacts: admins.map((a) => ({ name: a.name, email: a.email })) },
    );
  }

  /** What the activation page shows for a link (the organisation's name), without using it. */
  async inspectLink(token: string, client: Client): Promise<LinkView> {
    return this.#run(async (tx) => {
      const limited = await this.#limit(tx, client);
      if (limited) return limited;
      const seen = await tx.links.inspect(token);
      if (!seen.ok) return this.#linkRefusal(tx, seen.reason, seen.businessUserId);
      const user = await tx.users.get(seen.businessUserId);
      const org = await tx.organisations.get(user.organisationId);
      const link = await tx.db
        .selectFrom('activation_links')
        .select('expires_at')
        .where('id', '=', seen.linkId)
        .executeTakeFirstOrThrow();
      return {
        organisation: orgView(org),
        user: { firstName: user.firstName, surname: user.surname },
        needsActivationCode: user.identifiedBy === 'birth-date',
        expiresAt: link.expires_at,
      };
    });
  }

  /**
   * "Start activation": the user logs in with their private MitID, which proves who they are (the
   * CPR numbers are compared as keyed hashes; for a user created by date of birth, the dates of
   * birth, with the activation code to follow). The link is used up only when this succeeds, in
   * the same transaction, so of two concurrent starts exactly one wins.
   */
  async startActivation(
    token: string,
    login: PrivateLogin | { readonly userId: string },
    client: Client,
  ): Promise<{ activationToken: string; view: ActivationView } | AppStartPending> {
    const withCode = 'code' in login && typeof login.code === 'string';
    const before = await this.#run(async (tx) => {
      const limited = await this.#limit(tx, client, `private:${safeKey(login.userId)}`);
      if (limited) return limited;
      const seen = await tx.links.inspect(token);
      if (!seen.ok) return this.#linkRefusal(tx, seen.reason, seen.businessUserId);
      const citizen =
        typeof login.userId === 'string' ? await tx.citizens.byUserId(login.userId) : undefined;
      const hash = citizen === undefined ? null : await tx.citizens.passwordHash(citizen.id);
      return { citizenId: citizen?.id, hash, businessUserId: seen.businessUserId };
    });
    if (!withCode)
      return this.#startWithApp(token, before.citizenId, before.businessUserId, login.userId);
    const passwordOk = await checkPasswordAgainst((login as PrivateLogin).password, before.hash);
    return this.#run(async (tx) => {
      // The link first: a start on a link just used by a concurrent start (a double click) must
      // not touch the citizen's device, or the loser would count as a replayed code.
      const seen = await tx.links.inspect(token);
      if (!seen.ok) return this.#linkRefusal(tx, seen.reason, seen.businessUserId);
      if (before.citizenId === undefined) {
        await this.#startAudit(tx, before.businessUserId, undefined, 'refused', 'unknown-user-id');
        return refuse(401, 'private-login-failed', GENERIC_PRIVATE);
      }
      const proof = await this.#otpLogin(
        tx,
        'citizen',
        before.citizenId,
        (login as PrivateLogin).code,
        passwordOk,
      );
      if (!proof.ok) {
        await this.#startAudit(
          tx,
          before.businessUserId,
          before.citizenId,
          'refused',
          proof.reason,
        );
        return refuse(401, 'private-login-failed', GENERIC_PRIVATE);
      }
      return this.#beginActivation(tx, token, before.citizenId);
    });
  }

  async #startAudit(
    tx: Repositories,
    businessUserId: string,
    citizenId: string | undefined,
    outcome: string,
    reason: string,
  ): Promise<void> {
    const user = await tx.users.get(businessUserId);
    await tx.audit.record({
      actor: { kind: 'citizen', id: citizenId ?? null },
      action: 'activation.start',
      outcome,
      organisationId: user.organisationId,
      subjectId: user.id,
      detail: { reason },
    });
  }

  /**
   * The rest of "start activation" once the private MitID login succeeded: the same person, a user
   * not yet activated, and the link used up in this transaction (of two starts, one wins).
   */
  async #beginActivation(
    tx: Repositories,
    token: string,
    citizenId: string,
  ): Promise<Refusal | { activationToken: string; view: ActivationView }> {
    const seen = await tx.links.inspect(token);
    if (!seen.ok) return this.#linkRefusal(tx, seen.reason, seen.businessUserId);
    const user = await tx.users.get(seen.businessUserId);
    const audit = (outcome: string, reason: string) =>
      this.#startAudit(tx, user.id, citizenId, outcome, reason);
    const same =
      user.identifiedBy === 'cpr'
        ? await tx.users.cprMatchesCitizen(user.id, citizenId)
        : (await tx.citizens.get(citizenId)).birthDate === user.birthDate;
    if (!same) {
      await audit('refused', 'identity-mismatch');
      return refuse(
        403,
        'identity-mismatch',
        'Your private MitID does not belong to the person this activation e-mail was sent to. Contact your user administrator.',
      );
    }
    if (user.status !== 'created') {
      await audit('refused', 'already-activated');
      return refuse(409, 'already-activated', 'You are already activated as a user.');
    }
    const used = await tx.links.consume(token);
    if (!used.ok) {
      await audit('refused', `link-${used.reason}`);
      return refuse(409, 'link-used', 'This activation link has just been used.');
    }
    const state: ActivationState = {
      citizenId,
      codeOk: user.identifiedBy !== 'birth-date',
      deviceFailures: 0,
    };
    const opened = await openSession(tx, 'activation', user.id, state, this.#activationMs);
    await endSessionsOf(tx, 'activation', user.id, opened.id);
    await audit('ok', 'ok');
    return {
      activationToken: opened.token,
      view: await this.#view(tx, user, state, opened.expiresAt),
    };
  }

  /**
   * "Start activation" with a private MitID on the app: an approval request goes to the citizen's
   * apps and the page shows its QR code (or 4-digit code); {@link startActivationApp} finishes it.
   * An unknown user ID gets the same answer and a request nobody can approve.
   */
  async #startWithApp(
    token: string,
    citizenId: string | undefined,
    businessUserId: string,
    userId: string,
  ): Promise<AppStartPending> {
    const made = await this.#run(async (tx) => {
      const apps =
        citizenId === undefined
          ? []
          : (await tx.authenticators.forOwner('citizen', citizenId)).filter(
              (a) => a.kind === 'app',
            );
      const state: LoginState = {
        authenticatorId: apps[0]?.id ?? null,
        kind: 'app',
        identity: apps.length > 0 ? 'citizen' : 'none',
        steps: ['app'],
        done: [],
        linkTokenHash: tx.secrets.hasher.hash('start-link', token),
      };
      const subject = apps.length > 0 && citizenId !== undefined ? citizenId : 'none';
      const opened = await openSession(tx, 'login', subject, state, this.#loginMs);
      const org = await tx.organisations.get((await tx.users.get(businessUserId)).organisationId);
      const req = await this.apps.createRequest(tx, {
        ownerKind: 'citizen',
        ownerId: subject,
        purpose: 'activation-start',
        sessionId: opened.id,
        userId: typeof userId === 'string' ? userId : '',
        text: `Bekræft din identitet for at aktivere dig som bruger hos ${org.name} / Confirm who you are to activate yourself as a user of ${org.name}`,
      });
      return { opened, req, subject };
    });
    if (made.subject !== 'none') this.apps.publish('citizen', made.subject, made.req.request);
    return {
      pending: true,
      startToken: made.opened.token,
      channel: made.req.channel,
      expiresAt: made.req.request.expiresAt,
    };
  }

  /** Polls a "start activation" waiting for the private MitID app: pending, or the activation. */
  async startActivationApp(
    token: string,
    startToken: string,
    client: Client,
  ): Promise<{ activationToken: string; view: ActivationView } | AppStartPending> {
    return this.#run(async (tx) => {
      const s = await this.#loginSession(tx, startToken, client, 'app');
      if (s instanceof Refusal) return s;
      if (
        s.state.linkTokenHash === undefined ||
        !tx.secrets.hasher.matches('start-link', token, s.state.linkTokenHash)
      )
        return refuse(
          404,
          'login-not-found',
          'This start does not belong to this activation link.',
        );
      const d = await this.apps.decisionFor(tx, s.id);
      if (d.state === 'pending')
        return { pending: true as const, startToken, expiresAt: s.expiresAt };
      if (d.state !== 'approve' || s.state.identity !== 'citizen') {
        await saveSession(tx, s.id, s.state, true);
        const seen = await tx.links.inspect(token);
        if (seen.businessUserId !== undefined)
          await this.#startAudit(tx, seen.businessUserId, undefined, 'refused', `app-${d.state}`);
        return refuse(401, 'private-login-failed', GENERIC_PRIVATE);
      }
      await saveSession(tx, s.id, { ...s.state, done: s.state.steps }, true);
      return this.#beginActivation(tx, token, s.subjectId);
    });
  }

  // -------------------------------------------------------------------------------------------
  // The steps.

  async #session(
    tx: Repositories,
    token: string,
    client: Client,
  ): Promise<
    | Refusal
    | { s: Session<ActivationState>; user: BusinessUser; org: Organisation; step: ActivationStep }
  > {
    const limited = await this.#limit(tx, client);
    if (limited) return limited;
    const s = await findSession<ActivationState>(tx, 'activation', token);
    if (s === undefined)
      return refuse(
        404,
        'activation-not-found',
        'This activation has ended or expired. Open the link in the activation e-mail again, or ask your user administrator for a new one.',
      );
    const user = await tx.users.get(s.subjectId);
    const org = await tx.organisations.get(user.organisationId);
    return { s, user, org, step: nextStep(s.state, user) };
  }

  async #view(
    tx: Repositories,
    user: BusinessUser,
    state: ActivationState,
    expiresAt: number,
  ): Promise<ActivationView> {
    const org = await tx.organisations.get(user.organisationId);
    const choices = mitIdChoices(await tx.organisations.settings(org.id), {
      separateAllowedForUser: user.separateAllowed,
    });
    return {
      step: nextStep(state, user),
      organisation: orgView(org),
      choices,
      needsActivationCode: user.identifiedBy === 'birth-date',
      mitid: state.choice ?? null,
      userId: state.mitidUserId ?? null,
      phone: state.phone ?? null,
      authenticator: state.authenticator ?? null,
      expiresAt,
    };
  }

  /** Runs one step: loads the session, checks the step is `expected` (or one of them), then `fn`. */
  async #step<T>(
    token: string,
    client: Client,
    expected: readonly ActivationStep[],
    fn: (
      tx: Repositories,
      ctx: {
        s: Session<ActivationState>;
        user: BusinessUser;
        org: Organisation;
        step: ActivationStep;
      },
    ) => Promise<T | Refusal>,
  ): Promise<T> {
    return this.#run(async (tx) => {
      const ctx = await this.#session(tx, token, client);
      if (ctx instanceof Refusal) return ctx;
      if (!expected.includes(ctx.step))
        return refuse(409, 'wrong-step', `That step is not next; the next step is ${ctx.step}.`, {
          step: ctx.step,
        });
      return fn(tx, ctx);
    });
  }

  async #save(
    tx: Repositories,
    s: Session<ActivationState>,
    user: BusinessUser,
    state: ActivationState,
  ): Promise<ActivationView> {
    await saveSession(tx, s.id, state);
    return this.#view(tx, user, state, s.expiresAt);
  }

  /** Where an activation stands. */
  async activation(token: string, client: Client): Promise<ActivationView> {
    return this.#run(async (tx) => {
      const ctx = await this.#session(tx, token, client);
      if (ctx instanceof Refusal) return ctx;
      return this.#view(tx, ctx.user, ctx.s.state, ctx.s.expiresAt);
    });
  }

  /**
   * Private or separate MitID, offering only what the organisation allows. A user set up for
   * private MitID only who asks for a separate one is told to ask the user administrator.
   */
  async chooseMitId(token: string, mitid: MitIdKind, client: Client): Promise<ActivationView> {
    return this.#step(token, client, ['choose-mitid'], async (tx, { s, user, org }) => {
      const choices = mitIdChoices(await tx.organisations.settings(org.id), {
        separateAllowedForUser: user.separateAllowed,
      });
      const offered = mitid === 'private' ? choices.private : choices.separate;
      await tx.audit.record({
        actor: { kind: 'business-user', id: user.id },
        action: 'activation.choose',
        outcome: offered ? 'ok' : 'refused',
        organisationId: org.id,
        subjectId: user.id,
        detail: { mitid },
      });
      if (!offered) {
        const admins = await tx.admins.list(org.id, 'user-administrator');
        return mitid === 'separate'
          ? refuse(
              403,
              'separate-not-allowed',
              `${org.name} lets you use only your private MitID. If you do not want to, ask your user administrator to allow a separate MitID: ${contactsOf(admins)}.`,
              { contacts: admins.map((a) => ({ name: a.name, email: a.email })) },
            )
          : refuse(403, 'private-not-allowed', `${org.name} does not allow private MitID.`);
      }
      return this.#save(tx, s, user, { ...s.state, choice: mitid });
    });
  }

  /** Separate MitID: the new user ID (MitID's rules, unique across every MitID). */
  async chooseUserId(token: string, userId: string, client: Client): Promise<ActivationView> {
    return this.#step(token, client, ['user-id'], async (tx, { s, user }) => {
      await tx.users.reserveUserId(user.id, userId);
      return this.#save(tx, s, user, { ...s.state, mitidUserId: userId.normalize('NFC') });
    });
  }

  /** The activation code a user created by date of birth got from the administrator: 3 wrong tries block it. */
  async enterActivationCode(token: string, code: string, client: Client): Promise<ActivationView> {
    return this.#step(token, client, ['activation-code'], async (tx, { s, user, org }) => {
      const out = await tx.codes.check(user.id, 'handover', String(code));
      await tx.audit.record({
        actor: { kind: 'business-user', id: user.id },
        action: 'activation-code.check',
        outcome: out.ok ? 'ok' : 'refused',
        organisationId: org.id,
        subjectId: user.id,
        ...(out.ok ? {} : { detail: { reason: out.reason } }),
      });
      if (out.ok) return this.#save(tx, s, user, { ...s.state, codeOk: true });
      const admins = contactsOf(await tx.admins.list(org.id, 'user-administrator'));
      // Only a wrong or malformed guess leaves tries; an expired, used or blocked code needs a new one.
      if ((out.reason !== 'wrong' && out.reason !== 'malformed') || out.triesLeft === 0)
        return refuse(
          423,
          'activation-code-blocked',
          `The activation code is blocked or no longer valid. Ask your user administrator for a new one: ${admins}.`,
        );
      return refuse(
        400,
        'activation-code-wrong',
        `The activation code is not right. ${out.triesLeft} ${out.triesLeft === 1 ? 'try' : 'tries'} left.`,
        { triesLeft: out.triesLeft },
      );
    });
  }

  /** Separate MitID: the phone number; a 6-digit verification code goes to it by SMS. */
  async enterPhone(token: string, phone: string, client: Client): Promise<ActivationView> {
    return this.#step(token, client, ['phone', 'phone-code'], async (tx, { s, user, org }) => {
      const sms = await tx.rateLimits.hit(
        `sms:${user.id}`,
        this.limits.sms.limit,
        this.limits.sms.windowMs,
      );
      if (!sms.allowed) return refuse(429, 'rate-limited', 'Too many SMS codes. Try again later.');
      const started = await tx.phones.start(user.id, phone);
      await enqueue(tx, {
        channel: 'sms',
        to: started.phone,
        text: `MitID Erhverv: din bekræftelseskode er ${started.code}. Your verification code is ${started.code}.`,
        idempotencyKey: `sms-code:${started.id}`,
      });
      await tx.audit.record({
        actor: { kind: 'business-user', id: user.id },
        action: 'phone.verify-start',
        outcome: 'ok',
        organisationId: org.id,
        subjectId: user.id,
      });
      const { phone: _dropped, ...rest } = s.state;
      return this.#save(tx, s, user, { ...rest, phonePending: started.phone });
    });
  }

  /** Separate MitID: the SMS verification code; 3 wrong tries end it (enter the number again for a new one). */
  async enterPhoneCode(token: string, code: string, client: Client): Promise<ActivationView> {
    return this.#step(token, client, ['phone-code'], async (tx, { s, user, org }) => {
      const out = await tx.phones.check(user.id, String(code));
      await tx.audit.record({
        actor: { kind: 'business-user', id: user.id },
        action: 'phone.verify',
        outcome: out.ok ? 'ok' : 'refused',
        organisationId: org.id,
        subjectId: user.id,
        ...(out.ok ? {} : { detail: { reason: out.reason } }),
      });
      if (out.ok) return this.#save(tx, s, user, { ...s.state, phone: out.phone as string });
      return (out.reason !== 'wrong' && out.reason !== 'malformed') || out.triesLeft === 0
        ? refuse(
            423,
            'sms-code-blocked',
            'The verification code is blocked or has expired. Enter your phone number again for a new one.',
          )
        : refuse(
            400,
            'sms-code-wrong',
            `The verification code is not right. ${out.triesLeft} ${out.triesLeft === 1 ? 'try' : 'tries'} left.`,
            { triesLeft: out.triesLeft },
          );
    });
  }

  /**
   * Separate MitID: the authenticator, one of those the organisation offers. For the chip the
   * answer carries WebAuthn creation options with a fresh challenge.
   */
  async chooseAuthenticator(
    token: string,
    kind: AuthenticatorKind,
    client: Client,
    placement: AppPlacement = 'new-device',
  ): Promise<AuthenticatorPrompt> {
    return this.#step(
      token,
      client,
      ['authenticator', 'activate-authenticator'],
      async (tx, { s, user, org }) => {
        if (s.state.boundId !== undefined)
          return refuse(409, 'wrong-step', 'The authenticator is already activated.');
        const choices = mitIdChoices(await tx.organisations.settings(org.id), {
          separateAllowedForUser: user.separateAllowed,
        });
        if (!choices.authenticators.includes(kind))
          return refuse(
            403,
            'authenticator-not-offered',
            `${org.name} does not offer that authenticator. Choose one of: ${choices.authenticators.join(', ')}.`,
          );
        if (kind === 'app') {
          const made = await this.apps.issueActivation(tx, {
            ownerKind: 'business-user',
            ownerId: user.id,
            userId: s.state.mitidUserId ?? '',
            mitid: 'separate',
            placement,
            phone: s.state.phone ?? '',
          });
          await saveSession(tx, s.id, withoutChallenge({ ...s.state, authenticator: kind }));
          await tx.audit.record({
            actor: { kind: 'business-user', id: user.id },
            action: 'app.activation-issue',
            outcome: 'ok',
            organisationId: org.id,
            subjectId: user.id,
            detail: { placement },
          });
          return {
            kind: 'app' as const,
            needs: ['app'] as const,
            userId: s.state.mitidUserId ?? '',
            activationCode: made.code,
            expiresAt: made.expiresAt,
            qr: made.qr,
          };
        }
        if (isOtpKind(kind)) {
          await saveSession(tx, s.id, withoutChallenge({ ...s.state, authenticator: kind }));
          return { kind, needs: ['serial', 'code'] as const };
        }
        const existing = await tx.authenticators.forOwner('business-user', user.id);
        const reg = this.#o.chip.registrationOptions({
          user: {
            id: utf8(user.id),
            name: s.state.mitidUserId ?? user.id,
            displayName: `${user.firstName} ${user.surname}`,
          },
          excludeCredentialIds: existing
            .filter((a) => a.kind === 'chip')
            .map((a) => (a.binding as ChipBinding).credentialId),
        });
        await saveSession(tx, s.id, { ...s.state, authenticator: kind, challenge: reg.challenge });
        return { kind: 'chip' as const, needs: ['registration'] as const, options: reg.options };
      },
    );
  }

  /**
   * Activates the chosen authenticator: a code display or audio reader by its serial and a current
   * code (the seed comes from the token inventory); a chip by a WebAuthn registration answering
   * the challenge.
   */
  async activateAuthenticator(
    token: string,
    input: AuthenticatorActivation,
    client: Client,
  ): Promise<ActivationView> {
    return this.#step(token, client, ['activate-authenticator'], async (tx, { s, user, org }) => {
      const kind = s.state.authenticator as AuthenticatorKind;
      if (kind === 'app')
        return refuse(
          409,
          'wrong-step',
          'The app activates itself: enter the user ID and activation code (or scan the QR code) in the app.',
        );
      if (s.state.deviceFailures >= this.#deviceTries)
        return refuse(
          423,
          'device-tries-used',
          'Too many wrong tries. Start the activation again from the link your administrator resends.',
        );
      const audit = (outcome: string, detail: Record<string, string>, serial?: string) =>
        tx.audit.record({
          actor: { kind: 'business-user', id: user.id },
          action: 'authenticator.activate',
          outcome,
          organisationId: org.id,
          subjectId: user.id,
          serial: serial ?? null,
          detail: { kind, ...detail },
        });
      const fail = async (reason: string, serial?: string): Promise<Refusal> => {
        await audit('refused', { reason }, serial);
        await saveSession(tx, s.id, {
          ...withoutChallenge(s.state),
          deviceFailures: s.state.deviceFailures + 1,
        });
        return refuse(
          400,
          'device-not-accepted',
          kind === 'chip'
            ? 'The chip registration was not accepted. Choose the chip again for a new challenge and press the button.'
            : GENERIC_DEVICE,
        );
      };
      let bound: BoundAuthenticator;
      if (isOtpKind(kind)) {
        if (
          !('code' in input) ||
          typeof input.serial !== 'string' ||
          typeof input.code !== 'string'
        )
          return refuse(400, 'bad-request', 'Give the serial number and the code.');
        const item = await tx.inventory.get(kind, input.serial);
        const mine = await tx.orders.forUser(user.id);
        const usable =
          item !== undefined &&
          (item.organisationId === null || item.organisationId === org.id) &&
          (item.status === 'available' ||
            (item.status === 'ordered' &&
              mine.some((o) => o.inventoryId === item.id && o.status === 'ordered')));
        const key = usable ? await tx.inventory.otpKey(kind, input.serial) : undefined;
        if (item === undefined || key === undefined) return fail('unknown-serial', input.serial);
        const out = await this.#otp[kind].bind(
          {
            key,
            bound: { type: 'otp', serial: input.serial, code: input.code, deviceTime: tx.now },
          },
          { now: tx.now },
        );
        key.secret.fill(0);
        if (!out.verified) return fail(out.reason, input.serial);
        bound = await tx.authenticators.bind({
          ownerKind: 'business-user',
          ownerId: user.id,
          kind,
          serial: item.serial,
          binding: publicOtpBinding(out.binding),
          state: out.binding.state,
        });
        await tx.inventory.setStatus(item.id, 'bound');
        for (const o of mine)
          if (o.inventoryId === item.id && o.status === 'ordered')
            await tx.orders.setStatus(o.id, 'delivered');
      } else {
        if (!('registration' in input) || s.state.challenge === undefined)
          return refuse(400, 'bad-request', 'Choose the chip first, then send its registration.');
        const out = await this.#o.chip.bind(
          { response: input.registration, expectedChallenge: s.state.challenge },
          { now: tx.now },
        );
        if (!out.verified) return fail(out.reason);
        const serial = await chipSerial(tx, input.serial, out.binding, org.id, user.id);
        if (typeof serial !== 'string') return fail(serial.reason, input.serial);
        bound = await tx.authenticators.bind({
          ownerKind: 'business-user',
          ownerId: user.id,
          kind: 'chip',
          serial,
          binding: out.binding,
          state: { counter: out.binding.counter },
        });
      }
      await audit('ok', {}, bound.serial);
      return this.#save(tx, s, user, { ...withoutChallenge(s.state), boundId: bound.id });
    });
  }

  /** Separate MitID with a code display, audio reader or chip: the password (MitID's rules). */
  async choosePassword(token: string, password: string, client: Client): Promise<ActivationView> {
    const pre = await this.#step(token, client, ['password'], (_tx, { s }) =>
      Promise.resolve(s.state.mitidUserId ?? ''),
    );
    assertNoViolations(checkPassword(password, { userId: pre }));
    // scrypt runs outside any transaction: it must not hold the database for its 50-100 ms.
    const hash = await hashPassword(password);
    return this.#step(token, client, ['password'], (tx, { s, user }) =>
      this.#save(tx, s, user, { ...s.state, passwordHash: hash }),
    );
  }

  /** "Finish activation": the user is activated, the session ends, a confirmation e-mail is queued. */
  async finish(token: string, client: Client): Promise<Activated> {
    return this.#step(token, client, ['finish'], async (tx, { s, user, org }) => {
      const st = s.state;
      const separate = st.choice === 'separate';
      const ok = await tx.users.markActivated(user.id, {
        mitidKind: separate ? 'separate' : 'private',
        citizenId: st.citizenId,
        ...(separate && st.mitidUserId !== undefined ? { userId: st.mitidUserId } : {}),
        ...(separate && st.passwordHash !== undefined ? { passwordHash: st.passwordHash } : {}),
        ...(separate && st.phone !== undefined ? { phone: st.phone } : {}),
      });
      if (!ok) return refuse(409, 'already-activated', 'You are already activated as a user.');
      await saveSession(tx, s.id, { ...st, done: true }, true);
      const bound = st.boundId === undefined ? undefined : await tx.authenticators.get(st.boundId);
      await enqueue(tx, {
        channel: 'email',
        to: user.email,
        subject: 'Du er aktiveret i MitID Erhverv / You are activated in MitID Erhverv',
        text: [
          `Hej ${user.firstName} ${user.surname}`,
          '',
          `Du har aktiveret dig som bruger i MitID Erhverv for ${org.name} med ${separate ? 'et separat MitID' : 'dit private MitID'}.`,
          '',
          '---',
          '',
          `You have activated yourself as a user in MitID Erhverv for ${org.name} with ${separate ? 'a separate MitID' : 'your private MitID'}.`,
        ].join('\n'),
        idempotencyKey: `activation-confirmation:${user.id}`,
      });
      await tx.audit.record({
        actor: { kind: 'business-user', id: user.id },
        action: 'activation.finish',
        outcome: 'ok',
        organisationId: org.id,
        subjectId: user.id,
        serial: bound?.serial ?? null,
        detail: { mitid: separate ? 'separate' : 'private', kind: bound?.kind ?? null },
      });
      return {
        mitid: separate ? ('separate' as const) : ('private' as const),
        userId: separate ? (st.mitidUserId ?? null) : null,
        organisation: orgView(org),
        authenticator: bound?.kind ?? null,
        serial: bound?.serial ?? null,
      };
    });
  }

  // -------------------------------------------------------------------------------------------
  // Private MitID identities (citizens) and their devices.

  /**
   * Registers a private MitID (a citizen) with a password and a code display or audio reader
   * from the token inventory, bound by its serial and a current code. For test set-ups and the
   * demo: the real private MitID lives elsewhere.
   */
  async registerCitizen(input: {
    cpr: string;
    name: string;
    userId: string;
    password: string;
    device: { kind: OtpKind; serial: string; code: string };
  }): Promise<{ citizenId: string }> {
    assertNoViolations(checkPassword(input.password, { userId: input.userId }));
    const hash = await hashPassword(input.password);
    return this.#run(async (tx) => {
      const citizen = await tx.citizens.create({
        cpr: input.cpr,
        name: input.name,
        userId: input.userId,
        passwordHash: hash,
      });
      const { kind, serial, code } = input.device;
      if (!isOtpKind(kind))
        return refuse(400, 'bad-kind', 'a private MitID here uses a code display or audio reader');
      const item = await tx.inventory.get(kind, serial);
      const key =
        item?.status === 'available' ? await tx.inventory.otpKey(kind, serial) : undefined;
      if (item === undefined || key === undefined)
        return refuse(400, 'device-not-accepted', GENERIC_DEVICE);
      const out = await this.#otp[kind].bind(
        { key, bound: { type: 'otp', serial, code, deviceTime: tx.now } },
        { now: tx.now },
      );
      key.secret.fill(0);
      if (!out.verified) return refuse(400, 'device-not-accepted', GENERIC_DEVICE);
      await tx.authenticators.bind({
        ownerKind: 'citizen',
        ownerId: citizen.id,
        kind,
        serial,
        binding: publicOtpBinding(out.binding),
        state: out.binding.state,
      });
      await tx.inventory.setStatus(item.id, 'bound');
      await tx.audit.record({
        actor: { kind: 'system' },
        action: 'citizen.register',
        outcome: 'ok',
        subjectId: citizen.id,
        serial,
        detail: { kind },
      });
      return { citizenId: citizen.id };
    });
  }

  /**
   * Registers a private MitID (a citizen) whose authenticator will be the MitID app: answers the
   * activation code (and its QR code) the app activates with; the temporary PIN goes to `phone`.
   */
  async registerCitizenWithApp(input: {
    cpr: string;
    name: string;
    userId: string;
    phone: string;
  }): Promise<{ citizenId: string; activationCode: string; qr: QrImage }> {
    return this.#run(async (tx) => {
      assertNoViolations(checkPhone(input.phone));
      const citizen = await tx.citizens.create({
        cpr: input.cpr,
        name: input.name,
        userId: input.userId,
      });
      const made = await this.apps.issueActivation(tx, {
        ownerKind: 'citizen',
        ownerId: citizen.id,
        userId: citizen.userId,
        mitid: 'private',
        placement: 'new-device',
        phone: input.phone,
      });
      await tx.audit.record({
        actor: { kind: 'system' },
        action: 'citizen.register',
        outcome: 'ok',
        subjectId: citizen.id,
        detail: { kind: 'app' },
      });
      return { citizenId: citizen.id, activationCode: made.code, qr: made.qr };
    });
  }

  /**
   * Checks a code of an owner's code display or audio reader, with lockout: refused unchecked
   * while blocked; counted otherwise (3rd wrong in a row blocks for a while, continued failures
   * for good). `passwordOk` false makes the attempt fail even with a right code (the code is
   * still used up). Runs inside the caller's transaction.
   */
  async #otpLogin(
    tx: Repositories,
    ownerKind: 'citizen' | 'business-user',
    ownerId: string,
    code: unknown,
    passwordOk: boolean,
    authenticatorId?: string,
    partial = false,
  ): Promise<{ ok: true; serial: string } | { ok: false; reason: string; serial?: string }> {
    return otpAttempt(tx, this.#checks, {
      ownerKind,
      ownerId,
      code,
      passwordOk,
      partial,
      ...(authenticatorId === undefined ? {} : { authenticatorId }),
    });
  }

  // -------------------------------------------------------------------------------------------
  // Logins after activation.

  /**
   * Starts a login with a MitID user ID (a separate MitID, or a private one): says which
   * authenticator and which steps follow. An unknown user ID gets a session like any other that
   * fails at the end, so the answer does not tell whether the user ID exists.
   */
  async startLogin(
    input: { userId: string; authenticator?: AuthenticatorKind },
    client: Client,
  ): Promise<LoginStarted> {
    const out = await this.#run(async (tx) => {
      const limited = await this.#limit(tx, client, safeKey(input.userId));
      if (limited) return limited;
      const who = await identityOf(tx, input.userId);
      const devices = who === undefined ? [] : await tx.authenticators.forOwner(who.kind, who.id);
      const pick =
        devices.find((d) => input.authenticator === undefined || d.kind === input.authenticator) ??
        undefined;
      const kind: AuthenticatorKind = pick?.kind ?? input.authenticator ?? 'code-display';
      const steps: LoginStep[] =
        kind === 'chip' ? ['password', 'chip'] : kind === 'app' ? ['app'] : ['code', 'password'];
      const state: LoginState = {
        authenticatorId: pick?.id ?? null,
        kind,
        identity: who === undefined || pick === undefined ? 'none' : who.kind,
        steps,
        done: [],
      };
      const subject = who === undefined || pick === undefined ? 'none' : who.id;
      const opened = await openSession(tx, 'login', subject, state, this.#loginMs);
      const started = {
        loginToken: opened.token,
        authenticator: kind,
        steps,
        expiresAt: opened.expiresAt,
      };
      if (kind !== 'app') return { started };
      const req = await this.apps.createRequest(tx, {
        ownerKind: who?.kind ?? 'business-user',
        ownerId: subject,
        purpose: 'login',
        sessionId: opened.id,
        userId: typeof input.userId === 'string' ? input.userId : '',
        text: `Log på MitID Erhverv som ${String(input.userId)} / Log in to MitID Erhverv as ${String(input.userId)}`,
      });
      return {
        started: { ...started, channel: req.channel },
        req,
        who: subject === 'none' ? undefined : who,
      };
    });
    if ('req' in out && out.req !== undefined && out.who !== undefined)
      this.apps.publish(out.who.kind, out.who.id, out.req.request);
    return out.started;
  }

  /**
   * Login with the app: pending until an app of the identity answers the request (approved with
   * its PIN or biometrics, channel and signature checked), then the finished login.
   */
  async loginApp(token: string, client: Client): Promise<LoginProgress> {
    return this.#run(async (tx) => {
      const s = await this.#loginSession(tx, token, client, 'app');
      if (s instanceof Refusal) return s;
      if (s.state.identity === 'none' || s.state.authenticatorId === null) {
        const d = await this.apps.decisionFor(tx, s.id);
        if (d.state === 'pending')
          return { done: false as const, next: 'app' as const, pending: true };
        return this.#loginFailed(tx, s, 'unknown-user-id');
      }
      const d = await this.apps.decisionFor(tx, s.id);
      if (d.state === 'pending')
        return { done: false as const, next: 'app' as const, pending: true };
      if (d.state !== 'approve') return this.#loginFailed(tx, s, `app-${d.state}`, d.appId);
      return this.#loginDone(tx, s, d.appId ?? '');
    });
  }

  async #loginSession(
    tx: Repositories,
    token: string,
    client: Client,
    step: LoginStep,
  ): Promise<Refusal | Session<LoginState>> {
    const s = await findSession<LoginState>(tx, 'login', token);
    const limited = await this.#limit(
      tx,
      client,
      s === undefined ? undefined : `login:${s.subjectId}`,
    );
    if (limited) return limited;
    if (s === undefined)
      return refuse(404, 'login-not-found', 'This login has ended or expired. Start again.');
    const next = s.state.steps.find((x) => !s.state.done.includes(x));
    if (next !== step)
      return refuse(
        409,
        'wrong-step',
        `That step is not next; the next step is ${next ?? 'none'}.`,
        {
          step: next ?? null,
        },
      );
    return s;
  }

  async #loginFailed(
    tx: Repositories,
    s: Session<LoginState>,
    reason: string,
    serial?: string,
  ): Promise<Refusal> {
    await saveSession(tx, s.id, s.state, true);
    await tx.audit.record({
      actor: {
        kind: s.state.identity === 'none' ? 'anonymous' : s.state.identity,
        id: s.subjectId === 'none' ? null : s.subjectId,
      },
      action: 'login',
      outcome: 'refused',
      subjectId: s.subjectId === 'none' ? null : s.subjectId,
      serial: serial ?? null,
      detail: { kind: s.state.kind, reason },
    });
    return refuse(401, 'login-failed', GENERIC_LOGIN);
  }

  async #loginDone(
    tx: Repositories,
    s: Session<LoginState>,
    serial: string,
  ): Promise<LoginProgress> {
    await saveSession(tx, s.id, { ...s.state, done: s.state.steps }, true);
    const identity = s.state.identity as 'citizen' | 'business-user';
    let userId: string;
    let orgIds: string[];
    if (identity === 'business-user') {
      const user = await tx.users.get(s.subjectId);
      userId = user.userId ?? '';
      orgIds = await tx.shares.organisationsOf(user.id);
    } else {
      const c = await tx.citizens.get(s.subjectId);
      userId = c.userId;
      const rows = await tx.db
        .selectFrom('business_users')
        .select('organisation_id')
        .where('citizen_id', '=', c.id)
        .where('mitid_kind', '=', 'private')
        .where('status', '=', 'activated')
        .execute();
      orgIds = rows.map((r) => r.organisation_id);
    }
    const organisations = await Promise.all(
      orgIds.map(async (id) => orgView(await tx.organisations.get(id))),
    );
    await tx.audit.record({
      actor: { kind: identity, id: s.subjectId },
      action: 'login',
      outcome: 'ok',
      subjectId: s.subjectId,
      serial,
      detail: { kind: s.state.kind },
    });
    return {
      done: true,
      identity: { mitid: identity === 'business-user' ? 'separate' : 'private', userId },
      organisations,
    };
  }

  /** Login with a code display or audio reader: the code (checked with replay refusal and lockout). */
  async loginCode(token: string, code: string, client: Client): Promise<LoginProgress> {
    return this.#run(async (tx) => {
      const s = await this.#loginSession(tx, token, client, 'code');
      if (s instanceof Refusal) return s;
      if (s.state.identity === 'none' || s.state.authenticatorId === null)
        return this.#loginFailed(tx, s, 'unknown-user-id');
      const out = await this.#otpLogin(
        tx,
        s.state.identity,
        s.subjectId,
        code,
        true,
        s.state.authenticatorId,
        true,
      );
      if (!out.ok) return this.#loginFailed(tx, s, out.reason, out.serial);
      await saveSession(tx, s.id, { ...s.state, done: [...s.state.done, 'code'] });
      return { done: false as const, next: 'password' as const };
    });
  }

  /**
   * The password step: after the code (code display, audio reader), or first (chip: the answer
   * then carries WebAuthn request options with a fresh challenge). A wrong password counts as a
   * failed attempt on the authenticator.
   */
  async loginPassword(token: string, password: string, client: Client): Promise<LoginProgress> {
    const pre = await this.#run(async (tx) => {
      const s = await this.#loginSession(tx, token, client, 'password');
      if (s instanceof Refusal) return s;
      const hash =
        s.state.identity === 'business-user'
          ? await tx.users.passwordHash(s.subjectId)
          : s.state.identity === 'citizen'
            ? await tx.citizens.passwordHash(s.subjectId)
            : null;
      return { hash };
    });
    const ok = await checkPasswordAgainst(password, pre.hash);
    return this.#run(async (tx) => {
      const s = await this.#loginSession(tx, token, client, 'password');
      if (s instanceof Refusal) return s;
      if (s.state.identity === 'none' || s.state.authenticatorId === null)
        return this.#loginFailed(tx, s, 'unknown-user-id');
      const a = await tx.authenticators.get(s.state.authenticatorId);
      const status = await tx.authenticators.lockoutStatus(a.id);
      if (status !== 'open') return this.#loginFailed(tx, s, status, a.serial);
      if (!ok) {
        await tx.authenticators.recordAttempt(a.id, false, a.state);
        return this.#loginFailed(tx, s, 'wrong-password', a.serial);
      }
      if (s.state.kind !== 'chip') {
        // Code and password both right: only now the failure counters start again.
        await tx.authenticators.recordAttempt(a.id, true, a.state);
        return this.#loginDone(tx, s, a.serial);
      }
      const req = this.#o.chip.authenticationOptions({
        allowCredentialIds: [(a.binding as ChipBinding).credentialId],
      });
      await saveSession(tx, s.id, {
        ...s.state,
        done: [...s.state.done, 'password'],
        challenge: req.challenge,
      });
      return { done: false as const, next: 'chip' as const, chipOptions: req.options };
    });
  }

  /** Login with the chip: the WebAuthn assertion answering the challenge (counter must rise). */
  async loginChip(
    token: string,
    assertion: AuthenticationResponseJSON,
    client: Client,
  ): Promise<LoginProgress> {
    return this.#run(async (tx) => {
      const s = await this.#loginSession(tx, token, client, 'chip');
      if (s instanceof Refusal) return s;
      if (s.state.authenticatorId === null || s.state.challenge === undefined)
        return this.#loginFailed(tx, s, 'unknown-user-id');
      const a = await tx.authenticators.get<ChipBinding>(s.state.authenticatorId);
      const status = await tx.authenticators.lockoutStatus(a.id);
      if (status !== 'open') return this.#loginFailed(tx, s, status, a.serial);
      const out = await this.#o.chip.verify(
        a.binding,
        { response: assertion, expectedChallenge: s.state.challenge },
        { now: tx.now },
      );
      await tx.authenticators.recordAttempt(a.id, out.verified, { counter: out.binding.counter });
      if (out.verified) {
        await tx.db
          .updateTable('authenticators')
          .set({ binding: JSON.stringify(out.binding) })
          .where('id', '=', a.id)
          .execute();
        return this.#loginDone(tx, s, a.serial);
      }
      return this.#loginFailed(tx, s, out.reason, a.serial);
    });
  }

  /**
   * Checks one code of a user's code display or audio reader (a relying party's "validate" call,
   * without the password step): the same replay refusal, lockout and rate limits as a login.
   */
  async validateCode(
    input: { userId: string; code: string },
    client: Client,
  ): Promise<{ verified: boolean }> {
    // Steps, so that on SQLite the whole check runs in one turn (the relying parties' hot path).
    const out = await this.store.steps((ctx) => this.#validateSteps(ctx, input, client));
    if (out instanceof Refusal) throw out.error;
    return out;
  }

  *#validateSteps(
    ctx: StepContext,
    input: { userId: string; code: string },
    client: Client,
  ): Steps<{ verified: boolean } | Refusal> {
    const limited = yield* this.#limitSteps(ctx, client, safeKey(input.userId));
    if (limited) return limited;
    // Whose user ID it is and their device in one lookup; the same check as #otpLogin's.
    const { who, out } = yield* checkUserCodeSteps(ctx, this.#checks, input.userId, input.code);
    if (!out.ok)
      yield* auditSteps(ctx, {
        actor: { kind: who?.kind ?? 'anonymous', id: who?.id ?? null },
        action: 'validate',
        outcome: 'refused',
        subjectId: who?.id ?? null,
        serial: 'serial' in out ? (out.serial ?? null) : null,
        detail: { reason: out.reason },
      });
    return { verified: out.ok };
  }
}

// ---------------------------------------------------------------------------------------------

function nextStep(s: ActivationState, user: BusinessUser): ActivationStep {
  if (s.done === true || user.status !== 'created') return 'done';
  if (s.choice === undefined) return 'choose-mitid';
  if (s.choice === 'private') return s.codeOk ? 'finish' : 'activation-code';
  if (s.mitidUserId === undefined) return 'user-id';
  if (!s.codeOk) return 'activation-code';
  if (s.phone === undefined) return s.phonePending === undefined ? 'phone' : 'phone-code';
  if (s.authenticator === undefined) return 'authenticator';
  if (s.boundId === undefined) return 'activate-authenticator';
  if (s.authenticator !== 'app' && s.passwordHash === undefined) return 'password';
  return 'finish';
}

function withoutChallenge(s: ActivationState): ActivationState {
  const { challenge: _c, ...rest } = s;
  return rest;
}

function publicOtpBinding(b: OtpBinding): StoredOtpBinding {
  const { secret: _s, state: _st, ...rest } = b;
  return rest;
}

/** A key for per-user limits that never holds the typed text itself (it may be a mistyped password). */
function safeKey(userId: unknown): string {
  const text = typeof userId === 'string' ? userIdKeyOrRaw(userId) : '';
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

function userIdKeyOrRaw(userId: string): string {
  try {
    return userIdKey(userId);
  } catch {
    return userId;
  }
}

async function identityOf(
  tx: Repositories,
  userId: unknown,
): Promise<{ kind: 'citizen' | 'business-user'; id: string } | undefined> {
  return findIdentity(tx, userId);
}

async function checkPasswordAgainst(password: unknown, hash: string | null): Promise<boolean> {
  const typed = typeof password === 'string' && password.length <= 256 ? password : '';
  const ok = await verifyPassword(typed, hash ?? (await decoy()));
  return ok && hash !== null;
}

/**
 * The serial a chip is bound under: an inventory chip's serial when given (it must be available,
 * or ordered for this user), else one derived from the credential id.
 */
async function chipSerial(
  tx: Repositories,
  serial: string | undefined,
  binding: ChipBinding,
  organisationId: string,
  businessUserId: string,
): Promise<string | { reason: string }> {
  if (serial === undefined) {
    const id = fromBase64Url(binding.credentialId);
    return `fido-${createHash('sha256').update(id).digest('hex').slice(0, 32)}`;
  }
  const item = await tx.inventory.get('chip', serial);
  if (
    item === undefined ||
    (item.organisationId !== null && item.organisationId !== organisationId)
  )
    return { reason: 'unknown-serial' };
  const orders = await tx.orders.forUser(businessUserId);
  const mine = orders.find((o) => o.inventoryId === item.id && o.status === 'ordered');
  if (item.status !== 'available' && mine === undefined) return { reason: 'serial-not-available' };
  await tx.inventory.setStatus(item.id, 'bound');
  if (mine !== undefined) await tx.orders.setStatus(mine.id, 'delivered');
  return item.serial;
}
