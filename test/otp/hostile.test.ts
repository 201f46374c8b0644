/** Hostile input against every public verification function: a clear OtpError or a failure result. */
import { describe, expect, it } from 'vitest';
import { OtpError } from '../../src/core/errors.js';
import { generateTotp } from '../../src/otp/generate.js';
import {
  OtpVerifier,
  bindingFromKey,
  initialHotpState,
  initialTotpState,
  prepareOtpKey,
  resyncHotp,
  resyncTotp,
  verifyHotp,
  verifyTotp,
} from '../../src/otp/verify.js';
import type { TotpParams } from '../../src/otp/types.js';
import type { OtpBinding } from '../../src/otp/verify.js';

const secret = new TextEncoder().encode('hostile-input-secret');
const secretHex = Buffer.from(secret).toString('hex');
const good: TotpParams = { secret };
const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);
const valid = generateTotp(good, NOW);

/** Codes that must come back as `malformed` (and cost the same work as a wrong code). */
const badCodes: [string, unknown][] = [
  ['empty', ''],
  ['too short', valid.slice(1)],
  ['too long', `${valid}0`],
  ['Arabic-Indic digits', '\u0661\u0662\u0663\u0664\u0665\u0666'],
  ['fullwidth digits', '\uff11\uff12\uff13\uff14\uff15\uff16'],
  ['one fullwidth digit', `${valid.slice(0, 5)}\uff16`],
  ['Devanagari digits', '\u0967\u0968\u0969\u096a\u096b\u096c'],
  ['leading space', ` ${valid.slice(1)}`],
  ['trailing newline', `${valid.slice(0, 5)}\n`],
  ['spaced', `${valid.slice(0, 3)} ${valid.slice(3)}`],
  ['the valid code padded', ` ${valid} `],
  ['sign', `-${valid.slice(1)}`],
  ['plus sign', `+${valid.slice(1)}`],
  ['exponent', '1e5000'],
  ['hex', '0x1234'],
  ['letters', 'abcdef'],
  ['NULs', '\0\0\0\0\0\0'],
  ['lone surrogate', '\ud800\ud800\ud800\ud800\ud800\ud800'],
  ['a megabyte of digits', '1'.repeat(1 << 20)],
  ['a megabyte of the code', valid.repeat(1 << 17)],
  ['number', Number(valid)],
  ['null', null],
  ['undefined', undefined],
  ['object', { toString: () => valid }],
  ['array', [valid]],
  ['String object', new String(valid)],
];

