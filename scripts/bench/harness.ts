/** The bench harness: interleaved trials in one run, medians, ratios against the limit and a peer. */
import { performance } from 'node:perf_hooks';

/** One way of doing the work being measured. */
export interface Contender {
  /** Who this is, for people: "mitid-sim verifyTotp", "node:crypto HMAC", "otplib verifySync". */
  readonly label: string;
  /**
   * Does the operation `n` times and returns something computed from the results (e.g. how many
   * succeeded), which the harness keeps so no engine can skip the work. Sync work should stay
   * sync: an await per operation costs time too.
   */
  run(n: number): unknown;
}

/**
 * One headline figure: our way of doing something, the physical limit on this machine (the same
 * work with nothing but the primitives), and optionally the peer a user would otherwise pick.
 */
export interface BenchCase {
  /** Stable, dotted: `otp.totp.verify.sha1.w1`. */
  readonly name: string;
  /** One line for people: what one operation is. */
  readonly description: string;
  /** Unit of `value`, always a rate: e.g. `verifications/s`. */
  readonly unit: string;
  readonly ours: Contender;
  readonly limit: Contender;
  readonly peer?: Contender;
  /**
   * Throws unless every contender gets the same answers on the workload: a fast wrong answer is
   * not a figure. Run once before timing.
   */
  check?(): void | Promise<void>;
  /** Releases what the case set up (sockets, files, databases). */
  teardown?(): void | Promise<void>;
  /**
   * Further figures worked out from this case's per-trial rates (e.g. a time as a fraction of
   * something), printed after the measured ones. Cases without it get only the measured figures.
   */
  derive?(
    rates: TrialRates,
    base: { readonly trials: number; readonly clock: 'cpu' | 'wall' },
  ): Figure[];
  /**
   * What slices are timed with. `cpu` (the default) is this process's CPU time: on a shared
   * machine the time the core is taken away is not counted against whoever was running, which
   * makes ratios of CPU-bound work in this process far steadier. `wall` is for work that waits
   * on other processes or the network (a server, a database, a spawned tool).
   */
  readonly clock?: 'cpu' | 'wall';
}

/** A group of cases, one module under scripts/bench/. */
export interface BenchModule {
  /** The group, e.g. `otp`; `--filter` matches it and the case names. */
  readonly group: string;
  /** Builds the cases (may set up servers or files; `teardown` undoes it). */
  cases(): BenchCase[] | Promise<BenchCase[]>;
}

/** Each contender's rate (operations/s) in every trial, trial by trial. */
export interface TrialRates {
  readonly ours: readonly number[];
  readonly limit: readonly number[];
  readonly peer?: readonly number[];
}

/** One ratio of one figure, as printed and as written to JSON. */
export interface Figure {
  readonly name: string;
  readonly description: string;
  /** Our rate (median over trials). */
  readonly value: number;
  readonly unit: string;
  /**
   * Median over trials of (our rate / their rate) in the same trial: above 1 is faster. A derived
   * figure (see {@link BenchCase.derive}) with `precision` says in its description how to read it.
   */
  readonly ratio: number;
  /** What the ratio is against: a measured contender, or a fixed goal. */
  readonly against: 'limit' | 'peer' | 'goal';
  /** Who that is, and their median rate. */
  readonly againstLabel: string;
  readonly againstValue: number;
  /** The smallest and largest per-trial ratio: how much to trust `ratio`. */
  readonly ratioRange: readonly [number, number];
  readonly trials: number;
  /** The clock the slices were timed with (see {@link BenchCase.clock}). */
  readonly clock: 'cpu' | 'wall';
  /**
   * Significant digits to print value, ratio and the other's value with (small quantities such
   * as fractions); without it values print as whole rates and ratios with two decimals.
   */
  readonly precision?: number;
}

/** How long and how often to measure. */
export interface HarnessOptions {
  /** Interleaved trials per case. */
  readonly trials: number;
  /** Slices per contender in a trial; the best one counts. */
  readonly reps: number;
  /** Target time of one slice, ms. */
  readonly sliceMs: number;
  /**
   * Time each contender runs, in turns, before anything is recorded: the JIT's optimising
   * compiler works on other threads whose time `cpu` slices would otherwise be charged.
   */
  readonly warmupMs: number;
}

/** About 2 s of slices per figure with two ratios. */
export const defaultOptions: HarnessOptions = { trials: 21, reps: 5, sliceMs: 4, warmupMs: 300 };

/** The median of `xs` (the mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError('median of nothing');
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Where results go so that they are used; read by nobody. */
const kept: unknown[] = [];

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** V8's `gc`, when the process runs with --expose-gc (scripts/bench.ts sees to it). */
const v8gc = (globalThis as { gc?: (options?: { type: 'minor' | 'major' }) => void }).gc;

/**
 * Collects the young generation before a slice (untimed), so no contender pays for the short-
 * lived garbage of the one before it; `major` also collects the old generation.
 */
function collect(type: 'minor' | 'major'): void {
  v8gc?.({ type });
}

