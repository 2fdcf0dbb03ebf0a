/**
 * Latency sampling and Measurement building shared by the pool, scenarios and scale suites.
 *
 * Latency under a stall is sampled **open loop**: a new operation starts every `everyMs` whether
 * or not the previous ones finished, so everyone queued behind a 1 s freeze is counted, not just
 * the one caller a closed loop would have had waiting (coordinated omission). Each latency runs
 * from the moment the operation was called. Node timers are only millisecond-accurate, so a
 * start that is late by a timer tick is not blamed on the operation; a stall of the event loop
 * itself is measured separately (event-loop delay, or the coordinator's own section timings).
 */
import { quantileSorted, summarise } from '../stats.ts';
import type { Measurement } from '../suite.ts';

/** The q-quantile (0..1) of `values` (nearest rank); NaN when empty. */
export function quantile(values: readonly number[], q: number): number {
  return quantileSorted(
    [...values].sort((a, b) => a - b),
    q,
  );
}

export const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Start `op` every `everyMs` until `stop` settles (at least one start), then wait for all started
 * operations; returns each one's latency in ms from its call. Errors count as samples
 * (the caller waited that long) and are tallied in `errors`.
 */
export async function openLoop(
  op: () => Promise<unknown>,
  everyMs: number,
  stop: Promise<unknown>,
): Promise<{ latenciesMs: number[]; errors: number }> {
  const latenciesMs: number[] = [];
  const running: Promise<void>[] = [];
  let errors = 0;
  let stopped = false;
  void stop.then(
    () => {
      stopped = true;
    },
    () => {
      stopped = true;
    },
  );
  const start = performance.now();
  for (let i = 0; ; i++) {
    const called = performance.now();
    running.push(
      op().then(
        () => {
          latenciesMs.push(performance.now() - called);
        },
        () => {
          errors++;
          latenciesMs.push(performance.now() - called);
        },
      ),
    );
    const next = start + (i + 1) * everyMs;
    const wait = next - performance.now();
    await (wait > 0 ? sleep(wait) : yieldToLoop());
    if (stopped) break;
  }
  await Promise.all(running);
  return { latenciesMs, errors };
}

/** Run `op` closed loop `count` times (idle baseline); latencies in ms. */
export async function closedLoop(op: () => Promise<unknown>, count: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await op();
    out.push(performance.now() - t0);
    await yieldToLoop();
  }
  return out;
}

export type MeasurementBase = Pick<
  Measurement,
  'suite' | 'case' | 'design' | 'threads' | 'workload'
>;

/** Summarise per-sample values into one Measurement. */
export function measured(
  base: MeasurementBase,
  metric: string,
  unit: string,
  better: 'lower' | 'higher',
  values: readonly number[],
  extra?: Measurement['extra'],
): Measurement {
  const s = summarise(values.filter((v) => Number.isFinite(v)));
  return {
    ...base,
    metric,
    unit,
    better,
    median: s.median,
    ciLow: s.ciLow,
    ciHigh: s.ciHigh,
    samples: s.samples,
    ...(extra === undefined ? {} : { extra }),
  };
}

/** A Measurement for a peer that could not run (e.g. a devDependency not installed). */
export function notRun(
  base: MeasurementBase,
  metric: string,
  unit: string,
  better: 'lower' | 'higher',
  reason: string,
): Measurement {
  return {
    ...base,
    metric,
    unit,
    better,
    median: Number.NaN,
    ciLow: Number.NaN,
    ciHigh: Number.NaN,
    samples: 0,
    extra: { status: reason },
  };
}
