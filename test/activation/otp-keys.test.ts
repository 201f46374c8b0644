/** PreparedOtpKeys: a seed opened once per device, the cache bounded and keyed so a copied envelope finds nothing. */
import { describe, expect, it, vi } from 'vitest';
import { PreparedOtpKeys } from '../../src/activation/otp-keys.js';
import { generateServiceKeys, secretsFrom, SecretError } from '../../src/activation/index.js';
import { PreparedKeyPackage } from '../../src/otp/verify.js';

const secrets = secretsFrom(generateServiceKeys());
const PARAMS = JSON.stringify({ type: 'totp', algorithm: 'SHA1', digits: 6, period: 30, t0: 0 });
const seed = (n: number) => new Uint8Array(20).fill(n);
const sealed = (kind: string, serial: string, n: number) =>
  secrets.box.seal(seed(n), `seed:${kind}:${serial}`);

describe('PreparedOtpKeys', () => {
  it('opens a seed once and hands back the same prepared key after', () => {
    const keys = new PreparedOtpKeys();
    const open = vi.spyOn(secrets.box, 'open');
    const env = sealed('code-display', 'CD-1', 1);
    const first = keys.get(secrets, 'code-display', 'CD-1', env, PARAMS);
    const second = keys.get(secrets, 'code-display', 'CD-1', env, PARAMS);
    expect(first).toBeInstanceOf(PreparedKeyPackage);
    expect(second).toBe(first);
    expect(open).toHaveBeenCalledTimes(1);
    expect(keys.size).toBe(1);
    open.mockRestore();
  });

  it('an envelope copied to another row does not open there, cached or not', () => {
    const keys = new PreparedOtpKeys();
    const env = sealed('code-display', 'CD-1', 1);
    keys.get(secrets, 'code-display', 'CD-1', env, PARAMS);
    expect(() => keys.get(secrets, 'code-display', 'CD-2', env, PARAMS)).toThrow(SecretError);
    expect(() => keys.get(secrets, 'audio-reader', 'CD-1', env, PARAMS)).toThrow(SecretError);
  });

  it('a seed sealed again is a new entry; no seed is no key', () => {
    const keys = new PreparedOtpKeys();
    const a = keys.get(secrets, 'code-display', 'CD-1', sealed('code-display', 'CD-1', 1), PARAMS);
    const b = keys.get(secrets, 'code-display', 'CD-1', sealed('code-display', 'CD-1', 2), PARAMS);
    expect(b).not.toBe(a);
    expect(keys.size).toBe(2);
    expect(keys.get(secrets, 'code-display', 'CD-1', null, PARAMS)).toBeUndefined();
    expect(
      keys.get(secrets, 'code-display', 'CD-1', sealed('code-display', 'CD-1', 1), null),
    ).toBeUndefined();
  });

  it('keeps at most its size, dropping the least recently used', () => {
    const keys = new PreparedOtpKeys(2);
    const env = ['A', 'B', 'C'].map((s, i) => sealed('code-display', s, i));
    const get = (i: number) =>
      keys.get(secrets, 'code-display', ['A', 'B', 'C'][i]!, env[i]!, PARAMS);
    const a = get(0);
    const b = get(1);
    expect(get(0)).toBe(a); // A is now the most recently used
    get(2); // C pushes out B
    expect(keys.size).toBe(2);
    expect(get(0)).toBe(a);
    expect(get(1)).not.toBe(b); // opened again
    const none = new PreparedOtpKeys(0);
    const p = none.get(secrets, 'code-display', 'A', env[0]!, PARAMS);
    expect(p).toBeInstanceOf(PreparedKeyPackage);
    expect(none.size).toBe(0);
    expect(() => new PreparedOtpKeys(-1)).toThrow(/cache size/);
  });

  it('bad parameters in the row are an OtpError, and no key is kept', () => {
    const keys = new PreparedOtpKeys();
    const env = sealed('code-display', 'CD-9', 9);
    expect(() =>
      keys.get(
        secrets,
        'code-display',
        'CD-9',
        env,
        JSON.stringify({ type: 'totp', algorithm: 'MD5', digits: 6 }),
      ),
    ).toThrow(/algorithm/);
    expect(keys.size).toBe(0);
  });
});
