/**
 * The q-quantile (0..1) of ascending `sorted` values by nearest rank: an observed value, never an
 * interpolation, so a p99 of lease holds is a hold that happened. 0 for no values, so stats
 * objects stay plain numbers before the first sample.
 */
export function nearestRank(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}
