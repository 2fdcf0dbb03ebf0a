/**
 * Suite "pool": acquire/release throughput and acquire latency of atomvisor's leases next to
 * generic-pool and tarn, over the same number of resources (in-memory tokens, so this measures
 * the pool itself) and the same callers on the main thread. See bench/scenarios/pool-drivers.ts
 * for the designs and bench/scenarios/pool-load.ts for the load. Each (design, callers) is its
 * own case, so each runs in a fresh process.
 */
import { type MeasurementBase, measured, notRun } from '../scenarios/measure.ts';
import { makeDriver, POOL_DESIGNS, type PoolDesign } from '../scenarios/pool-drivers.ts';
import { type Hold, type PoolSample, poolSample } from '../scenarios/pool-load.ts';
import {
  type CaseDef,
  findMeasurement,
  type Measurement,
  type Profile,
  type SuiteDef,
  type TargetResult,
  targetNotRun,
} from '../suite.ts';

const SUITE = 'pool';
const RESOURCES = 4;
const LOADS: readonly { waiters: number; hold: Hold }[] = [
  { waiters: 1, hold: 'none' },
  { waiters: 16, hold: 'turn' },
  { waiters: 64, hold: 'turn' },
];
const GRACE_MS = 300;

function workload(waiters: number, hold: Hold): string {
  return waiters === 1 && hold === 'none'
    ? `${RESOURCES} resources, 1 caller, released at once`
    : `${RESOURCES} resources, ${waiters} callers, held one loop turn`;
}

const METRICS = [
  ['acquire+release throughput', 'ops/s', 'higher'],
  ['acquire p50', 'µs', 'lower'],
  ['acquire p99', 'µs', 'lower'],
  ['acquire max', 'µs', 'lower'],
  ['fairness (fewest / most ops of a caller)', 'ratio', 'higher'],
] as const;

function caseFor(design: PoolDesign, waiters: number, hold: Hold, profile: Profile): CaseDef {
  const full = profile.name === 'full';
  const scale = profile.scale ?? 1;
  const samples = Math.max(1, Math.round((full ? 10 : 5) * scale));
  const durationMs = Math.max(20, Math.round((full ? 500 : 150) * scale));
  // A design that starves its waiters makes samples slow; stop sampling past this budget.
  const budgetMs = full ? 30_000 : 5_000;
  const id = `${design.replace(':', '-')}-w${waiters}`;
  return {
    id,
    title: `pool: ${design}, ${workload(waiters, hold)}`,
    estimateMs: (design === 'atomvisor:coordinator' ? 1_500 : 600) + (samples + 1) * durationMs,
    async run() {
      const base: MeasurementBase = {
        suite: SUITE,
        case: id,
        design,
        threads: 1,
        workload: workload(waiters, hold),
      };
      const driver = await makeDriver(design, RESOURCES);
      if ('missing' in driver)
        return METRICS.map(([m, u, b]) => notRun(base, m, u, b, driver.missing));
      const got: PoolSample[] = [];
      const started = performance.now();
      try {
        await poolSample(driver, waiters, hold, Math.max(20, durationMs / 2), GRACE_MS); // warm-up
        for (let i = 0; i < samples && performance.now() - started < budgetMs; i++) {
          got.push(await poolSample(driver, waiters, hold, durationMs, GRACE_MS));
        }
      } finally {
        await driver.close();
      }
      const timeouts = got.reduce((s, x) => s + x.timeouts, 0);
      const extra = {
        timeouts,
        ops: got.reduce((s, x) => s + x.ops, 0),
        samplesPlanned: samples,
        ...(got.length < samples
          ? { note: `stopped after ${got.length} samples (over the ${budgetMs} ms budget)` }
          : {}),
      };
      const values: ((x: PoolSample) => number)[] = [
        (x) => x.opsPerSec,
        (x) => x.p50Us,
        (x) => x.p99Us,
        (x) => x.maxUs,
        (x) => x.fairness,
      ];
      return METRICS.map(([metric, unit, better], i) =>
        measured(base, metric, unit, better, got.map(values[i]!), i === 0 ? extra : undefined),
      );
    },
  };
}

function ratioTarget(
  all: readonly Measurement[],
  peer: 'generic-pool' | 'tarn',
  waiters: number,
  hold: Hold,
): TargetResult {
  const w = workload(waiters, hold);
  const ours = findMeasurement(all, {
    suite: SUITE,
    design: 'atomvisor',
    workload: w,
    metric: METRICS[0][0],
  });
  const theirs = findMeasurement(all, {
    suite: SUITE,
    design: peer,
    workload: w,
    metric: METRICS[0][0],
  });
  const description = `pool: lease acquire/release ≥ 5× ${peer} (${w})`;
  const id = `pool-${peer}-w${waiters}`;
  if (!ours || !theirs || !Number.isFinite(ours.median) || !Number.isFinite(theirs.median)) {
    const status = theirs?.extra?.status;
    return targetNotRun(id, description, typeof status === 'string' ? status : undefined);
  }
  const value = ours.median / theirs.median;
  const met = value >= 5;
  let note: string | undefined;
  if (!met) {
    if (waiters === 1)
      note = `one caller: both sides cost well under a microsecond per acquire+release (${(1e9 / ours.median).toFixed(0)} ns vs ${(1e9 / theirs.median).toFixed(0)} ns); the async call and promise each pool returns are a floor both share.`;
    else
      note = `more callers than resources, each holding its resource for one event-loop turn: every pool here (atomvisor's FIFO hand-off queue as much as ${peer}'s) is paced by event-loop turns, not by its own bookkeeping, so the ratio sits near 1× (compare fairness and acquire max: ≈ 1 and a few ms on both sides).`;
  }
  return {
    id,
    description,
    value,
    shown: `${value.toFixed(2)}×`,
    met,
    ...(note === undefined ? {} : { note }),
  };
}

export const suite: SuiteDef = {
  name: SUITE,
  description: `acquire/release throughput and latency: atomvisor leases vs generic-pool and tarn (${RESOURCES} in-memory resources)`,
  cases(profile) {
    return LOADS.flatMap(({ waiters, hold }) =>
      POOL_DESIGNS.map((design) => caseFor(design, waiters, hold, profile)),
    );
  },
  targets(all) {
    return LOADS.flatMap(({ waiters, hold }) => [
      ratioTarget(all, 'generic-pool', waiters, hold),
      ratioTarget(all, 'tarn', waiters, hold),
    ]);
  },
};
