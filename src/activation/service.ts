/**
 * The running activation service: the store, the built-in dev mailbox (or any SMTP relay), the
 * outbox dispatcher, the chip verifier and the HTTP API, started and stopped together.
 */
import { createServer } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { systemClock, type Clock } from '../core/clock.js';
import { ActivationFlow, type FlowOptions, type RateLimits } from './flow.js';
import { buildHttpApi } from './http.js';
import { startDevMailbox, type DevMailbox } from './mailbox.js';
import { SmsAdapter, SmtpEmailAdapter, type SmtpOptions } from './notify.js';
import { OutboxDispatcher } from './outbox.js';
import { openStore, type Store, type StoreOptions } from './store/store.js';
import { ActivationError } from './violations.js';
import { ChipVerifier } from './webauthn.js';

/** How to run the service. Everything has an embedded default. */
export interface ServiceConfig {
  /** Port to listen on; 0 (default 8080 in the CLI) picks a free one. */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** The store: a SQLite file or a postgres:// URL, plus its data directory and keys. */
  readonly store: StoreOptions;
  /** Public base URL of links and the WebAuthn origin; default `http://localhost:PORT`. */
  readonly baseUrl?: string;
  /** WebAuthn relying party ID; default the base URL's host. */
  readonly rpId?: string;
  /** An SMTP relay; default the built-in dev mailbox on a free localhost port. */
  readonly smtp?: SmtpOptions;
  /** How often the outbox is drained, ms (default 250). */
  readonly dispatchIntervalMs?: number;
  /** Serve /api/dev (default true: this is an emulator). */
  readonly dev?: boolean;
  readonly logger?: boolean;
  readonly clock?: Clock;
  readonly limits?: Partial<RateLimits>;
  /** Trusted attestation roots for chips (DER). */
  readonly trustedRoots?: readonly Uint8Array[];
  readonly otp?: FlowOptions['otp'];
}

/** A started service. */
export interface RunningService {
  readonly url: string;
  readonly port: number;
  readonly store: Store;
  readonly flow: ActivationFlow;
  readonly app: FastifyInstance;
  readonly dispatcher: OutboxDispatcher;
  /** The dev mailbox when no SMTP relay was configured. */
  readonly mailbox: DevMailbox | undefined;
  /** Sends what the outbox holds now (tests and the demo call it rather than wait). */
  drainOutbox(): Promise<void>;
  close(): Promise<void>;
}

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts the service. On failure everything started so far is stopped again. With no port (or
 * 0) it picks a free one; the base URL names the port, so it is chosen before the server
 * listens, and should another program take it in between, the service starts again on another.
 */
export async function startService(config: ServiceConfig): Promise<RunningService> {
  const host = config.host ?? '127.0.0.1';
  if (config.port !== undefined && config.port !== 0) return startOn(config, host, config.port);
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOn(config, host, await freePort(host));
    } catch (e) {
      const taken =
        e instanceof ActivationError &&
        e.code === 'listen-failed' &&
        (e.cause as { code?: unknown } | undefined)?.code === 'EADDRINUSE';
      if (!taken || attempt >= 5) throw e;
    }
  }
}

async function startOn(config: ServiceConfig, host: string, port: number): Promise<RunningService> {
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new ActivationError('bad-port', 'port must be a whole number from 0 to 65535');
  const baseUrl = (config.baseUrl ?? `http://localhost:${port}`).replace(/\/+$/, '');
  let origin: string;
  let rpId: string;
  try {
    const u = new URL(baseUrl);
    origin = u.origin;
    rpId = config.rpId ?? u.hostname;
  } catch {
    throw new ActivationError('bad-base-url', 'the base URL is not a URL');
  }
  const clock = config.clock ?? systemClock;
  const store = await openStore({ ...config.store, clock });
  const stops: (() => Promise<void>)[] = [() => store.close()];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    stops.length = 0;
  };
  try {
    const mailbox = config.smtp === undefined ? await startDevMailbox(store) : undefined;
    if (mailbox) stops.push(() => mailbox.close());
    const smtp: SmtpOptions = config.smtp ?? {
      host: mailbox!.host,
      port: mailbox!.port,
      from: 'MitID Erhverv <no-reply@mitid-erhverv.invalid>',
      ignoreTLS: true,
    };
    const email = new SmtpEmailAdapter(smtp);
    const dispatcher = new OutboxDispatcher(store, { email, sms: new SmsAdapter() });
    const chip = new ChipVerifier({
      rpId,
      rpName: 'MitID Erhverv (mitid-sim)',
      origin,
      ...(config.trustedRoots === undefined ? {} : { trustedRoots: config.trustedRoots }),
    });
    const flow = new ActivationFlow(store, {
      baseUrl,
      chip,
      ...(config.limits === undefined ? {} : { limits: config.limits }),
      ...(config.otp === undefined ? {} : { otp: config.otp }),
    });
    const app = await buildHttpApi(flow, {
      baseUrl,
      dev: config.dev ?? true,
      logger: config.logger ?? false,
    });
    stops.push(() => app.close());
    try {
      await app.listen({ port, host });
    } catch (e) {
      throw new ActivationError(
        'listen-failed',
        `cannot listen on ${host}:${port}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        { cause: e },
      );
    }
    const interval = config.dispatchIntervalMs ?? 250;
    let draining: Promise<void> = Promise.resolve();
    dispatcher.start(interval);
    stops.push(() => dispatcher.stop());
    const listenUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    return {
      url: listenUrl,
      port,
      store,
      flow,
      app,
      dispatcher,
      mailbox,
      drainOutbox() {
        // One drain at a time: a second caller waits for the first and then drains again, so
        // when it returns, what was due when it was called has been sent (a message another
        // drain holds mid-send is not due to anyone else).
        const run = async (): Promise<void> => {
          // The background round may hold claims mid-send: wait for it, drain, then resume.
          await dispatcher.stop();
          try {
            await dispatcher.drain();
          } finally {
            dispatcher.start(interval);
          }
        };
        const next = draining.then(run, run);
        draining = next.catch(() => undefined);
        return next;
      },
      close: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