/** Calls that must throw OtpError with the given code. */
const badCalls: [string, string, () => unknown][] = [
  ['params null', 'bad-params', () => verifyTotp(null as never, initialTotpState(), valid, NOW)],
  [
    'params a string',
    'bad-params',
    () => verifyTotp('secret' as never, initialTotpState(), valid, NOW),
  ],
  ['secret missing', 'bad-secret', () => verifyTotp({} as never, initialTotpState(), valid, NOW)],
  [
    'secret empty',
    'bad-secret',
    () => verifyTotp({ secret: new Uint8Array() }, initialTotpState(), valid, NOW),
  ],
  [
    'secret a string',
    'bad-secret',
    () => verifyTotp({ secret: secretHex } as never, initialTotpState(), valid, NOW),
  ],
  [
    'secret an array',
    'bad-secret',
    () => verifyTotp({ secret: [1, 2, 3] } as never, initialTotpState(), valid, NOW),
  ],
  ['secret 2 kB', 'bad-secret', () => prepareOtpKey({ secret: new Uint8Array(2048) })],
  ['algorithm MD5', 'bad-algorithm', () => prepareOtpKey({ secret, algorithm: 'MD5' as never })],
  [
    'algorithm lower case',
    'bad-algorithm',
    () => prepareOtpKey({ secret, algorithm: 'sha1' as never }),
  ],
  [
    'algorithm toString',
    'bad-algorithm',
    () => prepareOtpKey({ secret, algorithm: 'toString' as never }),
  ],
  ['digits 5', 'bad-digits', () => prepareOtpKey({ secret, digits: 5 })],
  ['digits 9', 'bad-digits', () => prepareOtpKey({ secret, digits: 9 })],
  ['digits 6.5', 'bad-digits', () => prepareOtpKey({ secret, digits: 6.5 })],
  ['digits "6"', 'bad-digits', () => prepareOtpKey({ secret, digits: '6' as never })],
  ['period 0', 'bad-period', () => prepareOtpKey({ secret, period: 0 })],
  ['period -30', 'bad-period', () => prepareOtpKey({ secret, period: -30 })],
  ['period 1.5', 'bad-period', () => prepareOtpKey({ secret, period: 1.5 })],
  ['period NaN', 'bad-period', () => prepareOtpKey({ secret, period: NaN })],
  ['period a day and a second', 'bad-period', () => prepareOtpKey({ secret, period: 86_401 })],
  ['t0 -1', 'bad-t0', () => prepareOtpKey({ secret, t0: -1 })],
  ['t0 1.5', 'bad-t0', () => prepareOtpKey({ secret, t0: 1.5 })],
  ['t0 Infinity', 'bad-t0', () => prepareOtpKey({ secret, t0: Infinity })],
  ['time NaN', 'bad-time', () => verifyTotp(good, initialTotpState(), valid, NaN)],
  ['time Infinity', 'bad-time', () => verifyTotp(good, initialTotpState(), valid, Infinity)],
  ['time -Infinity', 'bad-time', () => verifyTotp(good, initialTotpState(), valid, -Infinity)],
  ['time negative', 'bad-time', () => verifyTotp(good, initialTotpState(), valid, -1)],
  ['time a string', 'bad-time', () => verifyTotp(good, initialTotpState(), valid, '1000' as never)],
  ['time a bigint', 'bad-time', () => verifyTotp(good, initialTotpState(), valid, 10n as never)],
  [
    'time before T0',
    'bad-time',
    () => verifyTotp({ secret, t0: 2e9 }, initialTotpState(), valid, NOW),
  ],
  ['resync time NaN', 'bad-time', () => resyncTotp(good, initialTotpState(), valid, valid, NaN)],
  ['TOTP state null', 'bad-state', () => verifyTotp(good, null as never, valid, NOW)],
  ['TOTP state empty', 'bad-state', () => verifyTotp(good, {} as never, valid, NOW)],
  [
    'TOTP lastStep -1',
    'bad-state',
    () => verifyTotp(good, { lastStep: -1, driftSteps: 0 }, valid, NOW),
  ],
  [
    'TOTP lastStep 1.5',
    'bad-state',
    () => verifyTotp(good, { lastStep: 1.5, driftSteps: 0 }, valid, NOW),
  ],
  [
    'TOTP lastStep "5"',
    'bad-state',
    () => verifyTotp(good, { lastStep: '5', driftSteps: 0 } as never, valid, NOW),
  ],
  [
    'TOTP driftSteps NaN',
    'bad-state',
    () => verifyTotp(good, { lastStep: null, driftSteps: NaN }, valid, NOW),
  ],
  [
    'TOTP driftSteps missing',
    'bad-state',
    () => verifyTotp(good, { lastStep: null } as never, valid, NOW),
  ],
  ['HOTP state null', 'bad-state', () => verifyHotp(good, null as never, valid)],
  ['HOTP counter -1', 'bad-state', () => verifyHotp(good, { counter: -1 }, valid)],
  ['HOTP counter 2^53', 'bad-state', () => verifyHotp(good, { counter: 2 ** 53 }, valid)],
  ['HOTP counter "0"', 'bad-state', () => verifyHotp(good, { counter: '0' } as never, valid)],
  ['HOTP resync state', 'bad-state', () => resyncHotp(good, { counter: NaN }, valid, valid)],
  ['initial HOTP counter -1', 'bad-state', () => initialHotpState(-1)],
  [
    'window -1',
    'bad-window',
    () => verifyTotp(good, initialTotpState(), valid, NOW, { window: -1 }),
  ],
  [
    'window 51',
    'bad-window',
    () => verifyTotp(good, initialTotpState(), valid, NOW, { window: 51 }),
  ],
  [
    'window 1.5',
    'bad-window',
    () => verifyTotp(good, initialTotpState(), valid, NOW, { window: 1.5 }),
  ],
  [
    'maxDriftSteps -1',
    'bad-maxDriftSteps',
    () => verifyTotp(good, initialTotpState(), valid, NOW, { maxDriftSteps: -1 }),
  ],
  [
    'lookAhead 1001',
    'bad-lookAhead',
    () => verifyHotp(good, initialHotpState(), valid, { lookAhead: 1001 }),
  ],
  [
    'lookBehind -1',
    'bad-lookBehind',
    () => verifyHotp(good, initialHotpState(), valid, { lookBehind: -1 }),
  ],
  [
    'resync range 0',
    'bad-range',
    () => resyncTotp(good, initialTotpState(), valid, valid, NOW, { range: 0 }),
  ],
  [
    'resync range 10^6',
    'bad-range',
    () => resyncTotp(good, initialTotpState(), valid, valid, NOW, { range: 1e6 }),
  ],
  [
    'HOTP resync lookAhead 0',
    'bad-lookAhead',
    () => resyncHotp(good, initialHotpState(), valid, valid, { lookAhead: 0 }),
  ],
  ['verifier kind chip', 'bad-kind', () => new OtpVerifier('chip' as never)],
  ['verifier window 51', 'bad-window', () => new OtpVerifier('code-display', { window: 51 })],
  [
    'verifier bindWindow -1',
    'bad-bindWindow',
    () => new OtpVerifier('code-display', { bindWindow: -1 }),
  ],
  [
    'verifier lookAhead "10"',
    'bad-lookAhead',
    () => new OtpVerifier('audio-reader', { lookAhead: '10' as never }),
  ],
  [
    'verifier maxDriftSteps NaN',
    'bad-maxDriftSteps',
    () => new OtpVerifier('code-display', { maxDriftSteps: NaN }),
  ],
  [
    'binding from a key without serial',
    'bad-key',
    () => bindingFromKey({ type: 'totp', secret, algorithm: 'SHA1', digits: 6 } as never),
  ],
  [
    'binding from a key of type x',
    'bad-key',
    () => bindingFromKey({ serial: 'S', type: 'x', secret, algorithm: 'SHA1', digits: 6 } as never),
  ],
  [
    'binding from a key with bad digits',
    'bad-digits',
    () => bindingFromKey({ serial: 'S', type: 'totp', secret, algorithm: 'SHA1', digits: 4 }),
  ],
  [
    'binding from a key with timeDrift 0.5',
    'bad-key',
    () =>
      bindingFromKey({
        serial: 'S',
        type: 'totp',
        secret,
        algorithm: 'SHA1',
        digits: 6,
        timeDrift: 0.5,
      } as never),
  ],
];

