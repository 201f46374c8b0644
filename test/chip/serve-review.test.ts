/** `chip serve` as a second process sees it: presses are acknowledged, the note names the host port. */
import { createSocket } from 'node:dgram';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createChipDeviceFile,
  openChipFile,
  pressServedChip,
  serveChipFile,
  serveNotePath,
} from '../../devices/chip/virtual.js';
import { commands } from '../../src/cli/commands/chip.js';
import { runCli } from '../../src/cli/main.js';
import { VirtualClock } from '../../src/core/clock.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chip-serve-review-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function cli(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(
    args,
    { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) },
    commands,
  );
  return { code, stdout, stderr };
}

/** A UDP port nobody listens on (bound, then released). */
async function freePort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  const { port } = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('chip press', () => {
  it('succeeds only when the serving chip acknowledges the press', async () => {
    const file = join(dir, 'press.json');
    await createChipDeviceFile({ serial: 'PRESS-1', out: file });
    const presses: string[] = [];
    const served = await serveChipFile(file, {
      port: 0,
      hostPort: 'sender',
      press: 'manual',
      onPress: (by) => presses.push(by),
    });
    try {
      const where = `udp:127.0.0.1:${served.address.port}`;
      expect(await pressServedChip(where)).toBe(where);
      expect(await pressServedChip(file)).toBe(where);
      const viaCli = await cli('chip', 'press', where);
      expect(viaCli.code).toBe(0);
      expect(viaCli.stdout).toBe(`pressed (${where})\n`);
      expect(presses).toEqual(['remote', 'remote', 'remote']);
    } finally {
      await served.close();
    }
  });

  it('fails with one line and rc 1 when nothing listens', async () => {
    const port = await freePort();
    const r = await cli('chip', 'press', `udp:127.0.0.1:${port}`);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/no chip answered at udp:127\.0\.0\.1:\d+ within 1 s/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('the serving note', () => {
  it('names a fixed host port, so the advice to a second user works', async () => {
    const file = join(dir, 'note.json');
    await createChipDeviceFile({ serial: 'NOTE-1', out: file });
    const hostPort = await freePort();
    const served = await serveChipFile(file, { port: 0, hostPort });
    try {
      const note = JSON.parse(await readFile(serveNotePath(file), 'utf8')) as {
        udp: string;
        hostPort: number;
      };
      expect(note).toMatchObject({ udp: `udp:127.0.0.1:${served.address.port}`, hostPort });
      await expect(openChipFile(file)).rejects.toThrow(
        `use --device udp:127.0.0.1:${served.address.port} --local-port ${hostPort}`,
      );
      const info = await cli('chip', 'info', '--device', file);
      expect(info.code).toBe(1);
      expect(info.stderr).toContain(`--local-port ${hostPort}`);
    } finally {
      await served.close();
    }
  });

  it("adds no --local-port when answers go to the sender's port", async () => {
    const file = join(dir, 'sender.json');
    await createChipDeviceFile({ serial: 'NOTE-2', out: file });
    const served = await serveChipFile(file, { port: 0, hostPort: 'sender' });
    try {
      const err = await openChipFile(file).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err?.message).toMatch(/use --device udp:127\.0\.0\.1:\d+$/);
    } finally {
      await served.close();
    }
  });
});

describe('the serial over UDP', () => {
  it('is null (JSON) or unknown (text), never the AAGUID, since UDP carries no serial', async () => {
    const file = join(dir, 'serial.json');
    const made = await createChipDeviceFile({ serial: 'SERIAL-1', out: file });
    const served = await serveChipFile(file, { port: 0, hostPort: 'sender' });
    try {
      const device = `udp:127.0.0.1:${served.address.port}`;
      const json = await cli('chip', 'info', '--device', device, '--local-port', '0', '--json');
      expect(json.code, json.stderr).toBe(0);
      const info = JSON.parse(json.stdout) as { serial: unknown; aaguid: string };
      expect(info.aaguid).toBe(made.aaguid);
      expect(info.serial).toBeNull();
      const text = await cli('chip', 'info', '--device', device, '--local-port', '0');
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toMatch(/^serial {6}unknown$/m);
      expect(text.stdout).not.toMatch(new RegExp(`^serial.*${made.aaguid}`, 'm'));
    } finally {
      await served.close();
    }
    // A device file knows its serial.
    const local = await cli('chip', 'info', '--device', file, '--json');
    expect((JSON.parse(local.stdout) as { serial: string }).serial).toBe('SERIAL-1');
  });
});

describe('reset outside the power-up window', () => {
  it('explains the 10 s window and how to get a fresh one', async () => {
    const file = join(dir, 'reset.json');
    await createChipDeviceFile({ serial: 'RESET-1', out: file });
    const clock = new VirtualClock();
    const served = await serveChipFile(file, { port: 0, hostPort: 'sender', clock });
    try {
      clock.advance(11_000);
      const r = await cli(
        'chip',
        'reset',
        '--device',
        `udp:127.0.0.1:${served.address.port}`,
        '--local-port',
        '0',
        '--yes',
      );
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/only within 10 s of power-up: restart .*chip serve.*reset at once/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    } finally {
      await served.close();
    }
  });
});
