import { describe, expect, it } from 'vitest';
import { nearestRank } from '../src/quantile.ts';

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
