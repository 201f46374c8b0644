/** The phone and app verbs, run in-process, where no service is needed. */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { commands } from '../../src/cli/commands/app.js';
import { runCli } from '../../src/cli/main.js';

interface Result {
  status: number;
  stdout: string;
  stderr: string;
}

async function cli(...argv: string[]): Promise<Result> {
  let stdout = '';
  let stderr = '';
  const status = await runCli(
    argv,
    { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) },
    commands,
  );
  return { status, stdout, stderr };
}

function oneLineError(r: Result, pattern: RegExp): void {
  expect(r.status).not.toBe(0);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(/^mitid-sim: [^\n]+\n$/);
  expect(r.stderr).toMatch(pattern);
}

describe('phone and app verbs', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mitid-app-cli-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('has --help for every verb', async () => {
    for (const c of commands) {
      const r = await cli(...c.path, '--help');
      expect(r.status).toBe(0);
      expect(r.stdout).toContain(`usage: mitid-sim ${c.usage}`);
    }
  });

  it('makes a phone and shows it', async () => {
    const out = join(dir, 'phone.json');
    const made = await cli(
      'phone',
      'create',
      '--number',
      '+4520000002',
      '--out',
      out,
      '--service',
      'http://127.0.0.1:9',
    );
    expect(made).toMatchObject({ status: 0, stderr: '' });
    expect(made.stdout).toBe(`made phone +4520000002 in ${out} (service http://127.0.0.1:9)\n`);
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    const shown = await cli('phone', 'show', out, '--json');
    expect(JSON.parse(shown.stdout)).toEqual({
      number: '+4520000002',
      service: 'http://127.0.0.1:9',
      identities: [],
    });
    oneLineError(
      await cli('phone', 'create', '--number', '+4520000002', '--out', out),
      /already there/,
    );
    oneLineError(
      await cli('phone', 'create', '--number', '2000', '--out', join(dir, 'x.json')),
      /E\.164/,
    );
  });

  it('gives one clear line for bad use and an unreachable service, never the PIN', async () => {
    const out = join(dir, 'phone.json');
    await cli(
      'phone',
      'create',
      '--number',
      '+4520000002',
      '--out',
      out,
      '--service',
      'http://127.0.0.1:9',
    );
    oneLineError(
      await cli('app', 'activate', out, '--user-id', 'bent.erhverv', '--code', 'AB12-CD34'),
      /--pin is required/,
    );
    oneLineError(
      await cli('app', 'activate', out, '--code', 'AB12-CD34', '--pin', '482913'),
      /--user-id is required/,
    );
    const bad = await cli(
      'app',
      'activate',
      out,
      '--user-id',
      'b',
      '--code',
      'AB12-CD34',
      '--pin',
      '4829',
    );
    oneLineError(bad, /--pin must be 6 digits/);
    expect(bad.stderr).not.toContain('4829');
    const mismatch = await cli(
      'app',
      'activate',
      out,
      '--user-id',
      'bent.erhverv',
      '--code',
      'AB12-CD34',
      '--pin',
      '482913',
      '--pin-repeat',
      '482914',
    );
    oneLineError(mismatch, /not the same/);
    expect(mismatch.stderr).not.toMatch(/48291[34]/);
    const away = await cli(
      'app',
      'activate',
      out,
      '--user-id',
      'bent.erhverv',
      '--code',
      'AB12-CD34',
      '--pin',
      '482913',
    );
    oneLineError(away, /cannot reach the service at http:\/\/127\.0\.0\.1:9/);
    expect(away.stderr).not.toContain('482913');
    oneLineError(await cli('app', 'approve', out, '--pin', '482913'), /--qr PNGFILE.*--code 1234/);
    oneLineError(await cli('app', 'approve', out, '--code', '12345'), /4 digits/);
    oneLineError(
      await cli('app', 'approve', out, '--code', '1234', '--pin', '482913'),
      /not activated/,
    );
    oneLineError(
      await cli('app', 'approve', out, '--code', '1234', '--qr', join(dir, 'none.png')),
      /not both/,
    );
    oneLineError(
      await cli('app', 'activate', out, '--qr', join(dir, 'none.png'), '--pin', '482913'),
      /cannot be read/,
    );
    oneLineError(await cli('phone', 'sms', join(dir, 'nope.json')), /no such device file/);
  });
});
