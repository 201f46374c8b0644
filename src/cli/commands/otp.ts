/** `press` and `show`: the button and the screen of a virtual code display or audio reader. */
import { writeFile } from 'node:fs/promises';
import { parseTime } from '../../core/clock.js';
import { UsageError } from '../../core/errors.js';
import { renderSvg, renderTerminal } from '../../../devices/code-display/index.js';
import { openOtpDevice } from '../../../devices/factory.js';
import { flag, printJson, str, type Command, type CommandContext } from '../command.js';

/** `--at TIME` as host ms, or undefined for now. */
export function atOption(ctx: CommandContext): number | undefined {
  const at = str(ctx, 'at');
  if (at === undefined) return undefined;
  try {
    return parseTime(at);
  } catch {
    throw new UsageError(
      'usage',
      `--at must be ISO 8601 (2026-11-25T12:00:00Z) or Unix seconds, got "${at.slice(0, 40)}"`,
    );
  }
}

const press: Command = {
  path: ['press'],
  summary: 'press the button: prints the code as the screen shows it',
  usage: 'press FILE [--at TIME] [--json]',
  help: `Options:
  --at TIME   press at this host time (ISO 8601 or Unix seconds) instead of now; the device's own
              drifting clock decides which code shows
  --json      print serial, code, text, device time, battery and presses as JSON`,
  positionals: [1, 1],
  options: { at: { type: 'string' }, json: { type: 'boolean' } },
  async run(ctx) {
    const at = atOption(ctx);
    const dev = await openOtpDevice(ctx.positionals[0]!);
    try {
      const frame = await dev.press(at);
      const status = dev.status(at);
      if (flag(ctx, 'json')) {
        printJson(ctx, {
          kind: dev.kind,
          serial: dev.serial,
          code: frame.code,
          text: frame.text,
          on: frame.on,
          deviceTime: new Date(frame.deviceTime).toISOString(),
          lowBattery: frame.lowBattery,
          batteryPercent: Math.round(status.batteryPercent * 10) / 10,
          presses: status.presses,
        });
      } else if (frame.code === null) {
        ctx.io.stdout('(the screen stays blank: the battery is empty)\n');
        return 1;
      } else {
        ctx.io.stdout(`${frame.text}${frame.lowBattery ? '  (low battery)' : ''}\n`);
      }
      return frame.code === null ? 1 : 0;
    } finally {
      await dev.close();
    }
  },
};

const show: Command = {
  path: ['show'],
  summary: 'show the device as it looks now (terminal picture, SVG, or JSON)',
  usage: 'show FILE [--at TIME] [--svg PATH] [--json]',
  help: `The screen blanks a while after a press, as the real device does; press first to see a code.

Options:
  --at TIME   look at this host time instead of now
  --svg PATH  also write an SVG picture of the device to PATH
  --json      print the screen and the device status as JSON`,
  positionals: [1, 1],
  options: { at: { type: 'string' }, svg: { type: 'string' }, json: { type: 'boolean' } },
  async run(ctx) {
    const at = atOption(ctx);
    const dev = await openOtpDevice(ctx.positionals[0]!);
    try {
      const frame = dev.lcd(at);
      const status = dev.status(at);
      const svgPath = str(ctx, 'svg');
      if (svgPath !== undefined) await writeFile(svgPath, renderSvg(frame, status));
      if (flag(ctx, 'json')) {
        printJson(ctx, {
          kind: dev.kind,
          screen: {
            on: frame.on,
            text: frame.text,
            code: frame.code,
            lowBattery: frame.lowBattery,
          },
          status: { ...status, deviceTime: new Date(status.deviceTime).toISOString() },
          ...(svgPath !== undefined ? { svg: svgPath } : {}),
        });
      } else {
        ctx.io.stdout(renderTerminal(frame, status) + '\n');
        ctx.io.stdout(
          `${dev.kind} ${status.serial}  device time ${new Date(status.deviceTime).toISOString()}` +
            `  (${status.offsetMs >= 0 ? '+' : ''}${(status.offsetMs / 1000).toFixed(1)} s, ${status.driftPpm} ppm)` +
            `  battery ${status.batteryPercent.toFixed(1)}%  presses ${status.presses}\n`,
        );
      }
    } finally {
      await dev.close();
    }
  },
};

export const commands: Command[] = [press, show];
