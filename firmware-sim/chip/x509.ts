/** A minimal DER writer and the X.509 v3 certificates of the chip's attestation (RFC 5280). */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { concatBytes, fromBase64, toBase64, utf8 } from '../../src/core/bytes.js';
import { generateP256, signEs256 } from './crypto.js';
import { signEs256Deterministic } from './rfc6979.js';

// ---------------------------------------------------------------------------------------------
// DER (ITU-T X.690 §10): definite lengths, minimal forms.

function derLength(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** A TLV with tag byte `tag`. */
export function der(tag: number, ...content: Uint8Array[]): Uint8Array {
  const body = concatBytes(...content);
  return concatBytes(Uint8Array.of(tag), derLength(body.length), body);
}

export const derSequence = (...items: Uint8Array[]): Uint8Array => der(0x30, ...items);
export const derSet = (...items: Uint8Array[]): Uint8Array => der(0x31, ...items);
export const derOctetString = (b: Uint8Array): Uint8Array => der(0x04, b);
export const derBitString = (b: Uint8Array): Uint8Array => der(0x03, Uint8Array.of(0), b);
export const derBoolean = (v: boolean): Uint8Array => der(0x01, Uint8Array.of(v ? 0xff : 0));

/** A non-negative INTEGER from big-endian magnitude bytes (a leading 0 keeps it positive). */
export function derUnsigned(magnitude: Uint8Array): Uint8Array {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const m = magnitude.subarray(i);
  return der(0x02, m[0]! & 0x80 ? concatBytes(Uint8Array.of(0), m) : m);
}

/** An OBJECT IDENTIFIER from dotted form (X.690 §8.19). */
export function derOid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map((s) => BigInt(s));
  const out: number[] = [];
  const first = arcs[0]! * 40n + arcs[1]!;
  for (const arc of [first, ...arcs.slice(2)]) {
    const chunk: number[] = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) chunk.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...chunk);
  }
  return der(0x06, Uint8Array.from(out));
}

