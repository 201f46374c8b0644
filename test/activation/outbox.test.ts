/** The transactional outbox end to end: enqueue with the state change, dispatch over real SMTP into the dev mailbox, crashes, retries. */
import { createServer } from 'node:net';
import nodemailer from 'nodemailer';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { describeWithTool } from '../support/tools.js';
import {
  MAILBOX_MAX_BYTES,
  OutboxDispatcher,
  REDACTED_BODY,
  SmsAdapter,
  SmtpEmailAdapter,
  enqueue,
  listMail,
  listOutbox,
  messageIdFor,
  startDevMailbox,
  type DevMailbox,
  type Store,
} from '../../src/activation/index.js';
import { freshDatabase, probePostgres, type TestDatabase } from './support.js';

const pgAvailable = await probePostgres();

const FROM = 'MitID Erhverv <no-reply@mitid-erhverv.example>';

/** A localhost port with nothing listening on it (a mail server that is down). */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function outboxSuite(engine: 'sqlite' | 'postgres'): void {
  let t: TestDatabase;
  let store: Store;
  let mailbox: DevMailbox;
  let email: SmtpEmailAdapter;
  const closers: (() => unknown)[] = [];
  beforeEach(async () => {
    t = await freshDatabase(engine);
    store = await t.open();
    mailbox = await startDevMailbox(store);
    email = new SmtpEmailAdapter({
      host: mailbox.host,
      port: mailbox.port,
      from: FROM,
      ignoreTLS: true,
    });
  });
  afterEach(async () => {
    email.close();
    for (const c of closers.splice(0)) await c();
    await mailbox.close();
    await t.dispose();
  });

  const activationMail = (n: number, to = `karen${n}@testfirma.example`) => ({
    channel: 'email' as const,
    to,
    subject: 'Aktivér dig som bruger i MitID Erhverv',
    text: `Hej Karen\n\nÅbn linket for at aktivere dig: https://erhverv.example/activate/TOKEN${n}\n\nDin brugeradministrator er Ulla Admin.`,
    html: `<p>Hej Karen</p><p><a href="https://erhverv.example/activate/TOKEN${n}">Aktivér</a></p>`,
    idempotencyKey: `activation-email:${n}`,
    sensitive: true,
  });

  it('a message exists exactly when its transaction commits; a repeated idempotency key keeps one', async () => {
    await expect(
      store.transaction(async (tx) => {
        await enqueue(tx, activationMail(1));
        throw new Error('the state change failed');
      }),
    ).rejects.toThrow('the state change failed');
    expect(await listOutbox(store)).toEqual([]);
    const id1 = await store.transaction((tx) => enqueue(tx, activationMail(1)));
    const id2 = await store.transaction((tx) => enqueue(tx, activationMail(1)));
    expect(id2).toBe(id1);
    expect(await listOutbox(store)).toMatchObject([{ id: id1, status: 'pending', attempts: 0 }]);
  });

  it('sends over real SMTP into the dev mailbox, which stores the parsed mail with the right headers and body', async () => {
    const id = await store.transaction((tx) => enqueue(tx, activationMail(1)));
    const dispatcher = new OutboxDispatcher(store, { email, sms: new SmsAdapter() });
    expect(await dispatcher.runOnce()).toEqual({
      claimed: 1,
      sent: 1,
      retrying: 0,
      failed: 0,
      lost: 0,
    });
    const mails = await listMail(store, { to: 'karen1@testfirma.example' });
    expect(mails).toHaveLength(1);
    const m = mails[0]!;
    expect(m.messageId).toBe(messageIdFor(id).slice(1, -1));
    expect(m.subject).toBe('Aktivér dig som bruger i MitID Erhverv');
    expect(m.from).toBe('"MitID Erhverv" <no-reply@mitid-erhverv.example>');
    expect(m.to).toBe('karen1@testfirma.example');
    expect(m.envelopeFrom).toBe('no-reply@mitid-erhverv.example');
    expect(m.envelopeTo).toEqual(['karen1@testfirma.example']);
    expect(m.text?.trim()).toBe(activationMail(1).text);
    expect(m.html).toContain('href="https://erhverv.example/activate/TOKEN1"');
    expect(m.headers['x-outbox-id']).toBe(id);
    expect(m.headers['content-type']).toMatch(/^multipart\/alternative/);
    // The outbox forgets the sensitive body once it is delivered.
    expect(await listOutbox(store)).toMatchObject([
      { id, status: 'sent', attempts: 1, text: REDACTED_BODY },
    ]);
    const raw = await store.db
      .selectFrom('outbox')
      .select(['body', 'html'])
      .executeTakeFirstOrThrow();
    expect(JSON.stringify(raw)).not.toContain('TOKEN1');
  });

  it('a crash between sending and marking sends again after the lease, and the mailbox keeps one copy', async () => {
    const id = await store.transaction((tx) => enqueue(tx, activationMail(1)));
    const first = new OutboxDispatcher(
      store,
      { email, sms: new SmsAdapter() },
      { leaseMs: 60_000 },
    );
    const [claimed] = await first.claim();
    expect(claimed).toMatchObject({ id, attempts: 1 });
    expect(await first.send(claimed!)).toBeUndefined();
    // ... and here the first dispatcher dies: no complete().
    expect(await listOutbox(store)).toMatchObject([{ status: 'sending' }]);
    const second = new OutboxDispatcher(store, { email, sms: new SmsAdapter() });
    expect((await second.runOnce()).claimed).toBe(0); // the lease still holds
    t.clock.advance(60_000);
    expect(await second.runOnce()).toMatchObject({ claimed: 1, sent: 1 });
    expect(await listOutbox(store)).toMatchObject([{ id, status: 'sent', attempts: 2 }]);
    expect(await listMail(store)).toHaveLength(1);
    // The first dispatcher's late report finds its attempt superseded and changes nothing.
    expect(await first.complete(claimed!, undefined)).toBe('lost');
  });

  it('retries with exponential backoff while the mail server is down, then delivers', async () => {
    const down = new SmtpEmailAdapter({
      host: '127.0.0.1',
      port: await deadPort(),
      from: FROM,
      ignoreTLS: true,
    });
    closers.push(() => down.close());
    await store.transaction((tx) => enqueue(tx, activationMail(1)));
    const d = new OutboxDispatcher(
      store,
      { email: down, sms: new SmsAdapter() },
      { baseBackoffMs: 5_000, maxAttempts: 5 },
    );
    expect(await d.runOnce()).toMatchObject({ claimed: 1, retrying: 1 });
    const [entry] = await listOutbox(store);
    expect(entry).toMatchObject({ status: 'pending', attempts: 1 });
    expect(entry!.lastError).toMatch(/^sending e-mail failed: .*ECONNREFUSED/);
    expect((await d.runOnce()).claimed).toBe(0); // not due for 5 s
    t.clock.advance(5_000);
    expect(await d.runOnce()).toMatchObject({ claimed: 1, retrying: 1 });
    t.clock.advance(9_999); // second retry waits 10 s
    expect((await d.runOnce()).claimed).toBe(0);
    t.clock.advance(1);
    const up = new OutboxDispatcher(store, { email, sms: new SmsAdapter() });
    expect(await up.runOnce()).toMatchObject({ claimed: 1, sent: 1 });
    expect(await listOutbox(store)).toMatchObject([
      { status: 'sent', attempts: 3, lastError: null },
    ]);
    expect(await listMail(store)).toHaveLength(1);
  });

  it('gives a message up as failed after maxAttempts', async () => {
    const down = new SmtpEmailAdapter({
      host: '127.0.0.1',
      port: await deadPort(),
      from: FROM,
      ignoreTLS: true,
    });
    closers.push(() => down.close());
    await store.transaction((tx) => enqueue(tx, activationMail(1)));
    const d = new OutboxDispatcher(
      store,
      { email: down, sms: new SmsAdapter() },
      { baseBackoffMs: 1_000, maxAttempts: 3 },
    );
    const outcomes = [];
    for (let i = 0; i < 4; i++) {
      const r = await d.runOnce();
      outcomes.push(r.claimed === 0 ? 'none' : r.failed === 1 ? 'failed' : 'retrying');
      t.clock.advance(60_000);
    }
    expect(outcomes).toEqual(['retrying', 'retrying', 'failed', 'none']);
    expect(await listOutbox(store)).toMatchObject([{ status: 'failed', attempts: 3 }]);
  });

  it('two dispatchers on two connections share the work: every message is claimed and sent once', async () => {
    const other = await t.open();
    await store.transaction(async (tx) => {
      for (let i = 0; i < 12; i++) await enqueue(tx, activationMail(i));
    });
    const d1 = new OutboxDispatcher(store, { email, sms: new SmsAdapter() }, { batchSize: 3 });
    const d2 = new OutboxDispatcher(other, { email, sms: new SmsAdapter() }, { batchSize: 3 });
    const [r1, r2] = await Promise.all([d1.drain(), d2.drain()]);
    expect(r1.claimed + r2.claimed).toBe(12);
    expect(r1.sent + r2.sent).toBe(12);
    expect(r1.lost + r2.lost).toBe(0);
    const mails = await listMail(store);
    expect(new Set(mails.map((m) => m.envelopeTo[0])).size).toBe(12);
    expect((await listOutbox(store)).every((e) => e.status === 'sent' && e.attempts === 1)).toBe(
      true,
    );
  });

  it('SMS go through the gateway port; the default gateway is the outbox that virtual phones read', async () => {
    await store.transaction((tx) =>
      enqueue(tx, {
        channel: 'sms',
        to: '+4520304050',
        text: 'Din bekræftelseskode er 123456',
        idempotencyKey: 'sms:1',
      }),
    );
    const sent: string[] = [];
    const d = new OutboxDispatcher(store, {
      email,
      sms: new SmsAdapter({ sendSms: (s) => Promise.resolve(void sent.push(s.id)) }),
    });
    await d.runOnce();
    const phone = await listOutbox(store, { channel: 'sms', to: '+4520304050', status: 'sent' });
    expect(phone.map((p) => p.text)).toEqual(['Din bekræftelseskode er 123456']);
    expect(sent).toEqual([phone[0]!.id]);
  });

  it('a started dispatcher polls until stopped', async () => {
    const d = new OutboxDispatcher(store, { email, sms: new SmsAdapter() });
    d.start(20);
    try {
      await store.transaction((tx) => enqueue(tx, activationMail(7)));
      await vi.waitFor(async () => expect(await listMail(store)).toHaveLength(1), {
        timeout: 10_000,
        interval: 20,
      });
    } finally {
      await d.stop();
    }
    expect(await listOutbox(store)).toMatchObject([{ status: 'sent' }]);
  });

  it('the dev mailbox refuses a mail over its size limit with an SMTP error', async () => {
    const transport = nodemailer.createTransport({
      host: mailbox.host,
      port: mailbox.port,
      secure: false,
      ignoreTLS: true,
    });
    closers.push(() => transport.close());
    const big = 'x'.repeat(MAILBOX_MAX_BYTES + 1000);
    await expect(
      transport.sendMail({
        from: 'a@example.org',
        to: 'b@example.org',
        subject: 'stor',
        text: big,
      }),
    ).rejects.toThrow(/552|size/i);
    expect(await listMail(store)).toEqual([]);
  });

  it('the dev mailbox keeps one copy per Message-ID, also from an independent client', async () => {
    const transport = nodemailer.createTransport({
      host: mailbox.host,
      port: mailbox.port,
      secure: false,
      ignoreTLS: true,
    });
    closers.push(() => transport.close());
    const mail = {
      from: 'a@example.org',
      to: 'b@example.org',
      subject: 'Hej',
      text: 'to gange',
      messageId: '<same@example.org>',
    };
    await transport.sendMail(mail);
    t.clock.advance(1);
    await transport.sendMail(mail);
    t.clock.advance(1);
    await transport.sendMail({ ...mail, messageId: '<other@example.org>' });
    expect((await listMail(store)).map((m) => m.messageId)).toEqual([
      'same@example.org',
      'other@example.org',
    ]);
  });
}

describe('outbox and dev mailbox on SQLite', () => outboxSuite('sqlite'));
describeWithTool('PostgreSQL', pgAvailable, 'outbox and dev mailbox on PostgreSQL', () =>
  outboxSuite('postgres'),
);
