/** The phone's notification channel: the SSE parser, and the event stream against a real HTTP server. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type SseEvent, SseParser, MitIdApp, VirtualPhone } from '../../devices/app/index.js';
import { utf8 } from '../../src/core/bytes.js';

describe('SseParser', () => {
  it('builds events from chunks cut anywhere, with LF, CRLF and CR line ends', () => {
    const stream =
      ': keep-alive\n\nevent: approval\r\ndata: {"a":\r\ndata: 1}\r\nid: 7\r\n\r\ndata:x\rretry: 250\r\r' +
      'event: other\ndata\n\n';
    const whole = new SseParser().push(stream);
    expect(whole).toEqual([
      { event: 'approval', data: '{"a":\n1}', id: '7' },
      { event: 'message', data: 'x', id: '7' },
      { event: 'other', data: '', id: '7' },
    ]);
    // Byte by byte (CRLF split across chunks, UTF-8 split inside a character) gives the same.
    const p = new SseParser();
    const bytes = utf8(stream.replace('x', 'æ'));
    const got: SseEvent[] = [];
    for (const b of bytes) got.push(...p.push(Uint8Array.of(b)));
    expect(got.map((e) => e.data)).toEqual(['{"a":\n1}', 'æ', '']);
    expect(p.retryMs).toBe(250);
    expect(p.lastEventId).toBe('7');
  });

  it('ignores comments and events without data, and forgets a half event on reset', () => {
    const p = new SseParser();
    expect(p.push(': ping\n\nevent: approval\n\n')).toEqual([]);
    expect(p.push('data: half')).toEqual([]);
    p.reset();
    expect(p.push('\n\ndata: whole\n\n')).toEqual([
      { event: 'message', data: 'whole', id: undefined },
    ]);
  });
});

/** A small real HTTP server speaking the app's event stream and pending list. */
interface StreamServer {
  url: string;
  connections: Array<{
    lastEventId: string | undefined;
    res: ServerResponse;
    closed: Promise<void>;
  }>;
  connected: (n: number) => Promise<void>;
  pending: unknown[];
  server: Server;
}

const TOKEN = 'A'.repeat(32);

async function startStreamServer(): Promise<StreamServer> {
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const s: StreamServer = {
    url: '',
    connections: [],
    pending: [],
    server: undefined as unknown as Server,
    connected: (n) =>
      new Promise<void>((resolve) => {
        if (s.connections.length >= n) resolve();
        else waiters.push({ n, resolve });
      }),
  };
  s.server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'app-unknown', message: 'Unknown app.' }));
      return;
    }
    if (req.url === '/api/app/approvals') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ approvals: s.pending }));
      return;
    }
    if (req.url !== '/api/app/events') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    res.write(': hello\n\nretry: 5\n\n');
    const closed = new Promise<void>((resolve) => res.on('close', () => resolve()));
    const lei = req.headers['last-event-id'];
    s.connections.push({ lastEventId: typeof lei === 'string' ? lei : undefined, res, closed });
    for (const w of waiters.filter((w) => s.connections.length >= w.n)) w.resolve();
  });
  await new Promise<void>((r) => s.server.listen(0, '127.0.0.1', r));
  s.url = `http://127.0.0.1:${(s.server.address() as AddressInfo).port}`;
  return s;
}

function approval(requestId: string) {
  return {
    requestId,
    request: 'eyJyIjoxfQ',
    display: { service: 'Demo Byg ApS', action: 'log in', text: 'Log in to Demo Byg ApS' },
    expiresAt: '2026-01-01T00:02:00.000Z',
  };
}

describe('the event stream against a real HTTP server', () => {
  let dir: string;
  let srv: StreamServer;
  let phone: VirtualPhone;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mitid-sse-'));
    srv = await startStreamServer();
    phone = await VirtualPhone.create({
      number: '+4520000006',
      out: join(dir, 'phone.json'),
      serviceUrl: srv.url,
    });
  });
  afterEach(async () => {
    srv.server.closeAllConnections();
    await new Promise((r) => srv.server.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it('yields events, reconnects after a drop with Last-Event-ID, and closes cleanly', async () => {
    const ac = new AbortController();
    const seen: SseEvent[] = [];
    let opens = 0;
    const done = (async () => {
      for await (const ev of phone.events(TOKEN, {
        signal: ac.signal,
        reconnectMs: 5,
        onOpen: () => opens++,
      })) {
        seen.push(ev);
        if (seen.length === 2) ac.abort();
      }
    })();
    await srv.connected(1);
    const first = srv.connections[0]!;
    // One event cut in the middle of a line, then the connection drops.
    first.res.write('id: e1\nevent: approval\ndata: {"requestId":');
    first.res.write('"r1"}\n\n');
    first.res.write('data: half an event that never ends');
    first.res.end(); // the server goes away: the connection drops after what it wrote
    await srv.connected(2);
    const second = srv.connections[1]!;
    expect(second.lastEventId).toBe('e1');
    second.res.write('event: approval\r\ndata: {"requestId":"r2"}\r\n\r\n');
    await done;
    await second.closed; // the client hung up when it stopped
    expect(seen.map((e) => [e.event, e.data])).toEqual([
      ['approval', '{"requestId":"r1"}'],
      ['approval', '{"requestId":"r2"}'],
    ]);
    expect(opens).toBe(2);
  });

  it('ends with the refusal when the service refuses the token', async () => {
    const it = phone.events('B'.repeat(32), { reconnectMs: 5 });
    await expect(it.next()).rejects.toMatchObject({ code: 'app-unknown', status: 401 });
  });

  it('gives the next approval request from a notification, or from the pending list', async () => {
    await phone.update((s) => ({
      state: {
        ...s,
        identities: [
          {
            userId: 'bent.erhverv',
            appId: 'app_0123456789',
            mitid: 'separate',
            publicKey: 'AA',
            privateKey: 'AA',
            appToken: TOKEN,
            biometrics: false,
            placement: 'new-device',
            activatedAt: 'x',
          },
        ],
      },
      result: undefined,
    }));
    const app = MitIdApp.select(phone);
    // Notification: the stream carries it (the pending list is empty).
    const next = app.nextApproval({ pollMs: 60_000 });
    await srv.connected(1);
    srv.connections[0]!.res.write(`event: approval\ndata: ${JSON.stringify(approval('r1'))}\n\n`);
    expect(await next).toEqual(approval('r1'));
    await srv.connections[0]!.closed;
    // Fallback: a request already pending when the app looks is found by the poll at open.
    srv.pending = [approval('r1'), approval('r2')];
    const r = await app.nextApproval({ pollMs: 60_000, skip: new Set(['r1']) });
    expect(r.requestId).toBe('r2');
    // Waiting for one request only (the QR code's), with a timeout.
    srv.pending = [];
    await expect(
      app.nextApproval({ pollMs: 60_000, requestId: 'r9', timeoutMs: 50 }),
    ).rejects.toMatchObject({ code: 'no-approval' });
  });
});
