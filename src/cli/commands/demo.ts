/** `demo devices`: virtual devices made from a vendor seed file, bound and verified without the service. */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { UsageError } from '../../core/errors.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Authenticator, OtpProof, VerifyContext } from '../../core/authenticator.js';
import { VirtualClock } from '../../core/clock.js';
import { exportPskc, importSeedFile } from '../../otp/seed/index.js';
import type { OtpKey } from '../../otp/types.js';
import { OtpVerifier, type OtpBinding } from '../../otp/verify.js';
import { openPtyPair } from '../../serial/pty.js';
import { CodeDisplay, renderSvg, renderTerminal } from '../../../devices/code-display/index.js';
import { serveDeviceFile } from '../../../devices/code-display/serial.js';
import { openCodeSource } from '../../../devices/factory.js';
import { flag, printJson, str, type Command } from '../command.js';

interface Row {
  step: string;
  device: string;
  result: string;
  ok: boolean;
}

const MINUTE = 60_000;
const DAY = 86_400_000;

const demo: Command = {
  path: ['demo', 'devices'],
  summary: 'the devices alone: seed file in, virtual devices, bind, login, drift, serial line',
  usage: 'demo devices [--dir DIR] [--json]',
  help: `Makes a vendor-style PSKC seed file (AES-128 pre-shared key, MAC checked) for three code
displays, imports it into virtual devices, binds each to the verifier with its serial and a current
code, logs in, shows that a replayed or wrong code is refused and that a drifting device clock is
followed, and drives one device over a serial line (a pty pair, when socat is installed).
Everything is written to DIR (default: a new temporary folder) so you can look at the files.

Options:
  --dir DIR   where the seed file, device files and pictures go
  --json      print the results as JSON`,
  options: { dir: { type: 'string' }, json: { type: 'boolean' } },
  async run(ctx) {
    const dirOpt = str(ctx, 'dir');
    if (dirOpt !== undefined && (await readdir(dirOpt).catch(() => [])).length > 0) {
      throw new UsageError('usage', `--dir ${dirOpt} is not empty; give a new or empty folder`);
    }
    const dir = dirOpt ?? (await mkdtemp(join(tmpdir(), 'mitid-sim-demo-')));
    await mkdir(join(dir, 'devices'), { recursive: true });
    const rows: Row[] = [];
    const note = (step: string, device: string, result: string, ok: boolean) => {
      rows.push({ step, device, result, ok });
      if (!flag(ctx, 'json'))
        ctx.io.stdout(
          `${ok ? 'ok  ' : 'FAIL'}  ${step.padEnd(34)} ${device.padEnd(10)} ${result}\n`,
        );
    };

    // 1. A token vendor ships a seed file: three TOTP keys, encrypted with a pre-shared AES key.
    const transportKey = new Uint8Array(randomBytes(16));
    const vendorKeys: OtpKey[] = [1, 2, 3].map((i) => ({
      serial: `KV90000${i}`,
      type: 'totp',
      secret: new Uint8Array(randomBytes(20)),
      algorithm: 'SHA1',
      digits: 6,
      period: 30,
      t0: 0,
      manufacturer: 'mitid-sim demo vendor',
    }));
    const seedPath = join(dir, 'vendor-seeds.pskc');
    await writeFile(seedPath, exportPskc(vendorKeys, { key: transportKey }), { mode: 0o600 });
    const inventory = importSeedFile(new Uint8Array(await readFile(seedPath)), {
      key: transportKey,
    });
    note(
      'import PSKC seed file (AES + MAC)',
      '3 keys',
      `${inventory.length} key packages`,
      inventory.length === 3,
    );

    // 2. Virtual devices made from the same seeds; one has a crystal that runs 20 ppm fast.
    const clock = new VirtualClock();
    const devices: CodeDisplay[] = [];
    for (const [i, key] of inventory.entries()) {
      const dev = await CodeDisplay.fromKey(key, join(dir, 'devices', `${key.serial}.json`), {
        reference: clock,
        driftPpm: i === 2 ? 20 : 0,
      });
      devices.push(dev);
    }
    const verifier = new OtpVerifier('code-display');
    const context = (): VerifyContext => ({ now: clock.trueNow() });
    const bindings = new Map<string, OtpBinding>();

    // 3. Binding: serial and a current code read off each device.
    for (const [i, dev] of devices.entries()) {
      const bound = await dev.bind({});
      const r = await verifier.bind({ key: inventory[i]!, bound }, context());
      bindings.set(dev.serial, r.binding);
      note(
        'bind with serial + current code',
        dev.serial,
        `code ${bound.code}: ${r.reason}`,
        r.verified,
      );
    }

    // 4. Logins a minute later; a replay and a wrong code are refused.
    clock.advance(MINUTE);
    const first = devices[0]!;
    const login = async (
      dev: Authenticator<'code-display'>,
      label: string,
      expectOk: boolean,
      code?: string,
    ) => {
      const proof = await dev.prove({});
      const sent = code === undefined ? proof : { ...proof, code };
      const r = await verifier.verify(bindings.get(dev.serial)!, sent, context());
      bindings.set(dev.serial, r.binding);
      note(label, dev.serial, `code ${sent.code}: ${r.reason}`, r.verified === expectOk);
      return sent.code;
    };
    const used = await login(first, 'login', true);
    await login(first, 'same code again (replay)', false, used);
    const wrong = String((Number(used) + 1) % 1_000_000).padStart(6, '0');
    clock.advance(MINUTE);
    await login(first, 'wrong code', false, wrong);

    // 5. Ten days on, the fast device is 17 s ahead; the window and drift tracking follow it.
    clock.advance(10 * DAY);
    const fast = devices[2]!;
    const offset = fast.status().offsetMs;
    await login(fast, `login, clock ${(offset / 1000).toFixed(1)} s ahead`, true);

    // 6. The pictures (a press lights the screen; it blanks again after its timeout).
    const frame = await first.press();
    const status = first.status();
    await writeFile(join(dir, `${first.serial}.svg`), renderSvg(frame, status));
    if (!flag(ctx, 'json')) ctx.io.stdout(`\n${renderTerminal(frame, status)}\n\n`);
    for (const d of devices) await d.close();

    // 7. The same device driven over a serial line, as a physical test jig would be.
    const socat = spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0;
    if (!socat) {
      note('serial line (pty pair)', first.serial, 'skipped: socat is not installed', true);
    } else {
      const pty = await openPtyPair();
      const served = await serveDeviceFile(join(dir, 'devices', `${first.serial}.json`), pty.a, {
        reference: clock,
      });
      try {
        const jig = await openCodeSource(`serial:${pty.b}`);
        try {
          clock.advance(MINUTE);
          const proof = await jig.prove({});
          const r = await verifier.verify(
            bindings.get(first.serial)!,
            proof as OtpProof,
            context(),
          );
          note(
            'login over the serial line',
            first.serial,
            `code ${proof.code}: ${r.reason}`,
            r.verified,
          );
        } finally {
          await jig.close();
        }
      } finally {
        await served.close();
        await pty.close();
      }
    }

    const ok = rows.every((r) => r.ok);
    if (flag(ctx, 'json')) printJson(ctx, { ok, dir, steps: rows });
    else
      ctx.io.stdout(
        `\n${ok ? 'all steps behaved as expected' : 'SOME STEPS FAILED'}; files are in ${dir}\n`,
      );
    return ok ? 0 : 1;
  },
};

export const commands: Command[] = [demo];
