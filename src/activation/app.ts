/**
 * The service side of the MitID app (docs/app-protocol.md): app activation (activation code,
 * temporary PIN by SMS, the app's key and PIN), approval requests pushed to apps, and their
 * verification (signature over the exact request, single use, expiry, channel binding, PIN).
 */
import { createPublicKey, randomBytes, randomInt, randomUUID, verify } from 'node:crypto';
import { EventEmitter } from 'node:events';
import QRCode from 'qrcode';
import { fromBase64Url, toBase64Url, utf8 } from '../core/bytes.js';
import { enqueue } from './outbox.js';
import { Refusal, refuse, runRefusable } from './refusal.js';
import {
  checkAppPin,
  checkPhone,
  normaliseActivationCode,
  normalisePhone,
  userIdKey,
} from './rules.js';
import { saveSession } from './sessions.js';
import { newActivationCode, newNumericCode } from './store/repositories.js';
import type { BoundAuthenticator, Repositories } from './store/repositories.js';
import { hashPassword, newToken, verifyPassword } from './store/secrets.js';
import type { Store } from './store/store.js';
import { assertNoViolations } from './violations.js';

/** Where the separate MitID's app is: a phone of its own, or the phone with the private MitID. */
export type AppPlacement = 'new-device' | 'private-phone';

/** What the store keeps for a bound app. */
export interface AppBinding {
  readonly appId: string;
  /** SPKI DER, base64url. */
  readonly publicKey: string;
  /** scrypt hash of the 6-digit PIN. */
  readonly pinHash: string;
  readonly biometrics: boolean;
  readonly placement: AppPlacement;
  readonly mitid: 'private' | 'separate';
}

/** A QR code as the page shows it. */
export interface QrImage {
  readonly text: string;
  /** PNG, base64. */
  readonly png: string;
}

/** What an app is asked to approve. */
export interface ApprovalRequest {
  readonly requestId: string;
  /** base64url of the exact bytes the app signs. */
  readonly request: string;
  readonly display: { readonly service: string; readonly action: string; readonly text: string };
  readonly expiresAt: number;
}

/** The channel the page that asked shows: a QR code and, as the alternative, a 4-digit code. */
export interface ApprovalChannel {
  readonly qr: QrImage;
  readonly code: string;
}

/** Lifetimes and counts of the app's codes. */
export interface AppTimings {
  /** The activation code shown on the activation page: 30 minutes (MITID.md). */
  readonly activationCodeMs: number;
  /** The temporary PIN sent by SMS: 10 minutes. */
  readonly temporaryPinMs: number;
  /** An approval request: 2 minutes. */
  readonly requestMs: number;
}

/** The defaults. */
export const defaultAppTimings: AppTimings = Object.freeze({
  activationCodeMs: 30 * 60_000,
  temporaryPinMs: 10 * 60_000,
  requestMs: 2 * 60_000,
});

const TRIES = 3;
const APP_ID = /^[A-Za-z0-9_-]{8,64}$/;

async function qr(text: string): Promise<QrImage> {
  const png = await QRCode.toBuffer(text, { type: 'png', errorCorrectionLevel: 'M', margin: 2 });
  return { text, png: png.toString('base64') };
}

function maskPhone(e164: string): string {
  return `${e164.slice(0, 3)} •• •• •• ${e164.slice(-2)}`;
}

function ownerKey(kind: string, id: string): string {
  return `${kind}:${id}`;
}

/** The text an app signs to prove it holds the key it registers. */
export function activationTranscript(
  activationId: string,
  appId: string,
  publicKey: string,
): string {
  return `mitid-sim app activation v1\n${activationId}\n${appId}\n${publicKey}`;
}

/** The text an app signs to answer an approval request. */
export function approvalTranscript(
  decision: 'approve' | 'reject',
  channel: { type: 'qr' | 'code'; value: string },
  request: string,
): string {
  return `mitid-sim app approval v1\n${decision}\n${channel.type}:${channel.value}\n${request}`;
}

function verifySignature(publicKeyB64: string, text: string, signatureB64: string): boolean {
  try {
    const key = createPublicKey({
      key: Buffer.from(fromBase64Url(publicKeyB64)),
      format: 'der',
      type: 'spki',
    });
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
      return false;
    return verify('sha256', utf8(text), key, fromBase64Url(signatureB64));
  } catch {
    return false;
  }
}

