/** OtpVerifier: binding by serial and current code, logins, replays, drift, JSON round trips. */
import { describe, expect, it } from 'vitest';
import { generateHotp, generateTotp } from '../../src/otp/generate.js';
import type { OtpKey } from '../../src/otp/types.js';
import { OtpVerifier, bindingFromKey } from '../../src/otp/verify.js';
import type { OtpBinding, TotpBinding } from '../../src/otp/verify.js';

const secret = new Uint8Array(20).map((_, i) => i * 13 + 7);
const key: OtpKey = {
  serial: 'CD-0001',
  type: 'totp',
  secret,
  algorithm: 'SHA1',
  digits: 6,
  period: 30,
};
const T = Date.UTC(2026, 10, 25, 12, 0, 5);
const bound = (code: string, serial = key.serial) =>
  ({ type: 'otp', serial, code, deviceTime: T }) as const;
/** What the store does: the binding goes through JSON between transactions. */
const stored = (b: OtpBinding): OtpBinding => JSON.parse(JSON.stringify(b)) as OtpBinding;

describe('OtpVerifier (code display)', () => {
  const v = new OtpVerifier('code-display');

  it('binds with the serial and a current code, then logs in once per code', async () => {
    expect(v.kind).toBe('code-display');
    const b = await v.bind({ key, bound: bound(generateTotp(key, T)) }, { now: T });
    expect(b).toMatchObject({ verified: true, reason: 'ok' });
    const binding = stored(b.binding) as TotpBinding;
    expect(binding).toMatchObject({
      type: 'totp',
      serial: 'CD-0001',
      algorithm: 'SHA1',
      digits: 6,
      period: 30,
      t0: 0,
    });
    expect(binding.state).toEqual({ lastStep: Math.floor(T / 30_000), driftSteps: 0 });

    // The binding code cannot be used again to log in.
    const replay = await v.verify(binding, bound(generateTotp(key, T)), { now: T + 1000 });
    expect(replay).toMatchObject({ verified: false, reason: 'replayed' });

    const login = await v.verify(binding, bound(generateTotp(key, T + 60_000)), {
      now: T + 60_000,
    });
    expect(login.verified).toBe(true);
    expect((login.binding as TotpBinding).state.lastStep).toBe(Math.floor(T / 30_000) + 2);
    const again = await v.verify(stored(login.binding), bound(generateTotp(key, T + 60_000)), {
      now: T + 61_000,
    });
    expect(again).toMatchObject({ verified: false, reason: 'replayed' });
    // A failed check hands back the binding unchanged, to be stored as it was.
    expect(again.binding).toEqual(stored(login.binding));
  });

  it('refuses a wrong serial even with the right code, and a wrong code with the right serial', async () => {
    const code = generateTotp(key, T);
    const wrongSerial = await v.bind({ key, bound: bound(code, 'CD-0002') }, { now: T });
    expect(wrongSerial).toMatchObject({ verified: false, reason: 'unknown-credential' });
    const other = code === '000000' ? '000001' : '000000';
    expect(await v.bind({ key, bound: bound(other) }, { now: T })).toMatchObject({
      verified: false,
      reason: 'wrong-code',
    });
  });

  it('binds a device two steps fast, then follows it at logins with a window of one', async () => {
    const ahead = 60_000;
    const b = await v.bind({ key, bound: bound(generateTotp(key, T + ahead)) }, { now: T });
    expect(b.verified).toBe(true);
    expect((b.binding as TotpBinding).state.driftSteps).toBe(2);
    // A day later the device is three steps fast: still found, drift now 3.
    const later = T + 86_400_000;
    const login = await v.verify(b.binding, bound(generateTotp(key, later + 90_000)), {
      now: later,
    });
    expect(login.verified).toBe(true);
    expect((login.binding as TotpBinding).state.driftSteps).toBe(3);
    // An untracked binding would have refused it.
    const fresh = bindingFromKey(key);
    expect(
      (await v.verify(fresh, bound(generateTotp(key, later + 90_000)), { now: later })).verified,
    ).toBe(false);
  });

  it('three steps fast is outside the binding window of two', async () => {
    const b = await v.bind({ key, bound: bound(generateTotp(key, T + 90_000)) }, { now: T });
    expect(b.verified).toBe(false);
  });

  it("starts from the inventory's PSKC TimeDrift", async () => {
    const drifted = { ...key, timeDrift: 10 } as OtpKey;
    expect((bindingFromKey(drifted) as TotpBinding).state.driftSteps).toBe(10);
    const b = await v.bind(
      { key: drifted, bound: bound(generateTotp(key, T + 300_000)) },
      { now: T },
    );
    expect(b.verified).toBe(true);
  });

  it('ignores the deviceTime a client claims: the server clock decides', async () => {
    const b = await v.bind({ key, bound: bound(generateTotp(key, T)) }, { now: T });
    const old = generateTotp(key, T - 3_600_000);
    const proof = {
      type: 'otp',
      serial: key.serial,
      code: old,
      deviceTime: T - 3_600_000,
    } as const;
    expect((await v.verify(b.binding, proof, { now: T + 30_000 })).verified).toBe(false);
  });

  it('the binding is plain JSON, with the secret in base64', async () => {
    const binding = bindingFromKey(key);
    expect(stored(binding)).toEqual(binding);
    expect(Buffer.from(binding.secret, 'base64')).toEqual(Buffer.from(secret));
  });
});

