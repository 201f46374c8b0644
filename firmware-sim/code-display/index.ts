/** firmware-sim/code-display: the code display's firmware and its persistent state. */
export * from './firmware.js';
export * from './state.js';
export {
  defaultBatteryModel,
  type BatteryModel,
  type BatteryState,
  type BatteryView,
} from '../common/battery.js';
