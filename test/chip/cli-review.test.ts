/** What a user of the chip CLI runs into: a short PIN costs no retry, Ctrl-C frees the chip at once. */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Chip } from '../../devices/chip/chip.js';
import { createChipDeviceFile } from '../../devices/chip/virtual.js';
import { DeviceError } from '../../src/core/errors.js';
import { runCli } from '../support/cli.js';

const RP = { id: 'mitid.example', name: 'MitID test' };
const ORIGIN = 'https://login.mitid.example';
const user = { id: new Uint8Array(randomBytes(16)), name: 'anna', displayName: 'Anna' };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chip-review-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('PIN checks before the key sees a PIN', () => {
  it.each([['12'], [''], ['x'.repeat(64)]])(
    'a PIN of %j is refused and costs no retry',
    async (pin) => {
      const out = join(dir, `pin-${randomBytes(4).toString('hex')}.json`);
      await createChipDeviceFile({ serial: 'PINCHK1', out, pin: '123456' });
      const chip = await Chip.open(out);
      try {
        const before = await chip.pinRetries();
        const err = await chip
          .bind({ challenge: new Uint8Array(randomBytes(32)), rp: RP, user, origin: ORIGIN, pin })
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(err).toBeInstanceOf(DeviceError);
        expect((err as DeviceError).code).toBe('pin-policy');
        expect(await chip.pinRetries()).toBe(before);
      } finally {
        await chip.close();
      }
    },
  );
});

describe('authenticate without a credential ID', () => {
  it('says how to name a non-discoverable credential', () => {
    const out = join(dir, 'nocred.json');
    expect(runCli(['device', 'create', 'chip', '--serial', 'NOCRED1', '--out', out]).status).toBe(
      0,
    );
    const r = runCli(['chip', 'authenticate', '--device', out, '--rp', 'mitid.example']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(
      /^mitid-sim: .*no credential for this relying party.*--credential.*\n$/,
    );
  });
});
