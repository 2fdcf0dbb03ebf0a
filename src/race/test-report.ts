/**
 * What running one test in one mode takes and gives: `TestRunOptions` in, `TestReport` out (the
 * outcome histogram, with a sample of each outcome). Types only, and the empty report; RaceRunner
 * (runner.ts) fills one in.
 */
import type { Expect, FaultOptions, RaceMode } from './define.ts';
import type { ErrorInfo } from './errors.ts';
import type { StrategyName, TraceFaults } from './trace.ts';

export type ExploreStrategy = 'random' | 'pct' | 'dfs';

export interface OutcomeSample {
  trial: number;
  seed: number;
  /** Explore mode: the replay trace of the trial. */
  trace?: string;
  /** Why: a deadlock's blocked actors, an error's message, a minimal non-linearizable history... */
  detail?: string;
}

export interface OutcomeRow {
  id: string;
  count: number;
  expect: Expect;
  desc?: string;
  /** False when no `outcomes` entry matched and the default grade applied. */
  listed: boolean;
  /** The first trial that produced this outcome. */
  sample: OutcomeSample;
}

export interface TestReport {
  test: string;
  file: string;
  mode: RaceMode;
  strategy?: StrategyName;
  variant?: string;
  planted?: string;
  status: 'passed' | 'failed' | 'error';
  seed: number;
  trials: number;
  durationMs: number;
  /** Explore: scheduling points (Atomics calls that went through the scheduler). */
  steps: number;
  /** Explore: repeated spin reads let through without a scheduling point. */
  fastForwarded: number;
  /** Explore: scheduling points where the strategy had a real choice. */
  decisions: number;
  stepsPerSecond: number;
  trialsPerSecond: number;
  outcomes: OutcomeRow[];
  forbidden: number;
  interesting: number;
  firstForbidden?: {
    id: string;
    trial: number;
    afterMs: number;
    trace?: string;
    replay?: string;
  };
  /** DFS only: every schedule within the preemption bound was explored. */
  exhausted?: boolean;
  /** Faults injected (trials with a kill / a delay). */
  faults?: { kills: number; delays: number };
  error?: ErrorInfo;
}

/** A report with nothing counted yet: the identity fields, zero counters, no outcomes. */
export function emptyTestReport(
  fields: Pick<TestReport, 'test' | 'file' | 'mode' | 'status' | 'seed'> &
    Partial<Pick<TestReport, 'strategy' | 'variant' | 'planted' | 'error'>>,
): TestReport {
  return {
    ...fields,
    trials: 0,
    durationMs: 0,
    steps: 0,
    fastForwarded: 0,
    decisions: 0,
    stepsPerSecond: 0,
    trialsPerSecond: 0,
    outcomes: [],
    forbidden: 0,
    interesting: 0,
  };
}

export interface TestRunOptions {
  mode: RaceMode;
  strategy?: ExploreStrategy;
  seed: number;
  /** Budget for this test in this mode. */
  timeMs: number;
  maxTrials?: number;
  failFast?: boolean;
  /** Faults to inject on top of the test's own (max of the two, per fault). */
  faults?: FaultOptions;
  /** Stress mode: random short spins before Atomics calls (batches cycle none / light / heavy). Default true. */
  perturb?: boolean;
  /** Replay: force these choices with this trial seed, `repeat` times. */
  replay?: {
    /** The strategy that found the trace (kept in re-printed traces). */
    strategy: StrategyName;
    seed: number;
    choices: Uint8Array;
    maxSteps: number;
    spuriousPpm: number;
    faults: TraceFaults;
    repeat: number;
  };
  /** How to name the file in printed replay commands ('' for built-in suites). */
  fileArg?: string;
}
