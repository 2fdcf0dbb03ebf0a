/**
 * The contract between the benchmark runner and its suites.
 *
 * A suite (bench/suites/<name>.ts) exports `suite: SuiteDef`. The runner asks it for its cases for
 * a profile, runs every case in a fresh Node process (`bench/child.ts <suite> <case-id>`), collects
 * the measurements the case returns, and hands all of them to every suite's `targets` to judge the
 * ratios the report must show. A case never prints; it returns numbers as measured.
 */

export type ProfileName = 'quick' | 'full';

export interface Profile {
  name: ProfileName;
  /** Thread counts for multi-thread cases (--threads overrides; default 1,2,4 quick, 1,2,4,8 full). */
  threads: readonly number[];
  /**
   * Duration multiplier for a case's windows and sample counts: 1 normally. Tests shrink it
   * (hidden `--scale` flag) to check the plumbing in seconds; suites may ignore it.
   */
  scale?: number;
}

/** One measured figure: many samples of one configuration, summarised. */
export interface Measurement {
  suite: string;
  /** The case id it came from (stable, kebab-case). */
  case: string;
  /** What was measured, e.g. "ops/s total", "acquire p99", "round trip". */
  metric: string;
  /** The design or peer: 'mutex', 'atomic', 'channel:postMessage', 'generic-pool', 'naive', 'atomvisor'… */
  design: string;
  threads: number;
  /** Workload label ('read-heavy 95/5', 'ping-pong', …) or '' when there is none. */
  workload: string;
  /** 'ns/op', 'ops/s', 'ms', 'µs', 'msgs/s', 'bytes', 'count'… */
  unit: string;
  /** Which direction is better, for the report's colouring and ratios. */
  better: 'lower' | 'higher';
  median: number;
  /** 95% confidence interval of the median (bench/stats.ts summarise). */
  ciLow: number;
  ciHigh: number;
  /** Number of samples behind the median. */
  samples: number;
  /** Free-form extras (per-thread figures, fairness spread, saturation warnings…). */
  extra?: Record<string, number | string | boolean>;
}

export interface CaseDef {
  /** Stable id, unique within the suite; the child process finds the case by it. */
  id: string;
  /** One line for the progress display. */
  title: string;
  /** A rough wall-time estimate for the ETA, in ms. */
  estimateMs: number;
  /** Runs in a fresh process; returns what it measured. */
  run(profile: Profile): Promise<Measurement[]>;
}

/** A ratio or bound the issue asks the report to show, judged on the run's own measurements. */
export interface TargetResult {
  id: string;
  /** e.g. "atomic vs mutex, read-heavy, 2 threads: ≥ 3× throughput". */
  description: string;
  /** The measured value (a ratio or a bound), or NaN when its cases did not run. */
  value: number;
  /** How the value reads: "3.4×", "0.8 ms"… */
  shown: string;
  met: boolean | 'not run';
  /** Why, when missed or when it needs a word. */
  note?: string;
}

export interface SuiteDef {
  name: string;
  /** One line for --help and the report. */
  description: string;
  cases(profile: Profile): CaseDef[];
  /** Judge this suite's targets over all measurements of the run (other suites' included). */
  targets?(measurements: readonly Measurement[]): TargetResult[];
}

/** A target whose cases did not run (or ran without a usable figure). */
export function targetNotRun(id: string, description: string, note?: string): TargetResult {
  return {
    id,
    description,
    value: Number.NaN,
    shown: 'n/a',
    met: 'not run',
    ...(note === undefined ? {} : { note }),
  };
}

/** Find one measurement by its identifying fields (helper for targets). */
export function findMeasurement(
  measurements: readonly Measurement[],
  where: Partial<
    Pick<Measurement, 'suite' | 'case' | 'metric' | 'design' | 'threads' | 'workload'>
  >,
): Measurement | undefined {
  return measurements.find((m) =>
    Object.entries(where).every(([k, v]) => m[k as keyof Measurement] === v),
  );
}
