/**
 * The pool suite's load: `waiters` async callers on the main thread, each looping acquire → hold
 * → release for `durationMs`. Hold `none` releases at once (one caller: the pool's own cost per
 * acquire+release); hold `turn` keeps the resource for one turn of the event loop (setImmediate),
 * as real users hold it across I/O, and lets callers parked on timers or `Atomics.waitAsync` run. Acquire latency is timed per call. No caller starts an acquire after
 * `durationMs`, and every acquire gives up `graceMs` after that (a timeout, counted), so a pool
 * that starves its waiters cannot hold the run hostage; its starved callers show in p99.
 */
import { quantile } from './measure.ts';
import type { PoolDriver } from './pool-drivers.ts';

export interface PoolSample {
  opsPerSec: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
  /** Ops of the caller that got the fewest, over the most any caller got (1 = fair, 0 = starved). */
  fairness: number;
  ops: number;
  timeouts: number;
  wallMs: number;
}

export type Hold = 'none' | 'turn';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export async function poolSample(
  driver: PoolDriver,
  waiters: number,
  hold: Hold,
  durationMs: number,
  graceMs: number,
): Promise<PoolSample> {
  const latencies: number[] = [];
  let ops = 0;
  let timeouts = 0;
  const end = performance.now() + durationMs;
  const perCaller: number[] = new Array(waiters).fill(0);
  const caller = async (index: number) => {
    while (performance.now() < end) {
      const t0 = performance.now();
      let resource: unknown;
      try {
        resource = await driver.acquire(Math.max(1, Math.round(end + graceMs - t0)));
      } catch {
        timeouts++;
        latencies.push(performance.now() - t0);
        continue;
      }
      latencies.push(performance.now() - t0);
      if (hold === 'turn') await turn();
      driver.release(resource);
      ops++;
      perCaller[index] = (perCaller[index] ?? 0) + 1;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: waiters }, (_, i) => caller(i)));
  const elapsedMs = performance.now() - t0;
  return {
    opsPerSec: (ops / elapsedMs) * 1000,
    p50Us: quantile(latencies, 0.5) * 1000,
    p99Us: quantile(latencies, 0.99) * 1000,
    maxUs: latencies.reduce((m, x) => Math.max(m, x), 0) * 1000,
    fairness: Math.min(...perCaller) / Math.max(1, ...perCaller),
    ops,
    timeouts,
    wallMs: elapsedMs,
  };
}
