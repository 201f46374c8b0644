/** src/core: the Authenticator interface, clocks, errors and byte helpers. */
export * from './authenticator.js';
export * from './bytes.js';
export * from './clock.js';
export * from './errors.js';
export * from './webauthn-json.js';
