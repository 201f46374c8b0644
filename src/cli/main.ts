#!/usr/bin/env node
/** The mitid-sim command: finds the verb, parses its options, and turns every failure into one line. */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isMitidError, UsageError } from '../core/errors.js';
import { parseFor, type CliIo, type Command } from './command.js';
import { allCommands } from './commands/index.js';

const NAME = 'mitid-sim';

/** Finds the command whose path is the longest prefix of `argv`. */
function findCommand(
  commands: readonly Command[],
  argv: string[],
): { cmd: Command; rest: string[] } | undefined {
  let best: Command | undefined;
  for (const c of commands) {
    if (c.path.every((p, i) => argv[i] === p) && (!best || c.path.length > best.path.length))
      best = c;
  }
  return best ? { cmd: best, rest: argv.slice(best.path.length) } : undefined;
}

function overview(commands: readonly Command[]): string {
  const lines = commands.map((c) => `  ${c.usage}\n      ${c.summary}`);
  return `usage: ${NAME} <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun '${NAME} <command> --help' for details.\n`;
}

function helpFor(cmd: Command): string {
  return `usage: ${NAME} ${cmd.usage}\n\n${cmd.summary}\n${cmd.help ? `\n${cmd.help.trimEnd()}\n` : ''}`;
}

/** One line for any error; our own errors' messages are written to be shown, others are summarised. */
export function describeError(e: unknown): string {
  if (isMitidError(e)) return e.message;
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err === 'object' && typeof err.code === 'string') {
    const where = typeof err.path === 'string' ? `: ${err.path}` : '';
    const known: Record<string, string> = {
      ENOENT: 'no such file or directory',
      EACCES: 'permission denied',
      EISDIR: 'is a directory',
      ENOTDIR: 'not a directory',
      EEXIST: 'already exists',
      EADDRINUSE: 'address already in use',
      ECONNREFUSED: 'connection refused',
    };
    if (known[err.code]) return `${known[err.code]}${where}`;
  }
  return `internal error: ${err instanceof Error ? err.message.split('\n')[0] : String(e)}`;
}

/** Runs the CLI with `argv` (without node and script). Returns the exit code. */
export async function runCli(
  argv: string[],
  io: CliIo,
  commands: readonly Command[] = allCommands,
): Promise<number> {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
      io.stdout(overview(commands));
      return argv.length === 0 ? 2 : 0;
    }
    if (argv[0] === '--version') {
      io.stdout('0.1.0\n');
      return 0;
    }
    const found = findCommand(commands, argv);
    if (!found) {
      const group = commands.filter((c) => c.path[0] === argv[0]);
      if (group.length > 0 && (argv.length === 1 || argv[1] === '--help' || argv[1] === '-h')) {
        io.stdout(overview(group));
        return argv.length === 1 ? 2 : 0;
      }
      throw new UsageError(
        'usage',
        `unknown command '${argv.slice(0, 2).join(' ')}'; run '${NAME} --help'`,
      );
    }
    const { cmd, rest } = found;
    const { values, positionals } = parseFor(cmd, rest);
    if (values.help) {
      io.stdout(helpFor(cmd));
      return 0;
    }
    const code = await cmd.run({ values, positionals, io, signal: controller.signal });
    return code ?? 0;
  } catch (e) {
    io.stderr(`${NAME}: ${describeError(e)}\n`);
    if (process.env.MITID_SIM_DEBUG === '1' && e instanceof Error && e.stack)
      io.stderr(e.stack + '\n');
    return e instanceof UsageError ? 2 : 1;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

function isMain(): boolean {
  const arg = process.argv[1];
  if (!arg) return false;
  try {
    return realpathSync(arg) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  const io: CliIo = {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
  };
  runCli(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`${NAME}: ${describeError(e)}\n`);
      process.exitCode = 1;
    },
  );
}
