import { spawnSync } from 'node:child_process';
import { createPublicKey, diffieHellman, generateKeyPairSync, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  kdf,
  p256ToCose,
  pinAuthenticate,
  pinDecrypt,
  pinEncrypt,
  pinHash,
  paddedPin,
  encapsulate,
  coseToP256,
} from '../../devices/chip/pin.js';
import { toBase64Url } from '../../src/core/bytes.js';
import { describeWithTool, toolAvailable } from '../support/tools.js';

const PY = '/usr/bin/python3';
const script = fileURLToPath(new URL('../support/fido2/pin_vectors.py', import.meta.url));
const hasFido2 = toolAvailable(PY, ['-c', 'import fido2.ctap2.pin']);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));

describeWithTool('python3-fido2', hasFido2, 'PIN/UV auth protocols against python-fido2', () => {
  it.each([1, 2] as const)('protocol %i: same shared secret, ciphertext and MACs', (protocol) => {
    // We play the authenticator: python-fido2 encapsulates against our key, we decapsulate.
    const auth = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const cose = p256ToCose(auth.publicKey, -25);
    const plaintext = randomBytes(64);
    const message = randomBytes(50);
    const token = randomBytes(32);
    const r = spawnSync(PY, [script], {
      input: JSON.stringify({
        protocol,
        x: hex(cose.get(-2) as Uint8Array),
        y: hex(cose.get(-3) as Uint8Array),
        plaintext: hex(plaintext),
        message: hex(message),
        token: hex(token),
      }),
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as Record<string, string>;
    const platform = createPublicKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: toBase64Url(unhex(out.platform_x!)),
        y: toBase64Url(unhex(out.platform_y!)),
      },
      format: 'jwk',
    });
    const z = new Uint8Array(diffieHellman({ privateKey: auth.privateKey, publicKey: platform }));
    const shared = kdf(protocol, z);
    expect(hex(shared)).toBe(out.shared);
    expect(hex(pinDecrypt(protocol, shared, unhex(out.ciphertext!)))).toBe(hex(plaintext));
    expect(hex(pinAuthenticate(protocol, shared, message))).toBe(out.mac);
    expect(hex(pinAuthenticate(protocol, token, message))).toBe(out.token_mac);
  });
});

describe('PIN protocol helpers', () => {
  it.each([1, 2] as const)(
    'protocol %i encrypts and decrypts, and both sides agree',
    (protocol) => {
      const auth = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const mine = encapsulate(protocol, p256ToCose(auth.publicKey, -25));
      const theirs = kdf(
        protocol,
        new Uint8Array(
          diffieHellman({ privateKey: auth.privateKey, publicKey: coseToP256(mine.platformKey) }),
        ),
      );
      expect(hex(theirs)).toBe(hex(mine.secret));
      const p = new Uint8Array(randomBytes(32));
      const c = pinEncrypt(protocol, mine.secret, p);
      expect(c.length).toBe(protocol === 1 ? 32 : 48);
      expect(hex(pinDecrypt(protocol, theirs, c))).toBe(hex(p));
    },
  );

  it('hashes and pads PINs as CTAP 2.1 §6.5.5 says', () => {
    expect(hex(pinHash('1234'))).toBe('03ac674216f3e15c761ee1a5e255f067');
    const padded = paddedPin('1234');
    expect(padded.length).toBe(64);
    expect(Buffer.from(padded.subarray(0, 4)).toString()).toBe('1234');
    expect(padded.subarray(4).every((b) => b === 0)).toBe(true);
    expect(() => paddedPin('123')).toThrow(/at least 4/);
    expect(() => paddedPin('x'.repeat(64))).toThrow(/63 bytes/);
  });

  it('refuses a key agreement key that is not P-256', () => {
    expect(() => coseToP256(new Map<number, unknown>([[1, 1]]))).toThrow(
      expect.objectContaining({ code: 'bad-key-agreement' }),
    );
    const bad = new Map<number, unknown>([
      [1, 2],
      [-1, 1],
      [-2, new Uint8Array(32).fill(1)],
      [-3, new Uint8Array(32).fill(2)],
    ]);
    expect(() => coseToP256(bad)).toThrow(expect.objectContaining({ code: 'bad-key-agreement' }));
  });
});
