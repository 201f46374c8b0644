// The attestation certificates: read back by node:crypto's X509Certificate and, independently,
// by the openssl command (parse and chain verification).
import { X509Certificate } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fromBase64, toHex, VirtualClock } from '../../src/core/index.js';
import {
  CHIP_AAGUID,
  ChipFirmware,
  createAttestationCa,
  deterministicRandom,
  derOid,
} from '../../firmware-sim/chip/index.js';
import { describeWithTool, toolAvailable } from '../support/tools.js';
import { START } from './harness.js';

const clock = new VirtualClock({ start: START });
// The CA signs with an RFC 6979 nonce, the chips' certificates with node:crypto's: openssl checks both.
const ca = createAttestationCa(START, deterministicRandom('ca'), true);
const fw = ChipFirmware.manufacture({
  serial: 'CHIP-0042',
  clock,
  random: deterministicRandom('att'),
  ca,
});
const state = fw.snapshot();
const leafDer = fromBase64(state.attestation.certDer);
const caDer = fromBase64(ca.certDer);

const pem = (der: Uint8Array): string =>
  `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;

describe('attestation certificate (node:crypto X509Certificate)', () => {
  const leaf = new X509Certificate(leafDer);
  const root = new X509Certificate(caDer);
  it('has the subject packed attestation asks for and is issued by the CA', () => {
    expect(leaf.subject.split('\n')).toEqual([
      'C=DK',
      'O=mitid-sim',
      'OU=Authenticator Attestation',
      'CN=mitid-sim chip CHIP-0042',
    ]);
    expect(leaf.ca).toBe(false);
    expect(root.ca).toBe(true);
    expect(leaf.checkIssued(root)).toBe(true);
    expect(leaf.verify(root.publicKey)).toBe(true);
    expect(root.verify(root.publicKey)).toBe(true);
    expect(new Date(leaf.validFrom).getTime()).toBeLessThanOrEqual(START);
    expect(new Date(leaf.validTo).getTime()).toBeGreaterThan(START + 10 * 365 * 86400_000);
  });
  it('carries the AAGUID extension (1.3.6.1.4.1.45724.1.1.4), not critical', () => {
    const oid = toHex(derOid('1.3.6.1.4.1.45724.1.1.4'));
    const hex = toHex(leafDer);
    // SEQUENCE { OID, OCTET STRING { OCTET STRING aaguid } }, no critical BOOLEAN between them.
    expect(hex).toContain(`${oid}0412${'0410'}${CHIP_AAGUID}`);
  });
  it('the chip keeps the CA certificate, and two chips from one CA share it', () => {
    const other = ChipFirmware.manufacture({
      serial: 'CHIP-0043',
      clock,
      random: deterministicRandom('att2'),
      ca,
    });
    expect(other.attestationCaCertificate).toEqual(fw.attestationCaCertificate);
    expect(other.snapshot().attestation.certDer).not.toBe(state.attestation.certDer);
  });
});

describeWithTool(
  'openssl',
  toolAvailable('openssl', ['version']),
  'attestation certificate (openssl)',
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'chip-att-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'leaf.pem'), pem(leafDer));
    writeFileSync(join(dir, 'ca.pem'), pem(caDer));
    it('openssl verifies the chain', () => {
      const r = spawnSync(
        'openssl',
        ['verify', '-CAfile', join(dir, 'ca.pem'), join(dir, 'leaf.pem')],
        { encoding: 'utf8' },
      );
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toMatch(/: OK$/);
    });
    it('openssl reads a v3 certificate with CA:FALSE, the OU and the AAGUID extension', () => {
      const r = spawnSync('openssl', ['x509', '-in', join(dir, 'leaf.pem'), '-noout', '-text'], {
        encoding: 'utf8',
      });
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/Version: 3 \(0x2\)/);
      expect(r.stdout).toMatch(/OU\s*=\s*Authenticator Attestation/);
      expect(r.stdout).toMatch(/CA:FALSE/);
      expect(r.stdout).toMatch(/1\.3\.6\.1\.4\.1\.45724\.1\.1\.4/);
      expect(r.stdout).toMatch(/ecdsa-with-SHA256/);
      const c = spawnSync('openssl', ['x509', '-in', join(dir, 'ca.pem'), '-noout', '-text'], {
        encoding: 'utf8',
      });
      expect(c.stdout).toMatch(/CA:TRUE/);
      expect(c.stdout).toMatch(/Certificate Sign/);
    });
  },
);
