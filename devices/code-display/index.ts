/** devices/code-display: the virtual code display (Authenticator) and its pictures. */
export * from './code-display.js';
export * from './render.js';
export type {
  BatteryModel,
  CodeDisplaySettings,
  CodeDisplayState,
  CodeDisplayStatus,
  LcdFrame,
} from '../../firmware-sim/code-display/index.js';
