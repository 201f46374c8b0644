/** OTP verification: the pure HOTP/TOTP checks, the prepared-key engine, and the OTP Verifier. */
export * from './verify-check.js';
export { PreparedOtpKey, prepareOtpKey } from './verify-engine.js';
export * from './verify-verifier.js';
