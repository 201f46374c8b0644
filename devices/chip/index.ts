/** devices/chip: the MitID chip driver (CTAP2 over any HID transport) and the virtual chip. */
export * from './chip.js';
export * from './ctap2.js';
export * from './open.js';
export * from './pin.js';
export * from './virtual.js';
export * from './webauthn.js';
