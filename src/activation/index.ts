/** src/activation: the MitID Erhverv activation service's domain rules, store, outbox and notifications. */
export * from './violations.js';
export * from './rules.js';
export * from './roles.js';
export * from './lockout.js';
export * from './outbox.js';
export * from './notify.js';
export * from './mailbox.js';
export * from './admin.js';
export * from './store/index.js';
export * from './webauthn.js';
export * from './sessions.js';
export * from './flow.js';
export * from './http.js';
export * from './service.js';
export * from './refusal.js';
export * from './app.js';
