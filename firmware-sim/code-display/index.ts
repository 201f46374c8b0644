/** firmware-sim/code-display: the code display's firmware and its persistent state. */
export * from './firmware.js';
export * from './state.js';