function oneLineOtpError(f: () => unknown, code: string): OtpError {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(OtpError);
  const e = caught as OtpError;
  expect(e.code).toBe(code);
  expect(e.message).not.toMatch(/\n/);
  expect(e.message.length).toBeLessThan(200);
  // Never the secret, never the expected code.
  expect(e.message).not.toContain(secretHex);
  expect(e.message).not.toContain(Buffer.from(secret).toString('base64'));
  expect(e.message).not.toContain(valid);
  return e;
}

describe('hostile codes are a malformed result, never a crash', () => {
  it.each(badCodes)('%s', (_name, code) => {
    const before = { lastStep: 10, driftSteps: 0 };
    expect(verifyTotp(good, before, code as string, NOW)).toEqual({
      ok: false,
      reason: 'malformed',
      state: before,
    });
    expect(verifyHotp(good, { counter: 3 }, code as string)).toEqual({
      ok: false,
      reason: 'malformed',
      state: { counter: 3 },
    });
    expect(resyncTotp(good, initialTotpState(), code as string, valid, NOW).reason).toBe(
      'malformed',
    );
    expect(resyncTotp(good, initialTotpState(), valid, code as string, NOW).reason).toBe(
      'malformed',
    );
    expect(resyncHotp(good, initialHotpState(), code as string, valid).reason).toBe('malformed');
  });

  it('the valid code itself passes (the table is not vacuous)', () => {
    expect(verifyTotp(good, initialTotpState(), valid, NOW).ok).toBe(true);
  });
});

describe('bad parameters, state, options and times throw a one-line OtpError', () => {
  it.each(badCalls)('%s -> %s', (_name, code, f) => {
    oneLineOtpError(f, code);
  });
});

describe('the OtpVerifier with hostile messages and bindings', () => {
  const verifier = new OtpVerifier('code-display');
  const binding = bindingFromKey({
    serial: 'CD-1',
    type: 'totp',
    secret,
    algorithm: 'SHA1',
    digits: 6,
  });

  it.each<[string, unknown]>([
    ['null proof', null],
    ['a WebAuthn proof', { type: 'webauthn.get', serial: 'CD-1', code: valid }],
    ['numeric code', { type: 'otp', serial: 'CD-1', code: Number(valid), deviceTime: NOW }],
    ['serial missing', { type: 'otp', code: valid, deviceTime: NOW }],
    [
      'unicode digits',
      {
        type: 'otp',
        serial: 'CD-1',
        code: '\u0661\u0662\u0663\u0664\u0665\u0666',
        deviceTime: NOW,
      },
    ],
  ])('%s is malformed', async (_name, proof) => {
    const r = await verifier.verify(binding, proof as never, { now: NOW });
    expect(r.verified).toBe(false);
    expect(r.reason).toBe('malformed');
    expect(r.binding).toEqual(binding);
  });

  it.each<[string, string, unknown, unknown]>([
    ['binding null', 'bad-binding', null, { now: NOW }],
    ['binding of unknown type', 'bad-binding', { ...binding, type: 'sms' }, { now: NOW }],
    ['binding without state', 'bad-binding', { ...binding, state: undefined }, { now: NOW }],
    ['binding secret not base64', 'bad-binding', { ...binding, secret: '**' }, { now: NOW }],
    [
      'binding with corrupt state',
      'bad-state',
      { ...binding, state: { lastStep: 'x', driftSteps: 0 } },
      { now: NOW },
    ],
    ['context null', 'bad-context', binding, null],
    ['context time NaN', 'bad-time', binding, { now: NaN }],
  ])('%s -> %s', async (_name, code, b, context) => {
    const proof = { type: 'otp', serial: 'CD-1', code: valid, deviceTime: NOW } as const;
    let caught: unknown;
    try {
      await verifier.verify(b as OtpBinding, proof, context as never);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(OtpError);
    expect((caught as OtpError).code).toBe(code);
    expect((caught as OtpError).message).not.toContain(binding.secret);
    expect((caught as OtpError).message).not.toContain(valid);
  });
});
