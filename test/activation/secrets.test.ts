/** Secrets at rest: AES-256-GCM envelopes (checked against WebCrypto), HMAC lookup hashes (against openssl), scrypt (against Python). */
import { spawnSync } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeWithTool, toolAvailable } from '../support/tools.js';
import {
  KEY_FILE,
  SecretBox,
  SecretError,
  TokenHasher,
  generateServiceKeys,
  hashPassword,
  loadOrCreateServiceKeys,
  newToken,
  serviceKeysFromJson,
  serviceKeysToJson,
  verifyPassword,
} from '../../src/activation/index.js';

const utf8 = (s: string) => new TextEncoder().encode(s);

describe('SecretBox', () => {
  const keys = generateServiceKeys('k1');
  const box = new SecretBox(keys);

  it('seals and opens; every envelope differs; the plaintext is not in it', () => {
    const seed = 'JBSWY3DPEHPK3PXP';
    const a = box.sealString(seed, 'seed:code-display:CD-1');
    const b = box.sealString(seed, 'seed:code-display:CD-1');
    expect(a).toMatch(/^v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain(seed);
    expect(box.openString(a, 'seed:code-display:CD-1')).toBe(seed);
    expect(SecretBox.keyIdOf(a)).toBe('k1');
  });

  it('refuses altered envelopes, another record’s context and malformed input with one-line errors', () => {
    const env = box.sealString('150385-4321', 'cpr:u1');
    const parts = env.split('.');
    const body = Buffer.from(parts[3]!, 'base64url');
    body[0]! ^= 1;
    const altered = [...parts.slice(0, 3), body.toString('base64url')].join('.');
    for (const [e, ctx, code] of [
      [altered, 'cpr:u1', 'tampered'],
      [env, 'cpr:u2', 'tampered'],
      ['v1.k1.abc', 'cpr:u1', 'bad-envelope'],
      ['v2.k1.a.b', 'cpr:u1', 'bad-envelope'],
      [env.replace('v1.k1.', 'v1.k9.'), 'cpr:u1', 'unknown-key'],
    ] as const) {
      let err: unknown;
      try {
        box.open(e, ctx);
      } catch (x) {
        err = x;
      }
      expect(err).toBeInstanceOf(SecretError);
      expect((err as SecretError).code).toBe(code);
      expect((err as Error).message).not.toContain('150385');
      expect((err as Error).message).not.toContain('\n');
    }
  });

  it('rotates: a box with a new current key still opens envelopes of the old one', () => {
    const old = box.sealString('secret', 'ctx');
    const k2 = generateServiceKeys('k2');
    const rotated = new SecretBox({
      current: 'k2',
      keys: { ...keys.keys, ...k2.keys },
      pepper: keys.pepper,
    });
    expect(rotated.openString(old, 'ctx')).toBe('secret');
    const fresh = rotated.sealString('secret', 'ctx');
    expect(SecretBox.keyIdOf(fresh)).toBe('k2');
    expect(() => box.open(fresh, 'ctx')).toThrow(
      expect.objectContaining({ code: 'unknown-key' }) as Error,
    );
  });

  it('agrees with WebCrypto AES-GCM in both directions (an independent implementation)', async () => {
    const key = await webcrypto.subtle.importKey('raw', keys.keys.k1!, 'AES-GCM', false, [
      'encrypt',
      'decrypt',
    ]);
    const env = box.sealString('seed bytes', 'seed:chip:X');
    const [, , ivB64, bodyB64] = env.split('.');
    const plain = await webcrypto.subtle.decrypt(
      {
        name: 'AES-GCM',
        iv: Buffer.from(ivB64!, 'base64url'),
        additionalData: utf8('seed:chip:X'),
        tagLength: 128,
      },
      key,
      Buffer.from(bodyB64!, 'base64url'),
    );
    expect(new TextDecoder().decode(plain)).toBe('seed bytes');
    const iv = webcrypto.getRandomValues(new Uint8Array(12));
    const ct = await webcrypto.subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: utf8('ctx') },
      key,
      utf8('from webcrypto'),
    );
    const theirs = [
      'v1',
      'k1',
      Buffer.from(iv).toString('base64url'),
      Buffer.from(ct).toString('base64url'),
    ].join('.');
    expect(box.openString(theirs, 'ctx')).toBe('from webcrypto');
  });
});

