/** The bench harness's shape and the OTP bench's agreement check (no timing is asserted). */
import { describe, expect, it } from 'vitest';
import { benchmarks, formatTable, measure, median } from '../../scripts/bench/index.js';
import type { BenchCase } from '../../scripts/bench/index.js';

describe('bench harness', () => {
  it('median', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow(RangeError);
  });

  it('a case with a peer gives two figures, each with name, value, unit, ratio and against', async () => {
    let sum = 0;
    const work = (k: number) => (n: number) => {
      for (let i = 0; i < n * k; i++) sum += i;
      return sum;
    };
    const c: BenchCase = {
      name: 'test.sum',
      description: 'sums',
      unit: 'sums/s',
      ours: { label: 'ours', run: work(1) },
      limit: { label: 'limit', run: work(1) },
      peer: { label: 'peer', run: async (n) => work(2)(n) },
    };
    const figures = await measure(c, { trials: 3, reps: 1, sliceMs: 1, warmupMs: 1 });
    expect(figures.map((f) => f.against)).toEqual(['limit', 'peer']);
    for (const f of figures) {
      expect(f).toMatchObject({ name: 'test.sum', unit: 'sums/s', trials: 3, clock: 'cpu' });
      for (const x of [f.value, f.ratio, f.againstValue, ...f.ratioRange]) {
        expect(Number.isFinite(x) && x > 0).toBe(true);
      }
      expect(f.ratioRange[0]).toBeLessThanOrEqual(f.ratio);
      expect(f.ratio).toBeLessThanOrEqual(f.ratioRange[1]);
    }
    expect(JSON.parse(JSON.stringify(figures))).toEqual(figures);
    const table = formatTable(figures);
    expect(table.split('\n')).toHaveLength(4);
    expect(table).toContain('x limit');
    expect(table).toContain('x peer');
  });

  it('the OTP figures measure verifiers that agree: ours, the raw limit and otplib', async () => {
    const otp = benchmarks.find((b) => b.group === 'otp')!;
    const cases = await otp.cases();
    expect(cases.map((c) => c.name)).toContain('otp.totp.verify.sha1.w1');
    for (const c of cases) await c.check?.();
    expect(cases.some((c) => c.check !== undefined)).toBe(true);
  });
});
