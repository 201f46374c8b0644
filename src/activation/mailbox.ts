/** The built-in dev mailbox: an SMTP server on localhost that keeps every mail it receives in the store. */
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { simpleParser, type AddressObject } from 'mailparser';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { orderedId } from './ids.js';
import { ActivationError } from './violations.js';
import type { Store } from './store/store.js';

/** Largest mail accepted (the service sends short notices). */
export const MAILBOX_MAX_BYTES = 1024 * 1024;

/** A received mail as listed. */
export interface MailboxMessage {
  readonly id: string;
  /** Message-ID without angle brackets. */
  readonly messageId: string;
  readonly envelopeFrom: string;
  readonly envelopeTo: readonly string[];
  readonly from: string | null;
  readonly to: string | null;
  readonly subject: string | null;
  readonly text: string | null;
  readonly html: string | null;
  /** Selected headers, lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly size: number;
  readonly receivedAt: number;
}

/** Options for {@link startDevMailbox}. */
export interface DevMailboxOptions {
  /** Default 127.0.0.1: the dev mailbox is for this machine only. */
  readonly host?: string;
  /** Default 0: any free port (read it from the result). */
  readonly port?: number;
}

/** A running dev mailbox. */
export interface DevMailbox {
  readonly host: string;
  readonly port: number;
  /** Stops accepting and closes connections. */
  close(): Promise<void>;
}

const KEPT_HEADERS = [
  'message-id',
  'from',
  'to',
  'subject',
  'date',
  'content-type',
  'x-outbox-id',
  'mime-version',
] as const;

function addressText(a: AddressObject | AddressObject[] | undefined): string | null {
  if (a === undefined) return null;
  return (Array.isArray(a) ? a : [a]).map((x) => x.text).join(', ');
}

function headerText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v instanceof Date) return v.toISOString();
  if (
    v !== null &&
    typeof v === 'object' &&
    'text' in v &&
    typeof (v as { text: unknown }).text === 'string'
  )
    return (v as { text: string }).text;
  if (v !== null && typeof v === 'object' && 'value' in v)
    return String((v as { value: unknown }).value);
  return String(v);
}

async function readAll(stream: SMTPServerDataStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Stores one raw mail. Idempotent on the Message-ID: a mail re-sent after a crash (same id)
 * is kept once. Mails without a Message-ID get one from a hash of their bytes.
 */
export async function storeMail(
  store: Store,
  raw: Uint8Array,
  envelope: { from: string; to: readonly string[] },
): Promise<{ id: string; duplicate: boolean }> {
  const parsed = await simpleParser(Buffer.from(raw));
  const messageId = (
    parsed.messageId ?? `sha256-${createHash('sha256').update(raw).digest('hex')}@local`
  ).replace(/^<|>$/g, '');
  const headers: Record<string, string> = {};
  for (const name of KEPT_HEADERS) {
    const v = parsed.headers.get(name);
    if (v !== undefined) headers[name] = headerText(v);
  }
  const id = orderedId();
  return store.transaction(async (tx) => {
    await tx.db
      .insertInto('mailbox')
      .values({
        id,
        message_id: messageId,
        envelope_from: envelope.from,
        envelope_to: JSON.stringify(envelope.to),
        from_header: addressText(parsed.from),
        to_header: addressText(parsed.to),
        subject: parsed.subject ?? null,
        text: parsed.text ?? null,
        html: typeof parsed.html === 'string' ? parsed.html : null,
        headers: JSON.stringify(headers),
        size: raw.length,
        received_at: tx.now,
      })
      .onConflict((oc) => oc.column('message_id').doNothing())
      .execute();
    const row = await tx.db
      .selectFrom('mailbox')
      .select('id')
      .where('message_id', '=', messageId)
      .executeTakeFirstOrThrow();
    return { id: row.id, duplicate: row.id !== id };
  });
}

/**
 * Starts the dev mailbox: plain SMTP on localhost, no authentication, no TLS (it never leaves the
 * machine). Every mail goes into the store's `mailbox` table.
 */
export async function startDevMailbox(
  store: Store,
  options: DevMailboxOptions = {},
): Promise<DevMailbox> {
  const host = options.host ?? '127.0.0.1';
  const server = new SMTPServer({
    name: 'mitid-sim-mailbox',
    banner: 'mitid-sim dev mailbox',
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    size: MAILBOX_MAX_BYTES,
    logger: false,
    onData(
      stream: SMTPServerDataStream,
      session: SMTPServerSession,
      callback: (err?: Error | null) => void,
    ): void {
      readAll(stream)
        .then(async (raw) => {
          if (stream.sizeExceeded) {
            callback(Object.assign(new Error('message too large'), { responseCode: 552 }));
            return;
          }
          const from = session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address;
          await storeMail(store, raw, { from, to: session.envelope.rcptTo.map((r) => r.address) });
          callback();
        })
        .catch((e: unknown) => {
          // 451: a temporary failure, so the sender (our outbox) tries again later.
          callback(
            Object.assign(
              new Error(`mailbox could not store the message: ${(e as Error).message}`),
              { responseCode: 451 },
            ),
          );
        });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error): void =>
      reject(
        new ActivationError(
          'mailbox-listen',
          `dev mailbox cannot listen on ${host}:${options.port ?? 0}: ${e.message}`,
          { cause: e },
        ),
      );
    server.server.once('error', onError);
    server.listen(options.port ?? 0, host, () => {
      server.server.off('error', onError);
      resolve();
    });
  });
  const port = (server.server.address() as AddressInfo).port;
  return {
    host,
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Lists received mail, oldest first; optionally only mail to one address. */
export async function listMail(
  store: Store,
  filter: { to?: string } = {},
): Promise<MailboxMessage[]> {
  const rows = await store.transaction((tx) =>
    tx.db.selectFrom('mailbox').selectAll().orderBy('received_at').orderBy('id').execute(),
  );
  const all = rows.map((r): MailboxMessage => ({
    id: r.id,
    messageId: r.message_id,
    envelopeFrom: r.envelope_from,
    envelopeTo: JSON.parse(r.envelope_to) as string[],
    from: r.from_header,
    to: r.to_header,
    subject: r.subject,
    text: r.text,
    html: r.html,
    headers: JSON.parse(r.headers) as Record<string, string>,
    size: r.size,
    receivedAt: r.received_at,
  }));
  const to = filter.to?.toLowerCase();
  return to === undefined
    ? all
    : all.filter((m) => m.envelopeTo.some((a) => a.toLowerCase() === to));
}
