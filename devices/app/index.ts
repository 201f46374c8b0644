/** devices/app: the virtual phone and the MitID app on it (Authenticator<'app'>). */
export * from './app.js';
export * from './phone.js';
export * from './protocol.js';
