/** `serial serve|press`: a virtual device on a serial line, and pressing a device over one. */
import { SerialClient, type DeviceIdentity, type LcdReading } from '../../serial/index.js';
import { serveDeviceFile } from '../../../devices/code-display/serial.js';
import { flag, printJson, req, str, type Command } from '../command.js';
import { UsageError } from '../../core/errors.js';

function timeoutOption(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = Number(text);
  if (!Number.isInteger(ms) || ms < 1 || ms > 600_000)
    throw new UsageError('usage', '--timeout must be whole ms from 1 to 600000');
  return ms;
}

const serve: Command = {
  path: ['serial', 'serve'],
  summary: 'serve a virtual code display on a serial port (docs/serial-protocol.md) until stopped',
  usage: 'serial serve FILE --port PATH',
  help: `Opens the serial port PATH (a real port, or one end of a pty pair made with
  socat -d -d pty,raw,echo=0 pty,raw,echo=0) and answers the line protocol for the device in FILE.
Every press and clock setting is saved to FILE before it is answered. Stop with Ctrl-C.`,
  positionals: [1, 1],
  options: { port: { type: 'string' } },
  async run(ctx) {
    const port = req(ctx, 'port');
    const served = await serveDeviceFile(ctx.positionals[0]!, port);
    ctx.io.stdout(
      `serving ${served.device.kind} ${served.device.serial} on ${port} (Ctrl-C to stop)\n`,
    );
    // Runs until Ctrl-C, or until the port goes away (a USB adapter unplugged, socat ended).
    const portGone = await Promise.race([
      new Promise<false>((resolve) => {
        if (ctx.signal.aborted) resolve(false);
        ctx.signal.addEventListener('abort', () => resolve(false), { once: true });
      }),
      served.server.closed.then(() => true),
    ]);
    await served.close();
    if (portGone) {
      ctx.io.stderr(`mitid-sim: the serial port ${port} closed\n`);
      return 1;
    }
    ctx.io.stdout('stopped\n');
  },
};

const press: Command = {
  path: ['serial', 'press'],
  summary: 'press the button of a device (emulated or a test jig) on a serial port',
  usage: 'serial press --port PATH [--timeout MS] [--json]',
  help: `Options:
  --port PATH    the serial port (or pty) the device or test jig is on
  --timeout MS   how long to wait for the answer (default: 10000 for a press, as a jig's solenoid
                 and display reader take time)
  --json         print code, text, device time and low-battery flag as JSON`,
  options: { port: { type: 'string' }, timeout: { type: 'string' }, json: { type: 'boolean' } },
  async run(ctx) {
    const port = req(ctx, 'port');
    const timeoutMs = timeoutOption(str(ctx, 'timeout'));
    const client = await SerialClient.open(
      port,
      timeoutMs === undefined ? {} : { timeoutMs, pressTimeoutMs: timeoutMs },
    );
    let r: LcdReading;
    let id: DeviceIdentity;
    try {
      id = await client.identify();
      r = await client.press();
    } finally {
      await client.close();
    }
    if (flag(ctx, 'json')) {
      printJson(ctx, {
        kind: id.kind,
        serial: id.serial,
        code: r.code,
        text: r.text,
        on: r.on,
        lowBattery: r.lowBattery,
        deviceTime: new Date(r.deviceTime).toISOString(),
      });
    } else if (r.code === null) {
      ctx.io.stdout('(the screen stays blank)\n');
      return 1;
    } else ctx.io.stdout(`${r.text}\n`);
    return r.code === null ? 1 : 0;
  },
};

export const commands: Command[] = [serve, press];
