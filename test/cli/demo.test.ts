/** `mitid-sim demo devices`: the devices alone run to the end on embedded defaults and every step behaves. */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { toolAvailable } from '../support/tools.js';

interface DemoOutput {
  ok: boolean;
  dir: string;
  steps: Array<{ step: string; device: string; result: string; ok: boolean }>;
}

describe('mitid-sim demo devices', () => {
  it('binds, logs in, refuses a replay and a wrong code, follows drift, and drives the serial line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mitid-demo-test-'));
    const r = runCli(['demo', 'devices', '--dir', dir, '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as DemoOutput;
    expect(out.ok).toBe(true);
    expect(out.steps.every((s) => s.ok)).toBe(true);
    const byStep = (name: string) => out.steps.filter((s) => s.step.startsWith(name));
    expect(byStep('bind with serial')).toHaveLength(3);
    expect(byStep('bind with serial').every((s) => s.result.endsWith(': ok'))).toBe(true);
    expect(byStep('same code again')[0]!.result).toMatch(/replayed$/);
    expect(byStep('wrong code')[0]!.result).toMatch(/wrong-code$/);
    expect(byStep('login, clock')[0]!.step).toMatch(/1[67]\.\d s ahead/);
    const serial = byStep('serial line').concat(byStep('login over the serial line'))[0]!;
    if (toolAvailable('socat', ['-V']) || process.env.CI === 'true')
      expect(serial.result).toMatch(/: ok$/);
    else expect(serial.result).toMatch(/socat is not installed/);
    // What it made is there to look at; the seed file does not hold a secret in the clear.
    expect(readdirSync(join(dir, 'devices')).sort()).toEqual([
      'KV900001.json',
      'KV900002.json',
      'KV900003.json',
    ]);
    expect(existsSync(join(dir, 'KV900001.svg'))).toBe(true);
    expect(readFileSync(join(dir, 'vendor-seeds.pskc'), 'utf8')).toMatch(/EncryptedValue/);
  });

  it('refuses a --dir that already holds files, with one line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mitid-demo-full-'));
    writeFileSync(join(dir, 'something'), 'x');
    const r = runCli(['demo', 'devices', '--dir', dir]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^mitid-sim: --dir .* is not empty.*\n$/);
  });

  it('prints a readable table without --json', () => {
    const r = runCli(['demo', 'devices']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ok {4}import PSKC seed file/m);
    expect(r.stdout).toContain('all steps behaved as expected');
  });
});
