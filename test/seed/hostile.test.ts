// Hostile and odd PSKC input: every failure is a SeedFileError with the right code, one line,
// no secret in it, and nothing imported; and the legacy variants real files carry still work.
import { createCipheriv, createHmac, pbkdf2Sync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fromBase64, fromHex, toBase64, toHex } from '../../src/core/bytes.js';
import { exportPskc, importPskc, importSeedFile } from '../../src/otp/seed/index.js';
import type { OtpKey } from '../../src/otp/types.js';
import { expectSeedError, fixture, seedError } from './helpers.js';

const FIG6_KEY = fromHex('12345678901234567890123456789012');
const SECRET_HEX = '3132333435363738393031323334353637383930';
/** Every spelling of the figures' secret, the figure 6 key and the figure 7 password. */
const SECRETS = [
  SECRET_HEX,
  'MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=',
  '12345678901234567890',
  toHex(FIG6_KEY),
  'qwerty',
];

const fig3 = fixture('rfc6030-figure3.xml');
const fig6 = fixture('rfc6030-figure6.xml');
const fig7 = fixture('rfc6030-figure7.xml');

/** Flips bit `bit` of byte `index` of the base64 text that follows `marker` in `xml`. */
function flipBase64(xml: string, marker: RegExp, index: number, bit = 0): string {
  const m = marker.exec(xml);
  if (!m) throw new Error('marker not found');
  const start = m.index + m[0].length;
  const end = xml.indexOf('<', start);
  const bytes = fromBase64(xml.slice(start, end).trim());
  const i = index < 0 ? bytes.length + index : index;
  bytes[i] = bytes[i]! ^ (1 << bit);
  return xml.slice(0, start) + toBase64(bytes) + xml.slice(end);
}

const SECRET_CV = /<xenc:CipherData>\s*<xenc:CipherValue>(?=\s*AAEC)/;
const MACKEY_CV = /<xenc:CipherValue>(?=\s*ESIz)/;
const VALUE_MAC = /<ValueMAC>/;

