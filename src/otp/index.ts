/** src/otp: HOTP/TOTP generation and verification, and seed files (PSKC, OATH CSV). */
export * from './types.js';
export * from './generate.js';
export * from './verify.js';
export * from './seed/index.js';
