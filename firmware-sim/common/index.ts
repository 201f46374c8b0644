/** firmware-sim/common: parts shared by the battery-powered tokens (battery, segment LCD). */
export * from './battery.js';
export * from './lcd.js';
