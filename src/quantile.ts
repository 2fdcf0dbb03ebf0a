/**
 * Quantiles of observed values: `nearestRank` over sorted values, and `SampleWindow`, the last N
 * samples of something (lease hold times, probe latencies) summarised as count, p50, p99 and max.
 * Used by the coordinator's stats (src/coordinator/stats.ts) and the probe scheduler.
 */
import { InvalidArgumentError } from './errors.ts';

/**
 * The q-quantile (0..1) of ascending `sorted` values by nearest rank: an observed value, never an
 * interpolation, so a p99 of lease holds is a hold that happened. 0 for no values, so stats
 * objects stay plain numbers before the first sample.
 */
export function nearestRank(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

export interface WindowSummary {
  /** Samples in the window (at most its size). */
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** The last `size` samples (a ring: adding is O(1)); `summary()` sorts a copy when asked. */
export class SampleWindow {
  readonly size: number;
  readonly #samples: number[] = [];
  /** Where the next sample goes once the window is full (the oldest one). */
  #next = 0;

  constructor(size = 1024) {
    if (!Number.isInteger(size) || size < 1)
      throw new InvalidArgumentError('size', `expected an integer ≥ 1, got ${size}`);
    this.size = size;
  }

  add(value: number): void {
    if (this.#samples.length < this.size) {
      this.#samples.push(value);
      return;
    }
    this.#samples[this.#next] = value;
    this.#next = (this.#next + 1) % this.size;
  }

  /** Count, p50 and p99 (nearest rank) and max of the window; all 0 when it is empty. */
  summary(): WindowSummary {
    const sorted = [...this.#samples].sort((a, b) => a - b);
    return {
      count: sorted.length,
      p50: nearestRank(sorted, 0.5),
      p99: nearestRank(sorted, 0.99),
      max: sorted.at(-1) ?? 0,
    };
  }
}
