/** Runs the built mitid-sim CLI in a child process, as a user would. */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

function ensureBuilt(): void {
  if (!existsSync(CLI))
    throw new Error('the CLI is not built: run `npm run build` (npm test does it first)');
}

/** Runs `mitid-sim ...args` to completion. */
export function runCli(
  args: string[],
  options: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): CliResult {
  ensureBuilt();
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    input: options.input,
    env: { ...process.env, MITID_SIM_DEBUG: '', ...options.env },
    cwd: options.cwd,
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts a long-running `mitid-sim ...args`; resolves once stdout contains `readyText`. */
export async function startCli(args: string[], readyText: string | RegExp) {
  ensureBuilt();
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`CLI did not get ready: ${stderr}`)), 30_000);
    const check = () => {
      if (typeof readyText === 'string' ? stdout.includes(readyText) : readyText.test(stdout)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', check);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`CLI exited with ${code}: ${stderr}`));
    });
  });
  return {
    child,
    output: () => ({ stdout, stderr }),
    async stop(): Promise<number | null> {
      if (child.exitCode !== null) return child.exitCode;
      const done = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
      child.kill('SIGINT');
      return done;
    },
  };
}
