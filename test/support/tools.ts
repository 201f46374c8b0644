/** Suites that need a system tool: they run when it is there, skip (loudly) when not, and fail under CI. */
import { spawnSync } from 'node:child_process';
import { describe, it } from 'vitest';

const cache = new Map<string, boolean>();

/** True when `command args...` runs and exits 0. */
export function toolAvailable(command: string, args: string[] = ['--version']): boolean {
  const key = [command, ...args].join(' ');
  let ok = cache.get(key);
  if (ok === undefined) {
    const r = spawnSync(command, args, { stdio: 'ignore', timeout: 20_000 });
    ok = r.status === 0;
    cache.set(key, ok);
  }
  return ok;
}

/**
 * `describe` that needs a tool. Missing tool: the suite is skipped with its reason in the name,
 * except under `CI=true`, where a single failing test says which tool is missing.
 */
export function describeWithTool(
  tool: string,
  available: boolean,
  name: string,
  fn: () => void,
): void {
  if (available) {
    describe(name, fn);
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      it(`needs ${tool}`, () => {
        throw new Error(
          `${tool} is missing: under CI=true a suite may not skip (install it in .ci/run)`,
        );
      });
    });
  } else {
    describe.skip(`${name} (skipped: ${tool} is missing)`, fn);
  }
}
