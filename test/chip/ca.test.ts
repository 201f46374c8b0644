/** A project test CA: `chip ca create`, chips certified under it with --ca, checked by openssl and an RP. */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { SettingsService } from '@simplewebauthn/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64Url } from '../../src/core/bytes.js';
import { decodeCbor } from '../../src/ctap/cbor.js';
import { commands } from '../../src/cli/commands/chip.js';
import { runCli } from '../../src/cli/main.js';
import { describeWithTool, toolAvailable } from '../support/tools.js';
import { verifyBind } from './rp.js';

const RP = 'mitid.example';
const ORIGIN = 'https://mitid.example';
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

interface Registered {
  credentialId: string;
  challenge: string;
  response: { clientDataJSON: string; attestationObject: string; transports: string[] };
}

/** Registers on the chip in `file` through the CLI; returns the JSON it printed. */
async function register(file: string): Promise<Registered> {
  const r = await cli('chip', 'register', '--device', file, '--rp', RP, '--json');
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Registered;
}

function attestationCert(reg: Registered): Uint8Array {
  const att = decodeCbor(fromBase64Url(reg.response.attestationObject, 'att'), {
    canonical: false,
  }) as Map<string, unknown>;
  const stmt = att.get('attStmt') as Map<string, unknown>;
  return (stmt.get('x5c') as Uint8Array[])[0]!;
}

function pemOf(der: Uint8Array): string {
  return new X509Certificate(Buffer.from(der)).toString();
}

async function verify(reg: Registered) {
  return verifyBind(
    {
      type: 'webauthn.create',
      credentialId: fromBase64Url(reg.credentialId, 'id'),
      clientDataJSON: fromBase64Url(reg.response.clientDataJSON, 'cd'),
      attestationObject: fromBase64Url(reg.response.attestationObject, 'ao'),
      transports: reg.response.transports,
    },
    { challenge: fromBase64Url(reg.challenge, 'c'), origin: ORIGIN, rpId: RP },
  );
}

let caDir: string;
let regA: Registered;
let regB: Registered;
let regLone: Registered;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chip-ca-'));
  caDir = join(dir, 'ca');
  const made = await cli('chip', 'ca', 'create', '--out', caDir, '--json');
  expect(made.code, made.stderr).toBe(0);
  for (const [serial, ca] of [
    ['CA-A', caDir],
    ['CA-B', caDir],
    ['LONE', undefined],
  ] as const) {
    const r = await cli(
      'device',
      'create',
      'chip',
      '--serial',
      serial,
      '--out',
      join(dir, `${serial}.json`),
      ...(ca ? ['--ca', ca] : []),
    );
    expect(r.code, r.stderr).toBe(0);
  }
  regA = await register(join(dir, 'CA-A.json'));
  regB = await register(join(dir, 'CA-B.json'));
  regLone = await register(join(dir, 'LONE.json'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('chip ca create and device create chip --ca', () => {
  it('writes the key with mode 0600 and a CA certificate, and never overwrites them', async () => {
    expect((await stat(join(caDir, 'ca-key.pem'))).mode & 0o777).toBe(0o600);
    const cert = new X509Certificate(await readFile(join(caDir, 'ca-cert.pem')));
    expect(cert.ca).toBe(true);
    expect(cert.subject).toContain('CN=mitid-sim chip test attestation CA');
    const again = await cli('chip', 'ca', 'create', '--out', caDir);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already holds a CA/);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('two chips made with one --ca verify with an RP that trusts only that CA', async () => {
    const caDer = new X509Certificate(await readFile(join(caDir, 'ca-cert.pem'))).raw;
    SettingsService.setRootCertificates({
      identifier: 'packed',
      certificates: [new Uint8Array(caDer)],
    });
    for (const reg of [regA, regB]) {
      const info = await verify(reg);
      expect(info.fmt).toBe('packed');
    }
    // A chip with a CA of its own is not trusted by that RP.
    await expect(verify(regLone)).rejects.toThrow();
  });

  it('chip ca show prints the CA certificate of a chip; for --ca chips it is the project CA', async () => {
    const shown = await cli('chip', 'ca', 'show', join(dir, 'CA-A.json'));
    expect(shown.code).toBe(0);
    const projectCa = new X509Certificate(await readFile(join(caDir, 'ca-cert.pem')));
    expect(new X509Certificate(shown.stdout).raw.equals(projectCa.raw)).toBe(true);
    const out = join(dir, 'lone-ca.pem');
    expect((await cli('chip', 'ca', 'show', join(dir, 'LONE.json'), '--out', out)).code).toBe(0);
    const lone = new X509Certificate(await readFile(out));
    expect(lone.raw.equals(projectCa.raw)).toBe(false);
    expect(new X509Certificate(Buffer.from(attestationCert(regLone))).verify(lone.publicKey)).toBe(
      true,
    );
  });

  it('refuses a CA directory without a CA, or whose key does not match, in one line', async () => {
    const empty = await cli(
      'device',
      'create',
      'chip',
      '--serial',
      'X',
      '--out',
      join(dir, 'x.json'),
      '--ca',
      join(dir, 'none'),
    );
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/chip ca create/);
    const other = join(dir, 'other');
    expect((await cli('chip', 'ca', 'create', '--out', other)).code).toBe(0);
    const mixed = join(dir, 'mixed');
    expect((await cli('chip', 'ca', 'create', '--out', mixed)).code).toBe(0);
    await writeFile(join(mixed, 'ca-cert.pem'), await readFile(join(other, 'ca-cert.pem')));
    const bad = await cli(
      'device',
      'create',
      'chip',
      '--serial',
      'Y',
      '--out',
      join(dir, 'y.json'),
      '--ca',
      mixed,
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/does not belong to/);
    expect(bad.stderr).not.toMatch(/PRIVATE KEY/);
  });
});

describeWithTool('openssl', toolAvailable('openssl', ['version']), 'openssl verify', () => {
  it('accepts both chips’ attestation certificates under the project CA, and not the lone one', async () => {
    const check = async (reg: Registered, name: string) => {
      const leaf = join(dir, `${name}.pem`);
      await writeFile(leaf, pemOf(attestationCert(reg)));
      return spawnSync('openssl', ['verify', '-CAfile', join(caDir, 'ca-cert.pem'), leaf], {
        encoding: 'utf8',
      });
    };
    for (const [reg, name] of [
      [regA, 'a'],
      [regB, 'b'],
    ] as const) {
      const r = await check(reg, name);
      expect(r.stdout + r.stderr).toMatch(/: OK/);
      expect(r.status).toBe(0);
    }
    expect((await check(regLone, 'lone')).status).not.toBe(0);
  });
});
