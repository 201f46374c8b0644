// python-pskc as an independent peer: files it writes we import, files we write it reads.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/core/bytes.js';
import type { OtpKey } from '../../src/otp/types.js';
import { exportPskc, importPskc, PskcUris } from '../../src/otp/seed/index.js';
import { describeWithTool, toolAvailable } from '../support/tools.js';
import { expectSeedError, fixture, plain } from './helpers.js';

const PYTHON = '/usr/bin/python3';
const PEER = fileURLToPath(new URL('./pskc_peer.py', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'mitid-seed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** What the peer script reads and writes: python-pskc's attribute names, secrets in hex. */
interface PeerKey {
  id: string;
  serial: string;
  algorithm: string;
  secret: string;
  digits: number;
  suite?: string | null;
  manufacturer?: string | null;
  issuer?: string | null;
  counter?: number | null;
  time_offset?: number | null;
  time_interval?: number | null;
  time_drift?: number | null;
}

function peer(
  args: string[],
  input?: string,
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(PYTHON, [PEER, ...args], { input, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** python-pskc writes `keys` to a file, optionally encrypted; returns the file's bytes. */
function pythonWrites(keys: PeerKey[], enc: string[] = []): Uint8Array {
  const file = join(dir, `py-${++n}.pskc`);
  const r = peer(['write', file, ...enc], JSON.stringify(keys));
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return new Uint8Array(readFileSync(file));
}

/** python-pskc reads `xml`; returns its view of the keys. */
function pythonReads(
  xml: string,
  enc: string[] = [],
): { mac: string | null; encryption: string | null; keys: PeerKey[] } {
  const file = join(dir, `ts-${++n}.pskc`);
  writeFileSync(file, xml);
  const r = peer(['read', file, ...enc]);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as { mac: string | null; encryption: string | null; keys: PeerKey[] };
}

const PEER_KEYS: PeerKey[] = [
  {
    id: 'k-totp-256',
    serial: 'CD-90000001',
    algorithm: PskcUris.totp,
    secret: '3132333435363738393031323334353637383930313233343536373839303132',
    digits: 6,
    suite: 'HMAC-SHA256',
    time_offset: 0,
    time_interval: 30,
    time_drift: -2,
    manufacturer: 'Acme Tokens',
    issuer: 'MitID Test',
  },
  {
    id: 'k-hotp',
    serial: 'CD-90000002',
    algorithm: PskcUris.hotp,
    secret: '3132333435363738393031323334353637383930',
    digits: 8,
    counter: 42,
  },
  {
    id: 'k-totp-512',
    serial: 'AR-90000003',
    algorithm: PskcUris.totp,
    secret:
      'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90',
    digits: 7,
    suite: 'HMAC-SHA512',
    time_offset: 1_700_000_000,
    time_interval: 60,
  },
];

/** The OtpKeys the peer keys stand for. */
const EXPECTED: Record<string, unknown>[] = [
  {
    serial: 'CD-90000001',
    keyId: 'k-totp-256',
    type: 'totp',
    secret: PEER_KEYS[0]!.secret,
    algorithm: 'SHA256',
    digits: 6,
    t0: 0,
    period: 30,
    timeDrift: -2,
    manufacturer: 'Acme Tokens',
    issuer: 'MitID Test',
  },
  {
    serial: 'CD-90000002',
    keyId: 'k-hotp',
    type: 'hotp',
    secret: PEER_KEYS[1]!.secret,
    algorithm: 'SHA1',
    digits: 8,
    counter: 42,
  },
  {
    serial: 'AR-90000003',
    keyId: 'k-totp-512',
    type: 'totp',
    secret: PEER_KEYS[2]!.secret,
    algorithm: 'SHA512',
    digits: 7,
    t0: 1_700_000_000,
    period: 60,
  },
];

const OUR_KEYS: OtpKey[] = EXPECTED.map(
  (e) => ({ ...e, secret: fromHex(e.secret as string) }) as unknown as OtpKey,
);

/** Compares python-pskc's view of a key with ours, field by field. */
function expectSame(p: PeerKey, k: OtpKey): void {
  expect(p.serial).toBe(k.serial);
  expect(p.id).toBe(k.keyId ?? k.serial);
  expect(p.secret).toBe(toHex(k.secret));
  expect(p.algorithm).toBe(k.type === 'hotp' ? PskcUris.hotp : PskcUris.totp);
  expect(p.suite).toBe(`HMAC-${k.algorithm}`);
  expect(p.digits).toBe(k.digits);
  expect(p.manufacturer ?? undefined).toBe(k.manufacturer);
  expect(p.issuer ?? undefined).toBe(k.issuer);
  expect(p.counter ?? undefined).toBe(k.type === 'hotp' ? k.counter : undefined);
  expect(p.time_offset ?? undefined).toBe(k.t0);
  expect(p.time_interval ?? undefined).toBe(k.period);
  expect(p.time_drift ?? undefined).toBe(k.timeDrift);
}

const PSK16 = '000102030405060708090a0b0c0d0e0f';
const PSK24 = '000102030405060708090a0b0c0d0e0f1011121314151617';
const PSK32 = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';

describeWithTool(
  'python3-pskc',
  toolAvailable(PYTHON, ['-c', 'import pskc']),
  'python-pskc writes, we import',
  () => {
    it('a plain file', () => {
      expect(importPskc(pythonWrites(PEER_KEYS)).map(plain)).toEqual(EXPECTED);
    });

    it.each([
      ['aes128-cbc', PSK16],
      ['aes192-cbc', PSK24],
      ['aes256-cbc', PSK32],
    ])('a file encrypted with a pre-shared key, %s, with its MAC', (cipher, psk) => {
      const file = pythonWrites(PEER_KEYS, ['--key', psk, '--cipher', cipher]);
      const text = new TextDecoder().decode(file);
      expect(text).toContain(`xmlenc#${cipher}`);
      expect(text).toContain('ValueMAC');
      expect(importPskc(file, { key: fromHex(psk) }).map(plain)).toEqual(EXPECTED);
      expectSeedError(
        () => importPskc(file, { key: fromHex(psk.replace(/^00/, '01')) }),
        'wrong-key',
        [PEER_KEYS[0]!.secret],
      );
    });

    it('a file with AES key wrap (kw-aes128), secrets of any length', () => {
      const keys = [
        ...PEER_KEYS,
        { ...PEER_KEYS[1]!, id: 'short', serial: 'SHORT-1', secret: '31323334' },
      ];
      const file = pythonWrites(keys, ['--key', PSK16, '--cipher', 'kw-aes128']);
      expect(new TextDecoder().decode(file)).toContain('xmlenc#kw-aes128');
      const got = importPskc(file, { key: fromHex(PSK16) });
      expect(got.map((k) => toHex(k.secret))).toEqual(keys.map((k) => k.secret));
      expectSeedError(() => importPskc(file, { key: fromHex(`ff${PSK16.slice(2)}`) }), 'wrong-key');
    });

    it('a PBKDF2 password file', () => {
      const file = pythonWrites(PEER_KEYS, ['--password', 'Tr0ub4dor&3', '--iterations', '2000']);
      expect(importPskc(file, { password: 'Tr0ub4dor&3' }).map(plain)).toEqual(EXPECTED);
      expectSeedError(() => importPskc(file, { password: 'Tr0ub4dor&4' }), 'wrong-password', [
        'Tr0ub4dor',
      ]);
      expectSeedError(() => importPskc(file), 'needs-password');
    });
  },
);

describeWithTool(
  'python3-pskc',
  toolAvailable(PYTHON, ['-c', 'import pskc']),
  'we export, python-pskc reads',
  () => {
    it('a plain file', () => {
      const got = pythonReads(exportPskc(OUR_KEYS));
      expect(got.encryption).toBeNull();
      expect(got.keys).toHaveLength(OUR_KEYS.length);
      got.keys.forEach((p, i) => expectSame(p, OUR_KEYS[i]!));
    });

    it.each([
      [PSK16, 'aes128-cbc'],
      [PSK24, 'aes192-cbc'],
      [PSK32, 'aes256-cbc'],
    ])('a pre-shared key file (%s), MAC checked by python-pskc', (psk, cipher) => {
      const xml = exportPskc(OUR_KEYS, { key: fromHex(psk) });
      const got = pythonReads(xml, ['--key', psk]);
      expect(got.encryption).toBe(`http://www.w3.org/2001/04/xmlenc#${cipher}`);
      expect(got.mac).toBe(PskcUris.hmacSha1);
      got.keys.forEach((p, i) => expectSame(p, OUR_KEYS[i]!));
    });

    it('a PBKDF2 password file', () => {
      const xml = exportPskc(OUR_KEYS, { password: 'correct horse', iterations: 3000 });
      const got = pythonReads(xml, ['--password', 'correct horse']);
      got.keys.forEach((p, i) => expectSame(p, OUR_KEYS[i]!));
    });

    it('python-pskc refuses our file once a ValueMAC is altered (the MAC we write is real)', () => {
      const xml = exportPskc(OUR_KEYS.slice(1, 2), { key: fromHex(PSK16) });
      const tampered = xml.replace(
        /<pskc:ValueMAC>(.)/,
        (_m, c: string) => `<pskc:ValueMAC>${c === 'A' ? 'B' : 'A'}`,
      );
      expect(tampered).not.toBe(xml);
      const file = join(dir, `tampered-${++n}.pskc`);
      writeFileSync(file, tampered);
      const r = peer(['read', file, '--key', PSK16]);
      expect(r.status).toBe(3);
      expect(r.stderr).toMatch(/MAC/i);
    });
  },
);

describeWithTool(
  'python3-pskc',
  toolAvailable(PYTHON, ['-c', 'import pskc']),
  'python-pskc agrees on the RFC 6030 figures',
  () => {
    it.each([
      ['rfc6030-figure3.xml', []],
      ['rfc6030-figure6.xml', ['--key', '12345678901234567890123456789012']],
      ['rfc6030-figure7.xml', ['--password', 'qwerty']],
      ['rfc6030-figure10.xml', []],
    ] as const)('%s', (name, enc) => {
      const xml = fixture(name);
      const theirs = pythonReads(xml, [...enc]).keys;
      const opts =
        enc[0] === '--key'
          ? { key: fromHex(enc[1]) }
          : enc[0] === '--password'
            ? { password: enc[1] }
            : {};
      const ours = importPskc(xml, opts);
      expect(ours).toHaveLength(theirs.length);
      theirs.forEach((p, i) => {
        const k = ours[i]!;
        expect([k.serial, k.keyId, toHex(k.secret), k.digits, k.counter]).toEqual([
          p.serial,
          p.id,
          p.secret,
          p.digits,
          p.counter ?? undefined,
        ]);
      });
    });
  },
);
