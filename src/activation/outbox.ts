/** The transactional outbox: messages are written with the state change, then claimed, sent and marked by a dispatcher. */
import { randomUUID } from 'node:crypto';
import { ActivationError } from './violations.js';
import { orderedId } from './ids.js';
import type { Repositories } from './store/repositories.js';
import type { Database } from './store/schema.js';
import type { Store } from './store/store.js';

/** The two channels. */
export const Channels = ['email', 'sms'] as const;
export type Channel = (typeof Channels)[number];

/** A message to send. */
export interface OutgoingMessage {
  readonly channel: Channel;
  /** E-mail address or E.164 phone number. */
  readonly to: string;
  readonly subject?: string;
  readonly text: string;
  readonly html?: string;
  /**
   * Names the message for de-duplication: enqueueing the same key twice (a retried request, a
   * retried transaction) keeps one message. E.g. `activation-email:<linkId>`.
   */
  readonly idempotencyKey: string;
  /**
   * The body holds a secret (an activation link's token): it is cleared from the outbox once
   * sent, so the database keeps it no longer than delivery needs. Leave unset for SMS that
   * virtual phones read from the outbox.
   */
  readonly sensitive?: boolean;
}

/** Body left in the outbox after a sensitive message was sent. */
export const REDACTED_BODY = '[sent; body removed]';

/** A claimed message, as an adapter sees it. */
export interface OutboxMessage {
  /** Stable across attempts: adapters de-duplicate on it (the e-mail's Message-ID is made from it). */
  readonly id: string;
  readonly channel: Channel;
  readonly to: string;
  readonly subject: string | null;
  readonly text: string;
  readonly html: string | null;
  /** 1 on the first attempt. */
  readonly attempts: number;
  /** Unique per attempt; recorded before sending. */
  readonly attemptId: string;
}

/**
 * Sends one channel's messages. Must be idempotent on `message.id`: after a crash between sending
 * and marking, the message is sent again with the same id, and the far side must keep one.
 */
export interface SendAdapter {
  send(message: OutboxMessage): Promise<void>;
}

/**
 * Writes a message into the outbox inside the caller's transaction, so it exists exactly when
 * the state change that caused it commits. Returns its id (the existing one for a repeated key).
 */
export async function enqueue(tx: Repositories, message: OutgoingMessage): Promise<string> {
  if (!(['email', 'sms'] as readonly string[]).includes(message.channel))
    throw new ActivationError('bad-channel', 'channel must be email or sms');
  if (typeof message.to !== 'string' || message.to.length === 0 || message.to.length > 320)
    throw new ActivationError('bad-recipient', 'recipient is missing or too long');
  if (
    typeof message.idempotencyKey !== 'string' ||
    message.idempotencyKey.length === 0 ||
    message.idempotencyKey.length > 200
  ) {
    throw new ActivationError('bad-idempotency-key', 'idempotency key must be 1-200 characters');
  }
  const id = orderedId(tx.now);
  await tx.db
    .insertInto('outbox')
    .values({
      id,
      channel: message.channel,
      recipient: message.to,
      subject: message.subject ?? null,
      body: message.text,
      html: message.html ?? null,
      idempotency_key: message.idempotencyKey,
      sensitive: message.sensitive === true ? 1 : 0,
      status: 'pending',
      attempts: 0,
      next_attempt_at: tx.now,
      claimed_by: null,
      claimed_until: null,
      attempt_id: null,
      last_error: null,
      created_at: tx.now,
      sent_at: null,
    })
    .onConflict((oc) => oc.column('idempotency_key').doNothing())
    .execute();
  const row = await tx.db
    .selectFrom('outbox')
    .select('id')
    .where('idempotency_key', '=', message.idempotencyKey)
    .executeTakeFirstOrThrow();
  return row.id;
}

/** Dispatcher options. */
export interface DispatcherOptions {
  /** Names this dispatcher in `claimed_by` (default a random id). */
  readonly workerId?: string;
  /** Messages claimed per round (default 20). */
  readonly batchSize?: number;
  /**
   * How long a claim lasts (default 60 s). A dispatcher that dies holding claims loses them when
   * the lease runs out, and another sends those messages again, with the same id.
   */
  readonly leaseMs?: number;
  /** First retry delay; doubles per attempt up to `maxBackoffMs` (defaults 5 s, 15 min). */
  readonly baseBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Attempts before a message is given up as failed (default 8). */
  readonly maxAttempts?: number;
}

