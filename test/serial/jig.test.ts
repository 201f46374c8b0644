/** SerialCodeDisplay driving an independent jig: a Python program written from docs/serial-protocol.md. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SerialCodeDisplay } from '../../devices/code-display/serial.js';
import { fromHex } from '../../src/core/bytes.js';
import { DeviceError, SerialError } from '../../src/core/errors.js';
import { generateTotp } from '../../src/otp/generate.js';
import { openPtyPair, type PtyPair } from '../../src/serial/pty.js';
import { independentTotp } from '../contract/independent-totp.js';
import { describeWithTool, toolAvailable } from '../support/tools.js';

const JIG = join(dirname(fileURLToPath(import.meta.url)), 'jig.py');
// The key the jig's "token" holds (RFC 4226 Appendix D's ASCII secret, in hex).
const SECRET_HEX = '3132333435363738393031323334353637383930';
const KEY = {
  secret: fromHex(SECRET_HEX),
  algorithm: 'SHA1',
  digits: 6,
  period: 30,
  t0: 0,
} as const;
const SERIAL = 'CD-JIG-0042';

/** Starts the jig on `tty` and waits until it has the port open. */
async function startJig(tty: string, extra: string[] = []): Promise<ChildProcess> {
  const child = spawn('python3', [JIG, tty, SERIAL, SECRET_HEX, '--press-ms', '50', ...extra], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await Promise.race([
    once(child.stdout!, 'data'),
    once(child, 'exit').then(() => {
      throw new Error('the jig exited before it was ready');
    }),
  ])) as [Buffer];
  if (!line.toString().startsWith('ready')) throw new Error('the jig did not say ready');
  return child;
}

async function stopJig(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

const canRun = toolAvailable('socat', ['-V']) && toolAvailable('python3');

describeWithTool(
  'socat and python3',
  canRun,
  'serial: SerialCodeDisplay drives an independent jig',
  () => {
    let pair: PtyPair;
    let jig: ChildProcess;
    let display: SerialCodeDisplay;
    const notices: string[] = [];

    beforeAll(async () => {
      pair = await openPtyPair();
      // The host opens the line first and the jig boots afterwards, as a board that resets when
      // its port opens does: the host waits for the greeting before its first request.
      const opening = SerialCodeDisplay.open(pair.b, {
        onNotice: (t) => notices.push(t),
        greetingTimeoutMs: 30_000,
      });
      jig = await startJig(pair.a, ['--ocr-fail-every', '4']);
      display = await opening;
    });
    afterAll(async () => {
      await display?.close();
      await stopJig(jig);
      await pair?.close();
    });

    it('waited for the greeting, then learned the serial from ID', () => {
      expect(display.client.greeting).toBe(
        `MITID-SERIAL 1 kind=code-display serial=${SERIAL} ready`,
      );
      expect(notices).toStrictEqual([display.client.greeting]);
      expect(display.serial).toBe(SERIAL);
      expect(display.identity).toStrictEqual({
        kind: 'code-display',
        serial: SERIAL,
        firmware: 'jig-0.3',
        model: 'python jig',
      });
    });

    it('bind and prove carry the code the token showed, valid for the time it was read', async () => {
      const bound = await display.bind({});
      expect(bound.type).toBe('otp');
      expect(bound.serial).toBe(SERIAL);
      expect(bound.code).toMatch(/^\d{6}$/);
      // Two implementations that share nothing with the jig's hmac: the test's and otplib's.
      expect(bound.code).toBe(independentTotp(KEY, bound.deviceTime));
      expect(bound.code).toBe(generateTotp(KEY, bound.deviceTime));
      // The jig reads the token with its own (NTP) clock: close to ours.
      expect(Math.abs(bound.deviceTime - Date.now())).toBeLessThan(60_000);

      const proof = await display.prove({});
      expect(Object.keys(proof).sort()).toStrictEqual(['code', 'deviceTime', 'serial', 'type']);
      expect(proof.code).toBe(independentTotp(KEY, proof.deviceTime));
    });

    it('reads the screen and the status without pressing', async () => {
      const r = await display.lcd();
      expect(r.on).toBe(true);
      expect(r.text).toBe(`${r.code!.slice(0, 3)} ${r.code!.slice(3)}`);
      const s = await display.status();
      expect(s.presses).toBe(2);
      expect(s.lowBattery).toBe(false);
      expect(s.extra).toStrictEqual({ 'jig-camera': 'ok' });
    });

    it("maps the jig's own ERR codes to DeviceError and keeps working", async () => {
      // The jig fails every 4th press as a camera would; presses 3 and 4 come next.
      await display.press();
      const e = await display.prove({}).then(
        () => null,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(DeviceError);
      expect((e as DeviceError).code).toBe('ocr-failed');
      expect((await display.press()).on).toBe(true);

      // A sealed token's clock cannot be set: the jig says so.
      const t = await display.setClock(Date.now()).then(
        () => null,
        (x: unknown) => x,
      );
      expect(t).toBeInstanceOf(DeviceError);
      expect((t as DeviceError).code).toBe('unsupported');

      // Commands the jig does not know stay protocol errors.
      const u = await display.client.request('FROB').then(
        () => null,
        (x: unknown) => x,
      );
      expect(u).toBeInstanceOf(SerialError);
      expect((u as SerialError).code).toBe('device');
    });

    it('presses at a given host time by waiting for it, and refuses the past', async () => {
      const at = Date.now() + 400;
      const proof = await display.prove({ at });
      expect(proof.deviceTime).toBeGreaterThanOrEqual(at);
      expect(proof.code).toBe(independentTotp(KEY, proof.deviceTime));
      const e = await display.prove({ at: Date.now() - 60_000 }).then(
        () => null,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(DeviceError);
      expect((e as DeviceError).code).toBe('unsupported');
    });

    it('reports an answer that never comes as a timeout', async () => {
      await stopJig(jig);
      const e = await display.client.request('PING', [], { timeoutMs: 300 }).then(
        () => null,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(SerialError);
      expect((e as SerialError).code).toBe('timeout');
    });
  },
);