/** Runs `n` operations and returns the ms they took on `clock`. */
async function timed(c: Contender, n: number, clock: 'cpu' | 'wall'): Promise<number> {
  collect('minor');
  const now = clock === 'cpu' ? cpuMs : () => performance.now();
  const start = now();
  let r = c.run(n);
  if (r instanceof Promise) r = await r;
  const ms = now() - start;
  kept[kept.length & 7] = r;
  return ms;
}

/**
 * How many operations fill one slice: doubles until a run takes a quarter of a slice, then
 * scales. This also warms the JIT before anything is recorded.
 */
async function calibrate(
  c: Contender,
  sliceMs: number,
  clock: 'cpu' | 'wall',
): Promise<{ n: number; opMs: number }> {
  let n = 1;
  for (;;) {
    const ms = await timed(c, n, clock);
    if (ms >= sliceMs / 4 || n >= 2 ** 30) {
      return { n: Math.max(1, Math.round((n * sliceMs) / Math.max(ms, 1e-3))), opMs: ms / n };
    }
    n *= 2;
  }
}

/** A single operation this much longer than a slice makes a case "slow" (see {@link measure}). */
const SLOW_OP_SLICES = 5;

/**
 * Measures one case. A trial runs every contender `reps` times, the contenders taking turns in
 * an order that rotates from trial to trial, and keeps each one's best slice: slices are short,
 * so on a busy machine a slice is either clean or visibly disturbed (caches flushed by another
 * process, a collection left by the previous contender), and the best of a few is the clean one. Ratios are taken within a trial, where
 * all contenders met the same machine, and the median over trials is reported.
 */
export async function measure(
  c: BenchCase,
  opts: HarnessOptions = defaultOptions,
): Promise<Figure[]> {
  const clock = c.clock ?? 'cpu';
  const contenders = [c.ours, c.limit, ...(c.peer ? [c.peer] : [])];
  const sizes: number[] = [];
  for (const x of contenders) sizes.push((await calibrate(x, opts.sliceMs, clock)).n);
  const warmupEnd = performance.now() + opts.warmupMs;
  while (performance.now() < warmupEnd) {
    for (let i = 0; i < contenders.length; i++) await timed(contenders[i]!, sizes[i]!, clock);
  }
  // Calibrated again now that the code is optimised, so slices have their intended length.
  let slowestOpMs = 0;
  for (let i = 0; i < contenders.length; i++) {
    const cal = await calibrate(contenders[i]!, opts.sliceMs, clock);
    sizes[i] = cal.n;
    slowestOpMs = Math.max(slowestOpMs, cal.opMs);
  }
  // A contender whose one operation outlasts several slices (spawning a process, say) gains
  // nothing from best-of-reps, which only filters disturbances shorter than a slice, and would
  // stretch the run: such a case gets one slice per trial and at most 11 trials.
  const slow = slowestOpMs > SLOW_OP_SLICES * opts.sliceMs;
  const trials = slow ? Math.min(opts.trials, 11) : opts.trials;
  const reps = slow ? 1 : opts.reps;
  const rates: number[][] = contenders.map(() => []);
  for (let t = 0; t < trials; t++) {
    collect('major');
    const best = contenders.map(() => 0);
    for (let rep = 0; rep < reps; rep++) {
      for (let k = 0; k < contenders.length; k++) {
        const i = (k + t) % contenders.length;
        const ms = await timed(contenders[i]!, sizes[i]!, clock);
        best[i] = Math.max(best[i]!, (sizes[i]! * 1000) / ms);
      }
    }
    best.forEach((r, i) => rates[i]!.push(r));
  }
  const ours = rates[0]!;
  const figure = (j: number, against: 'limit' | 'peer'): Figure => {
    const ratios = ours.map((r, t) => r / rates[j]![t]!);
    return {
      name: c.name,
      description: c.description,
      value: median(ours),
      unit: c.unit,
      ratio: median(ratios),
      against,
      againstLabel: contenders[j]!.label,
      againstValue: median(rates[j]!),
      ratioRange: [Math.min(...ratios), Math.max(...ratios)],
      trials,
      clock,
    };
  };
  const measured = c.peer ? [figure(1, 'limit'), figure(2, 'peer')] : [figure(1, 'limit')];
  if (!c.derive) return measured;
  const byTrial: TrialRates = {
    ours,
    limit: rates[1]!,
    ...(c.peer ? { peer: rates[2]! } : {}),
  };
  return [...measured, ...c.derive(byTrial, { trials, clock })];
}

/** Formats a rate with thousands separators and no false precision. */
export function formatRate(x: number): string {
  return Math.round(x).toLocaleString('en-US');
}

/** The table printed for people. */
export function formatTable(figures: readonly Figure[]): string {
  const rows = figures.map((f) => {
    const p = f.precision;
    const value = (x: number): string => (p === undefined ? formatRate(x) : x.toPrecision(p));
    const ratio = (x: number): string => (p === undefined ? x.toFixed(2) : x.toPrecision(p));
    return [
      f.name,
      `${value(f.value)} ${f.unit}`,
      `${ratio(f.ratio)}x ${f.against}`,
      `${ratio(f.ratioRange[0])}–${ratio(f.ratioRange[1])}`,
      `${f.againstLabel}: ${value(f.againstValue)}`,
    ];
  });
  const head = ['figure', 'ours', 'ratio', 'range', 'against'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((x, i) => x.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
