/** Notification adapters behind the outbox: e-mail over SMTP with nodemailer, SMS through a gateway port. */
import nodemailer, { type Transporter } from 'nodemailer';
import type { OutboxMessage, SendAdapter } from './outbox.js';
import { ActivationError } from './violations.js';

/** Errors sending a notification; the outbox retries them. */
export class NotifyError extends ActivationError {}

/** The domain of the Message-IDs we make; `.invalid` (RFC 2606) can never be someone's real domain. */
export const MESSAGE_ID_DOMAIN = 'mitid-sim.invalid';

/** The Message-ID header of an outbox message: the same on every attempt, so receivers de-duplicate. */
export function messageIdFor(outboxId: string): string {
  return `<${outboxId}@${MESSAGE_ID_DOMAIN}>`;
}

/** Where and as whom to send e-mail. */
export interface SmtpOptions {
  readonly host: string;
  readonly port: number;
  /** The From address, e.g. `MitID Erhverv <no-reply@mitid-erhverv.example>`. */
  readonly from: string;
  /** TLS from the first byte (port 465). Default false. */
  readonly secure?: boolean;
  /** Username and password for relays that want them. */
  readonly auth?: { readonly user: string; readonly pass: string };
  /** Skip STARTTLS even if offered (the built-in dev mailbox speaks plain SMTP on localhost). */
  readonly ignoreTLS?: boolean;
}

/** Sends e-mail through any SMTP server (the dev mailbox by default) with nodemailer. */
export class SmtpEmailAdapter implements SendAdapter {
  readonly #transport: Transporter;
  readonly #from: string;

  constructor(options: SmtpOptions) {
    this.#from = options.from;
    this.#transport = nodemailer.createTransport({
      host: options.host,
      port: options.port,
      secure: options.secure ?? false,
      ignoreTLS: options.ignoreTLS ?? false,
      ...(options.auth === undefined
        ? {}
        : { auth: { user: options.auth.user, pass: options.auth.pass } }),
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 20_000,
    });
  }

  async send(message: OutboxMessage): Promise<void> {
    if (message.channel !== 'email')
      throw new NotifyError('wrong-channel', 'the e-mail adapter sends only e-mail');
    try {
      await this.#transport.sendMail({
        from: this.#from,
        to: message.to,
        subject: message.subject ?? '',
        text: message.text,
        ...(message.html === null ? {} : { html: message.html }),
        messageId: messageIdFor(message.id),
        headers: { 'X-Outbox-Id': message.id },
      });
    } catch (e) {
      throw new NotifyError(
        'smtp-failed',
        `sending e-mail failed: ${(e as Error).message.split('\n')[0] ?? 'error'}`,
        { cause: e },
      );
    }
  }

  /** Closes pooled connections. */
  close(): void {
    this.#transport.close();
  }
}

/** A text message gateway: the port real SMS providers plug into. Must be idempotent on `id`. */
export interface SmsGateway {
  sendSms(sms: { readonly id: string; readonly to: string; readonly text: string }): Promise<void>;
}

/**
 * The default SMS gateway: the outbox itself. A message marked sent is "delivered"; virtual
 * phones read their messages from the outbox (`listOutbox(store, { channel: 'sms', to })`).
 * Trivially idempotent: nothing leaves the database.
 */
export const outboxSmsGateway: SmsGateway = Object.freeze({
  sendSms: () => Promise.resolve(),
});

/** Adapts an SmsGateway to the outbox's SendAdapter. */
export class SmsAdapter implements SendAdapter {
  constructor(private readonly gateway: SmsGateway = outboxSmsGateway) {}
  async send(message: OutboxMessage): Promise<void> {
    if (message.channel !== 'sms')
      throw new NotifyError('wrong-channel', 'the SMS adapter sends only SMS');
    await this.gateway.sendSms({ id: message.id, to: message.to, text: message.text });
  }
}
