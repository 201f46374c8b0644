/** src/hid: the HidTransport port and its adapters (in-process, UDP, node-hid). */
export * from './errors.js';
export * from './list.js';
export * from './node-hid.js';
export * from './port.js';
export * from './udp.js';
export * from './virtual.js';
export { ReportQueue, checkReport } from './queue.js';
