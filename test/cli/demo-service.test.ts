/** The main job: `mitid-sim demo` runs the activation service end to end on embedded defaults. */
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

interface DemoOutput {
  ok: boolean;
  dir: string;
  steps: Array<{ step: string; who: string; result: string; ok: boolean }>;
}

describe('mitid-sim demo', () => {
  it('activates and logs in a user with every kind of authenticator, the app included, through the HTTP API', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mitid-demo-service-'));
    const r = runCli(['demo', '--dir', dir, '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as DemoOutput;
    expect(out.ok).toBe(true);
    expect(out.steps.every((s) => s.ok)).toBe(true);
    const rows = (step: string) => out.steps.filter((s) => s.step.startsWith(step));
    // One activation per user, each finished with a confirmation e-mail.
    expect(rows('finish activation').map((s) => s.who)).toEqual([
      'anna (private)',
      'bent (display)',
      'cecilie (audio)',
      'dan (chip)',
      'emil (app)',
    ]);
    expect(rows('confirmation e-mail').every((s) => s.result === 'received')).toBe(true);
    // A login for every kind, each landing in the organisation.
    const logins = rows('login:');
    expect(logins.map((s) => s.who).sort()).toEqual([
      'anna (private)',
      'bent (display)',
      'cecilie (audio)',
      'dan (chip)',
      'emil (app)',
    ]);
    expect(logins.every((s) => s.result === 'as Demo Byg ApS')).toBe(true);
    expect(rows('the link works once').every((s) => s.result.startsWith('410'))).toBe(true);
    expect(rows('the same code again')[0]!.result).toBe('verified: false');
    // The app: the private MitID app is asked at the start, the work app scans the QR code.
    expect(rows('start: private MitID app is asked')[0]!.result).toBe('202 pending');
    expect(rows('the page moves on by itself')[0]!.result).toBe('finish');
    expect(rows('the same approval again')[0]!.result).toBe('409 already-answered');
    // The database, the device files and the seed file stay for a look.
    expect(existsSync(join(dir, 'activation.sqlite'))).toBe(true);
    expect(readdirSync(join(dir, 'devices'))).toEqual(
      expect.arrayContaining(['CH4000001.json', 'phone-emil-work.json']),
    );
    expect(existsSync(join(dir, 'vendor-seeds.pskc'))).toBe(true);
  });

  it('refuses a --dir that already holds files, with one line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mitid-demo-service-full-'));
    writeFileSync(join(dir, 'something'), 'x');
    const r = runCli(['demo', '--dir', dir]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^mitid-sim: --dir .* is not empty.*\n$/);
  });

  it('prints a readable table without --json', () => {
    const r = runCli(['demo']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ok {4}start: log in with private MitID/m);
    expect(r.stdout).toContain('all steps behaved as expected');
  });
});
