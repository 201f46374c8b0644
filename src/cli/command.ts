/** The shape of a CLI command, and the helpers every command uses. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../core/errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Where a command writes: injectable so tests can run commands in-process. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** What a command's `run` receives. */
export interface CommandContext {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
  io: CliIo;
  /** Aborted on SIGINT/SIGTERM, for long-running commands (serve). */
  signal: AbortSignal;
}

/** One verb (or verb pair) of `mitid-sim`. */
export interface Command {
  /** e.g. ['device', 'create'] */
  path: readonly string[];
  summary: string;
  /** Usage line(s) after `mitid-sim `, e.g. 'device create code-display --serial SERIAL --out FILE'. */
  usage: string;
  /** Longer help: options, examples. */
  help?: string;
  options?: Options;
  /** Positional arguments: [min, max]. */
  positionals?: [number, number];
  run(ctx: CommandContext): Promise<number | void>;
}

/** Parses `argv` for `cmd`, throwing UsageError with one clear line on bad input. */
export function parseFor(
  cmd: Command,
  argv: string[],
): { values: CommandContext['values']; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...cmd.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new UsageError('usage', `${msg} (see: mitid-sim ${cmd.path.join(' ')} --help)`);
  }
  const values = parsed.values as CommandContext['values'];
  if (!values.help) {
    const [min, max] = cmd.positionals ?? [0, 0];
    const n = parsed.positionals.length;
    if (n < min || n > max) {
      throw new UsageError(
        'usage',
        `${n < min ? 'missing' : 'unexpected'} argument${n > max ? `: ${parsed.positionals[max]}` : ''}; usage: mitid-sim ${cmd.usage}`,
      );
    }
  }
  return { values, positionals: parsed.positionals };
}

/** The value of a string option, or undefined. */
export function str(ctx: CommandContext, name: string): string | undefined {
  const v = ctx.values[name];
  return typeof v === 'string' ? v : undefined;
}

/** The value of a required string option, or a UsageError naming it. */
export function req(ctx: CommandContext, name: string): string {
  const v = str(ctx, name);
  if (v === undefined || v === '') throw new UsageError('usage', `--${name} is required`);
  return v;
}

/** True when a boolean flag is set. */
export function flag(ctx: CommandContext, name: string): boolean {
  return ctx.values[name] === true;
}

/** Prints `data` as one JSON document. Uint8Array values become hex. */
export function printJson(ctx: CommandContext, data: unknown): void {
  ctx.io.stdout(
    JSON.stringify(
      data,
      (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v),
      2,
    ) + '\n',
  );
}
