import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Chip } from '../../devices/chip/chip.js';
import { openChipWith } from '../../devices/chip/open.js';
import { createChipDeviceFile, serveChipFile } from '../../devices/chip/virtual.js';
import { formatUdpAddress } from '../../src/hid/udp.js';
import type { VirtualHidTransport } from '../../src/hid/virtual.js';
import { trustChipCa, verifyBind, verifyProof } from './rp.js';

const RP = { id: 'mitid.example', name: 'MitID test' };
const ORIGIN = 'https://login.mitid.example';
const challenge = () => new Uint8Array(randomBytes(32));
const user = (name: string) => ({ id: new Uint8Array(randomBytes(16)), name, displayName: name });

let dir: string;

async function newChip(serial: string, pin?: string): Promise<string> {
  const out = join(dir, `${serial}.json`);
  await createChipDeviceFile({ serial, out, ...(pin === undefined ? {} : { pin }) });
  const file = JSON.parse(await readFile(out, 'utf8')) as {
    firmware: { attestation: { caCertDer: string } };
  };
  trustChipCa(new Uint8Array(Buffer.from(file.firmware.attestation.caCertDer, 'base64')));
  return out;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chip-driver-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('Chip over the in-process transport, checked by @simplewebauthn/server', () => {
  it('registers and logs in; the RP verifies packed attestation and the assertion', async () => {
    const file = await newChip('CHIP-0001');
    const chip = await Chip.open(file);
    expect(chip.kind).toBe('chip');
    expect(chip.serial).toBe('CHIP-0001');
    const c1 = challenge();
    const bound = await chip.bind({ challenge: c1, rp: RP, user: user('anna'), origin: ORIGIN });
    const reg = await verifyBind(bound, { challenge: c1, origin: ORIGIN, rpId: RP.id });
    expect(reg.fmt).toBe('packed');
    expect(reg.aaguid).toMatch(/^[0-9a-f-]{36}$/);
    expect(bound.transports).toEqual(['usb']);

    const c2 = challenge();
    const proof = await chip.prove({
      challenge: c2,
      rpId: RP.id,
      origin: ORIGIN,
      allowCredentials: [bound.credentialId],
    });
    const auth = await verifyProof(proof, reg.credential, {
      challenge: c2,
      origin: ORIGIN,
      rpId: RP.id,
    });
    expect(auth.newCounter).toBeGreaterThan(reg.credential.counter);
    await chip.close();
    await chip.close();
  });

  it('keeps credentials and the counter in the device file across runs', async () => {
    const file = await newChip('CHIP-0002');
    let chip = await Chip.open(file);
    const c1 = challenge();
    const bound = await chip.bind({ challenge: c1, rp: RP, user: user('bo'), origin: ORIGIN });
    const reg = await verifyBind(bound, { challenge: c1, origin: ORIGIN, rpId: RP.id });
    const first = await chip.prove({
      challenge: challenge(),
      rpId: RP.id,
      origin: ORIGIN,
      allowCredentials: [bound.credentialId],
    });
    await chip.close();

    chip = await Chip.open(file);
    const c3 = challenge();
    const again = await chip.prove({
      challenge: c3,
      rpId: RP.id,
      origin: ORIGIN,
      allowCredentials: [bound.credentialId],
    });
    const firstCount = Buffer.from(first.authenticatorData).readUInt32BE(33);
    const auth = await verifyProof(
      again,
      { ...reg.credential, counter: firstCount },
      { challenge: c3, origin: ORIGIN, rpId: RP.id },
    );
    expect(auth.newCounter).toBeGreaterThan(firstCount);
    await chip.close();
  });

  it('uses the PIN for user verification, and refuses a wrong one', async () => {
    const file = await newChip('CHIP-0003', '4711');
    const chip = await Chip.open(file);
    const info = await chip.info();
    expect(info.options.clientPin).toBe(true);
    expect(await chip.pinRetries()).toBe(8);

    const c1 = challenge();
    const bound = await chip.bind({
      challenge: c1,
      rp: RP,
      user: user('carl'),
      origin: ORIGIN,
      pin: '4711',
      userVerification: 'required',
    });
    const reg = await verifyBind(bound, {
      challenge: c1,
      origin: ORIGIN,
      rpId: RP.id,
      requireUserVerification: true,
    });
    expect(reg.userVerified).toBe(true);

    const c2 = challenge();
    const proof = await chip.prove({
      challenge: c2,
      rpId: RP.id,
      origin: ORIGIN,
      allowCredentials: [bound.credentialId],
      pin: '4711',
      userVerification: 'required',
    });
    const auth = await verifyProof(proof, reg.credential, {
      challenge: c2,
      origin: ORIGIN,
      rpId: RP.id,
      requireUserVerification: true,
    });
    expect(auth.userVerified).toBe(true);

    const wrong = await chip
      .prove({
        challenge: challenge(),
        rpId: RP.id,
        origin: ORIGIN,
        pin: '0000',
        allowCredentials: [bound.credentialId],
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(wrong).toMatchObject({ code: 'CTAP2_ERR_PIN_INVALID' });
    expect(String((wrong as Error).message)).not.toContain('0000');
    expect(String((wrong as Error).message)).not.toContain('4711');
    expect(await chip.pinRetries()).toBe(7);

    // Without the PIN, a relying party that requires UV is told what is missing.
    await expect(
      chip.bind({
        challenge: challenge(),
        rp: RP,
        user: user('dan'),
        origin: ORIGIN,
        userVerification: 'required',
      }),
    ).rejects.toMatchObject({ code: 'pin-required' });
    await chip.close();
  });

  it.each([1, 2] as const)(
    'gets a pinUvAuthToken with PIN/UV auth protocol %i',
    async (protocol) => {
      const file = await newChip(`CHIP-P${protocol}`, '1357');
      const chip = await Chip.open(file, { ctap: { pinProtocol: protocol } });
      expect(await chip.ctap.pinProtocol()).toBe(protocol);
      const c = challenge();
      const b = await chip.bind({
        challenge: c,
        rp: RP,
        user: user('p'),
        origin: ORIGIN,
        pin: '1357',
        userVerification: 'required',
      });
      const reg = await verifyBind(b, {
        challenge: c,
        origin: ORIGIN,
        rpId: RP.id,
        requireUserVerification: true,
      });
      const c2 = challenge();
      const p = await chip.prove({
        challenge: c2,
        rpId: RP.id,
        origin: ORIGIN,
        pin: '1357',
        allowCredentials: [b.credentialId],
      });
      expect(
        (await verifyProof(p, reg.credential, { challenge: c2, origin: ORIGIN, rpId: RP.id }))
          .userVerified,
      ).toBe(true);
      await chip.close();
    },
  );

  it('sets and changes a PIN over clientPIN', async () => {
    const file = await newChip('CHIP-0004');
    const chip = await Chip.open(file);
    expect((await chip.info()).options.clientPin).toBe(false);
    await chip.setPin('1234');
    chip.ctap.forgetInfo();
    expect((await chip.info()).options.clientPin).toBe(true);
    await chip.changePin('1234', '98765');
    await expect(
      chip.bind({ challenge: challenge(), rp: RP, user: user('e'), origin: ORIGIN, pin: '1234' }),
    ).rejects.toMatchObject({ code: 'CTAP2_ERR_PIN_INVALID' });
    const c = challenge();
    const b = await chip.bind({
      challenge: c,
      rp: RP,
      user: user('e'),
      origin: ORIGIN,
      pin: '98765',
    });
    expect((await verifyBind(b, { challenge: c, origin: ORIGIN, rpId: RP.id })).userVerified).toBe(
      true,
    );
    await chip.close();
  });

  it('makes discoverable credentials and returns every account for a login without IDs', async () => {
    const file = await newChip('CHIP-0005');
    const chip = await Chip.open(file);
    const creds = new Map<string, Awaited<ReturnType<typeof verifyBind>>>();
    const users = [user('first'), user('second')];
    for (const u of users) {
      const c = challenge();
      const b = await chip.bind({
        challenge: c,
        rp: RP,
        user: u,
        origin: ORIGIN,
        residentKey: true,
      });
      const reg = await verifyBind(b, { challenge: c, origin: ORIGIN, rpId: RP.id });
      creds.set(Buffer.from(b.credentialId).toString('base64url'), reg);
    }
    const c = challenge();
    const proofs = await chip.proveAll({ challenge: c, rpId: RP.id, origin: ORIGIN });
    expect(proofs.length).toBe(2);
    const handles = proofs.map((p) => Buffer.from(p.userHandle!).toString('hex')).sort();
    expect(handles).toEqual(users.map((u) => Buffer.from(u.id).toString('hex')).sort());
    for (const p of proofs) {
      const reg = creds.get(Buffer.from(p.credentialId).toString('base64url'))!;
      await verifyProof(p, reg.credential, { challenge: c, origin: ORIGIN, rpId: RP.id });
    }
    // Another relying party sees none of them.
    await expect(
      chip.prove({
        challenge: challenge(),
        rpId: 'other.example',
        origin: 'https://other.example',
      }),
    ).rejects.toMatchObject({ code: 'CTAP2_ERR_NO_CREDENTIALS' });
    await chip.close();
  });

  it('waits for a manual touch, reports it once, and can be cancelled or denied', async () => {
    const file = await newChip('CHIP-0006');
    let asked = 0;
    const opened = await openChipWith(file, {
      press: 'manual',
      onUserPresence: () => {
        asked++;
        setTimeout(() => opened.virtual!.pressButton(), 150);
      },
    });
    const c = challenge();
    const b = await opened.chip.bind({ challenge: c, rp: RP, user: user('f'), origin: ORIGIN });
    await verifyBind(b, { challenge: c, origin: ORIGIN, rpId: RP.id });
    expect(asked).toBe(1);
    await opened.chip.close();

    const ac = new AbortController();
    const cancelling = await openChipWith(file, {
      press: 'manual',
      onUserPresence: () => ac.abort(),
    });
    await expect(
      cancelling.chip.prove(
        { challenge: challenge(), rpId: RP.id, origin: ORIGIN, allowCredentials: [b.credentialId] },
        { signal: ac.signal },
      ),
    ).rejects.toMatchObject({ code: 'CTAP2_ERR_KEEPALIVE_CANCEL' });
    await cancelling.chip.close();

    const denying = await Chip.open(file, { press: 'deny' });
    await expect(
      denying.prove({
        challenge: challenge(),
        rpId: RP.id,
        origin: ORIGIN,
        allowCredentials: [b.credentialId],
      }),
    ).rejects.toMatchObject({ code: 'CTAP2_ERR_OPERATION_DENIED' });
    await denying.close();
  });

  it('refuses bad requests before they reach the chip, with one-line errors', async () => {
    const file = await newChip('CHIP-0007');
    const chip = await Chip.open(file);
    await expect(
      chip.bind({
        challenge: challenge(),
        rp: RP,
        user: user('g'),
        origin: 'https://evil.example',
      }),
    ).rejects.toMatchObject({ code: 'rp-id-mismatch' });
    await expect(
      chip.bind({ challenge: new Uint8Array(8), rp: RP, user: user('g'), origin: ORIGIN }),
    ).rejects.toMatchObject({ code: 'bad-challenge' });
    await expect(
      chip.bind({ challenge: challenge(), rp: RP, user: user('g'), origin: `${ORIGIN}/path` }),
    ).rejects.toMatchObject({ code: 'bad-origin' });
    await chip.close();
    await expect(
      chip.prove({ challenge: challenge(), rpId: RP.id, origin: ORIGIN }),
    ).rejects.toMatchObject({ code: 'closed' });
    await expect(Chip.open(join(dir, 'missing.json'))).rejects.toMatchObject({
      code: 'no-device-file',
    });
  });

  it('turns a lost report into a timeout error, not a hang', async () => {
    const file = await newChip('CHIP-0008');
    const opened = await openChipWith(file, { hid: { timeoutMs: 300 } });
    const transport = opened.chip.hid.transport as VirtualHidTransport;
    transport.injectFault({ type: 'drop', direction: 'to-host' });
    await expect(opened.chip.wink()).rejects.toMatchObject({ code: 'timeout' });
    await opened.chip.close();
  });
});

describe('Chip over UDP (chip serve), checked by @simplewebauthn/server', () => {
  it('registers, logs in, and the served file keeps the state', async () => {
    const file = await newChip('CHIP-0101', '2468');
    let winks = 0;
    const served = await serveChipFile(file, {
      port: 0,
      hostPort: 'sender',
      onWink: () => winks++,
    });
    const addr = formatUdpAddress(served.address);
    const chip = await Chip.open(addr, { localPort: 0 });
    expect(chip.hid.transport.descriptor.transport).toBe('udp');
    await chip.wink();
    expect(winks).toBe(1);
    const c1 = challenge();
    const b = await chip.bind({
      challenge: c1,
      rp: RP,
      user: user('h'),
      origin: ORIGIN,
      pin: '2468',
      residentKey: true,
    });
    const reg = await verifyBind(b, {
      challenge: c1,
      origin: ORIGIN,
      rpId: RP.id,
      requireUserVerification: true,
    });
    const c2 = challenge();
    const p = await chip.prove({ challenge: c2, rpId: RP.id, origin: ORIGIN, pin: '2468' });
    await verifyProof(p, reg.credential, {
      challenge: c2,
      origin: ORIGIN,
      rpId: RP.id,
      requireUserVerification: true,
    });
    await chip.close();
    await served.close();

    // The credential is in the file: the same chip, opened in-process, still signs with it.
    const local = await Chip.open(file);
    const c3 = challenge();
    const again = await local.prove({ challenge: c3, rpId: RP.id, origin: ORIGIN, pin: '2468' });
    expect(Buffer.from(again.credentialId).equals(Buffer.from(b.credentialId))).toBe(true);
    await local.close();
  });

  it('refuses a second server, or a second writer, for a served file', async () => {
    const file = await newChip('CHIP-0102');
    const served = await serveChipFile(file, { port: 0, hostPort: 'sender' });
    await expect(serveChipFile(file, { port: 0 })).rejects.toMatchObject({ code: 'device-busy' });
    // Nor may this process open its flash beside the server: it is told the address to use.
    await expect(Chip.open(file)).rejects.toThrow(
      new RegExp(`use --device ${formatUdpAddress(served.address)}`),
    );
    await served.close();
    const again = await serveChipFile(file, { port: 0 });
    await again.close();
  });
});
