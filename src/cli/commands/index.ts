/** Every command of the CLI; each module exports `commands`. */
import type { Command } from '../command.js';

export const allCommands: Command[] = [];
