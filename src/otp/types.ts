/** Shared OTP types: algorithms, parameters, and the key package a seed file carries. */

export const HashAlgorithms = ['SHA1', 'SHA256', 'SHA512'] as const;
export type HashAlgorithm = (typeof HashAlgorithms)[number];

/** HOTP parameters (RFC 4226). */
export interface HotpParams {
  readonly secret: Uint8Array;
  /** Default SHA1. */
  readonly algorithm?: HashAlgorithm;
  /** 6, 7 or 8; default 6. */
  readonly digits?: number;
}

/** TOTP parameters (RFC 6238). */
export interface TotpParams extends HotpParams {
  /** Time step X in seconds; default 30. */
  readonly period?: number;
  /** T0 in Unix seconds; default 0. */
  readonly t0?: number;
}

/**
 * One key package: what a seed file carries for one token, and what a device file keeps.
 * `secret` is the raw key; everything else is public.
 */
export interface OtpKey {
  readonly serial: string;
  readonly type: 'totp' | 'hotp';
  readonly secret: Uint8Array;
  readonly algorithm: HashAlgorithm;
  readonly digits: number;
  /** TOTP: time step in seconds. */
  readonly period?: number;
  /** TOTP: T0 in Unix seconds. */
  readonly t0?: number;
  /** HOTP: the next counter value. */
  readonly counter?: number;
  readonly manufacturer?: string;
  readonly issuer?: string;
  /** PSKC KeyPackage/Key/@Id where the key came from a PSKC file. */
  readonly keyId?: string;
  /**
   * TOTP: the device clock's known drift in whole time steps, positive when the device runs
   * ahead (PSKC Data/TimeDrift, RFC 6030 §4.3.4).
   */
  readonly timeDrift?: number;
}