/** UTCTime before 2050, GeneralizedTime from 2050 on (RFC 5280 §4.1.2.5). */
function derTime(ms: number): Uint8Array {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const rest = `${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  const y = d.getUTCFullYear();
  return y < 2050 ? der(0x17, utf8(`${p(y % 100)}${rest}`)) : der(0x18, utf8(`${p(y, 4)}${rest}`));
}

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  countryName: '2.5.4.6',
  organizationName: '2.5.4.10',
  organizationalUnitName: '2.5.4.11',
  commonName: '2.5.4.3',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  subjectKeyIdentifier: '2.5.29.14',
  /** FIDO id-fido-gen-ce-aaguid (WebAuthn §8.2.1). */
  fidoAaguid: '1.3.6.1.4.1.45724.1.1.4',
} as const;

/** A distinguished name: C (PrintableString), O, OU, CN (UTF8String), in that order. */
export interface DistinguishedName {
  readonly C: string;
  readonly O: string;
  readonly OU: string;
  readonly CN: string;
}

function derName(n: DistinguishedName): Uint8Array {
  const rdn = (oid: string, value: Uint8Array): Uint8Array =>
    derSet(derSequence(derOid(oid), value));
  return derSequence(
    rdn(OID.countryName, der(0x13, utf8(n.C))),
    rdn(OID.organizationName, der(0x0c, utf8(n.O))),
    rdn(OID.organizationalUnitName, der(0x0c, utf8(n.OU))),
    rdn(OID.commonName, der(0x0c, utf8(n.CN))),
  );
}

function extension(oid: string, critical: boolean, value: Uint8Array): Uint8Array {
  return derSequence(derOid(oid), ...(critical ? [derBoolean(true)] : []), derOctetString(value));
}

/** What goes into one certificate. */
export interface CertificateRequest {
  readonly serial: Uint8Array;
  readonly issuer: DistinguishedName;
  readonly subject: DistinguishedName;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly subjectKey: KeyObject;
  readonly issuerKey: KeyObject;
  /** Sign with an RFC 6979 nonce, so the same inputs give the same certificate. */
  readonly deterministic?: boolean;
  readonly ca: boolean;
  /** For attestation certificates: the AAGUID extension (WebAuthn §8.2.1), not critical. */
  readonly aaguid?: Uint8Array;
}

/** Builds and signs (ECDSA P-256 SHA-256) an X.509 v3 certificate; returns its DER. */
export function buildCertificate(r: CertificateRequest): Uint8Array {
  const alg = derSequence(derOid(OID.ecdsaWithSha256));
  const spki = new Uint8Array(r.subjectKey.export({ type: 'spki', format: 'der' }));
  const exts: Uint8Array[] = [
    // basicConstraints: CA=true for the CA (critical); an empty SEQUENCE (CA=false) for leaves.
    extension(OID.basicConstraints, r.ca, r.ca ? derSequence(derBoolean(true)) : derSequence()),
  ];
  if (r.ca) {
    // keyUsage keyCertSign | cRLSign: bits 5 and 6, so one unused bit.
    exts.push(extension(OID.keyUsage, true, der(0x03, Uint8Array.of(1, 0x06))));
  }
  if (r.aaguid) exts.push(extension(OID.fidoAaguid, false, derOctetString(r.aaguid)));
  const tbs = derSequence(
    der(0xa0, der(0x02, Uint8Array.of(2))),
    derUnsigned(r.serial),
    alg,
    derName(r.issuer),
    derSequence(derTime(r.notBefore), derTime(r.notAfter)),
    derName(r.subject),
    spki,
    der(0xa3, derSequence(...exts)),
  );
  const sig = r.deterministic
    ? signEs256Deterministic(
        new Uint8Array(Buffer.from(r.issuerKey.export({ format: 'jwk' }).d ?? '', 'base64url')),
        tbs,
      )
    : signEs256(r.issuerKey, tbs);
  return derSequence(tbs, alg, derBitString(sig));
}

/** A test CA that issues attestation certificates: PKCS#8 key and certificate, base64 DER. */
export interface AttestationCa {
  readonly keyPkcs8: string;
  readonly certDer: string;
}

const YEAR_MS = 365.25 * 24 * 3600 * 1000;

/** The CA's name. Fictitious, as MITID.md asks of test fixtures. */
export const ATTESTATION_CA_NAME: DistinguishedName = {
  C: 'DK',
  O: 'mitid-sim',
  OU: 'Authenticator Attestation',
  CN: 'mitid-sim chip test attestation CA',
};

function keyFromRandom(random: (n: number) => Uint8Array): KeyObject {
  return generateP256(random).privateKey;
}

function positiveSerial(random: (n: number) => Uint8Array): Uint8Array {
  const s = random(16);
  s[0] = (s[0]! & 0x7f) | 0x01;
  return s;
}

/** Generates a self-signed test CA valid for 30 years from `now`. */
export function createAttestationCa(
  now: number,
  random: (n: number) => Uint8Array,
  deterministic = false,
): AttestationCa {
  const key = keyFromRandom(random);
  const cert = buildCertificate({
    serial: positiveSerial(random),
    issuer: ATTESTATION_CA_NAME,
    subject: ATTESTATION_CA_NAME,
    notBefore: now - 24 * 3600 * 1000,
    notAfter: now + 30 * YEAR_MS,
    subjectKey: createPublicKey(key),
    issuerKey: key,
    deterministic,
    ca: true,
  });
  return {
    keyPkcs8: toBase64(new Uint8Array(key.export({ type: 'pkcs8', format: 'der' }))),
    certDer: toBase64(cert),
  };
}

/** A device's attestation key and the certificate the CA issued for it. */
export interface DeviceAttestation {
  readonly keyPkcs8: string;
  readonly certDer: string;
}

/**
 * Issues a device attestation certificate under `ca`, with the subject FIDO's packed attestation
 * asks for (WebAuthn §8.2.1): C, O, OU "Authenticator Attestation", CN; the AAGUID extension;
 * basicConstraints CA=false.
 */
export function issueDeviceAttestation(
  ca: AttestationCa,
  serial: string,
  aaguid: Uint8Array,
  now: number,
  random: (n: number) => Uint8Array,
  deterministic = false,
): DeviceAttestation {
  const caKey = createPrivateKey({
    key: Buffer.from(fromBase64(ca.keyPkcs8)),
    format: 'der',
    type: 'pkcs8',
  });
  const key = keyFromRandom(random);
  const cert = buildCertificate({
    serial: positiveSerial(random),
    issuer: ATTESTATION_CA_NAME,
    subject: {
      C: 'DK',
      O: 'mitid-sim',
      OU: 'Authenticator Attestation',
      CN: `mitid-sim chip ${serial}`,
    },
    notBefore: now - 24 * 3600 * 1000,
    notAfter: now + 20 * YEAR_MS,
    subjectKey: createPublicKey(key),
    issuerKey: caKey,
    deterministic,
    ca: false,
    aaguid,
  });
  return {
    keyPkcs8: toBase64(new Uint8Array(key.export({ type: 'pkcs8', format: 'der' }))),
    certDer: toBase64(cert),
  };
}
