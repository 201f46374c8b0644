/** mitid-sim: the public API. */
export * from './core/index.js';
export * from './otp/index.js';
