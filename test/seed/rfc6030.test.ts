// RFC 6030 figures (test/vectors/pskc) import to the values the RFC states.
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/core/bytes.js';
import { generateHotp } from '../../src/otp/generate.js';
import { importPskc } from '../../src/otp/seed/index.js';
import { expectSeedError, fixture, plain } from './helpers.js';

/** RFC 6030 §6.1 (figure 6): the pre-shared AES-128 key. */
const FIGURE6_KEY = '12345678901234567890123456789012';
/** RFC 4226 Appendix D's secret, which figures 3 to 7 carry: ASCII "12345678901234567890". */
const RFC4226_SECRET = '3132333435363738393031323334353637383930';

describe('RFC 6030 figures', () => {
  it('figure 2: the basic container gives the plain secret "1234"', () => {
    const keys = importPskc(fixture('rfc6030-figure2.xml'));
    expect(keys.map(plain)).toEqual([
      // No DeviceInfo: the serial falls back to Key/@Id; no ResponseFormat: 6 digits.
      {
        serial: '12345678',
        keyId: '12345678',
        type: 'hotp',
        secret: '31323334',
        algorithm: 'SHA1',
        digits: 6,
        issuer: 'Issuer-A',
      },
    ]);
  });

  it('figure 3: supplementary data (serial, manufacturer, issuer, 8 digits, counter 0)', () => {
    expect(importPskc(fixture('rfc6030-figure3.xml')).map(plain)).toEqual([
      {
        serial: '987654321',
        keyId: '12345678',
        type: 'hotp',
        secret: RFC4226_SECRET,
        algorithm: 'SHA1',
        digits: 8,
        counter: 0,
        manufacturer: 'Manufacturer',
        issuer: 'Issuer',
      },
    ]);
  });

  it('figure 4: a key given only by derivation values has no secret to import', () => {
    const err = expectSeedError(() => importPskc(fixture('rfc6030-figure4.xml')), 'missing-secret');
    expect(err.message).toContain('key package 1');
    expect(err.message).toContain('987654321');
  });

  it('figure 5: the HOTP key is imported and the PIN key package is skipped', () => {
    const keys = importPskc(fixture('rfc6030-figure5.xml'));
    expect(keys).toHaveLength(1);
    expect(toHex(keys[0]!.secret)).toBe(RFC4226_SECRET);
    expect(keys[0]!.keyId).toBe('12345678');
  });

  it('figure 6: AES-128-CBC under the pre-shared key decrypts, with the MAC checked', () => {
    const keys = importPskc(fixture('rfc6030-figure6.xml'), { key: fromHex(FIGURE6_KEY) });
    expect(keys.map(plain)).toEqual([
      {
        serial: '987654321',
        keyId: '12345678',
        type: 'hotp',
        secret: RFC4226_SECRET,
        algorithm: 'SHA1',
        digits: 8,
        counter: 0,
        manufacturer: 'Manufacturer',
        issuer: 'Issuer',
      },
    ]);
  });

  it('figure 7: PBKDF2 with the password "qwerty" decrypts', () => {
    const keys = importPskc(fixture('rfc6030-figure7.xml'), { password: 'qwerty' });
    expect(keys.map(plain)).toEqual([
      {
        serial: '987654321',
        keyId: '123456',
        type: 'hotp',
        secret: RFC4226_SECRET,
        algorithm: 'SHA1',
        digits: 8,
        manufacturer: 'TokenVendorAcme',
        issuer: 'Example-Issuer',
      },
    ]);
  });

  it('figure 7: the derived key the RFC states works as a key too', () => {
    // RFC 6030 §6.2: PBKDF2("qwerty", salt, 1000, 16) = 651e63cd57008476af1ff6422cd02e41.
    const keys = importPskc(fixture('rfc6030-figure7.xml'), {
      key: fromHex('651e63cd57008476af1ff6422cd02e41'),
    });
    expect(toHex(keys[0]!.secret)).toBe(RFC4226_SECRET);
  });

  it('figure 10: bulk provisioning gives four keys, two on the same serial', () => {
    const keys = importPskc(fixture('rfc6030-figure10.xml'));
    expect(keys.map((k) => [k.serial, k.keyId, k.digits, k.counter])).toEqual([
      ['654321', '1', 8, 0],
      ['123456', '2', 8, 0],
      ['9999999', '3', 8, 0],
      ['9999999', '4', 8, 0],
    ]);
  });

  it('the decrypted figure 6 secret produces the RFC 4226 Appendix D codes', () => {
    const [k] = importPskc(fixture('rfc6030-figure6.xml'), { key: fromHex(FIGURE6_KEY) });
    // RFC 4226 Appendix D, 6-digit codes for counters 0..2; the key says 8 digits, and the
    // 8-digit code ends in the 6-digit one.
    expect(generateHotp({ secret: k!.secret, digits: 6 }, 0)).toBe('755224');
    expect(generateHotp({ secret: k!.secret, digits: 6 }, 1)).toBe('287082');
    expect(generateHotp({ secret: k!.secret, digits: k!.digits }, 2).endsWith('359152')).toBe(true);
  });
});

