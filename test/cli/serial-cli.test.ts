/** `serial serve` in one process, `serial press` in another, over a real pty pair made by socat. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openPtyPair } from '../../src/serial/pty.js';
import { runCli, startCli } from '../support/cli.js';
import { describeWithTool, toolAvailable } from '../support/tools.js';

describeWithTool('socat', toolAvailable('socat', ['-V']), 'serial CLI over a pty pair', () => {
  it('presses a served virtual code display from a second process, and the device file keeps the press', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mitid-serial-cli-'));
    const file = join(dir, 'cd.json');
    expect(
      runCli(['device', 'create', 'code-display', '--serial', 'SER001', '--out', file]).status,
    ).toBe(0);
    const pty = await openPtyPair();
    const server = await startCli(
      ['serial', 'serve', file, '--port', pty.a],
      /serving code-display SER001/,
    );
    try {
      const r = runCli(['serial', 'press', '--port', pty.b, '--json']);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const j = JSON.parse(r.stdout) as {
        code: string;
        text: string;
        serial: string;
        kind: string;
      };
      expect([j.kind, j.serial]).toEqual(['code-display', 'SER001']);
      expect(j.code).toMatch(/^\d{6}$/);
      expect(j.text).toBe(`${j.code.slice(0, 3)} ${j.code.slice(3)}`);
      const plain = runCli(['serial', 'press', '--port', pty.b]);
      expect(plain.stdout.trim()).toMatch(/^\d{3} \d{3}$/);
    } finally {
      expect(await server.stop()).toBe(0);
      await pty.close();
    }
    // Two presses went through the line and were saved to the device file.
    const saved = JSON.parse(readFileSync(file, 'utf8')) as {
      presses?: number;
      counters?: { presses?: number };
    };
    expect(JSON.stringify(saved)).toMatch(/"presses":\s*2/);
  });

  it('stops with one line when the port goes away under it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mitid-serial-cli-'));
    const file = join(dir, 'cd.json');
    expect(
      runCli(['device', 'create', 'code-display', '--serial', 'SER002', '--out', file]).status,
    ).toBe(0);
    const pty = await openPtyPair();
    const server = await startCli(
      ['serial', 'serve', file, '--port', pty.a],
      /serving code-display SER002/,
    );
    const exited = new Promise<number | null>((r) => server.child.once('exit', (c) => r(c)));
    await pty.close();
    expect(await exited).toBe(1);
    expect(server.output().stderr).toMatch(/^mitid-sim: the serial port .+ closed\n$/);
  });

  it('times out clearly when nothing answers on the line', async () => {
    const pty = await openPtyPair();
    try {
      const r = runCli(['serial', 'press', '--port', pty.b, '--timeout', '400']);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/^mitid-sim: .*(timed out|timeout|no answer).*\n$/i);
    } finally {
      await pty.close();
    }
  });
});

describe('serial serve without a port', () => {
  it('fails with one line', () => {
    const r = runCli(['serial', 'serve', 'x.json']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--port is required/);
  });
});