/**
 * The app's side of the service. Pushes go through an in-process hub to the event streams of
 * this instance; every stream also re-reads the database, so apps connected to another instance
 * sharing the PostgreSQL database see their requests too.
 */
export class AppService {
  readonly store: Store;
  readonly timings: AppTimings;
  readonly #hub = new EventEmitter();

  constructor(store: Store, timings: Partial<AppTimings> = {}) {
    this.store = store;
    this.timings = { ...defaultAppTimings, ...timings };
    this.#hub.setMaxListeners(0);
  }

  // -------------------------------------------------------------------------------------------
  // Activation.

  /**
   * Issues an app activation for an identity (inside the caller's transaction): an activation
   * code (30 minutes, 3 tries) and the QR code that carries it with the user ID.
   */
  async issueActivation(
    tx: Repositories,
    input: {
      ownerKind: 'citizen' | 'business-user';
      ownerId: string;
      userId: string;
      mitid: 'private' | 'separate';
      placement: AppPlacement;
      phone: string;
    },
  ): Promise<{ code: string; expiresAt: number; qr: QrImage }> {
    const key = userIdKey(input.userId);
    await tx.db
      .updateTable('app_activations')
      .set({ superseded_at: tx.now })
      .where('user_id_key', '=', key)
      .where('completed_at', 'is', null)
      .where('superseded_at', 'is', null)
      .execute();
    const raw = newActivationCode();
    const code = `${raw.slice(0, 4)}-${raw.slice(4)}`;
    const id = randomUUID();
    const expiresAt = tx.now + this.timings.activationCodeMs;
    await tx.db
      .insertInto('app_activations')
      .values({
        id,
        owner_kind: input.ownerKind,
        owner_id: input.ownerId,
        user_id_key: key,
        mitid: input.mitid,
        placement: input.placement,
        phone: normalisePhone(input.phone) ?? input.phone,
        code_hash: tx.secrets.hasher.hash(`app-code:${id}`, raw),
        code_tries: 0,
        token_hash: null,
        pin_hash: null,
        pin_tries: 0,
        pin_expires_at: null,
        pin_ok_at: null,
        created_at: tx.now,
        expires_at: expiresAt,
        blocked_at: null,
        completed_at: null,
        superseded_at: null,
      })
      .execute();
    const text = `mitid-sim://activate?userId=${encodeURIComponent(input.userId)}&code=${encodeURIComponent(code)}`;
    return { code, expiresAt, qr: await qr(text) };
  }

