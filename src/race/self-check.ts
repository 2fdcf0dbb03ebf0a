/**
 * `atomvisor race --self-check`: the harness proves itself against bugs planted on purpose. Every
 * planted variant (src/race/planted) must be caught by explore mode — each strategy gets up to
 * `exploreSeconds` per variant and stops at the first forbidden outcome — and the same scenarios on
 * atomvisor's own primitives must show no forbidden outcome in either mode. Stress mode runs on
 * each variant too, for comparison: some bugs need a window real threads rarely hit.
 */
import { randomInt } from 'node:crypto';
import type { RaceTest } from './define.ts';
import { loadTests } from './load.ts';
import { PLANTED_VARIANTS, type PlantedVariant } from './planted/index.ts';
import { fmt, pad, seconds } from './report.ts';
import { RaceRunner } from './runner.ts';
import { builtinSuiteFiles } from './suites/index.ts';
import type { ExploreStrategy, TestReport } from './test-report.ts';

export interface SelfCheckOptions {
  seed?: number;
  /** Explore budget per variant and strategy (s). Default 30. */
  exploreSeconds?: number;
  /** Stress budget per variant test (s). Default 3. */
  stressSeconds?: number;
  /** Budget per correct test and mode (s). Default 1. */
  correctSeconds?: number;
  strategies?: readonly ExploreStrategy[];
  /** Skip stress mode on the planted variants. */
  skipStress?: boolean;
  log?: (line: string) => void;
}

export interface Catch {
  caught: boolean;
  /** Time to the first forbidden outcome, from the start of the test's first trial. */
  ms: number;
  trials: number;
  test: string;
  outcome?: string;
  replay?: string;
  exhausted?: boolean;
}

export interface VariantResult {
  variant: PlantedVariant;
  bug: string;
  explore: Partial<Record<ExploreStrategy, Catch>>;
  stress?: Catch;
}

export interface SelfCheckReport {
  ok: boolean;
  seed: number;
  variants: VariantResult[];
  correct: {
    tests: number;
    runs: number;
    trials: number;
    forbidden: number;
    failures: TestReport[];
  };
  reports: TestReport[];
  durationMs: number;
}

interface Loaded {
  file: string;
  test: RaceTest;
}

async function loadSuites(): Promise<Loaded[]> {
  const all: Loaded[] = [];
  for (const file of builtinSuiteFiles())
    for (const test of await loadTests(file)) all.push({ file, test });
  return all;
}

function toCatch(reports: TestReport[]): Catch {
  const caught = reports.find((r) => r.forbidden > 0 && r.firstForbidden);
  const trials = reports.reduce((a, r) => a + r.trials, 0);
  if (caught?.firstForbidden) {
    const earlier = reports.slice(0, reports.indexOf(caught));
    const before = earlier.reduce((a, r) => a + r.durationMs, 0);
    return {
      caught: true,
      ms: before + caught.firstForbidden.afterMs,
      trials: earlier.reduce((a, r) => a + r.trials, 0) + caught.firstForbidden.trial + 1,
      test: caught.test,
      outcome: caught.firstForbidden.id,
      ...(caught.firstForbidden.replay ? { replay: caught.firstForbidden.replay } : {}),
    };
  }
  return {
    caught: false,
    ms: reports.reduce((a, r) => a + r.durationMs, 0),
    trials,
    test: reports.map((r) => r.test).join(', '),
    ...(reports.length > 0 && reports.every((r) => r.exhausted) ? { exhausted: true } : {}),
  };
}

