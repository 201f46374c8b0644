/**
 * How VirtualHidTransport hands writes to the firmware: on a later macrotask (timers and
 * immediates run between exchanges, as with a real device), holding the process open only while a
 * write is in flight.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { CtapHidClient, packetize } from '../../src/ctap/ctaphid.js';
import type { HidDeviceFirmware } from '../../src/hid/port.js';
import { VirtualHidTransport } from '../../src/hid/virtual.js';
import { ChipFirmware } from '../../firmware-sim/chip/index.js';
import { EchoFirmware, report } from './echo-firmware.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const built = (path: string): string => pathToFileURL(join(root, 'dist', path)).href;

/** Exchanges at most this many reports waiting for a timer; a starved timer never fires. */
const CAP = 100_000;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True when the child had to be killed because it did not exit by itself. */
  killed: boolean;
}

/**
 * Runs `source` as an ES module in a child Node process and waits for it to exit by itself; a
 * child still running after `graceMs` is killed and reported as such.
 */
function runChild(source: string, graceMs = 20_000): Promise<Exit> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', source], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let killed = false;
    const guard = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, graceMs);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      resolve({ code, signal, stdout, stderr, killed });
    });
  });
}

describe('VirtualHidTransport turns', () => {
  it('lets a timer and an immediate run between consecutive exchanges', async () => {
    const t = new VirtualHidTransport(new EchoFirmware());
    let timerAt = -1;
    let immediateAt = -1;
    let exchanges = 0;
    setTimeout(() => (timerAt = exchanges), 0);
    setImmediate(() => (immediateAt = exchanges));
    while ((timerAt < 0 || immediateAt < 0) && exchanges < CAP) {
      await t.write(report(exchanges & 0xff));
      const answer = await t.read(1000);
      expect(answer[0]).toBe(exchanges & 0xff);
      exchanges++;
    }
    // Both ran while exchanges were still being made, not after the loop gave up.
    expect(timerAt).toBeGreaterThanOrEqual(0);
    expect(immediateAt).toBeGreaterThanOrEqual(0);
    expect(exchanges).toBeLessThan(CAP);
    await t.close();
  });

  it('settles a write in flight when closed, and keeps nothing open afterwards', async () => {
    const fw = new EchoFirmware();
    const t = new VirtualHidTransport(fw);
    const write = t.write(report(1));
    await t.close();
    await write;
    // The report was dropped with the transport: the firmware never saw it.
    expect(fw.handled.length).toBe(0);
  });

  it('holds a delayed report as written, though the transport reuses its copies', async () => {
    const fw = new EchoFirmware();
    const t = new VirtualHidTransport(fw);
    t.injectFault({ type: 'delay', direction: 'to-device', ms: 20 });
    await t.writeReports([report(1, { 10: 0xaa })]);
    await t.writeReports([report(2, { 10: 0xbb })]);
    const answers = [await t.read(1000), await t.read(1000)];
    expect(answers.map((r) => [r[0], r[10]])).toEqual([
      [2, 0xbb],
      [1, 0xaa],
    ]);
    await t.close();
  });

  it('a client over it sends each message as packetize lays it out, padding zeroed', async () => {
    const chip = ChipFirmware.manufacture({ serial: 'PAD-1', clock: systemClock });
    const seen: Uint8Array[] = [];
    const recording: HidDeviceFirmware = {
      handleReport: (r) => (seen.push(Uint8Array.from(r)), chip.handleReport(r)),
      tick: () => chip.tick(),
      get busy() {
        return chip.busy;
      },
      powerCycle: () => chip.powerCycle(),
    };
    const client = await CtapHidClient.open(new VirtualHidTransport(recording));
    // Long, then short, then long again: no bytes of an earlier message may show through.
    for (const n of [300, 3, 120, 0, 57, 58]) {
      const data = Uint8Array.from({ length: n }, (_, i) => ((i * 7 + n) & 0xff) | 1);
      seen.length = 0;
      expect(await client.ping(data)).toEqual(data);
      expect(seen).toEqual(packetize(client.cid, 0x01, data));
    }
    await client.close();
  });

  it('does not keep an idle process alive: a program that proves once exits by itself', async () => {
    if (!existsSync(join(root, 'dist/devices/chip/chip.js'))) {
      throw new Error('the project is not built: run npm run build first');
    }
    // The chip is left open on purpose: an idle transport must not hold the event loop.
    const source = `
      import { createHash, randomBytes } from 'node:crypto';
      const { systemClock } = await import(${JSON.stringify(built('src/core/clock.js'))});
      const { VirtualHidTransport } = await import(${JSON.stringify(built('src/hid/virtual.js'))});
      const { ChipFirmware } = await import(${JSON.stringify(built('firmware-sim/chip/index.js'))});
      const { Chip } = await import(${JSON.stringify(built('devices/chip/chip.js'))});
      const rpId = 'exit.mitid.example';
      const firmware = ChipFirmware.manufacture({ serial: 'EXIT-1', clock: systemClock });
      const chip = await Chip.fromTransport(await VirtualHidTransport.open(firmware));
      const made = await chip.ctap.makeCredential({
        clientDataHash: new Uint8Array(createHash('sha256').update('exit').digest()),
        rp: { id: rpId },
        user: { id: new Uint8Array(randomBytes(16)), name: 'exit' },
      });
      const proof = await chip.prove({
        rpId,
        origin: 'https://' + rpId,
        challenge: new Uint8Array(randomBytes(32)),
        allowCredentials: [made.credentialId],
      });
      process.stdout.write('signature ' + proof.signature.length + '\\n');
    `;
    const exit = await runChild(source);
    expect(exit.killed).toBe(false);
    expect(exit.stderr).toBe('');
    expect(exit.code).toBe(0);
    expect(exit.stdout).toMatch(/^signature \d+\n$/);
  });

  it('keeps the process alive while a write is in flight, until its answer is read', async () => {
    if (!existsSync(join(root, 'dist/src/hid/virtual.js'))) {
      throw new Error('the project is not built: run npm run build first');
    }
    // Nothing but the write in flight holds the loop when the child's last line has run: if the
    // transport let go of it early, the top-level await would never settle (exit code 13).
    const source = `
      const { VirtualHidTransport } = await import(${JSON.stringify(built('src/hid/virtual.js'))});
      const firmware = {
        busy: false,
        handleReport: (r) => [Uint8Array.from(r)],
        tick: () => [],
        powerCycle() {},
      };
      const t = new VirtualHidTransport(firmware);
      const out = new Uint8Array(64);
      out[0] = 42;
      await t.write(out);
      process.stdout.write('answer ' + t.readReady()[0] + '\\n');
    `;
    const exit = await runChild(source);
    expect(exit.killed).toBe(false);
    expect(exit.stderr).toBe('');
    expect(exit.code).toBe(0);
    expect(exit.stdout).toBe('answer 42\n');
  });
});
