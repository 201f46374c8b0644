/** PSKC (RFC 6030) export: plain, pre-shared key (AES-CBC + HMAC-SHA1) or PBKDF2 password. */
import { randomBytes } from 'node:crypto';
import { toBase64, wipe } from '../../core/bytes.js';
import type { OtpKey } from '../types.js';
import { cipherFor, encryptValue, hmac, pbkdf2, PskcUris, type PskcCipher } from './crypto.js';
import { fail } from './errors.js';
import { checkKeys } from './keys.js';
import { escapeXml } from './xml.js';

/** Options of {@link exportPskc}. */
export interface PskcExportOptions {
  /** Encrypt with a key derived from this password (PBKDF2-HMAC-SHA1, random 16-byte salt). */
  password?: string;
  /** Encrypt with this pre-shared key: 16, 24 or 32 bytes for AES-128/192/256-CBC. */
  key?: Uint8Array;
  /** PBKDF2 iteration count (default 100,000). */
  iterations?: number;
  /** Name written as the pre-shared key's ds:KeyName or the password's MasterKeyName. */
  keyName?: string;
}

/** Default PBKDF2 iteration count of password-protected exports. */
export const DEFAULT_PBKDF2_ITERATIONS = 100_000;

const CBC_BY_LENGTH: Readonly<Record<number, string>> = {
  16: PskcUris.aes128cbc,
  24: PskcUris.aes192cbc,
  32: PskcUris.aes256cbc,
};

interface Protection {
  readonly cipherUri: string;
  readonly cipher: PskcCipher;
  readonly key: Uint8Array;
  readonly macKey: Uint8Array;
  readonly header: string[];
}

function protection(opts: PskcExportOptions): Protection | undefined {
  const { key, password } = opts;
  if (key !== undefined && password !== undefined)
    fail('bad-options', 'give opts.key or opts.password, not both');
  const keyName = escapeXml(
    opts.keyName ?? (password !== undefined ? 'Password' : 'Pre-shared-key'),
  );
  let encKey: Uint8Array;
  let cipherUri: string;
  const header: string[] = [];
  if (key !== undefined) {
    if (!(key instanceof Uint8Array)) fail('bad-options', 'opts.key must be a Uint8Array');
    const uri = CBC_BY_LENGTH[key.length];
    if (!uri) fail('bad-options', `opts.key must be 16, 24 or 32 bytes, got ${key.length}`);
    cipherUri = uri;
    encKey = key;
    header.push(
      '  <pskc:EncryptionKey>',
      `    <ds:KeyName>${keyName}</ds:KeyName>`,
      '  </pskc:EncryptionKey>',
    );
  } else if (password !== undefined) {
    if (typeof password !== 'string' || password === '')
      fail('bad-options', 'opts.password must be a non-empty string');
    const iterations = opts.iterations ?? DEFAULT_PBKDF2_ITERATIONS;
    if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > 10_000_000) {
      fail('bad-options', 'opts.iterations must be a whole number from 1 to 10,000,000');
    }
    const salt = new Uint8Array(randomBytes(16));
    cipherUri = PskcUris.aes128cbc;
    encKey = pbkdf2(password, salt, iterations, 16, 'sha1');
    // RFC 6030 §6.2 and figure 7: XML Encryption 1.1 DerivedKey with PKCS #5 v2.0 parameters.
    header.push(
      '  <pskc:EncryptionKey>',
      '    <xenc11:DerivedKey>',
      `      <xenc11:KeyDerivationMethod Algorithm="${PskcUris.pbkdf2}">`,
      '        <pkcs5:PBKDF2-params>',
      `          <Salt><Specified>${toBase64(salt)}</Specified></Salt>`,
      `          <IterationCount>${iterations}</IterationCount>`,
      '          <KeyLength>16</KeyLength>',
      '        </pkcs5:PBKDF2-params>',
      '      </xenc11:KeyDerivationMethod>',
      `      <xenc11:MasterKeyName>${keyName}</xenc11:MasterKeyName>`,
      '    </xenc11:DerivedKey>',
      '  </pskc:EncryptionKey>',
    );
  } else {
    return undefined;
  }
  const cipher = cipherFor(cipherUri) as PskcCipher;
  // RFC 6030 §6.1.1: a fresh MAC key, itself encrypted under the encryption key.
  const macKey = new Uint8Array(randomBytes(20));
  header.push(
    `  <pskc:MACMethod Algorithm="${PskcUris.hmacSha1}">`,
    '    <pskc:MACKey>',
    `      <xenc:EncryptionMethod Algorithm="${cipherUri}"/>`,
    '      <xenc:CipherData>',
    `        <xenc:CipherValue>${toBase64(encryptValue(cipher, encKey, macKey))}</xenc:CipherValue>`,
    '      </xenc:CipherData>',
    '    </pskc:MACKey>',
    '  </pskc:MACMethod>',
  );
  return { cipherUri, cipher, key: encKey, macKey, header };
}

