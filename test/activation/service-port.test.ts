/**
 * startService with no port: the port is chosen before the server listens (the base URL names
 * it), so another program may take it in between; the service then starts again on another.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import type * as Net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it, vi } from 'vitest';

/** The port the first port probe of the service reports instead of its own (set by the test). */
const probe: { taken: number | undefined } = vi.hoisted(() => ({ taken: undefined }));

vi.mock('node:net', async (importOriginal) => {
  const net = await importOriginal<typeof Net>();
  return {
    ...net,
    createServer: (...args: Parameters<typeof net.createServer>) => {
      const server = net.createServer(...args);
      const taken = probe.taken;
      if (taken === undefined) return server;
      probe.taken = undefined;
      // This probe listens on a port of its own but says it got the one another program holds.
      const address = server.address.bind(server);
      server.address = () => {
        const a = address();
        return typeof a === 'object' && a !== null ? { ...a, port: taken } : a;
      };
      return server;
    },
  };
});

const { startService, generateServiceKeys } = await import('../../src/activation/index.js');

let holder: Server | undefined;
let dir: string | undefined;
afterEach(async () => {
  await new Promise((r) => (holder ? holder.close(r) : r(undefined)));
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

it('starts on another port when the one it picked is taken before it listens', async () => {
  holder = createHttpServer();
  await new Promise<void>((r) => holder!.listen(0, '127.0.0.1', r));
  const addr = holder.address();
  const takenPort = typeof addr === 'object' && addr !== null ? addr.port : 0;
  probe.taken = takenPort;
  dir = await mkdtemp(join(tmpdir(), 'mitid-service-port-'));
  const svc = await startService({
    store: { dataDir: dir, keys: generateServiceKeys() },
    port: 0,
    dispatchIntervalMs: 3_600_000,
  });
  try {
    // The first try met the taken port; the service runs on another, and answers there.
    expect(probe.taken).toBeUndefined();
    expect(svc.port).not.toBe(takenPort);
    const res = await fetch(`${svc.url}/openapi.json`);
    expect(res.status).toBe(200);
  } finally {
    await svc.close();
  }
});