describe('service keys', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mitid-keys-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('are generated into the data directory on first start with mode 0600, and reused after', async () => {
    const data = join(dir, 'data');
    const [a, b] = await Promise.all([
      loadOrCreateServiceKeys(data),
      loadOrCreateServiceKeys(data),
    ]);
    expect(serviceKeysToJson(a)).toEqual(serviceKeysToJson(b));
    expect((await stat(join(data, KEY_FILE))).mode & 0o777).toBe(0o600);
    const again = await loadOrCreateServiceKeys(data);
    expect(serviceKeysToJson(again)).toEqual(serviceKeysToJson(a));
    expect(a.keys[a.current]).toHaveLength(32);
    expect(JSON.parse(await readFile(join(data, KEY_FILE), 'utf8'))).toEqual(serviceKeysToJson(a));
  });

  it('a broken key file or config gives a clear error that names no key material', async () => {
    await writeFile(join(dir, KEY_FILE), '{ not json');
    await expect(loadOrCreateServiceKeys(dir)).rejects.toMatchObject({ code: 'bad-service-keys' });
    const good = serviceKeysToJson(generateServiceKeys());
    for (const bad of [
      null,
      { ...good, current: 'nope' },
      { ...good, keys: { k1: 'c2hvcnQ=' } },
      { ...good, pepper: '' },
      { ...good, keys: { 'bad id!': good.keys.k1 } },
    ]) {
      let err: unknown;
      try {
        serviceKeysFromJson(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: 'bad-service-keys' });
      expect((err as Error).message).not.toContain(good.keys.k1!);
    }
  });
});

describe('TokenHasher', () => {
  const pepper = new Uint8Array(32).map((_, i) => i);
  const hasher = new TokenHasher(pepper);

  it('separates purposes and compares in constant time', () => {
    expect(hasher.hash('activation-link', 'abc')).not.toBe(hasher.hash('cpr', 'abc'));
    expect(hasher.matches('cpr', 'abc', hasher.hash('cpr', 'abc'))).toBe(true);
    expect(hasher.matches('cpr', 'abd', hasher.hash('cpr', 'abc'))).toBe(false);
    expect(hasher.matches('cpr', 'abc', 'short')).toBe(false);
    expect(() => new TokenHasher(new Uint8Array(8))).toThrow(SecretError);
  });

  it('tokens carry at least 128 random bits', () => {
    expect(Buffer.from(newToken(), 'base64url')).toHaveLength(32);
    expect(Buffer.from(newToken(16), 'base64url')).toHaveLength(16);
    expect(() => newToken(15)).toThrow(RangeError);
    expect(new Set(Array.from({ length: 100 }, () => newToken())).size).toBe(100);
  });

  describeWithTool('openssl', toolAvailable('openssl', ['version']), 'against openssl', () => {
    it('is HMAC-SHA256(pepper, purpose ‖ 0x00 ‖ value)', () => {
      const message = Buffer.concat([
        Buffer.from('activation-link'),
        Buffer.from([0]),
        Buffer.from('tøken'),
      ]);
      const r = spawnSync(
        'openssl',
        [
          'dgst',
          '-sha256',
          '-mac',
          'HMAC',
          '-macopt',
          `hexkey:${Buffer.from(pepper).toString('hex')}`,
        ],
        {
          input: message,
        },
      );
      expect(r.status).toBe(0);
      const theirs = /([0-9a-f]{64})\s*$/.exec(r.stdout.toString())?.[1];
      expect(hasher.hash('activation-link', 'tøken')).toBe(theirs);
    });
  });
});

describe('passwords and PINs (scrypt)', () => {
  const fast = { N: 1 << 14, r: 8, p: 1 };

  it('hash, verify, refuse the wrong one; NFC-equal passwords match', async () => {
    const h = await hashPassword('blåbær-grød-9', fast);
    expect(h).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(h).not.toContain('blåbær');
    expect(await verifyPassword('blåbær-grød-9', h)).toBe(true);
    expect(await verifyPassword('bla\u030abær-grød-9', h)).toBe(true);
    expect(await verifyPassword('blåbær-grød-8', h)).toBe(false);
    expect(await hashPassword('blåbær-grød-9', fast)).not.toBe(h);
    await expect(verifyPassword('x', 'plain')).rejects.toMatchObject({ code: 'bad-password-hash' });
    await expect(verifyPassword('x', 'scrypt$99999999$8$1$aa$bb')).rejects.toMatchObject({
      code: 'bad-password-hash',
    });
  });

  describeWithTool(
    'python3',
    toolAvailable('python3', ['--version']),
    'against Python hashlib.scrypt',
    () => {
      it('derives the same key', async () => {
        const h = await hashPassword('123456', fast);
        const [, N, r, p, salt, key] = h.split('$');
        const py = spawnSync(
          'python3',
          [
            '-c',
            'import sys,hashlib,base64;s=base64.urlsafe_b64decode(sys.argv[1]+"==");' +
              'print(base64.urlsafe_b64encode(hashlib.scrypt(b"123456",salt=s,n=int(sys.argv[2]),r=int(sys.argv[3]),p=int(sys.argv[4]),dklen=32)).decode().rstrip("="))',
            salt!,
            N!,
            r!,
            p!,
          ],
          { encoding: 'utf8' },
        );
        expect(py.status).toBe(0);
        expect(py.stdout.trim()).toBe(key);
      });
    },
  );
});
