/**
 * `atomvisor race`: run race test files (default: the built-in suites), replay a trace, or run the
 * self-check. Exit code 0 only if no forbidden outcome was seen (and nothing failed to run);
 * 1 otherwise; 2 for bad usage.
 */
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { AtomvisorError, InvalidArgumentError } from '../errors.ts';
import type { FaultOptions, RaceMode } from './define.ts';
import { details, fmt, formatReport, modeLabel, seconds } from './report.ts';
import { replayTrace, runRace } from './run.ts';
import { formatSelfCheck, selfCheck } from './self-check.ts';
import type { ExploreStrategy } from './test-report.ts';

export const RACE_USAGE = `usage: atomvisor race [FILES...] [options]

Runs the race tests that FILES default-export (default: atomvisor's built-in suites).

options:
  --mode stress|explore|both   real threads, controlled schedules, or both (default both)
  --strategy random|pct|dfs    explore strategy (default pct)
  --seed N                     run seed (default random; printed, so a run can be repeated)
  --time SECONDS               budget per test per mode (default 2)
  --trials N                   at most N trials per test per mode
  --filter TEXT                only tests whose name contains TEXT
  --faults LIST                inject faults: kill,delay,spurious (or kill=0.1,spurious=0.05)
  --fail-fast                  stop a test at its first forbidden outcome
  --planted                    also run the built-in planted-bug tests
  --no-perturb                 stress mode without random spins
  --json FILE                  write the full report as JSON
  --replay TRACE               re-run one explore trial exactly (TRACE as printed by a failure)
  --repeat N                   with --replay: run it N times (default 1)
  --self-check                 run the suites against the planted bugs and the real primitives
  -h, --help                   this help

exit code: 0 if no forbidden outcome was seen, 1 otherwise, 2 for bad usage`;

const FAULT_DEFAULTS: Required<FaultOptions> = { kill: 0.05, delay: 0.1, spurious: 0.05 };

function parseFaults(text: string): FaultOptions {
  const faults: FaultOptions = {};
  for (const part of text.split(',').filter((p) => p !== '')) {
    const [name, value] = part.split('=') as [string, string | undefined];
    if (!(name in FAULT_DEFAULTS)) {
      throw new InvalidArgumentError(
        '--faults',
        `unknown fault ${JSON.stringify(name)} (kill, delay, spurious)`,
      );
    }
    const p = value === undefined ? FAULT_DEFAULTS[name as keyof FaultOptions] : Number(value);
    if (!(p >= 0 && p <= 1))
      throw new InvalidArgumentError('--faults', `${name}=${value} is not a probability`);
    faults[name as keyof FaultOptions] = p;
  }
  return faults;
}

function positiveNumber(text: string | undefined, field: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!(n > 0) || !Number.isFinite(n))
    throw new InvalidArgumentError(
      field,
      `expected a positive number, got ${JSON.stringify(text)}`,
    );
  return n;
}

function integer(text: string | undefined, field: string, min: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min)
    throw new InvalidArgumentError(
      field,
      `expected an integer ≥ ${min}, got ${JSON.stringify(text)}`,
    );
  return n;
}

function writeJson(file: string | undefined, value: unknown): void {
  if (file === undefined) return;
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
  console.log(`wrote ${file}`);
}

