/**
 * Running race test files (or the built-in suites) and replaying traces: the library entry points
 * behind `atomvisor race`.
 */
import { randomInt } from 'node:crypto';
import { cpus } from 'node:os';
import { InvalidArgumentError } from '../errors.ts';
import type { FaultOptions, RaceMode, RaceTest } from './define.ts';
import { describeError, RaceTestNotFoundError } from './errors.ts';
import { fileUrlOf, loadTests } from './load.ts';
import { RaceRunner } from './runner.ts';
import { builtinSuiteFiles } from './suites/index.ts';
import { type ExploreStrategy, emptyTestReport, type TestReport } from './test-report.ts';
import { decodeTrace } from './trace.ts';

export interface RaceOptions {
  /** Test files (paths or file URLs). Default: the built-in suites. */
  files?: readonly string[];
  /** Default 'both' (explore, then stress). */
  mode?: RaceMode | 'both';
  /** Explore strategy. Default 'pct'. */
  strategy?: ExploreStrategy;
  /** Run seed; every trial's seed derives from it. Default: random (printed in the report). */
  seed?: number;
  /** Budget per test per mode, in seconds. Default 2. */
  timeSeconds?: number;
  maxTrials?: number;
  /** Stop a test at its first forbidden outcome. */
  failFast?: boolean;
  /** Only tests whose name matches (a RegExp, or a substring). */
  filter?: string | RegExp;
  /** Planted-bug tests: left out by default for the built-in suites, included for user files. */
  planted?: 'exclude' | 'include' | 'only';
  /** Inject faults into every test (on top of what each test declares). */
  faults?: FaultOptions;
  /** Stress mode perturbation (default true). */
  perturb?: boolean;
  /** Called before and after each test run. */
  onTestStart?: (test: string, mode: RaceMode) => void;
  onTestDone?: (report: TestReport) => void;
}

export interface RaceReport {
  /** No forbidden outcome and no error. */
  ok: boolean;
  seed: number;
  node: string;
  cores: number;
  startedAt: string;
  durationMs: number;
  tests: TestReport[];
}

function nameFilter(filter: string | RegExp | undefined): (name: string) => boolean {
  if (filter === undefined) return () => true;
  if (filter instanceof RegExp) return (name) => filter.test(name);
  return (name) => name.includes(filter);
}

function fileArgOf(file: string, builtin: boolean): string {
  return builtin ? '' : file;
}

/** Run every test of the files in the given mode(s). Resolves with the report; never hangs. */
export async function runRace(options: RaceOptions = {}): Promise<RaceReport> {
  const builtin = options.files === undefined || options.files.length === 0;
  const files = builtin ? builtinSuiteFiles() : options.files!.map((f) => f);
  const planted = options.planted ?? (builtin ? 'exclude' : 'include');
  const seed = options.seed ?? randomInt(0, 2 ** 31);
  const modes: RaceMode[] =
    options.mode === undefined || options.mode === 'both' ? ['explore', 'stress'] : [options.mode];
  const timeMs = Math.max(1, Math.round((options.timeSeconds ?? 2) * 1000));
  const accept = nameFilter(options.filter);
  const started = performance.now();
  const report: RaceReport = {
    ok: true,
    seed,
    node: process.version,
    cores: cpus().length,
    startedAt: new Date().toISOString(),
    durationMs: 0,
    tests: [],
  };
  const runner = new RaceRunner();
  try {
    for (const file of files) {
      const url = fileUrlOf(file);
      let tests: RaceTest[];
      try {
        tests = await loadTests(url);
      } catch (error) {
        report.tests.push(
          emptyTestReport({
            test: '(file)',
            file: url,
            mode: modes[0]!,
            status: 'error',
            seed,
            error: describeError(error),
          }),
        );
        options.onTestDone?.(report.tests.at(-1)!);
        continue;
      }
      for (const test of tests) {
        if (!accept(test.name)) continue;
        const isPlanted = test.planted !== undefined;
        if ((planted === 'exclude' && isPlanted) || (planted === 'only' && !isPlanted)) continue;
        for (const mode of modes) {
          if (!test.modes.includes(mode)) continue;
          options.onTestStart?.(test.name, mode);
          const r = await runner.run(url, test, {
            mode,
            seed,
            timeMs,
            ...(options.strategy ? { strategy: options.strategy } : {}),
            ...(options.maxTrials !== undefined ? { maxTrials: options.maxTrials } : {}),
            ...(options.failFast ? { failFast: true } : {}),
            ...(options.faults ? { faults: options.faults } : {}),
            ...(options.perturb !== undefined ? { perturb: options.perturb } : {}),
            fileArg: fileArgOf(file, builtin),
          });
          report.tests.push(r);
          options.onTestDone?.(r);
        }
      }
    }
  } finally {
    await runner.close();
  }
  report.durationMs = Math.round(performance.now() - started);
  report.ok = report.tests.every((t) => t.status === 'passed');
  return report;
}

export interface ReplayReport {
  trace: string;
  test: string;
  file: string;
  repeat: number;
  /** The outcome id of each repetition. */
  outcomes: string[];
  /** Every repetition gave the same outcome. */
  consistent: boolean;
  report: TestReport;
}

/** Find a test by name in `files`, or in the built-in suites when no files are given. */
export async function findTest(
  name: string,
  files: readonly string[] | undefined,
): Promise<{ file: string; test: RaceTest; builtin: boolean }> {
  const builtin = files === undefined || files.length === 0;
  const where = builtin ? builtinSuiteFiles() : files.map(fileUrlOf);
  for (const file of where) {
    const test = (await loadTests(file)).find((t) => t.name === name);
    if (test) return { file, test, builtin };
  }
  throw new RaceTestNotFoundError(
    name,
    builtin ? 'the built-in suites (give the test file too)' : where.join(', '),
  );
}

/** Replay a trace printed by a failing explore run, `repeat` times. */
export async function replayTrace(
  trace: string,
  options: { files?: readonly string[]; repeat?: number } = {},
): Promise<ReplayReport> {
  const decoded = decodeTrace(trace);
  const repeat = options.repeat ?? 1;
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > 100_000) {
    throw new InvalidArgumentError('repeat', `expected an integer in [1, 100000], got ${repeat}`);
  }
  const { file, test, builtin } = await findTest(decoded.test, options.files);
  const runner = new RaceRunner();
  try {
    const outcomes: string[] = [];
    let last: TestReport | undefined;
    // One trial per run, so each repetition's outcome is known on its own.
    for (let r = 0; r < repeat; r++) {
      last = await runner.run(file, test, {
        mode: 'explore',
        seed: decoded.seed,
        timeMs: 3_600_000,
        fileArg: builtin ? '' : (options.files?.[0] ?? ''),
        replay: {
          strategy: decoded.strategy,
          seed: decoded.seed,
          choices: decoded.choices,
          maxSteps: decoded.maxSteps,
          spuriousPpm: decoded.spuriousPpm,
          faults: decoded.faults,
          repeat: 1,
        },
      });
      if (last.status === 'error') break;
      outcomes.push(last.outcomes[0]?.id ?? '(none)');
    }
    return {
      trace,
      test: test.name,
      file,
      repeat,
      outcomes,
      consistent: outcomes.length === repeat && outcomes.every((o) => o === outcomes[0]),
      report: last!,
    };
  } finally {
    await runner.close();
  }
}
