// The Authenticator contract, run against the virtual code display kept in a device file.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CodeDisplay } from '../../devices/code-display/index.js';
import { VirtualClock } from '../../src/core/clock.js';
import { describeAuthenticatorContract } from '../contract/authenticator-contract.js';

const START = Date.UTC(2026, 10, 25, 9, 0, 0);

for (const [label, driftPpm, algorithm, digits, period] of [
  ['SHA1, 6 digits, 30 s, no drift', 0, 'SHA1', 6, 30],
  ['SHA256, 8 digits, 60 s, +25 ppm', 25, 'SHA256', 8, 60],
] as const) {
  describeAuthenticatorContract(`virtual code display (${label})`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mitid-cd-contract-'));
    const path = join(dir, 'device.json');
    const secret = new Uint8Array(20).map((_, i) => (i * 37 + 11) & 0xff);
    const key = { secret, algorithm, digits, period, t0: 0 };
    // Made at START; the device clock then runs driftPpm fast, as a VirtualClock would.
    const made = new VirtualClock({ start: START });
    let created = false;
    return {
      kind: 'code-display' as const,
      serial: 'CD-CONTRACT-1',
      key,
      start: START + 3_600_000,
      deviceTimeAt: (at: number) =>
        Math.floor(START + (at - START) + ((at - START) * driftPpm) / 1e6),
      async open() {
        if (created) return CodeDisplay.open(path);
        created = true;
        return CodeDisplay.create({
          serial: 'CD-CONTRACT-1',
          key: { serial: 'CD-CONTRACT-1', type: 'totp', ...key },
          out: path,
          reference: made,
          driftPpm,
        });
      },
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  });
}
