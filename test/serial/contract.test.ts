/** The Authenticator contract, run against SerialCodeDisplay driving a served device file over a pty pair. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CodeDisplay } from '../../devices/code-display/code-display.js';
import { SerialCodeDisplay, serveDeviceFile } from '../../devices/code-display/serial.js';
import { VirtualClock } from '../../src/core/clock.js';
import { openPtyPair } from '../../src/serial/pty.js';
import { describeAuthenticatorContract } from '../contract/authenticator-contract.js';
import { describeWithTool, toolAvailable } from '../support/tools.js';

const START = Date.UTC(2026, 10, 25, 9, 0, 0);

describeWithTool('socat', toolAvailable('socat', ['-V']), 'serial: contract', () => {
  for (const [label, driftPpm, algorithm, digits, period] of [
    ['SHA1, 6 digits, 30 s, no drift', 0, 'SHA1', 6, 30],
    ['SHA512, 8 digits, 60 s, -40 ppm', -40, 'SHA512', 8, 60],
  ] as const) {
    describeAuthenticatorContract(`code display over a serial line (${label})`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'mitid-serial-contract-'));
      const path = join(dir, 'device.json');
      const secret = new Uint8Array(64).map((_, i) => (i * 53 + 7) & 0xff);
      const key = { secret, algorithm, digits, period, t0: 0 };
      const made = new VirtualClock({ start: START });
      await (
        await CodeDisplay.create({
          serial: 'CD-SERIAL-1',
          key: { serial: 'CD-SERIAL-1', type: 'totp', ...key },
          out: path,
          reference: made,
          driftPpm,
        })
      ).close();
      // The device is served on one end of a pty pair for the whole test; each open() is a new
      // host-side connection to it, as a host reconnecting to a jig would be.
      const pair = await openPtyPair();
      const served = await serveDeviceFile(path, pair.a, { reference: made });
      return {
        kind: 'code-display' as const,
        serial: 'CD-SERIAL-1',
        key,
        start: START + 3_600_000,
        deviceTimeAt: (at: number) =>
          Math.floor(START + (at - START) + ((at - START) * driftPpm) / 1e6),
        open: () => SerialCodeDisplay.open(pair.b),
        async cleanup() {
          await served.close();
          await pair.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
    });
  }
});