/** What one round did. */
export interface DispatchReport {
  claimed: number;
  sent: number;
  retrying: number;
  failed: number;
  /** Claims lost to another dispatcher while sending (our lease ran out). */
  lost: number;
}

type OutboxRow = Database['outbox'];

function toMessage(row: OutboxRow): OutboxMessage {
  return {
    id: row.id,
    channel: row.channel as Channel,
    to: row.recipient,
    subject: row.subject,
    text: row.body,
    html: row.html,
    attempts: row.attempts,
    attemptId: row.attempt_id ?? '',
  };
}

/**
 * Sends what the outbox holds. Each round: claim due messages (PostgreSQL: FOR UPDATE SKIP
 * LOCKED, so several instances share the work; SQLite: one writer at a time), recording an
 * attempt id; send each through its channel's adapter; mark it sent if our attempt still holds
 * the claim, or schedule a retry with exponential backoff.
 */
export class OutboxDispatcher {
  readonly workerId: string;
  readonly #store: Store;
  readonly #adapters: Readonly<Record<Channel, SendAdapter>>;
  readonly #o: Required<Omit<DispatcherOptions, 'workerId'>>;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;

  constructor(
    store: Store,
    adapters: Readonly<Record<Channel, SendAdapter>>,
    options: DispatcherOptions = {},
  ) {
    this.#store = store;
    this.#adapters = adapters;
    this.workerId = options.workerId ?? `dispatcher-${randomUUID().slice(0, 8)}`;
    this.#o = {
      batchSize: options.batchSize ?? 20,
      leaseMs: options.leaseMs ?? 60_000,
      baseBackoffMs: options.baseBackoffMs ?? 5_000,
      maxBackoffMs: options.maxBackoffMs ?? 15 * 60_000,
      maxAttempts: options.maxAttempts ?? 8,
    };
  }

  /** The delay before attempt `attempts + 1`. */
  backoffMs(attempts: number): number {
    return Math.min(this.#o.maxBackoffMs, this.#o.baseBackoffMs * 2 ** Math.max(0, attempts - 1));
  }

  /** Claims due messages: pending ones whose time has come, and sending ones whose lease ran out. */
  async claim(): Promise<OutboxMessage[]> {
    const attemptId = randomUUID();
    return this.#store.transaction(
      async (tx) => {
        let due = tx.db
          .selectFrom('outbox')
          .select('id')
          .where((eb) =>
            eb.or([
              eb.and([eb('status', '=', 'pending'), eb('next_attempt_at', '<=', tx.now)]),
              eb.and([eb('status', '=', 'sending'), eb('claimed_until', '<=', tx.now)]),
            ]),
          )
          .orderBy('next_attempt_at')
          .orderBy('id')
          .limit(this.#o.batchSize);
        if (tx.engine === 'postgres') due = due.forUpdate().skipLocked();
        const ids = (await due.execute()).map((r) => r.id);
        if (ids.length === 0) return [];
        const rows = await tx.db
          .updateTable('outbox')
          .set((eb) => ({
            status: 'sending',
            claimed_by: this.workerId,
            claimed_until: tx.now + this.#o.leaseMs,
            attempt_id: attemptId,
            attempts: eb('attempts', '+', 1),
          }))
          .where('id', 'in', ids)
          .returningAll()
          .execute();
        return rows.map(toMessage).sort((a, b) => (a.id < b.id ? -1 : 1));
      },
      // Rows are locked one by one; serialisable would only add conflicts between dispatchers.
      { isolation: 'read-committed' },
    );
  }

  /** Sends one claimed message through its adapter; returns the error if it failed. */
  async send(message: OutboxMessage): Promise<Error | undefined> {
    try {
      await this.#adapters[message.channel].send(message);
      return undefined;
    } catch (e) {
      return e instanceof Error ? e : new Error(String(e));
    }
  }

  /**
   * Records the result of an attempt, if the attempt still holds the claim. Returns what happened
   * to the message.
   */
  async complete(
    message: OutboxMessage,
    error: Error | undefined,
  ): Promise<'sent' | 'retrying' | 'failed' | 'lost'> {
    return this.#store.transaction(async (tx) => {
      let outcome: 'sent' | 'retrying' | 'failed';
      let q;
      if (error === undefined) {
        outcome = 'sent';
        q = tx.db.updateTable('outbox').set((eb) => ({
          status: 'sent',
          sent_at: tx.now,
          claimed_until: null,
          last_error: null,
          body: eb.case().when('sensitive', '=', 1).then(REDACTED_BODY).else(eb.ref('body')).end(),
          html: eb.case().when('sensitive', '=', 1).then(null).else(eb.ref('html')).end(),
        }));
      } else {
        outcome = message.attempts >= this.#o.maxAttempts ? 'failed' : 'retrying';
        q = tx.db.updateTable('outbox').set({
          status: outcome === 'failed' ? 'failed' : 'pending',
          next_attempt_at: tx.now + this.backoffMs(message.attempts),
          claimed_until: null,
          // One line, bounded: adapter errors name hosts and codes, never message bodies.
          last_error: error.message.split('\n')[0]?.slice(0, 300) ?? 'error',
        });
      }
      const res = await q
        .where('id', '=', message.id)
        .where('attempt_id', '=', message.attemptId)
        .where('status', '=', 'sending')
        .executeTakeFirst();
      return res.numUpdatedRows === 1n ? outcome : 'lost';
    });
  }

  /** One round: claim, send, complete. */
  async runOnce(): Promise<DispatchReport> {
    const report: DispatchReport = { claimed: 0, sent: 0, retrying: 0, failed: 0, lost: 0 };
    const batch = await this.claim();
    report.claimed = batch.length;
    for (const m of batch) {
      const outcome = await this.complete(m, await this.send(m));
      report[outcome]++;
    }
    return report;
  }

  /** Runs rounds until the outbox has nothing due (tests, CLI). */
  async drain(maxRounds = 100): Promise<DispatchReport> {
    const total: DispatchReport = { claimed: 0, sent: 0, retrying: 0, failed: 0, lost: 0 };
    for (let i = 0; i < maxRounds; i++) {
      const r = await this.runOnce();
      for (const k of Object.keys(total) as (keyof DispatchReport)[]) total[k] += r[k];
      if (r.claimed === 0) break;
    }
    return total;
  }

  /** Polls every `intervalMs` until {@link stop}. Errors of a round are passed to `onError`. */
  start(intervalMs = 1_000, onError: (e: unknown) => void = () => undefined): void {
    if (this.#timer !== undefined) return;
    const tick = (): void => {
      this.#running = this.runOnce()
        .catch(onError)
        .finally(() => {
          if (this.#timer !== undefined) this.#timer = setTimeout(tick, intervalMs);
        });
    };
    this.#timer = setTimeout(tick, 0);
  }

  /** Stops polling and waits for a round in progress. */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}

/** One row of the outbox as listed for people and virtual phones. */
export interface OutboxEntry {
  readonly id: string;
  readonly channel: Channel;
  readonly to: string;
  readonly subject: string | null;
  readonly text: string;
  readonly status: 'pending' | 'sending' | 'sent' | 'failed';
  readonly attempts: number;
  readonly createdAt: number;
  readonly sentAt: number | null;
  readonly lastError: string | null;
}

/** Lists the outbox (newest last), optionally one channel, recipient or status. */
export async function listOutbox(
  store: Store,
  filter: { channel?: Channel; to?: string; status?: OutboxEntry['status'] } = {},
): Promise<OutboxEntry[]> {
  return store.transaction(async (tx) => {
    let q = tx.db.selectFrom('outbox').selectAll();
    if (filter.channel !== undefined) q = q.where('channel', '=', filter.channel);
    if (filter.to !== undefined) q = q.where('recipient', '=', filter.to);
    if (filter.status !== undefined) q = q.where('status', '=', filter.status);
    const rows = await q.orderBy('created_at').orderBy('id').execute();
    return rows.map((r) => ({
      id: r.id,
      channel: r.channel as Channel,
      to: r.recipient,
      subject: r.subject,
      text: r.body,
      status: r.status as OutboxEntry['status'],
      attempts: r.attempts,
      createdAt: r.created_at,
      sentAt: r.sent_at,
      lastError: r.last_error,
    }));
  });
}
