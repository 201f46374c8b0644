/** RFC 6238 TOTP written out from the RFCs with node:crypto, independent of src/otp, for checking devices. */
import { createHmac } from 'node:crypto';

/** The parameters of a TOTP key, as plain data. */
export interface IndependentTotpKey {
  readonly secret: Uint8Array;
  readonly algorithm: 'SHA1' | 'SHA256' | 'SHA512';
  readonly digits: number;
  readonly period: number;
  readonly t0: number;
}

/** RFC 4226 §5.3: HMAC over the 8-byte big-endian counter, dynamic truncation, modulo 10^digits. */
export function independentHotp(
  k: Omit<IndependentTotpKey, 'period' | 't0'>,
  counter: number,
): string {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac(k.algorithm.toLowerCase(), Buffer.from(k.secret)).update(msg).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const bin = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(bin % 10 ** k.digits).padStart(k.digits, '0');
}

/** RFC 6238 §4.2: T = floor((unixSeconds - T0) / X). */
export function independentStep(k: IndependentTotpKey, timeMs: number): number {
  return Math.floor((Math.floor(timeMs / 1000) - k.t0) / k.period);
}

/** The TOTP code at `timeMs`. */
export function independentTotp(k: IndependentTotpKey, timeMs: number): string {
  return independentHotp(k, independentStep(k, timeMs));
}
