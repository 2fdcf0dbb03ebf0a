/**
 * The machine a benchmark ran on, recorded once per run so the numbers can be read in context:
 * Node/V8, CPU, cores, OS, timer resolution, load before and after, and saturation warnings.
 */
import { availableParallelism, cpus, loadavg, platform, release, totalmem } from 'node:os';
import { hasAtomicsPause } from '../src/shm/runtime.ts';

export interface Environment {
  node: string;
  v8: string;
  cpu: string;
  cores: number;
  os: string;
  memoryGiB: number;
  date: string;
  atomicsPause: boolean;
  /** Smallest non-zero step performance.now() was seen to take, in ns. */
  timerResolutionNs: number;
  /** What one performance.now() call costs, in ns. */
  timerCallNs: number;
  /** 1-minute load average when the run started and when it ended (NaN on Windows). */
  loadBefore: number;
  loadAfter: number;
  /** Things that make the numbers less trustworthy: busy machine, coarse timer, oversubscription. */
  warnings: string[];
}

/** Measure performance.now(): the smallest step it takes and what a call costs. */
export function measureTimer(): { resolutionNs: number; callNs: number } {
  let smallest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 200; i++) {
    const a = performance.now();
    let b = performance.now();
    while (b === a) b = performance.now();
    smallest = Math.min(smallest, b - a);
  }
  const calls = 200_000;
  const t0 = performance.now();
  let sink = 0;
  for (let i = 0; i < calls; i++) sink += performance.now();
  const callNs = ((performance.now() - t0) * 1e6) / calls;
  if (sink === 42) console.log(''); // keep the loop observable
  return { resolutionNs: smallest * 1e6, callNs };
}

export function collectEnvironment(): Environment {
  const timer = measureTimer();
  const cores = availableParallelism();
  const env: Environment = {
    node: process.version,
    v8: process.versions.v8,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores,
    os: `${platform()} ${release()}`,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    date: new Date().toISOString(),
    atomicsPause: hasAtomicsPause,
    timerResolutionNs: timer.resolutionNs,
    timerCallNs: timer.callNs,
    loadBefore: loadavg()[0] ?? Number.NaN,
    loadAfter: Number.NaN,
    warnings: [],
  };
  if (env.loadBefore > cores * 0.5) {
    env.warnings.push(
      `load average ${env.loadBefore.toFixed(2)} on ${cores} cores before the run: other work was competing for the CPU`,
    );
  }
  if (timer.resolutionNs > 1_000) {
    env.warnings.push(
      `performance.now() resolution is coarse (${timer.resolutionNs.toFixed(0)} ns): sampled latencies below ~${(timer.resolutionNs / 1e3).toFixed(0)} µs are quantised`,
    );
  }
  return env;
}

/** Close the record at the end of the run: load after, and a warning if it was busy. */
export function finishEnvironment(env: Environment): void {
  env.loadAfter = loadavg()[0] ?? Number.NaN;
  if (env.loadAfter > env.cores) {
    env.warnings.push(
      `load average ${env.loadAfter.toFixed(2)} on ${env.cores} cores after the run (the benchmark itself adds up to ~${env.cores}): the machine was oversubscribed`,
    );
  }
}