describe('tampering and wrong keys (RFC 6030 figure 6 and 7)', () => {
  it.each([
    ['a bit of the IV of the secret', SECRET_CV, 3],
    ['a bit of the first cipher block of the secret', SECRET_CV, 16],
    ['a bit of the last cipher block of the secret (padding)', SECRET_CV, -1],
    ['a bit of the ValueMAC', VALUE_MAC, 0],
    ['a bit of the MACKey IV (another MAC key)', MACKEY_CV, 0],
  ])('flipping %s gives bad-mac', (_what, marker, index) => {
    const xml = flipBase64(fig6, marker, index);
    expect(xml).not.toBe(fig6);
    const err = expectSeedError(() => importPskc(xml, { key: FIG6_KEY }), 'bad-mac', SECRETS);
    expect(err.message).toMatch(/key package 1 \(serial 987654321\)/);
  });

  it('a secret swapped for one in the clear is refused (downgrade), in an encrypted file or when a key is given', () => {
    // Replace figure 6's EncryptedValue + ValueMAC with a PlainValue of the attacker's choice.
    const swapped = fig6.replace(
      /<Secret>[\s\S]*?<\/Secret>/,
      '<Secret><PlainValue>QUFBQUFBQUFBQUFBQUFBQUFBQUE=</PlainValue></Secret>',
    );
    expect(swapped).not.toBe(fig6);
    const err = expectSeedError(
      () => importPskc(swapped, { key: FIG6_KEY }),
      'unencrypted-secret',
      SECRETS,
    );
    expect(err.message).toMatch(/key package 1/);
    // Without the caller's key the file still says it is encrypted (EncryptionKey, MACMethod).
    expectSeedError(() => importPskc(swapped), 'unencrypted-secret', SECRETS);
    // A plain file opened with a key: the caller expected protection, so it is refused too.
    expectSeedError(() => importPskc(fig3, { key: FIG6_KEY }), 'unencrypted-secret', SECRETS);
    // And a plain file on its own still imports.
    expect(importPskc(fig3)).toHaveLength(1);
  });

  it('a wrong pre-shared key gives wrong-key (MACKey padding fails)', () => {
    expectSeedError(
      () => importPskc(fig6, { key: fromHex('12345678901234567890123456789013') }),
      'wrong-key',
      SECRETS,
    );
    expectSeedError(
      () => importPskc(fig6, { key: fromHex('00000000000000000000000000000000') }),
      'wrong-key',
      SECRETS,
    );
  });

  it('a key of the wrong size gives wrong-key', () => {
    expectSeedError(() => importPskc(fig6, { key: new Uint8Array(32) }), 'wrong-key', SECRETS);
  });

  it('a wrong password gives wrong-password', () => {
    for (const password of ['qwertz', 'QWERTY', '', 'qwerty ']) {
      expectSeedError(() => importPskc(fig7, { password }), 'wrong-password', SECRETS);
    }
  });

  it('no key or password for an encrypted file', () => {
    expectSeedError(() => importPskc(fig6), 'needs-key', SECRETS);
    expectSeedError(() => importPskc(fig6, { password: 'qwerty' }), 'needs-key', SECRETS);
    expectSeedError(() => importPskc(fig7), 'needs-password', SECRETS);
  });

  it('both a key and a password is a usage error', () => {
    expectSeedError(() => importPskc(fig7, { password: 'qwerty', key: FIG6_KEY }), 'bad-options');
  });

  it('a CBC value without its ValueMAC is refused', () => {
    const xml = fig6.replace(/<ValueMAC>[\s\S]*?<\/ValueMAC>/, '');
    expectSeedError(() => importPskc(xml, { key: FIG6_KEY }), 'missing-mac', SECRETS);
  });

  it('an unknown MAC algorithm is refused', () => {
    const xml = fig6.replace('xmldsig#hmac-sha1', 'xmldsig-more#hmac-md5');
    expectSeedError(() => importPskc(xml, { key: FIG6_KEY }), 'unsupported', SECRETS);
  });

  it('an unknown cipher is refused', () => {
    const xml = fig6.replaceAll('xmlenc#aes128-cbc', 'xmldsig-more#camellia128-cbc');
    expectSeedError(() => importPskc(xml, { key: FIG6_KEY }), 'unsupported', SECRETS);
  });

  it('a PBKDF2 iteration count above the limit is refused before any work', () => {
    const xml = fig7.replace('<IterationCount>1000<', '<IterationCount>2000000000<');
    expectSeedError(() => importPskc(xml, { password: 'qwerty' }), 'too-large', SECRETS);
    expectSeedError(
      () => importPskc(fig7, { password: 'qwerty', maxIterations: 999 }),
      'too-large',
    );
  });
});

/** Three plain packages; the one at `bad` (0-based) is spoiled by `spoil`. */
function threePackages(bad: number, spoil: (pkg: string) => string): string {
  const pkg = /<KeyPackage>[\s\S]*<\/KeyPackage>/.exec(fig3)![0];
  const pkgs = [0, 1, 2].map((i) => {
    const p = pkg.replace('987654321', `9000000${i}`);
    return i === bad ? spoil(p) : p;
  });
  return fig3.replace(pkg, pkgs.join('\n'));
}

