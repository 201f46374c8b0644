/** src/serial: the line protocol for serial-attached devices and test jigs, server, client and pty pairs. */
export * from './types.js';
export * from './protocol.js';
export * from './port.js';
export * from './server.js';
export * from './client.js';
export * from './pty.js';
