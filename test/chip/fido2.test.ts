import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { decodeCbor } from '../../src/ctap/cbor.js';
import { fromBase64Url } from '../../src/core/bytes.js';
import { createChipDeviceFile, serveChipFile } from '../../devices/chip/virtual.js';
import { describeWithTool, toolAvailable } from '../support/tools.js';
import { trustChipCa, verifyBind, verifyProof } from './rp.js';

const PY = '/usr/bin/python3';
const peer = fileURLToPath(new URL('../support/fido2/peer.py', import.meta.url));
const hasFido2 = toolAvailable(PY, ['-c', 'import fido2.hid.base, fido2.ctap2.pin']);
const RP_ID = 'mitid.example';
const ORIGIN = 'https://login.mitid.example';

let dir: string;
let n = 0;

type Json = Record<string, unknown> & { ok: boolean };

/** A UDP port free right now (bound, then released). */
async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  const { port } = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/**
 * A fresh chip served over UDP, and python-fido2 running one scenario against it. By default
 * the chip answers the sender's port; with `fixedPorts`, it listens on a fixed device port and
 * answers a fixed host port that the client binds, as the SoloKeys simulator does with 8111/7112
 * (other ports here, so that parallel suites do not collide).
 */
async function runPeer(scenario: string, fixedPorts = false): Promise<Json> {
  const file = join(dir, `chip-${++n}.json`);
  await createChipDeviceFile({ serial: `PY-${n}`, out: file });
  const state = JSON.parse(await readFile(file, 'utf8')) as {
    firmware: { attestation: { caCertDer: string } };
  };
  trustChipCa(new Uint8Array(Buffer.from(state.firmware.attestation.caCertDer, 'base64')));
  const hostPort = fixedPorts ? await freeUdpPort() : undefined;
  const served = await serveChipFile(file, {
    port: fixedPorts ? await freeUdpPort() : 0,
    hostPort: hostPort ?? 'sender',
  });
  try {
    const args = [peer, '127.0.0.1', String(served.address.port), scenario];
    if (hostPort !== undefined) args.push(String(hostPort));
    // Asynchronous spawn: the chip answers from this process's event loop.
    const child = spawn(PY, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    const line = out.trim().split('\n').pop() ?? '';
    let result: Json;
    try {
      result = JSON.parse(line) as Json;
    } catch {
      throw new Error(
        `python-fido2 ${scenario} printed no result (exit ${code}): ${err.slice(-2000)}`,
      );
    }
    if (!result.ok)
      throw new Error(
        `python-fido2 ${scenario} failed: ${String(result.error)}\n${String(result.trace)}`,
      );
    return result;
  } finally {
    await served.close();
  }
}

interface Reg {
  credentialId: string;
  clientDataJSON: string;
  attestationObject: string;
  challenge: string;
  fmt: string;
  userVerified: boolean;
}
interface Assertion {
  credentialId: string;
  clientDataJSON: string;
  authenticatorData: string;
  signature: string;
  challenge: string;
  userHandle?: string;
  userVerified: boolean;
}

/** @simplewebauthn/server checks what python-fido2 got from our chip: a second, separate RP. */
async function crossVerify(reg: Reg, assertion: Assertion, uv = false) {
  const bytes = fromBase64Url;
  const registration = await verifyBind(
    {
      type: 'webauthn.create',
      credentialId: bytes(reg.credentialId),
      clientDataJSON: bytes(reg.clientDataJSON),
      attestationObject: bytes(reg.attestationObject),
      transports: ['usb'],
    },
    { challenge: bytes(reg.challenge), origin: ORIGIN, rpId: RP_ID, requireUserVerification: uv },
  );
  await verifyProof(
    {
      type: 'webauthn.get',
      credentialId: bytes(assertion.credentialId),
      clientDataJSON: bytes(assertion.clientDataJSON),
      authenticatorData: bytes(assertion.authenticatorData),
      signature: bytes(assertion.signature),
    },
    { ...registration.credential, counter: 0 },
    {
      challenge: bytes(assertion.challenge),
      origin: ORIGIN,
      rpId: RP_ID,
      requireUserVerification: uv,
    },
  );
  return registration;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chip-fido2-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describeWithTool('python3-fido2', hasFido2, 'python-fido2 drives the chip over UDP', () => {
  it('getInfo, INIT capabilities and PING', async () => {
    const r = await runPeer('info');
    expect(r.versions).toEqual(expect.arrayContaining(['FIDO_2_0', 'U2F_V2']));
    expect(r.extensions).toEqual(expect.arrayContaining(['hmac-secret']));
    expect(r.aaguid).toMatch(/^[0-9a-f]{32}$/);
    expect(r.options).toMatchObject({ rk: true, up: true, clientPin: false });
    expect(r.pinProtocols).toEqual(expect.arrayContaining([1, 2]));
    expect(r.ping).toBe(true);
    // CBOR capability set; WINK announced.
    expect((r.capabilities as number) & 0x04).toBe(0x04);
  });

  it('registers and logs in without a PIN; fido2 and @simplewebauthn both verify', async () => {
    const r = await runPeer('register');
    const reg = r.registration as Reg;
    expect(reg.fmt).toBe('packed');
    expect(r.countersIncrease).toBe(true);
    const att = decodeCbor(fromBase64Url(reg.attestationObject), { canonical: false }) as Map<
      string,
      unknown
    >;
    expect(att.get('fmt')).toBe('packed');
    await crossVerify(reg, r.assertion as Assertion);
  });

  it('sets, uses, refuses and changes a PIN (protocols 1 and 2)', async () => {
    const r = await runPeer('pin');
    expect(r.pinBefore).toBe(false);
    expect(r.pinAfter).toBe(true);
    expect(r.retries).toBe(8);
    expect((r.registration as Reg).userVerified).toBe(true);
    expect((r.assertion as Assertion).userVerified).toBe(true);
    await crossVerify(r.registration as Reg, r.assertion as Assertion, true);
    expect(r.wrongPin).toBe('PIN_INVALID');
    expect(r.retriesAfterWrong).toBe(7);
    expect(r.noPinButRequired).toMatch(/PIN_REQUIRED|PUAT_REQUIRED/);
    expect(r.nonResidentWithoutPin).toEqual({ uvNotRqd: true, userVerified: false });
    expect(r.tokenProtocols).toEqual({ '1': true, '2': true });
    expect(r.retriesAfterRight).toBe(8);
    expect(r.oldPinAfterChange).toBe('PIN_INVALID');
    expect(r.newPinWorks).toBe(true);
  });

  it('keeps discoverable credentials and lists them with getNextAssertion', async () => {
    const r = await runPeer('resident');
    expect(r.count).toBe(2);
    expect(r.userHandlesMatch).toBe(true);
    expect(r.numberOfCredentials).toBe(2);
    expect(r.nextAssertions).toBe(2);
    for (const a of r.assertions as Assertion[]) expect(a.userHandle).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it('derives stable hmac-secret outputs', async () => {
    const r = await runPeer('hmac');
    expect(r.created).toBe(true);
    expect(r.outputLength).toBe(32);
    expect(r.stable).toBe(true);
    expect(r.saltsDiffer).toBe(true);
  });

  it('speaks U2F (CTAP1) over CTAPHID_MSG', async () => {
    const r = await runPeer('u2f');
    expect(r.version).toBe('U2F_V2');
    expect(r.registered).toBe(true);
    expect(r.counterIncreases).toBe(true);
    expect(r.wrongAppStatus).toBe(0x6a80);
  });

  it('works with answers to a fixed host port (the SoloKeys default), through a power cycle', async () => {
    const r = await runPeer('register', true);
    expect((r.registration as Reg).fmt).toBe('packed');
    await crossVerify(r.registration as Reg, r.assertion as Assertion);
    const reset = await runPeer('reset', true);
    expect(reset.pinAfterReset).toBe(false);
    expect(reset.oldCredential).toBe('NO_CREDENTIALS');
  });

  it('resets after a power cycle by the reboot datagram: credentials and PIN gone', async () => {
    const r = await runPeer('reset');
    expect(r.pinAfterReset).toBe(false);
    expect(r.oldCredential).toBe('NO_CREDENTIALS');
  });
});