describe('malformed and hostile documents', () => {
  const cases: [string, string | Uint8Array, string][] = [
    ['empty', '', 'empty'],
    ['only whitespace', ' \n\t ', 'empty'],
    ['not XML', 'serial key type', 'malformed'],
    ['truncated', fig6.slice(0, fig6.length / 2), 'malformed'],
    ['truncated at the end', fig3.slice(0, -20), 'malformed'],
    ['two root elements', `${fig3}\n<KeyContainer/>`, 'malformed'],
    ['another root element', '<KeyBag Version="1.0"><KeyPackage/></KeyBag>', 'malformed'],
    [
      'no key package',
      '<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc"/>',
      'malformed',
    ],
    ['a future version', fig3.replace('Version="1.0"', 'Version="2.0"'), 'unsupported'],
    [
      'billion laughs',
      '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><KeyContainer><KeyPackage><Key Id="&lol3;"/></KeyPackage></KeyContainer>',
      'dtd-forbidden',
    ],
    [
      'an external entity',
      '<?xml version="1.0"?><!DOCTYPE KeyContainer [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><KeyContainer><KeyPackage><DeviceInfo><SerialNo>&xxe;</SerialNo></DeviceInfo></KeyPackage></KeyContainer>',
      'dtd-forbidden',
    ],
    [
      'a lower-case doctype',
      `<!doctype KeyContainer>${fig3.replace(/^<\?xml[^>]*>/, '')}`,
      'dtd-forbidden',
    ],
    [
      'an undeclared entity',
      fig3.replace('Manufacturer</Manufacturer>', '&xxe;</Manufacturer>'),
      'malformed',
    ],
    ['a UTF-16 file', new Uint8Array([0xff, 0xfe, 0x3c, 0x00, 0x61, 0x00]), 'unsupported'],
    [
      'bytes that are not UTF-8',
      new Uint8Array([0x3c, 0x61, 0x3e, 0xc3, 0x28, 0x3c, 0x2f, 0x61, 0x3e]),
      'malformed',
    ],
    [
      'a Latin-1 declaration',
      fig3.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"'),
      'unsupported',
    ],
    [
      'nesting 500 deep',
      `<KeyContainer>${'<a>'.repeat(500)}${'</a>'.repeat(500)}</KeyContainer>`,
      'malformed',
    ],
    ['figure 4: no secret', fixture('rfc6030-figure4.xml'), 'missing-secret'],
    ['an empty secret', fig3.replace(/<PlainValue>MTIz[^<]*</, '<PlainValue><'), 'missing-secret'],
    [
      'bad base64 in the secret',
      fig3.replace('MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=', 'MTIzNDU2Nzg5MDEy!zQ1Njc4OTA='),
      'malformed',
    ],
    [
      'base64 with a bad length',
      fig3.replace('MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=', 'MTIzNDU2Nzg5MDEyMzQ1Njc4OTA'),
      'malformed',
    ],
    ['an OCRA key', fig3.replace('pskc:hotp', 'pskc:ocra'), 'unsupported'],
    [
      'a key with no algorithm',
      fig3.replace('Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:hotp"', ''),
      'malformed',
    ],
    ['4-digit codes', fig3.replace('Length="8"', 'Length="4"'), 'unsupported'],
    ['10-digit codes', fig3.replace('Length="8"', 'Length="10"'), 'unsupported'],
    [
      'hexadecimal codes',
      fig3.replace('Encoding="DECIMAL"', 'Encoding="HEXADECIMAL"'),
      'unsupported',
    ],
    [
      'an unknown suite',
      fig3.replace('<AlgorithmParameters>', '<AlgorithmParameters><Suite>HMAC-MD5</Suite>'),
      'unsupported',
    ],
    [
      'a negative counter',
      fig3.replace('<PlainValue>0</PlainValue>', '<PlainValue>-1</PlainValue>'),
      'malformed',
    ],
    [
      'a counter that is not a number',
      fig3.replace('<PlainValue>0</PlainValue>', '<PlainValue>zero</PlainValue>'),
      'malformed',
    ],
    [
      'a huge counter',
      fig3.replace('<PlainValue>0</PlainValue>', '<PlainValue>99999999999999999999</PlainValue>'),
      'malformed',
    ],
    [
      'no serial and no key Id',
      fig3.replace(/<SerialNo>[^<]*<\/SerialNo>/, '').replace('Id="12345678"', ''),
      'missing-serial',
    ],
    [
      'a secret both plain and encrypted',
      fig3.replace(
        '</PlainValue>\n                </Secret>',
        '</PlainValue><EncryptedValue/></Secret>',
      ),
      'malformed',
    ],
  ];

  it.each(cases.map(([name, input, code]) => ({ name, input, code })))(
    '$name -> $code',
    ({ input, code }) => {
      expectSeedError(() => importPskc(input), code, SECRETS);
    },
  );

  it('the same inputs through importSeedFile fail the same way (or as unknown-format)', () => {
    for (const [, input, code] of cases) {
      const err = seedError(() => importSeedFile(input));
      expect([code, 'unknown-format', 'empty']).toContain(err.code);
      for (const s of SECRETS) expect(err.message).not.toContain(s);
    }
  });

  it('a file over the size limit is refused before parsing', () => {
    expectSeedError(() => importPskc(fig3, { maxBytes: 512 }), 'too-large');
    const huge = fig3.replace(
      '</KeyContainer>',
      `<!--${'x'.repeat(9 * 1024 * 1024)}--></KeyContainer>`,
    );
    expectSeedError(() => importPskc(huge), 'too-large');
    expectSeedError(() => importPskc(new TextEncoder().encode(huge)), 'too-large');
  });

  it('one bad package among good ones: nothing is imported and the message names it', () => {
    expect(importPskc(threePackages(-1, (p) => p))).toHaveLength(3);
    const err = expectSeedError(
      () => importPskc(threePackages(2, (p) => p.replace('MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=', '***'))),
      'malformed',
      SECRETS,
    );
    expect(err.message).toMatch(/^key package 3 \(serial 90000002\)/);
    const err2 = expectSeedError(
      () => importPskc(threePackages(1, (p) => p.replace('pskc:hotp', 'pskc:ocra'))),
      'unsupported',
    );
    expect(err2.message).toMatch(/^key package 2 /);
  });

  it('a bad secret in one package of an encrypted file: nothing imported', () => {
    const keys: OtpKey[] = [1, 2, 3].map((i) => ({
      serial: `SN${i}`,
      type: 'hotp',
      secret: new Uint8Array(20).fill(i),
      algorithm: 'SHA1',
      digits: 6,
      counter: i,
    }));
    const xml = exportPskc(keys, { key: FIG6_KEY });
    // Flip a bit in the second package's encrypted secret.
    const second = xml.indexOf('<pskc:SerialNo>SN2<');
    const tampered = xml.slice(0, second) + flipBase64(xml.slice(second), /<xenc:CipherValue>/, 20);
    const err = expectSeedError(() => importPskc(tampered, { key: FIG6_KEY }), 'bad-mac', [
      toHex(new Uint8Array(20).fill(2)),
    ]);
    expect(err.message).toMatch(/^key package 2 \(serial SN2\)/);
  });
});

