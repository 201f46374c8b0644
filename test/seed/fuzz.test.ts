// Robustness: whatever bytes arrive, the readers return keys or throw SeedFileError, never
// anything else; and the writers refuse bad keys and options with SeedFileError.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeedFileError } from '../../src/core/errors.js';
import { fromHex } from '../../src/core/bytes.js';
import type { OtpKey } from '../../src/otp/types.js';
import {
  exportOathCsv,
  exportPskc,
  importOathCsv,
  importPskc,
  importSeedFile,
} from '../../src/otp/seed/index.js';
import { expectSeedError, fixture } from './helpers.js';

/** Calls `fn`; passes when it returns or throws a one-line SeedFileError. */
function onlySeedErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof SeedFileError)) throw e;
    expect(e.message).not.toMatch(/\n/);
  }
}

const key6 = fromHex('12345678901234567890123456789012');
const fig6 = new TextEncoder().encode(fixture('rfc6030-figure6.xml'));
const fig7 = new TextEncoder().encode(fixture('rfc6030-figure7.xml'));
const csv = new TextEncoder().encode(
  `# t\nA1,${'ab'.repeat(20)},hotp,6,0\nA2,${'cd'.repeat(20)},totp,8,30\n`,
);

describe('fuzzing the readers', () => {
  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        onlySeedErrors(() => importPskc(b));
        onlySeedErrors(() => importOathCsv(b));
        onlySeedErrors(() => importSeedFile(b));
      }),
      { numRuns: 300 },
    );
  });

  it('random XML-ish text', () => {
    const xmlish = fc.string({
      unit: fc.constantFrom(
        '<',
        '>',
        '/',
        '=',
        '"',
        "'",
        '&',
        ';',
        '!',
        '?',
        ' ',
        'a',
        'Key',
        'KeyContainer',
        'KeyPackage',
        'Secret',
        'PlainValue',
        '#',
        'x',
        '[',
        ']',
        'CDATA',
        '--',
      ),
      maxLength: 80,
    });
    fc.assert(
      fc.property(xmlish, (s) => {
        onlySeedErrors(() => importPskc(s));
        onlySeedErrors(() => importSeedFile(s));
      }),
      { numRuns: 300 },
    );
  });

  /** A valid file with `n` random bytes overwritten. */
  const mutated = (base: Uint8Array) =>
    fc
      .array(fc.tuple(fc.nat({ max: base.length - 1 }), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 4,
      })
      .map((edits) => {
        const b = base.slice();
        for (const [i, v] of edits) b[i] = v;
        return b;
      });

  it('mutated RFC 6030 figure 6 (pre-shared key)', () => {
    fc.assert(
      fc.property(mutated(fig6), (b) => onlySeedErrors(() => importPskc(b, { key: key6 }))),
      { numRuns: 400 },
    );
  });

  it('mutated RFC 6030 figure 7 (password)', () => {
    fc.assert(
      fc.property(mutated(fig7), (b) =>
        onlySeedErrors(() => importPskc(b, { password: 'qwerty' })),
      ),
      { numRuns: 150 },
    );
  });

  it('mutated OATH CSV', () => {
    fc.assert(
      fc.property(mutated(csv), (b) => {
        onlySeedErrors(() => importOathCsv(b));
        onlySeedErrors(() => importSeedFile(b));
      }),
      { numRuns: 400 },
    );
  });
});

describe('the writers refuse bad keys and options', () => {
  const good: OtpKey = {
    serial: 'S1',
    type: 'hotp',
    secret: new Uint8Array(20).fill(1),
    algorithm: 'SHA1',
    digits: 6,
    counter: 0,
  };

  it.each([
    ['an empty serial', { serial: '' }],
    ['a serial with a newline', { serial: 'A\nB' }],
    ['a serial with spaces around it', { serial: ' S1 ' }],
    ['a serial of 200 characters', { serial: 'x'.repeat(200) }],
    ['an unknown type', { type: 'ocra' }],
    ['an empty secret', { secret: new Uint8Array() }],
    ['a secret that is not bytes', { secret: 'abc' }],
    ['a 2 KiB secret', { secret: new Uint8Array(2048) }],
    ['an unknown algorithm', { algorithm: 'MD5' }],
    ['5 digits', { digits: 5 }],
    ['a negative counter', { counter: -1 }],
    ['a fractional counter', { counter: 1.5 }],
    ['period 0', { type: 'totp', period: 0 }],
    ['a negative T0', { type: 'totp', t0: -5 }],
    ['a fractional drift', { type: 'totp', timeDrift: 0.5 }],
    ['an issuer with a control character', { issuer: 'a\u0001b' }],
  ])('%s', (_what, change) => {
    const bad = { ...good, ...change } as unknown as OtpKey;
    const err = expectSeedError(() => exportPskc([good, bad]), 'bad-key-package');
    expect(err.message).toMatch(/^key 2/);
    expectSeedError(() => exportOathCsv([good, bad]), 'bad-key-package');
  });

  it('not a list, or an empty one', () => {
    expectSeedError(() => exportPskc(undefined as unknown as OtpKey[]), 'bad-key-package');
    expectSeedError(() => exportPskc([]), 'bad-key-package');
    expectSeedError(() => exportPskc([null as unknown as OtpKey]), 'bad-key-package');
  });

  it.each([
    ['a 15-byte key', { key: new Uint8Array(15) }],
    ['a key that is not bytes', { key: 'secret' as unknown as Uint8Array }],
    ['both key and password', { key: new Uint8Array(16), password: 'pw' }],
    ['an empty password', { password: '' }],
    ['0 iterations', { password: 'pw', iterations: 0 }],
    ['too many iterations', { password: 'pw', iterations: 1e9 }],
  ])('options: %s', (_what, opts) => {
    expectSeedError(() => exportPskc([good], opts), 'bad-options', ['secret']);
  });
});
