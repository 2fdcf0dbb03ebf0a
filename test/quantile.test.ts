import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../src/errors.ts';
import { nearestRank, SampleWindow } from '../src/quantile.ts';

describe('nearestRank', () => {
  it('returns an observed value at the nearest rank, 0 when there is none', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
    expect(nearestRank(values, 0)).toBe(1);
    expect(nearestRank(values, 0.5)).toBe(51);
    expect(nearestRank(values, 0.99)).toBe(100);
    expect(nearestRank(values, 1)).toBe(100);
    expect(nearestRank([7], 0.99)).toBe(7);
    expect(nearestRank([], 0.5)).toBe(0);
  });
});

describe('SampleWindow', () => {
  it('summarises the last N samples only, all 0 when empty', () => {
    const w = new SampleWindow(4);
    expect(w.summary()).toEqual({ count: 0, p50: 0, p99: 0, max: 0 });
    for (const v of [100, 1, 2, 3]) w.add(v);
    expect(w.summary()).toEqual({ count: 4, p50: 3, p99: 100, max: 100 });
    w.add(4); // 100, the oldest, leaves
    expect(w.summary()).toEqual({ count: 4, p50: 3, p99: 4, max: 4 });
    for (const v of [9, 8, 7, 6]) w.add(v);
    expect(w.summary()).toEqual({ count: 4, p50: 8, p99: 9, max: 9 });
  });

  it('keeps 1 024 samples by default', () => {
    const w = new SampleWindow();
    for (let i = 1; i <= 3000; i++) w.add(i);
    expect(w.summary()).toEqual({ count: 1024, p50: 2489, p99: 2990, max: 3000 });
  });

  it('refuses a size that is not a whole number of samples', () => {
    expect(() => new SampleWindow(0)).toThrow(InvalidArgumentError);
    expect(() => new SampleWindow(1.5)).toThrow(InvalidArgumentError);
  });
});
