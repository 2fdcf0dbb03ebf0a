/**
 * The main-thread side of the race harness: `RaceRunner` runs one test in one mode for a time
 * budget on a pool of reusable actor threads (actor-pool.ts) and returns a `TestReport`, the
 * outcome histogram. The batches themselves — planning, running under the watchdog, counting —
 * are a TestRun's (test-run.ts); judging a finished trial is judge.ts's.
 *
 * `run()` never throws for anything a test does: a bad test, a setup() that throws, an actor
 * that ends its thread make a report with status 'error'; a hang is a 'timeout' outcome. Nothing
 * the actors do can hang the run.
 */
import { InvalidArgumentError } from '../errors.ts';
import { ActorPool } from './actor-pool.ts';
import { MAX_EXPLORE_ACTORS } from './control.ts';
import type { RaceMode, RaceTest } from './define.ts';
import { describeError } from './errors.ts';
import { emptyTestReport, type TestReport, type TestRunOptions } from './test-report.ts';
import { TestRun } from './test-run.ts';
import type { StrategyName } from './trace.ts';

export class RaceRunner {
  readonly #pool = new ActorPool();

  async close(): Promise<void> {
    await this.#pool.terminateAll();
  }

  /** Run `test` (loaded from `file`) in one mode for the budget. Never throws for test faults. */
  async run(file: string, test: RaceTest, options: TestRunOptions): Promise<TestReport> {
    const mode = options.mode;
    const strategy: StrategyName | undefined =
      mode === 'explore' ? (options.replay ? 'replay' : (options.strategy ?? 'pct')) : undefined;
    const report: TestReport = emptyTestReport({
      test: test.name,
      file,
      mode,
      ...(strategy ? { strategy } : {}),
      ...(test.variant ? { variant: test.variant } : {}),
      ...(test.planted ? { planted: test.planted } : {}),
      status: 'passed',
      seed: options.seed >>> 0,
    });
    try {
      checkRunnable(test, mode);
      await new TestRun(this.#pool, file, test, options, strategy, report).run();
    } catch (error) {
      report.status = 'error';
      report.error = describeError(error);
    }
    if (report.status !== 'error') report.status = report.forbidden > 0 ? 'failed' : 'passed';
    const seconds = report.durationMs / 1000;
    report.stepsPerSecond = seconds > 0 ? Math.round(report.steps / seconds) : 0;
    report.trialsPerSecond = seconds > 0 ? Math.round(report.trials / seconds) : 0;
    return report;
  }
}

/** Refuse a mode the test does not run in, and more actors than explore mode can schedule. */
function checkRunnable(test: RaceTest, mode: RaceMode): void {
  const n = test.actors.length;
  if (!test.modes.includes(mode)) {
    throw new InvalidArgumentError(
      'mode',
      `test ${JSON.stringify(test.name)} runs only in ${test.modes.join(', ')} mode`,
    );
  }
  if (mode === 'explore' && n > MAX_EXPLORE_ACTORS) {
    throw new InvalidArgumentError(
      `test ${JSON.stringify(test.name)}: actors`,
      `explore mode schedules at most ${MAX_EXPLORE_ACTORS} actors (this test has ${n})`,
    );
  }
}
