/** Every command of the CLI; each module exports `commands`. */
import type { Command } from '../command.js';
import { commands as admin } from './admin.js';
import { commands as app } from './app.js';
import { commands as audio } from './audio.js';
import { commands as chip } from './chip.js';
import { commands as demo } from './demo.js';
import { commands as demoService } from './demo-service.js';
import { commands as serve } from './serve.js';
import { commands as device } from './device.js';
import { commands as otp } from './otp.js';
import { commands as serial } from './serial.js';

export const allCommands: Command[] = [
  ...demoService,
  ...serve,
  ...demo,
  ...device,
  ...otp,
  ...serial,
  ...audio,
  ...chip,
  ...admin,
  ...app,
];
