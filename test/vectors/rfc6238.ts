/** RFC 6238 Appendix B: TOTP test values (X = 30 s, T0 = 0, 8 digits) for SHA-1, SHA-256, SHA-512. */
import type { HashAlgorithm } from '../../src/otp/types.js';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

/**
 * The seeds of Appendix B's reference code: the ASCII digits "1234567890" repeated to the hash's
 * output size (20 bytes for SHA-1, 32 for SHA-256, 64 for SHA-512). The RFC's prose names only
 * the 20-byte seed; its Java listing uses these three.
 */
export const RFC6238_SEEDS: Readonly<Record<HashAlgorithm, Uint8Array>> = {
  SHA1: ascii('12345678901234567890'),
  SHA256: ascii('12345678901234567890123456789012'),
  SHA512: ascii('1234567890123456789012345678901234567890123456789012345678901234'),
};

/** One row of the Appendix B table. */
export interface Rfc6238Row {
  /** Time in Unix seconds. */
  readonly time: number;
  /** The UTC time column. */
  readonly utc: string;
  /** T = floor(time / 30) as 16 hex digits, as printed. */
  readonly stepHex: string;
  readonly totp: string;
  readonly algorithm: HashAlgorithm;
}

const rows: [number, string, string, string, string, string][] = [
  // time, UTC, T (hex), SHA1, SHA256, SHA512
  [59, '1970-01-01 00:00:59', '0000000000000001', '94287082', '46119246', '90693936'],
  [1111111109, '2005-03-18 01:58:29', '00000000023523EC', '07081804', '68084774', '25091201'],
  [1111111111, '2005-03-18 01:58:31', '00000000023523ED', '14050471', '67062674', '99943326'],
  [1234567890, '2009-02-13 23:31:30', '000000000273EF07', '89005924', '91819424', '93441116'],
  [2000000000, '2033-05-18 03:33:20', '0000000003F940AA', '69279037', '90698825', '38618901'],
  [20000000000, '2603-10-11 11:33:20', '0000000027BC86AA', '65353130', '77737706', '47863826'],
];

/** RFC 6238 Appendix B, all eighteen rows. */
export const RFC6238_VECTORS: readonly Rfc6238Row[] = rows.flatMap(
  ([time, utc, stepHex, s1, s256, s512]) => [
    { time, utc, stepHex, totp: s1, algorithm: 'SHA1' as const },
    { time, utc, stepHex, totp: s256, algorithm: 'SHA256' as const },
    { time, utc, stepHex, totp: s512, algorithm: 'SHA512' as const },
  ],
);