export async function selfCheck(options: SelfCheckOptions = {}): Promise<SelfCheckReport> {
  const log = options.log ?? (() => {});
  const seed = options.seed ?? randomInt(0, 2 ** 31);
  const strategies = options.strategies ?? ['random', 'pct', 'dfs'];
  const exploreMs = (options.exploreSeconds ?? 30) * 1000;
  const stressMs = (options.stressSeconds ?? 3) * 1000;
  const correctMs = (options.correctSeconds ?? 1) * 1000;
  const started = performance.now();
  const suites = await loadSuites();
  const runner = new RaceRunner();
  const reports: TestReport[] = [];
  const variants: VariantResult[] = [];
  try {
    for (const [variant, bug] of Object.entries(PLANTED_VARIANTS) as [PlantedVariant, string][]) {
      const tests = suites.filter((s) => s.test.variant === variant);
      const result: VariantResult = { variant, bug, explore: {} };
      for (const strategy of strategies) {
        const runs: TestReport[] = [];
        for (const { file, test } of tests) {
          if (!test.modes.includes('explore')) continue;
          const r = await runner.run(file, test, {
            mode: 'explore',
            strategy,
            seed,
            timeMs: exploreMs,
            failFast: true,
            fileArg: '',
          });
          runs.push(r);
          reports.push(r);
          if (r.forbidden > 0) break;
        }
        result.explore[strategy] = toCatch(runs);
        const c = result.explore[strategy]!;
        log(
          `  ${variant}: explore/${strategy} ${c.caught ? `caught in ${seconds(c.ms)} (${fmt(c.trials)} trials, ${c.test}: ${c.outcome})` : `NOT caught in ${seconds(c.ms)}${c.exhausted ? ' (exhausted)' : ''}`}`,
        );
      }
      if (!options.skipStress) {
        const runs: TestReport[] = [];
        for (const { file, test } of tests) {
          if (!test.modes.includes('stress')) continue;
          const r = await runner.run(file, test, {
            mode: 'stress',
            seed,
            timeMs: stressMs,
            failFast: true,
            fileArg: '',
          });
          runs.push(r);
          reports.push(r);
          if (r.forbidden > 0) break;
        }
        result.stress = toCatch(runs);
        log(
          `  ${variant}: stress ${result.stress.caught ? `caught in ${seconds(result.stress.ms)} (${result.stress.test}: ${result.stress.outcome})` : `not caught in ${seconds(result.stress.ms)}`}`,
        );
      }
      variants.push(result);
    }
    const correctTests = suites.filter((s) => s.test.planted === undefined);
    const correctReports: TestReport[] = [];
    for (const { file, test } of correctTests) {
      for (const mode of ['explore', 'stress'] as const) {
        if (!test.modes.includes(mode)) continue;
        const r = await runner.run(file, test, {
          mode,
          strategy: 'pct',
          seed,
          timeMs: correctMs,
          fileArg: '',
        });
        correctReports.push(r);
        reports.push(r);
        log(`  correct ${test.name} ${mode}: ${r.status}, ${fmt(r.trials)} trials`);
      }
    }
    const failures = correctReports.filter((r) => r.status !== 'passed');
    const correct = {
      tests: correctTests.length,
      runs: correctReports.length,
      trials: correctReports.reduce((a, r) => a + r.trials, 0),
      forbidden: correctReports.reduce((a, r) => a + r.forbidden, 0),
      failures,
    };
    const allCaught = variants.every((v) => strategies.some((s) => v.explore[s]?.caught === true));
    return {
      ok: allCaught && failures.length === 0,
      seed,
      variants,
      correct,
      reports,
      durationMs: Math.round(performance.now() - started),
    };
  } finally {
    await runner.close();
  }
}

function cell(c: Catch | undefined): string {
  if (c === undefined) return '-';
  if (c.caught) return `caught ${seconds(c.ms)} (${fmt(c.trials)})`;
  return `missed ${seconds(c.ms)}${c.exhausted ? ' exh.' : ''}`;
}

export function formatSelfCheck(
  report: SelfCheckReport,
  strategies: readonly ExploreStrategy[],
): string {
  const lines: string[] = [];
  const cols = [...strategies.map((s) => `explore/${s}`), 'stress'];
  lines.push(`${pad('planted variant', 32)}${cols.map((c) => pad(c, 26)).join('')}`);
  for (const v of report.variants) {
    lines.push(
      `${pad(v.variant, 32)}${strategies.map((s) => pad(cell(v.explore[s]), 26)).join('')}${pad(cell(v.stress), 26)}`,
    );
  }
  lines.push(
    '(time to the first forbidden outcome and, in brackets, the trials it took; each strategy stops at its first catch)',
  );
  lines.push('');
  for (const v of report.variants) {
    const c = strategies.map((s) => v.explore[s]).find((x) => x?.caught);
    lines.push(`${v.variant}: ${v.bug}`);
    if (c) lines.push(`    ${c.test} → ${c.outcome}; ${c.replay ?? ''}`);
  }
  lines.push('');
  const k = report.correct;
  lines.push(
    `correct primitives: ${k.tests} tests, ${k.runs} runs (explore/pct and stress), ${fmt(k.trials)} trials, ${k.forbidden} forbidden outcomes${
      k.failures.length
        ? ` — FAILED: ${k.failures.map((f) => `${f.test} (${f.mode}${f.error ? `: ${f.error.message}` : ''})`).join(', ')}`
        : ''
    }`,
  );
  const missed = report.variants.filter((v) => !strategies.some((s) => v.explore[s]?.caught));
  lines.push(
    report.ok
      ? `self-check passed: every planted variant caught in explore mode, no forbidden outcome on the correct primitives (seed ${report.seed}, ${seconds(report.durationMs)})`
      : `self-check FAILED${missed.length ? `: not caught: ${missed.map((v) => v.variant).join(', ')}` : ''} (seed ${report.seed})`,
  );
  return lines.join('\n');
}