  /** Step 2: user ID and activation code; the temporary PIN goes out by SMS. */
  async startActivation(input: {
    userId: string;
    activationCode: string;
  }): Promise<{ activationId: string; activationToken: string; phone: string; expiresAt: number }> {
    return runRefusable(this.store, async (tx) => {
      const row = await tx.db
        .selectFrom('app_activations')
        .selectAll()
        .where('user_id_key', '=', safeUserIdKey(input.userId))
        .where('superseded_at', 'is', null)
        .where('completed_at', 'is', null)
        .orderBy('created_at', 'desc')
        .executeTakeFirst();
      const wrong = (left: number) =>
        refuse(
          400,
          'activation-code-wrong',
          `The user ID or the activation code is not right. ${left} ${left === 1 ? 'try' : 'tries'} left.`,
          { triesLeft: left },
        );
      if (row === undefined) return wrong(TRIES - 1);
      if (row.blocked_at !== null || row.code_tries >= TRIES)
        return refuse(
          423,
          'activation-code-blocked',
          'The activation code is blocked after 3 wrong tries. Choose the app again on the activation page for a new one.',
        );
      if (tx.now >= row.expires_at)
        return refuse(410, 'activation-code-expired', 'The activation code has expired.');
      const typed = normaliseActivationCode(String(input.activationCode)) ?? '';
      if (!tx.secrets.hasher.matches(`app-code:${row.id}`, typed, row.code_hash)) {
        const tries = row.code_tries + 1;
        await tx.db
          .updateTable('app_activations')
          .set({ code_tries: tries, blocked_at: tries >= TRIES ? tx.now : null })
          .where('id', '=', row.id)
          .execute();
        await this.#audit(tx, row.owner_kind, row.owner_id, 'app.activation-code', 'refused', {
          reason: tries >= TRIES ? 'blocked' : 'wrong',
        });
        return tries >= TRIES
          ? refuse(
              423,
              'activation-code-blocked',
              'The activation code is blocked after 3 wrong tries. Choose the app again on the activation page for a new one.',
            )
          : wrong(TRIES - tries);
      }
      if (row.token_hash !== null)
        return refuse(409, 'activation-started', 'This activation code has already been used.');
      const token = newToken(32);
      const pin = newNumericCode(8);
      const pinExpires = tx.now + this.timings.temporaryPinMs;
      await tx.db
        .updateTable('app_activations')
        .set({
          token_hash: tx.secrets.hasher.hash('app-activation', token),
          pin_hash: tx.secrets.hasher.hash(`app-temporary-pin:${row.id}`, pin),
          pin_tries: 0,
          pin_expires_at: pinExpires,
        })
        .where('id', '=', row.id)
        .where('token_hash', 'is', null)
        .execute();
      await enqueue(tx, {
        channel: 'sms',
        to: row.phone,
        text: `MitID: din midlertidige PIN-kode er ${pin}. Your temporary PIN is ${pin}.`,
        idempotencyKey: `app-temporary-pin:${row.id}`,
      });
      await this.#audit(tx, row.owner_kind, row.owner_id, 'app.activation-code', 'ok');
      return {
        activationId: row.id,
        activationToken: token,
        phone: maskPhone(row.phone),
        expiresAt: pinExpires,
      };
    });
  }

  async #activation(tx: Repositories, token: string) {
    const row = await tx.db
      .selectFrom('app_activations')
      .selectAll()
      .where('token_hash', '=', tx.secrets.hasher.hash('app-activation', token))
      .executeTakeFirst();
    if (row === undefined || row.completed_at !== null || row.superseded_at !== null)
      return refuse(
        404,
        'app-activation-not-found',
        'This app activation has ended. Start again with the activation code.',
      );
    return row;
  }

  /** Step 3: the 8-digit temporary PIN from the SMS (3 tries, 10 minutes). */
  async temporaryPin(token: string, typed: string): Promise<{ next: 'pin' }> {
    return runRefusable(this.store, async (tx) => {
      const row = await this.#activation(tx, token);
      if (row instanceof Refusal) return row;
      if (row.pin_ok_at !== null) return { next: 'pin' as const };
      if (row.pin_tries >= TRIES)
        return refuse(
          423,
          'temporary-pin-blocked',
          'The temporary PIN is blocked after 3 wrong tries.',
        );
      if (row.pin_expires_at === null || tx.now >= row.pin_expires_at)
        return refuse(
          410,
          'temporary-pin-expired',
          'The temporary PIN has expired. Start the app activation again for a new one.',
        );
      const ok =
        row.pin_hash !== null &&
        tx.secrets.hasher.matches(
          `app-temporary-pin:${row.id}`,
          String(typed).trim(),
          row.pin_hash,
        );
      if (!ok) {
        const tries = row.pin_tries + 1;
        await tx.db
          .updateTable('app_activations')
          .set({ pin_tries: tries })
          .where('id', '=', row.id)
          .execute();
        await this.#audit(tx, row.owner_kind, row.owner_id, 'app.temporary-pin', 'refused', {
          reason: tries >= TRIES ? 'blocked' : 'wrong',
        });
        return tries >= TRIES
          ? refuse(
              423,
              'temporary-pin-blocked',
              'The temporary PIN is blocked after 3 wrong tries.',
            )
          : refuse(
              400,
              'temporary-pin-wrong',
              `The temporary PIN is not right. ${TRIES - tries} ${TRIES - tries === 1 ? 'try' : 'tries'} left.`,
              { triesLeft: TRIES - tries },
            );
      }
      await tx.db
        .updateTable('app_activations')
        .set({ pin_ok_at: tx.now })
        .where('id', '=', row.id)
        .execute();
      return { next: 'pin' as const };
    });
  }

  /**
   * Step 4: the app's key (with a signature proving it holds it), its PIN (stored as an scrypt
   * hash), biometrics and notifications. Binds the app; for a business user in the middle of an
   * activation, the activation's next step becomes "finish".
   */
  async complete(
    token: string,
    body: {
      appId: string;
      publicKey: string;
      pin: string;
      biometrics: boolean;
      notifications: boolean;
      proof: string;
    },
  ): Promise<{ appId: string; appToken: string; userId: string }> {
    assertNoViolations(checkAppPin(body.pin));
    if (body.notifications !== true)
      throw refuse(
        400,
        'notifications-required',
        'Allow notifications: login requests reach the app as notifications.',
      ).error;
    if (typeof body.appId !== 'string' || !APP_ID.test(body.appId))
      throw refuse(400, 'bad-request', 'appId must be 8-64 of A-Z a-z 0-9 _ -').error;
    const pre = await runRefusable(this.store, async (tx) => {
      const row = await this.#activation(tx, token);
      if (row instanceof Refusal) return row;
      return row;
    });
    if (pre.pin_ok_at === null)
      throw refuse(409, 'wrong-step', 'Enter the temporary PIN from the SMS first.').error;
    if (body.biometrics && pre.placement === 'private-phone' && pre.mitid === 'separate')
      throw refuse(
        400,
        'biometrics-not-allowed',
        'Biometrics cannot be used for a separate MitID in the app on your private phone.',
      ).error;
    if (
      !verifySignature(
        body.publicKey,
        activationTranscript(pre.id, body.appId, body.publicKey),
        body.proof,
      )
    )
      throw refuse(
        400,
        'bad-proof',
        'The app could not prove it holds its key (a P-256 key and a signature over the activation).',
      ).error;
    const pinHash = await hashPassword(body.pin);
    return runRefusable(this.store, async (tx) => {
      const row = await this.#activation(tx, token);
      if (row instanceof Refusal) return row;
      const binding: AppBinding = {
        appId: body.appId,
        publicKey: body.publicKey,
        pinHash,
        biometrics: body.biometrics,
        placement: row.placement as AppPlacement,
        mitid: row.mitid as 'private' | 'separate',
      };
      const bound = await tx.authenticators.bind({
        ownerKind: row.owner_kind as 'citizen' | 'business-user',
        ownerId: row.owner_id,
        kind: 'app',
        serial: body.appId,
        binding,
        state: {},
      });
      const appToken = newToken(32);
      await tx.db
        .insertInto('app_tokens')
        .values({
          token_hash: tx.secrets.hasher.hash('app-token', appToken),
          authenticator_id: bound.id,
          created_at: tx.now,
        })
        .execute();
      await tx.db
        .updateTable('app_activations')
        .set({ completed_at: tx.now })
        .where('id', '=', row.id)
        .execute();
      let userId = '';
      if (row.owner_kind === 'business-user') {
        // The activation page waiting for the app: its next step is "finish".
        const sessions = await tx.db
          .selectFrom('flow_sessions')
          .select(['id', 'state'])
          .where('kind', '=', 'activation')
          .where('subject_id', '=', row.owner_id)
          .where('ended_at', 'is', null)
          .execute();
        for (const s of sessions) {
          const st = JSON.parse(s.state) as { authenticator?: string; mitidUserId?: string };
          if (st.authenticator === 'app') {
            await saveSession(tx, s.id, { ...st, boundId: bound.id });
            userId = st.mitidUserId ?? userId;
          }
        }
      } else {
        userId = (await tx.citizens.get(row.owner_id)).userId;
      }
      await enqueue(tx, {
        channel: 'sms',
        to: row.phone,
        text: 'MitID: din MitID app er aktiveret. Your MitID app is activated.',
        idempotencyKey: `app-activated:${row.id}`,
      });
      await this.#audit(
        tx,
        row.owner_kind,
        row.owner_id,
        'app.activate',
        'ok',
        {
          biometrics: body.biometrics,
          placement: row.placement,
        },
        body.appId,
      );
      return { appId: body.appId, appToken, userId };
    });
  }

  /**
   * Another app for the same identity (MITID.md: up to three), asked for from an app already
   * activated, with its PIN: answers a fresh activation code and QR code for the new phone; the
   * temporary PIN goes to `phone`. Wrong PINs count toward the asking app's suspension.
   */
  async issueAdditional(
    token: string,
    body: { pin: string; phone: string; placement?: AppPlacement },
  ): Promise<{ userId: string; activationCode: string; expiresAt: number; qr: QrImage }> {
    assertNoViolations(checkAppPin(body.pin));
    assertNoViolations(checkPhone(body.phone));
    const asking = await runRefusable(this.store, async (tx) => {
      const app = await this.#app(tx, token);
      if (app instanceof Refusal) return app;
      const status = await tx.authenticators.lockoutStatus(app.id);
      if (status !== 'open')
        return refuse(
          423,
          status === 'blocked' ? 'app-blocked' : 'app-suspended',
          'The app is locked.',
        );
      return app;
    });
    const pinOk = await verifyPassword(body.pin, asking.binding.pinHash);
    return runRefusable(this.store, async (tx) => {
      const app = await this.#app(tx, token);
      if (app instanceof Refusal) return app;
      if (!pinOk) {
        const next = await tx.authenticators.recordAttempt(app.id, false, app.state);
        const left = Math.max(0, tx.config.lockout.failuresBeforeTemporaryBlock - next.failCount);
        return next.blockedAt !== null || next.blockedUntil !== null
          ? refuse(
              423,
              next.blockedAt !== null ? 'app-blocked' : 'app-suspended',
              'The app is locked after too many wrong PINs.',
            )
          : refuse(
              401,
              'pin-wrong',
              `The PIN is not right. ${left} ${left === 1 ? 'try' : 'tries'} left.`,
              {
                triesLeft: left,
              },
            );
      }
      await tx.authenticators.recordAttempt(app.id, true, app.state);
      const active = (await tx.authenticators.forOwner(app.ownerKind, app.ownerId)).filter(
        (a) => a.kind === 'app',
      );
      if (active.length >= 3)
        return refuse(409, 'authenticator-limit', 'A MitID may have at most 3 apps.');
      const userId =
        app.ownerKind === 'citizen'
          ? (await tx.citizens.get(app.ownerId)).userId
          : ((await tx.users.get(app.ownerId)).userId ?? '');
      const made = await this.issueActivation(tx, {
        ownerKind: app.ownerKind,
        ownerId: app.ownerId,
        userId,
        mitid: app.binding.mitid,
        placement: body.placement ?? 'new-device',
        phone: body.phone,
      });
      await this.#audit(tx, app.ownerKind, app.ownerId, 'app.additional', 'ok', {}, app.serial);
      return { userId, activationCode: made.code, expiresAt: made.expiresAt, qr: made.qr };
    });
  }

  // -------------------------------------------------------------------------------------------
  // Approvals.

  /** The app a bearer token belongs to, or a 401 refusal. */
  async #app(
    tx: Repositories,
    token: string,
  ): Promise<Refusal | BoundAuthenticator<AppBinding, Record<string, never>>> {
    const row = await tx.db
      .selectFrom('app_tokens')
      .select('authenticator_id')
      .where('token_hash', '=', tx.secrets.hasher.hash('app-token', token))
      .executeTakeFirst();
    const app =
      row === undefined
        ? undefined
        : await tx.authenticators.get<AppBinding, Record<string, never>>(row.authenticator_id);
    if (app === undefined || app.status !== 'active')
      return refuse(401, 'bad-token', 'The app token is not valid.');
    return app;
  }

  /**
   * Creates an approval request for an identity's apps (inside the caller's transaction) and
   * returns the channel the asking page shows. Pushed once the transaction commits: call
   * {@link publish} after it.
   */
  async createRequest(
    tx: Repositories,
    input: {
      ownerKind: 'citizen' | 'business-user';
      ownerId: string;
      purpose: 'login' | 'activation-start';
      sessionId: string;
      userId: string;
      text: string;
    },
  ): Promise<{ request: ApprovalRequest; channel: ApprovalChannel }> {
    const requestId = randomUUID();
    const expiresAt = tx.now + this.timings.requestMs;
    const secret = toBase64Url(new Uint8Array(randomBytes(16)));
    const code = String(randomInt(10_000)).padStart(4, '0');
    const display = { service: 'MitID Erhverv', action: input.purpose, text: input.text };
    const request = toBase64Url(
      utf8(
        JSON.stringify({
          v: 1,
          requestId,
          userId: input.userId,
          purpose: input.purpose,
          display,
          createdAt: tx.now,
          expiresAt,
        }),
      ),
    );
    await tx.db
      .insertInto('app_requests')
      .values({
        id: requestId,
        owner_kind: input.ownerKind,
        owner_id: input.ownerId,
        purpose: input.purpose,
        session_id: input.sessionId,
        request,
        display: JSON.stringify(display),
        channel_hash: tx.secrets.hasher.hash(`app-channel:${requestId}`, secret),
        code_hash: tx.secrets.hasher.hash(`app-channel-code:${requestId}`, code),
        created_at: tx.now,
        expires_at: expiresAt,
        decision: null,
        answered_by: null,
        answered_at: null,
      })
      .execute();
    return {
      request: { requestId, request, display, expiresAt },
      channel: {
        qr: await qr(`mitid-sim://approve?requestId=${requestId}&channel=${secret}`),
        code,
      },
    };
  }

  /** Pushes a committed request to the identity's event streams on this instance. */
  publish(ownerKind: string, ownerId: string, request: ApprovalRequest): void {
    this.#hub.emit(ownerKey(ownerKind, ownerId), request);
  }

  /** The decision on a request made for a session: pending, approve, reject or expired. */
  async decisionFor(
    tx: Repositories,
    sessionId: string,
  ): Promise<{ state: 'pending' | 'approve' | 'reject' | 'expired'; appId?: string }> {
    const row = await tx.db
      .selectFrom('app_requests')
      .select(['decision', 'expires_at', 'answered_by'])
      .where('session_id', '=', sessionId)
      .orderBy('created_at', 'desc')
      .executeTakeFirst();
    if (row === undefined) return { state: 'expired' };
    if (row.decision === 'approve' || row.decision === 'reject')
      return {
        state: row.decision,
        ...(row.answered_by === null ? {} : { appId: row.answered_by }),
      };
    return { state: tx.now >= row.expires_at ? 'expired' : 'pending' };
  }

  /** The pending requests of the app's identity. */
  async pending(token: string): Promise<{ requests: ApprovalRequest[] }> {
    return runRefusable(this.store, async (tx) => {
      const app = await this.#app(tx, token);
      if (app instanceof Refusal) return app;
      return { requests: await this.#pendingFor(tx, app.ownerKind, app.ownerId) };
    });
  }

  async #pendingFor(
    tx: Repositories,
    ownerKind: string,
    ownerId: string,
  ): Promise<ApprovalRequest[]> {
    const rows = await tx.db
      .selectFrom('app_requests')
      .select(['id', 'request', 'display', 'expires_at'])
      .where('owner_kind', '=', ownerKind)
      .where('owner_id', '=', ownerId)
      .where('decision', 'is', null)
      .where('expires_at', '>', tx.now)
      .orderBy('created_at')
      .execute();
    return rows.map((r) => ({
      requestId: r.id,
      request: r.request,
      display: JSON.parse(r.display) as ApprovalRequest['display'],
      expiresAt: r.expires_at,
    }));
  }

  /**
   * Follows the app's identity: calls `send` with every pending request (at once, and as new
   * ones are published or appear in the database). Returns a stop function.
   */
  async subscribe(
    token: string,
    send: (r: ApprovalRequest) => void,
    pollMs = 1000,
  ): Promise<() => void> {
    const app = await runRefusable(this.store, (tx) => this.#app(tx, token));
    const seen = new Set<string>();
    const deliver = (r: ApprovalRequest): void => {
      if (seen.has(r.requestId)) return;
      seen.add(r.requestId);
      send(r);
    };
    const key = ownerKey(app.ownerKind, app.ownerId);
    this.#hub.on(key, deliver);
    let stopped = false;
    const poll = async (): Promise<void> => {
      if (stopped) return;
      const list = await this.store
        .transaction((tx) => this.#pendingFor(tx, app.ownerKind, app.ownerId))
        .catch(() => []);
      for (const r of list) deliver(r);
    };
    await poll();
    const timer = setInterval(() => void poll(), pollMs);
    return () => {
      stopped = true;
      clearInterval(timer);
      this.#hub.off(key, deliver);
    };
  }

  /**
   * The app's answer: checked against the exact request (signature), once (a second answer is
   * refused), before it expires, with the channel the asking page showed, and with the PIN (or
   * biometrics, when the app opted in) to approve. Wrong PINs suspend and then block the app.
   */
  async answer(
    token: string,
    requestId: string,
    body: {
      decision: 'approve' | 'reject';
      channel: { type: 'qr' | 'code'; value: string };
      pin?: string;
      biometric?: boolean;
      signature: string;
    },
  ): Promise<{ ok: true }> {
    const check = async (tx: Repositories) => {
      const app = await this.#app(tx, token);
      if (app instanceof Refusal) return app;
      const row = await tx.db
        .selectFrom('app_requests')
        .selectAll()
        .where('id', '=', typeof requestId === 'string' ? requestId : '')
        .executeTakeFirst();
      if (row === undefined || row.owner_kind !== app.ownerKind || row.owner_id !== app.ownerId)
        return refuse(404, 'request-not-found', 'No such request for this app.');
      if (row.decision !== null)
        return refuse(409, 'already-answered', 'This request has already been answered.');
      if (tx.now >= row.expires_at)
        return refuse(410, 'request-expired', 'This request has expired. Start the login again.');
      const status = await tx.authenticators.lockoutStatus(app.id);
      if (status === 'blocked')
        return refuse(
          423,
          'app-blocked',
          'The app is blocked after too many wrong PINs. Activate it again.',
        );
      if (status === 'temporarily-blocked')
        return refuse(
          423,
          'app-suspended',
          'The app is suspended after 3 wrong PINs. Try again later.',
        );
      const ch = body.channel;
      const channelOk =
        ch.type === 'qr'
          ? tx.secrets.hasher.matches(`app-channel:${row.id}`, String(ch.value), row.channel_hash)
          : tx.secrets.hasher.matches(
              `app-channel-code:${row.id}`,
              String(ch.value),
              row.code_hash,
            );
      if (!channelOk)
        return refuse(
          400,
          'channel-mismatch',
          'The QR code or the 4-digit code is not the one the login page shows.',
        );
      if (
        !verifySignature(
          app.binding.publicKey,
          approvalTranscript(body.decision, ch, row.request),
          body.signature,
        )
      )
        return refuse(
          400,
          'bad-signature',
          'The answer is not signed by this app over this request.',
        );
      return { app, row };
    };
    const pre = await runRefusable(this.store, check);
    let pinOk = true;
    if (body.decision === 'approve') {
      if (body.biometric === true && pre.app.binding.biometrics) pinOk = true;
      else if (typeof body.pin === 'string')
        pinOk = await verifyPassword(body.pin, pre.app.binding.pinHash);
      else
        throw refuse(
          401,
          'pin-required',
          'Enter your PIN (or use biometrics, if you turned them on).',
        ).error;
    }
    return runRefusable(this.store, async (tx) => {
      const again = await check(tx);
      if (again instanceof Refusal) return again;
      const { app, row } = again;
      if (!pinOk) {
        const next = await tx.authenticators.recordAttempt(app.id, false, app.state);
        await this.#audit(
          tx,
          app.ownerKind,
          app.ownerId,
          'app.approve',
          'refused',
          { reason: 'wrong-pin' },
          app.serial,
        );
        if (next.blockedAt !== null)
          return refuse(
            423,
            'app-blocked',
            'The app is blocked after too many wrong PINs. Activate it again.',
          );
        if (next.blockedUntil !== null && tx.now < next.blockedUntil)
          return refuse(
            423,
            'app-suspended',
            'The app is suspended after 3 wrong PINs. Try again later.',
          );
        const left = Math.max(0, tx.config.lockout.failuresBeforeTemporaryBlock - next.failCount);
        return refuse(
          401,
          'pin-wrong',
          `The PIN is not right. ${left} ${left === 1 ? 'try' : 'tries'} left.`,
          {
            triesLeft: left,
          },
        );
      }
      const res = await tx.db
        .updateTable('app_requests')
        .set({ decision: body.decision, answered_by: app.serial, answered_at: tx.now })
        .where('id', '=', row.id)
        .where('decision', 'is', null)
        .executeTakeFirst();
      if (res.numUpdatedRows !== 1n)
        return refuse(409, 'already-answered', 'This request has already been answered.');
      if (body.decision === 'approve')
        await tx.authenticators.recordAttempt(app.id, true, app.state);
      await this.#audit(
        tx,
        app.ownerKind,
        app.ownerId,
        'app.answer',
        'ok',
        { decision: body.decision },
        app.serial,
      );
      return { ok: true as const };
    });
  }

  async #audit(
    tx: Repositories,
    ownerKind: string,
    ownerId: string,
    action: string,
    outcome: string,
    detail?: Record<string, string | number | boolean>,
    serial?: string,
  ): Promise<void> {
    await tx.audit.record({
      actor: { kind: ownerKind === 'citizen' ? 'citizen' : 'business-user', id: ownerId },
      action,
      outcome,
      subjectId: ownerId,
      serial: serial ?? null,
      ...(detail === undefined ? {} : { detail }),
    });
  }
}

function safeUserIdKey(userId: unknown): string {
  if (typeof userId !== 'string' || userId.length === 0 || userId.length > 100) return '';
  try {
    return userIdKey(userId);
  } catch {
    return '';
  }
}
