/** firmware-sim/chip: the emulated MitID chip (CTAP 2.1 / U2F authenticator over CTAPHID). */
export * from './authenticator.js';
export * from './crypto.js';
export * from './firmware.js';
export * from './rfc6979.js';
export * from './state.js';
export * from './x509.js';