describe('OtpVerifier.resync', () => {
  const v = new OtpVerifier('code-display');

  it('brings back a device 20 steps fast: login fails, resync with two codes, login passes', async () => {
    const b = await v.bind({ key, bound: bound(generateTotp(key, T)) }, { now: T });
    const later = T + 30 * 86_400_000;
    const deviceAt = (ms: number): number => ms + 20 * 30_000;
    const lost = await v.verify(b.binding, bound(generateTotp(key, deviceAt(later))), {
      now: later,
    });
    expect(lost).toMatchObject({ verified: false, reason: 'wrong-code' });
    // The user presses, waits for the next code, presses again.
    const c1 = bound(generateTotp(key, deviceAt(later)));
    const c2 = bound(generateTotp(key, deviceAt(later + 30_000)));
    const r = await v.resync(lost.binding, c1, c2, { now: later + 30_000 });
    expect(r).toMatchObject({ verified: true, reason: 'ok' });
    expect((r.binding as TotpBinding).state.driftSteps).toBe(20);
    // The pair cannot be replayed, and the next login is found with the usual window.
    expect((await v.resync(r.binding, c1, c2, { now: later + 40_000 })).verified).toBe(false);
    const next = later + 120_000;
    const login = await v.verify(stored(r.binding), bound(generateTotp(key, deviceAt(next))), {
      now: next,
    });
    expect(login.verified).toBe(true);
  });

  it('refuses a pair for another serial, a pair out of order, and malformed codes', async () => {
    const binding = bindingFromKey(key);
    const c1 = generateTotp(key, T);
    const c2 = generateTotp(key, T + 30_000);
    const ctx = { now: T + 30_000 };
    expect(await v.resync(binding, bound(c1), bound(c2, 'CD-9'), ctx)).toMatchObject({
      verified: false,
      reason: 'unknown-credential',
    });
    if (c1 !== c2)
      expect((await v.resync(binding, bound(c2), bound(c1), ctx)).verified).toBe(false);
    expect((await v.resync(binding, bound('12 456'), bound(c2), ctx)).reason).toBe('malformed');
  });

  it('HOTP: finds a pair within the binding look-ahead, not beyond it', async () => {
    const hkey: OtpKey = {
      serial: 'AR-9',
      type: 'hotp',
      secret,
      algorithm: 'SHA1',
      digits: 6,
      counter: 0,
    };
    const binding = bindingFromKey(hkey);
    const at = (c: number) => bound(generateHotp(hkey, c), 'AR-9');
    const r = await v.resync(binding, at(60), at(61), { now: T });
    expect(r.verified).toBe(true);
    expect(r.binding.state).toEqual({ counter: 62 });
    expect((await v.resync(binding, at(150), at(151), { now: T })).verified).toBe(false);
  });
});

describe('OtpVerifier (audio reader) with an HOTP key', () => {
  const v = new OtpVerifier('audio-reader', { lookAhead: 3 });
  const hkey: OtpKey = {
    serial: 'AR-7',
    type: 'hotp',
    secret,
    algorithm: 'SHA256',
    digits: 8,
    counter: 40,
  };

  it('binds with a code up to 100 presses ahead, then uses the login look-ahead', async () => {
    expect(v.kind).toBe('audio-reader');
    const b = await v.bind({ key: hkey, bound: bound(generateHotp(hkey, 95), 'AR-7') }, { now: T });
    expect(b.verified).toBe(true);
    expect(b.binding.state).toEqual({ counter: 96 });
    const ok = await v.verify(b.binding, bound(generateHotp(hkey, 99), 'AR-7'), { now: T });
    expect(ok.verified).toBe(true);
    const tooFar = await v.verify(ok.binding, bound(generateHotp(hkey, 104), 'AR-7'), { now: T });
    expect(tooFar.verified).toBe(false);
    const replay = await v.verify(ok.binding, bound(generateHotp(hkey, 99), 'AR-7'), { now: T });
    expect(replay.reason).toBe('replayed');
  });
});
