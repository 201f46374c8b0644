import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Chip } from '../../devices/chip/chip.js';
import {
  createChipDeviceFile,
  serveChipFile,
  type ServedChip,
} from '../../devices/chip/virtual.js';
import type { Authenticator } from '../../src/core/authenticator.js';
import { formatUdpAddress } from '../../src/hid/udp.js';
import { trustChipCa, verifyBind, verifyProof } from './rp.js';

const RP = { id: 'contract.mitid.example', name: 'contract' };
const ORIGIN = 'https://contract.mitid.example';

/** One chip under test: how to open it, and its PIN if it has one. */
interface ChipEnv {
  open(): Promise<Chip>;
  readonly pin?: string;
}

/**
 * The chip's Authenticator contract: what every chip must do whatever carries it, checked by a
 * relying party library. Run against the virtual chip in process and over UDP, and against a real
 * key when asked (HW_TESTS=1, HW_CHIP=hid:PATH, HW_CHIP_PIN if it has one; touch it when it blinks).
 */
function describeChipContract(name: string, env: () => ChipEnv): void {
  describe(`chip contract: ${name}`, () => {
    it('is a chip, binds with a verifiable attestation and proves with a verifiable assertion', async () => {
      const e = env();
      const chip: Authenticator<'chip'> = await e.open();
      expect(chip.kind).toBe('chip');
      expect(chip.serial.length).toBeGreaterThan(0);
      const c1 = new Uint8Array(randomBytes(32));
      const bound = await chip.bind({
        challenge: c1,
        rp: RP,
        user: { id: new Uint8Array(randomBytes(16)), name: 'contract', displayName: 'Contract' },
        origin: ORIGIN,
        ...(e.pin ? { pin: e.pin } : {}),
      });
      const reg = await verifyBind(bound, { challenge: c1, origin: ORIGIN, rpId: RP.id });
      let counter = reg.credential.counter;
      for (let i = 0; i < 2; i++) {
        const c = new Uint8Array(randomBytes(32));
        const proof = await chip.prove({
          challenge: c,
          rpId: RP.id,
          origin: ORIGIN,
          allowCredentials: [bound.credentialId],
          ...(e.pin ? { pin: e.pin } : {}),
        });
        expect(proof.type).toBe('webauthn.get');
        const auth = await verifyProof(
          proof,
          { ...reg.credential, counter },
          { challenge: c, origin: ORIGIN, rpId: RP.id },
        );
        expect(auth.newCounter).toBeGreaterThan(counter);
        counter = auth.newCounter;
      }
      await chip.close();
      await chip.close();
      await expect(
        chip.prove({ challenge: c1, rpId: RP.id, origin: ORIGIN }),
      ).rejects.toMatchObject({ code: 'closed' });
    });

    it('refuses a credential it did not make', async () => {
      const e = env();
      const chip = await e.open();
      try {
        await expect(
          chip.prove({
            challenge: new Uint8Array(randomBytes(32)),
            rpId: RP.id,
            origin: ORIGIN,
            allowCredentials: [new Uint8Array(randomBytes(64))],
            ...(e.pin ? { pin: e.pin } : {}),
          }),
        ).rejects.toMatchObject({ code: 'CTAP2_ERR_NO_CREDENTIALS' });
      } finally {
        await chip.close();
      }
    });
  });
}

let dir: string;
let fileChip: string;
let udpChip: ServedChip;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chip-contract-'));
  fileChip = join(dir, 'contract.json');
  await createChipDeviceFile({ serial: 'CONTRACT-1', out: fileChip, pin: '2580' });
  const udpFile = join(dir, 'contract-udp.json');
  await createChipDeviceFile({ serial: 'CONTRACT-2', out: udpFile });
  for (const f of [fileChip, udpFile]) {
    const state = JSON.parse(await readFile(f, 'utf8')) as {
      firmware: { attestation: { caCertDer: string } };
    };
    trustChipCa(new Uint8Array(Buffer.from(state.firmware.attestation.caCertDer, 'base64')));
  }
  udpChip = await serveChipFile(udpFile, { port: 0, hostPort: 'sender' });
});
afterAll(async () => {
  await udpChip.close();
  await rm(dir, { recursive: true, force: true });
});

describeChipContract('virtual chip in process (device file, with a PIN)', () => ({
  open: () => Chip.open(fileChip),
  pin: '2580',
}));
describeChipContract('virtual chip over UDP (chip serve)', () => ({
  open: () => Chip.open(formatUdpAddress(udpChip.address), { localPort: 0 }),
}));
if (process.env.HW_TESTS === '1') {
  describeChipContract(`real key (${process.env.HW_CHIP ?? 'hid:'})`, () => ({
    open: () =>
      Chip.open(process.env.HW_CHIP ?? 'hid:', {
        onUserPresence: () => console.log('touch the key'),
      }),
    ...(process.env.HW_CHIP_PIN ? { pin: process.env.HW_CHIP_PIN } : {}),
  }));
} else {
  describe.skip('chip contract: real key (set HW_TESTS=1 and HW_CHIP=hid:PATH)', () => {
    it('runs against a connected FIDO2 key', () => undefined);
  });
}