describe('namespace prefixes do not matter', () => {
  const figure6 = fixture('rfc6030-figure6.xml');
  const figure7 = fixture('rfc6030-figure7.xml');
  const key = fromHex(FIGURE6_KEY);

  /** Renames the prefix of every element and attribute in namespace `uri` to `prefix` ('' = default). */
  function reprefix(xml: string, from: string, to: string): string {
    const open = to === '' ? '' : `${to}:`;
    return xml
      .replace(new RegExp(`<(/?)${from}:`, 'g'), `<$1${open}`)
      .replace(new RegExp(`xmlns:${from}=`, 'g'), to === '' ? 'xmlns=' : `xmlns:${to}=`);
  }

  it('figure 6 with pskc: on every PSKC element instead of a default namespace', () => {
    const xml = figure6
      .replace(
        /<(\/?)(KeyContainer|EncryptionKey|MACMethod|MACKey|KeyPackage|DeviceInfo|Manufacturer|SerialNo|CryptoModuleInfo|Id|Key|Issuer|AlgorithmParameters|ResponseFormat|Data|Secret|EncryptedValue|ValueMAC|Counter|PlainValue)([\s>/])/g,
        '<$1pskc:$2$3',
      )
      .replace(
        'xmlns="urn:ietf:params:xml:ns:keyprov:pskc"',
        'xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc"',
      );
    expect(xml).toContain('<pskc:ValueMAC>');
    expect(toHex(importPskc(xml, { key })[0]!.secret)).toBe(RFC4226_SECRET);
  });

  it('figure 6 with odd prefix names for xenc and ds', () => {
    const xml = reprefix(reprefix(figure6, 'xenc', 'e'), 'ds', 'sig');
    expect(xml).toContain('<e:CipherValue>');
    expect(toHex(importPskc(xml, { key })[0]!.secret)).toBe(RFC4226_SECRET);
  });

  it('figure 7 with the PSKC namespace as the default (no prefix)', () => {
    const xml = reprefix(figure7, 'pskc', '');
    expect(xml).not.toContain('pskc:KeyPackage');
    expect(toHex(importPskc(xml, { password: 'qwerty' })[0]!.secret)).toBe(RFC4226_SECRET);
  });

  it('figure 7 with odd prefixes everywhere (p:, x:, x11:, k5:)', () => {
    let xml = figure7;
    for (const [from, to] of [
      ['pskc', 'p'],
      ['xenc11', 'x11'],
      ['xenc', 'x'],
      ['pkcs5', 'k5'],
    ] as const) {
      xml = reprefix(xml, from, to);
    }
    expect(xml).toContain('<k5:PBKDF2-params>');
    expect(toHex(importPskc(xml, { password: 'qwerty' })[0]!.secret)).toBe(RFC4226_SECRET);
  });

  it('figure 3 with no namespace declaration at all', () => {
    const xml = fixture('rfc6030-figure3.xml').replace(
      'xmlns="urn:ietf:params:xml:ns:keyprov:pskc"',
      '',
    );
    expect(importPskc(xml)[0]!.serial).toBe('987654321');
  });
});