describe('variants found in real files', () => {
  const psk = fromHex('000102030405060708090a0b0c0d0e0f');
  const secret = fromHex(SECRET_HEX);

  function cbc(key: Uint8Array, plain: Uint8Array, iv = new Uint8Array(16).fill(7)): Uint8Array {
    const c = createCipheriv('aes-128-cbc', key, iv);
    return new Uint8Array(Buffer.concat([iv, c.update(plain), c.final()]));
  }
  const mac = (key: Uint8Array, data: Uint8Array) =>
    toBase64(createHmac('sha1', key).update(data).digest());

  function doc(
    macMethod: string,
    cipherValue: Uint8Array,
    valueMac: string,
    macName = 'ValueMAC',
  ): string {
    return `<?xml version="1.0" encoding="UTF-8"?>
<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc" xmlns:xenc="http://www.w3.org/2001/04/xmlenc#">
  ${macMethod}
  <KeyPackage>
    <DeviceInfo><SerialNo>LEGACY-1</SerialNo></DeviceInfo>
    <Key Id="L1" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:totp">
      <AlgorithmParameters><Suite hash="SHA256"/><ResponseFormat Length="6" Encoding="DECIMAL"/></AlgorithmParameters>
      <Data>
        <Secret>
          <EncryptedValue>
            <xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>
            <xenc:CipherData><xenc:CipherValue>${toBase64(cipherValue)}</xenc:CipherValue></xenc:CipherData>
          </EncryptedValue>
          <${macName}>${valueMac}</${macName}>
        </Secret>
        <TimeInterval><PlainValue>60</PlainValue></TimeInterval>
      </Data>
    </Key>
  </KeyPackage>
</KeyContainer>`;
  }

  it('no MACKey: the MAC key is the encryption key (the drafts before RFC 6030)', () => {
    const cv = cbc(psk, secret);
    const xml = doc(
      '<MACMethod Algorithm="http://www.w3.org/2000/09/xmldsig#hmac-sha1"/>',
      cv,
      mac(psk, cv),
    );
    const [k] = importPskc(xml, { key: psk });
    expect(toHex(k!.secret)).toBe(SECRET_HEX);
    expect([k!.algorithm, k!.period, k!.type]).toEqual(['SHA256', 60, 'totp']);
    // With no separate MAC key, a wrong key cannot be told from tampering by the MAC alone:
    // the CBC padding decides.
    expectSeedError(
      () => importPskc(xml, { key: fromHex('ff0102030405060708090a0b0c0d0e0f') }),
      'wrong-key',
    );
  });

  it('DigestMethod and ValueDigest (draft names), MAC over the plaintext', () => {
    const cv = cbc(psk, secret);
    const xml = doc(
      '<DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#hmac-sha1"/>',
      cv,
      mac(psk, secret),
      'ValueDigest',
    );
    expect(toHex(importPskc(xml, { key: psk })[0]!.secret)).toBe(SECRET_HEX);
    const bad = doc(
      '<DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#hmac-sha1"/>',
      cv,
      mac(psk, new Uint8Array(20)),
      'ValueDigest',
    );
    expectSeedError(() => importPskc(bad, { key: psk }), 'bad-mac', [SECRET_HEX]);
  });

  it('a MACKey under HMAC-SHA256 with the MAC over the plaintext', () => {
    const macKey = new Uint8Array(32).fill(9);
    const cv = cbc(psk, secret);
    const macMethod = `<MACMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"><MACKey>
      <xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>
      <xenc:CipherData><xenc:CipherValue>${toBase64(cbc(psk, macKey))}</xenc:CipherValue></xenc:CipherData></MACKey></MACMethod>`;
    const good = toBase64(createHmac('sha256', macKey).update(secret).digest());
    expect(toHex(importPskc(doc(macMethod, cv, good), { key: psk })[0]!.secret)).toBe(SECRET_HEX);
  });

  it.each([
    ['<Suite>HMAC-SHA512</Suite>', 'SHA512'],
    ['<Suite>HMAC-SHA-256</Suite>', 'SHA256'],
    ['<Suite hash="SHA-512"/>', 'SHA512'],
    ['<Suite Hash="sha1"/>', 'SHA1'],
    ['<Suite/>', 'SHA1'],
  ])('suite %s is %s', (suite, algorithm) => {
    const xml = fig3.replace('<AlgorithmParameters>', `<AlgorithmParameters>${suite}`);
    expect(importPskc(xml)[0]!.algorithm).toBe(algorithm);
  });

  it('entities and CDATA in text are decoded, a BOM is skipped', () => {
    const xml = fig3
      .replace('<Manufacturer>Manufacturer<', '<Manufacturer>A&amp;B &#x263A; &lt;Tokens&gt;<')
      .replace('<Issuer>Issuer<', '<Issuer><![CDATA[Bank & Co]]><');
    const [k] = importPskc(new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(xml)]));
    expect(k!.manufacturer).toBe('A&B \u263a <Tokens>');
    expect(k!.issuer).toBe('Bank & Co');
  });

  it('TOTP fields: Time, TimeInterval and TimeDrift', () => {
    const xml = fig3
      .replace('pskc:hotp', 'pskc:totp')
      .replace(
        /<Counter>[\s\S]*?<\/Counter>/,
        '<Time><PlainValue>1700000000</PlainValue></Time><TimeInterval><PlainValue>60</PlainValue></TimeInterval><TimeDrift><PlainValue>-3</PlainValue></TimeDrift>',
      );
    const [k] = importPskc(xml);
    expect([k!.type, k!.t0, k!.period, k!.timeDrift, k!.counter]).toEqual([
      'totp',
      1700000000,
      60,
      -3,
      undefined,
    ]);
  });
});

