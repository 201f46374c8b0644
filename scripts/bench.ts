/** `npm run bench`: measures every registered figure in one run, prints a table, writes JSON. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchmarks, defaultOptions, formatTable, measure } from './bench/index.js';
import type { Figure, HarnessOptions } from './bench/index.js';

const usage = `usage: node dist/scripts/bench.js [--json] [--filter TEXT] [--trials N] [--reps N] [--slice MS] [--warmup MS] [--out FILE]
  --json         print the figures as a JSON array on stdout (the table goes to stderr)
  --filter TEXT  only groups or figures whose name contains TEXT
  --trials N     interleaved trials per figure (default ${defaultOptions.trials})
  --reps N       slices per contender in a trial, best counts (default ${defaultOptions.reps})
  --slice MS     target time of one slice (default ${defaultOptions.sliceMs})
  --warmup MS    time the contenders run before measuring (default ${defaultOptions.warmupMs})
  --out FILE     where to write the JSON (default artifacts/bench.json in the package)`;

/** The package root: the nearest directory upwards holding package.json (works from dist too). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
  return dir;
}

function positiveInt(s: string | undefined, fallback: number, name: string): number {
  if (s === undefined) return fallback;
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive whole number`);
  return n;
}

/**
 * V8 flags the measurements run under. `--single-threaded`: garbage collection and optimising
 * compilation on the main thread, so the process CPU time a slice is charged is the work of
 * whoever ran in it, not of background threads busy with an earlier contender's garbage or code.
 * `--expose-gc`: the harness collects between slices (untimed).
 */
const V8_FLAGS = ['--single-threaded', '--expose-gc'];

async function main(): Promise<number> {
  if (!V8_FLAGS.every((f) => process.execArgv.includes(f))) {
    const self = fileURLToPath(import.meta.url);
    const args = [...process.execArgv, ...V8_FLAGS, self, ...process.argv.slice(2)];
    return spawnSync(process.execPath, args, { stdio: 'inherit' }).status ?? 1;
  }
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      filter: { type: 'string' },
      trials: { type: 'string' },
      slice: { type: 'string' },
      reps: { type: 'string' },
      warmup: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const opts: HarnessOptions = {
    trials: positiveInt(values.trials, defaultOptions.trials, 'trials'),
    reps: positiveInt(values.reps, defaultOptions.reps, 'reps'),
    sliceMs: positiveInt(values.slice, defaultOptions.sliceMs, 'slice'),
    warmupMs: positiveInt(values.warmup, defaultOptions.warmupMs, 'warmup'),
  };
  // With --json, stdout carries only the JSON; everything for people goes to stderr.
  const say = values.json
    ? (s: string) => process.stderr.write(`${s}\n`)
    : (s: string) => console.log(s);
  const filter = values.filter;

  const figures: Figure[] = [];
  const started = Date.now();
  for (const group of benchmarks) {
    const cases = (await group.cases()).filter(
      (c) => filter === undefined || group.group.includes(filter) || c.name.includes(filter),
    );
    for (const c of cases) {
      try {
        await c.check?.();
        say(`measuring ${c.name} …`);
        figures.push(...(await measure(c, opts)));
      } finally {
        await c.teardown?.();
      }
    }
  }
  say(
    `\nnode ${process.version}, ${opts.trials} interleaved trials per figure (best of ${opts.reps} slices each), medians; ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
  say(formatTable(figures));

  const out = resolve(values.out ?? join(packageRoot(), 'artifacts', 'bench.json'));
  mkdirSync(dirname(out), { recursive: true });
  const json = JSON.stringify(figures, null, 2);
  writeFileSync(out, `${json}\n`);
  say(`\nwritten: ${out}`);
  if (values.json) console.log(json);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`bench: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
