// Deterministic signatures (RFC 6979 nonces) kept in a chip's device file: `device create chip
// --deterministic`, and the same key and message then give the same signature bytes.
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Chip } from '../../devices/chip/chip.js';
import { commands } from '../../src/cli/commands/chip.js';
import { runCli } from '../../src/cli/main.js';
import type { WebAuthnProof } from '../../src/core/authenticator.js';
import { trustChipCa, verifyBind, verifyProof } from './rp.js';

const RP = { id: 'mitid.example', name: 'MitID test' };
const ORIGIN = 'https://login.mitid.example';

let dir: string;

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

/**
 * Makes a chip, registers a credential (checked by @simplewebauthn/server), copies the device
 * file, and has both copies (same key, same counter) sign the same login challenge.
 */
async function twinProofs(serial: string, deterministic: boolean) {
  const file = join(dir, `${serial}.json`);
  const made = await cli(
    'device',
    'create',
    'chip',
    '--serial',
    serial,
    '--out',
    file,
    '--json',
    ...(deterministic ? ['--deterministic'] : []),
  );
  expect(made.stderr).toBe('');
  expect(made.code).toBe(0);
  expect(JSON.parse(made.stdout)).toMatchObject({ deterministicSignatures: deterministic });
  const body = JSON.parse(await readFile(file, 'utf8')) as {
    deterministicSignatures?: unknown;
    firmware: { attestation: { caCertDer: string } };
  };
  expect(body.deterministicSignatures).toBe(deterministic ? true : undefined);
  trustChipCa(new Uint8Array(Buffer.from(body.firmware.attestation.caCertDer, 'base64')));

  const c1 = new Uint8Array(randomBytes(32));
  const chip = await Chip.open(file);
  const user = { id: new Uint8Array(randomBytes(16)), name: 'anna', displayName: 'Anna' };
  const bound = await chip.bind({ challenge: c1, rp: RP, user, origin: ORIGIN });
  await chip.close();
  const reg = await verifyBind(bound, { challenge: c1, origin: ORIGIN, rpId: RP.id });

  const twin = join(dir, `${serial}-twin.json`);
  await copyFile(file, twin);
  const login = {
    challenge: new Uint8Array(randomBytes(32)),
    rpId: RP.id,
    origin: ORIGIN,
    allowCredentials: [bound.credentialId],
  };
  const proofs: WebAuthnProof[] = [];
  for (const f of [file, twin]) {
    const c = await Chip.open(f);
    try {
      proofs.push(await c.prove(login));
    } finally {
      await c.close();
    }
  }
  for (const p of proofs) {
    // Throws unless @simplewebauthn/server verifies the signature.
    const v = await verifyProof(p, reg.credential, {
      challenge: login.challenge,
      origin: ORIGIN,
      rpId: RP.id,
    });
    expect(v.newCounter).toBeGreaterThan(0);
  }
  return proofs as [WebAuthnProof, WebAuthnProof];
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chip-det-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('deterministic signatures in the device file', () => {
  it('--deterministic: two copies of a chip sign one login with the same bytes', async () => {
    const [a, b] = await twinProofs('DET-1', true);
    expect(Buffer.from(a.authenticatorData).equals(Buffer.from(b.authenticatorData))).toBe(true);
    expect(Buffer.from(a.signature).toString('hex')).toBe(Buffer.from(b.signature).toString('hex'));
  });

  it('without it the nonces are random: the same login signs differently', async () => {
    const [a, b] = await twinProofs('RND-1', false);
    expect(Buffer.from(a.authenticatorData).equals(Buffer.from(b.authenticatorData))).toBe(true);
    expect(Buffer.from(a.signature).equals(Buffer.from(b.signature))).toBe(false);
  });

  it('a device file with a malformed deterministicSignatures is refused by name', async () => {
    const file = join(dir, 'BAD-1.json');
    expect((await cli('device', 'create', 'chip', '--serial', 'BAD-1', '--out', file)).code).toBe(
      0,
    );
    const body = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    await writeFile(file, JSON.stringify({ ...body, deterministicSignatures: 'yes' }), {
      mode: 0o600,
    });
    await expect(Chip.open(file)).rejects.toMatchObject({
      code: 'bad-device-file',
      message: expect.stringContaining('deterministicSignatures') as unknown,
    });
  });
});