function plainInt(name: string, n: number | undefined, indent: string): string[] {
  return n === undefined
    ? []
    : [`${indent}<pskc:${name}><pskc:PlainValue>${n}</pskc:PlainValue></pskc:${name}>`];
}

/**
 * Writes OTP keys as a PSKC (RFC 6030) document with the pskc, ds, xenc, xenc11 and pkcs5
 * namespaces. Without options the secrets are plain (§4); with `key` they are encrypted with
 * AES-CBC under that pre-shared key (§6.1); with `password`, under a PBKDF2-derived key
 * (§6.2). Encrypted secrets get a random IV and an HMAC-SHA1 ValueMAC under a random MAC key
 * carried in MACMethod/MACKey. Counters and times stay plain, as in the RFC's examples.
 * Key/@Id is the key's `keyId`, else its serial. Throws SeedFileError `bad-key-package` (naming
 * the index, never the secret) or `bad-options`.
 */
export function exportPskc(keys: OtpKey[], opts: PskcExportOptions = {}): string {
  checkKeys(keys);
  const prot = protection(opts);
  try {
    const lines: string[] = [
      '<?xml version="1.0" encoding="UTF-8"?>',
      `<pskc:KeyContainer xmlns:pskc="${PskcUris.pskc}" xmlns:ds="${PskcUris.ds}" xmlns:xenc="${PskcUris.xenc}"` +
        ` xmlns:xenc11="${PskcUris.xenc11}" xmlns:pkcs5="${PskcUris.pkcs5}" Version="1.0">`,
      ...(prot?.header ?? []),
    ];
    for (const k of keys) {
      lines.push('  <pskc:KeyPackage>', '    <pskc:DeviceInfo>');
      if (k.manufacturer !== undefined)
        lines.push(`      <pskc:Manufacturer>${escapeXml(k.manufacturer)}</pskc:Manufacturer>`);
      lines.push(
        `      <pskc:SerialNo>${escapeXml(k.serial)}</pskc:SerialNo>`,
        '    </pskc:DeviceInfo>',
      );
      const algorithm = k.type === 'hotp' ? PskcUris.hotp : PskcUris.totp;
      lines.push(`    <pskc:Key Id="${escapeXml(k.keyId ?? k.serial)}" Algorithm="${algorithm}">`);
      if (k.issuer !== undefined)
        lines.push(`      <pskc:Issuer>${escapeXml(k.issuer)}</pskc:Issuer>`);
      lines.push(
        '      <pskc:AlgorithmParameters>',
        `        <pskc:Suite>HMAC-${k.algorithm}</pskc:Suite>`,
        `        <pskc:ResponseFormat Length="${k.digits}" Encoding="DECIMAL"/>`,
        '      </pskc:AlgorithmParameters>',
        '      <pskc:Data>',
        '        <pskc:Secret>',
      );
      if (prot) {
        const cv = encryptValue(prot.cipher, prot.key, k.secret);
        lines.push(
          '          <pskc:EncryptedValue>',
          `            <xenc:EncryptionMethod Algorithm="${prot.cipherUri}"/>`,
          `            <xenc:CipherData><xenc:CipherValue>${toBase64(cv)}</xenc:CipherValue></xenc:CipherData>`,
          '          </pskc:EncryptedValue>',
          // RFC 6030 §6.1.1: HMAC over the whole CipherValue, IV included.
          `          <pskc:ValueMAC>${toBase64(hmac('sha1', prot.macKey, cv))}</pskc:ValueMAC>`,
        );
      } else {
        lines.push(`          <pskc:PlainValue>${toBase64(k.secret)}</pskc:PlainValue>`);
      }
      lines.push('        </pskc:Secret>');
      if (k.type === 'hotp') {
        lines.push(...plainInt('Counter', k.counter, '        '));
      } else {
        lines.push(
          ...plainInt('Time', k.t0, '        '),
          ...plainInt('TimeInterval', k.period, '        '),
          ...plainInt('TimeDrift', k.timeDrift, '        '),
        );
      }
      lines.push('      </pskc:Data>', '    </pskc:Key>', '  </pskc:KeyPackage>');
    }
    lines.push('</pskc:KeyContainer>', '');
    return lines.join('\n');
  } finally {
    if (prot) {
      wipe(prot.macKey);
      if (opts.key === undefined) wipe(prot.key);
    }
  }
}
