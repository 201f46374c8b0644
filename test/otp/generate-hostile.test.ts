/** Hostile input to the code generators: a one-line OtpError with a code, never another error. */
import { describe, expect, it } from 'vitest';
import { OtpError } from '../../src/core/errors.js';
import { generateHotp, generateTotp, totpStep } from '../../src/otp/generate.js';

const secret = new TextEncoder().encode('12345678901234567890');

describe('generators refuse bad parameters with OtpError', () => {
  it.each([
    ['null params', () => generateHotp(null as never, 0), 'bad-params'],
    ['null TOTP params', () => generateTotp(null as never, 0), 'bad-params'],
    ['no secret', () => generateHotp({} as never, 0), 'bad-secret'],
    ['empty secret', () => generateHotp({ secret: new Uint8Array() }, 0), 'bad-secret'],
    ['string secret', () => generateHotp({ secret: 'abc' as never }, 0), 'bad-secret'],
    ['huge secret', () => generateHotp({ secret: new Uint8Array(2000) }, 0), 'bad-secret'],
    [
      'prototype name as algorithm',
      () => generateHotp({ secret, algorithm: 'toString' as never }, 0),
      'bad-algorithm',
    ],
    [
      '__proto__ as algorithm',
      () => generateHotp({ secret, algorithm: '__proto__' as never }, 0),
      'bad-algorithm',
    ],
    ['MD5', () => generateHotp({ secret, algorithm: 'MD5' as never }, 0), 'bad-algorithm'],
    ['5 digits', () => generateHotp({ secret, digits: 5 }, 0), 'bad-digits'],
    ['9 digits', () => generateHotp({ secret, digits: 9 }, 0), 'bad-digits'],
    ['negative counter', () => generateHotp({ secret }, -1), 'bad-counter'],
    ['fractional counter', () => generateHotp({ secret }, 1.5), 'bad-counter'],
    ['counter above 2^64', () => generateHotp({ secret }, 2n ** 64n), 'bad-counter'],
    ['NaN time', () => generateTotp({ secret }, Number.NaN), 'bad-time'],
    ['Infinity time', () => totpStep({ secret }, Number.POSITIVE_INFINITY), 'bad-time'],
    ['time before T0', () => generateTotp({ secret, t0: 100 }, 0), 'bad-time'],
    ['zero period', () => generateTotp({ secret, period: 0 }, 0), 'bad-period'],
    ['fractional period', () => generateTotp({ secret, period: 1.5 }, 0), 'bad-period'],
    ['negative T0', () => generateTotp({ secret, t0: -1 }, 0), 'bad-t0'],
  ])('%s', (_name, fn, code) => {
    let thrown: unknown;
    try {
      fn();
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(OtpError);
    expect((thrown as OtpError).code).toBe(code);
    expect((thrown as OtpError).message).not.toMatch(/\n|3132333435/);
  });

  it('still gives RFC 4226 Appendix D values after the checks', () => {
    expect(generateHotp({ secret }, 0)).toBe('755224');
    expect(generateHotp({ secret }, 9n)).toBe('520489');
  });
});
