/** `mitid-sim serve`: the service on embedded defaults, reachable over HTTP, stopped by SIGINT; `admin token`. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startCli } from '../support/cli.js';

describe('mitid-sim serve', () => {
  it('serves the API and its OpenAPI document on a SQLite file, and an admin token works on it', async () => {
    const data = mkdtempSync(join(tmpdir(), 'mitid-serve-'));
    const env = ['--data', data];
    const org = runCli([
      'org',
      'create',
      '--cvr',
      '92345678',
      '--name',
      'Serve ApS',
      '--admin-name',
      'Sofie Admin',
      '--admin-email',
      'sofie@serve.example',
      ...env,
    ]);
    expect(org.stderr).toBe('');
    expect(org.status).toBe(0);
    const tok = runCli(['admin', 'token', '--cvr', '92345678', '--json', ...env]);
    expect(tok.status).toBe(0);
    const { token } = JSON.parse(tok.stdout) as { token: string };
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const served = await startCli(['serve', '--port', '0', '--json', ...env], /"url"/);
    try {
      const facts = JSON.parse(served.output().stdout.trim().split('\n')[0]!) as {
        url: string;
        openapi: string;
        mailbox: string;
      };
      expect(facts.mailbox).toMatch(/^smtp:\/\/127\.0\.0\.1:\d+$/);
      expect((await fetch(`${facts.url}/healthz`)).status).toBe(200);
      const doc = (await (await fetch(facts.openapi)).json()) as { openapi: string; paths: object };
      expect(doc.openapi).toBe('3.1.0');
      expect(Object.keys(doc.paths)).toContain('/api/activation-links/{token}/start');
      const me = await fetch(`${facts.url}/api/admin/me`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(me.status).toBe(200);
      expect(((await me.json()) as { organisation: { name: string } }).organisation.name).toBe(
        'Serve ApS',
      );
      const bad = await fetch(`${facts.url}/api/admin/me`, {
        headers: { authorization: `Bearer ${'x'.repeat(43)}` },
      });
      expect(bad.status).toBe(401);
      expect(await bad.json()).toMatchObject({ error: 'bad-token' });
    } finally {
      expect(await served.stop()).toBe(0);
    }
  });

  it('refuses a bad port and an unknown organisation with one line', () => {
    const data = mkdtempSync(join(tmpdir(), 'mitid-serve-bad-'));
    const r = runCli(['serve', '--port', '70000', '--data', data]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^mitid-sim: --port must be a number from 0 to 65535\n$/);
    const t = runCli(['admin', 'token', '--cvr', '99999999', '--data', data]);
    expect(t.status).toBe(2);
    expect(t.stderr).toMatch(/^mitid-sim: no organisation has CVR 99999999\n$/);
  });
});