describe('the layout of the last PSKC drafts (draft-ietf-keyprov-pskc-02)', () => {
  // Device/KeyId/KeyAlgorithm/Usage, MACAlgorithm on the container with no MAC key (the
  // encryption key MACs), the MAC over the plaintext, ValueMAC inside EncryptedValue, and PBES2
  // named as the method with the cipher in EncryptionScheme. Built here with node:crypto.
  const password = 'draft-pass';
  const salt = new Uint8Array(8).fill(3);
  const secret = fromHex(SECRET_HEX);

  function draft(valueMac: (key: Uint8Array, plain: Uint8Array) => string): string {
    const key = new Uint8Array(pbkdf2Sync(password, salt, 500, 16, 'sha1'));
    const iv = new Uint8Array(16).fill(5);
    const c = createCipheriv('aes-128-cbc', key, iv);
    const cv = new Uint8Array(Buffer.concat([iv, c.update(secret), c.final()]));
    return `<?xml version="1.0"?>
<KeyContainer Version="1" xmlns="urn:ietf:params:xml:ns:keyprov:pskc" xmlns:pkcs5="http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#" xmlns:xenc="http://www.w3.org/2001/04/xmlenc#">
  <EncryptionKey><DerivedKey><CarriedKeyName>P1</CarriedKeyName>
    <KeyDerivationMethod Algorithm="http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#pbkdf2">
      <pkcs5:PBKDF2-params><pkcs5:Salt><pkcs5:Specified>${toBase64(salt)}</pkcs5:Specified></pkcs5:Salt>
      <pkcs5:IterationCount>500</pkcs5:IterationCount><pkcs5:KeyLength>16</pkcs5:KeyLength><pkcs5:PRF/></pkcs5:PBKDF2-params>
    </KeyDerivationMethod></DerivedKey></EncryptionKey>
  <MACAlgorithm> http://www.w3.org/2000/09/xmldsig#hmac-sha1 </MACAlgorithm>
  <Device>
    <DeviceInfo><Manufacturer>TokenVendorAcme</Manufacturer><SerialNo>987654321</SerialNo></DeviceInfo>
    <Key KeyAlgorithm="urn:ietf:params:xml:ns:keyprov:pskc#hotp" KeyId="123456">
      <Usage><ResponseFormat Length="8" Encoding="DECIMAL"/></Usage>
      <Data><Secret><EncryptedValue Id="ED">
        <xenc:EncryptionMethod Algorithm="http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5#pbes2">
          <EncryptionScheme Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>
        </xenc:EncryptionMethod>
        <xenc:CipherData><xenc:CipherValue>${toBase64(cv)}</xenc:CipherValue></xenc:CipherData>
        <ValueMAC>${valueMac(key, secret)}</ValueMAC>
      </EncryptedValue></Secret><Counter><PlainValue>3</PlainValue></Counter></Data>
    </Key>
  </Device>
</KeyContainer>`;
  }

  it('imports with the MAC checked', () => {
    const xml = draft((key, p) => toBase64(createHmac('sha1', key).update(p).digest()));
    const [k] = importPskc(xml, { password });
    expect([k!.serial, k!.keyId, k!.type, k!.digits, k!.counter, toHex(k!.secret)]).toEqual([
      '987654321',
      '123456',
      'hotp',
      8,
      3,
      SECRET_HEX,
    ]);
  });

  it('a wrong MAC in that placement is still caught', () => {
    const xml = draft((key) => toBase64(createHmac('sha1', key).update('other').digest()));
    expectSeedError(() => importPskc(xml, { password }), 'bad-mac', [SECRET_HEX, password]);
  });

  it('a wrong password is wrong-password', () => {
    const xml = draft((key, p) => toBase64(createHmac('sha1', key).update(p).digest()));
    expectSeedError(() => importPskc(xml, { password: 'draft-pas' }), 'wrong-password', [
      SECRET_HEX,
      password,
    ]);
  });
});