export async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    console.error(`atomvisor race: ${(error as Error).message}\n\n${RACE_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(RACE_USAGE);
    return 0;
  }
  try {
    const mode = (values.mode ?? 'both') as RaceMode | 'both';
    if (!['stress', 'explore', 'both'].includes(mode)) {
      throw new InvalidArgumentError(
        '--mode',
        `expected stress, explore or both, got ${JSON.stringify(mode)}`,
      );
    }
    const strategy = values.strategy as ExploreStrategy | undefined;
    if (strategy !== undefined && !['random', 'pct', 'dfs'].includes(strategy)) {
      throw new InvalidArgumentError(
        '--strategy',
        `expected random, pct or dfs, got ${JSON.stringify(strategy)}`,
      );
    }
    const seed = integer(values.seed, '--seed', 0);
    const time = positiveNumber(values.time, '--time');
    const trials = integer(values.trials, '--trials', 1);
    const repeat = integer(values.repeat, '--repeat', 1);
    const faults = values.faults === undefined ? undefined : parseFaults(values.faults);

    if (values['self-check']) {
      const strategies: ExploreStrategy[] = strategy ? [strategy] : ['random', 'pct', 'dfs'];
      console.log(
        `atomvisor race --self-check — Node ${process.version}, ${cpus().length} cores: every planted bug must be caught in explore mode; the real primitives must show no forbidden outcome`,
      );
      const report = await selfCheck({
        ...(seed !== undefined ? { seed } : {}),
        strategies,
        ...(time !== undefined ? { stressSeconds: time, correctSeconds: Math.min(time, 2) } : {}),
        ...(mode === 'explore' ? { skipStress: true } : {}),
        log: (line) => console.log(line),
      });
      console.log(`\n${formatSelfCheck(report, strategies)}`);
      writeJson(values.json, report);
      return report.ok ? 0 : 1;
    }

    if (values.replay !== undefined) {
      const r = await replayTrace(values.replay, {
        files: positionals,
        ...(repeat !== undefined ? { repeat } : {}),
      });
      console.log(`replay of ${r.test} (${r.repeat}×): ${r.outcomes.join(' | ')}`);
      console.log(details(r.report));
      console.log(
        r.consistent
          ? `the same outcome every time: ${r.outcomes[0]}`
          : `outcomes differ between repetitions: the test depends on something besides the schedule`,
      );
      writeJson(values.json, r);
      return r.report.status === 'passed' ? 0 : 1;
    }

    console.log(
      `atomvisor race — Node ${process.version}, ${cpus().length} cores, mode ${mode}${
        mode === 'stress' ? '' : `, strategy ${strategy ?? 'pct'}`
      }, ${time ?? 2} s per test per mode${positionals.length === 0 ? ' (built-in suites)' : ''}`,
    );
    const report = await runRace({
      files: positionals,
      mode,
      ...(strategy ? { strategy } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(time !== undefined ? { timeSeconds: time } : {}),
      ...(trials !== undefined ? { maxTrials: trials } : {}),
      ...(values.filter !== undefined ? { filter: values.filter } : {}),
      ...(faults ? { faults } : {}),
      ...(values['fail-fast'] ? { failFast: true } : {}),
      ...(values.planted ? { planted: 'include' as const } : {}),
      ...(values['no-perturb'] ? { perturb: false } : {}),
      onTestDone: (t) =>
        console.log(
          `  ${t.test} ${modeLabel(t)}: ${
            t.status === 'error'
              ? `error: ${t.error?.message}`
              : t.status === 'failed'
                ? 'FORBIDDEN outcome'
                : 'ok'
          } (${fmt(t.trials)} trials, ${seconds(t.durationMs)})`,
        ),
    });
    console.log(`\n${formatReport(report)}`);
    writeJson(values.json, report);
    return report.ok ? 0 : 1;
  } catch (error) {
    if (error instanceof InvalidArgumentError) {
      console.error(`atomvisor race: ${error.message}`);
      return 2;
    }
    if (error instanceof AtomvisorError) {
      console.error(`atomvisor race: ${error.code}: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      mode: { type: 'string' },
      strategy: { type: 'string' },
      seed: { type: 'string' },
      time: { type: 'string' },
      trials: { type: 'string' },
      filter: { type: 'string' },
      faults: { type: 'string' },
      'fail-fast': { type: 'boolean' },
      planted: { type: 'boolean' },
      'no-perturb': { type: 'boolean' },
      json: { type: 'string' },
      replay: { type: 'string' },
      repeat: { type: 'string' },
      'self-check': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
