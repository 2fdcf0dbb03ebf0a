/**
 * Explore mode on real actor threads: every planted bug is caught with a fixed seed (and caught
 * the same way twice: trials are deterministic), a failing trace replays to the same outcome ten
 * times out of ten, and the scheduling rate is measured.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { RaceTest } from '../../src/race/define.ts';
import { loadTests } from '../../src/race/load.ts';
import { PLANTED_VARIANTS } from '../../src/race/planted/index.ts';
import { replayTrace } from '../../src/race/run.ts';
import { RaceRunner } from '../../src/race/runner.ts';
import { builtinSuiteFiles } from '../../src/race/suites/index.ts';
import type { TestReport } from '../../src/race/test-report.ts';

const SEED = 20240611;
const runner = new RaceRunner();
afterAll(() => runner.close());

async function suites(): Promise<{ file: string; test: RaceTest }[]> {
  const all: { file: string; test: RaceTest }[] = [];
  for (const file of builtinSuiteFiles())
    for (const test of await loadTests(file)) all.push({ file, test });
  return all;
}

async function firstCatch(
  variant: string,
  strategy: 'pct' | 'random' | 'dfs',
): Promise<TestReport> {
  const candidates = (await suites()).filter((s) => s.test.variant === variant);
  expect(candidates.length).toBeGreaterThan(0);
  let last: TestReport | undefined;
  for (const { file, test } of candidates) {
    last = await runner.run(file, test, {
      mode: 'explore',
      strategy,
      seed: SEED,
      timeMs: 20_000,
      failFast: true,
    });
    if (last.forbidden > 0) return last;
  }
  return last!;
}

describe('explore mode catches every planted bug (fixed seed)', () => {
  const caught: Record<string, TestReport> = {};

  for (const variant of Object.keys(PLANTED_VARIANTS)) {
    it(variant, async () => {
      const r = await firstCatch(variant, 'pct');
      expect(r.status, `${variant}: ${JSON.stringify(r.error ?? r.outcomes)}`).toBe('failed');
      expect(r.firstForbidden?.trace).toMatch(/^v1:pct:/);
      caught[variant] = r;
      console.log(
        `  ${variant}: caught by ${r.test} at trial ${r.firstForbidden!.trial} (${r.firstForbidden!.afterMs} ms): ${r.firstForbidden!.id}`,
      );
    });
  }

  it('is deterministic: the same seed finds the same first failure with the same trace', async () => {
    for (const variant of [
      'check-then-set-lock',
      'notify-before-store',
      'wait-ignores-spurious-wakeup',
    ]) {
      const again = await firstCatch(variant, 'pct');
      expect(again.firstForbidden?.trial).toBe(caught[variant]?.firstForbidden?.trial);
      expect(again.firstForbidden?.trace).toBe(caught[variant]?.firstForbidden?.trace);
    }
  });

  it('DFS and random strategies catch them too', async () => {
    for (const variant of [
      'check-then-set-lock',
      'seqlock-reader-without-retry',
      'notify-before-store',
    ]) {
      for (const strategy of ['dfs', 'random'] as const) {
        const r = await firstCatch(variant, strategy);
        expect(r.status, `${variant} with ${strategy}`).toBe('failed');
      }
    }
  });
});

describe('replay', () => {
  it('a printed trace reproduces the same outcome 10 times out of 10', async () => {
    for (const variant of [
      'check-then-set-lock',
      'notify-before-store',
      'wait-ignores-spurious-wakeup',
      'channel-index-before-data',
    ]) {
      const r = await firstCatch(variant, 'pct');
      const trace = r.firstForbidden!.trace!;
      const replay = await replayTrace(trace, { repeat: 10 });
      expect(replay.outcomes).toHaveLength(10);
      expect(replay.consistent, `${variant}: ${replay.outcomes.join(' | ')}`).toBe(true);
      expect(replay.outcomes[0]).toBe(r.firstForbidden!.id);
      expect(replay.report.status).toBe('failed');
      console.log(`  replay ${variant}: ${replay.outcomes[0]} ×10`);
    }
  });
});

describe('speed', () => {
  it('reaches thousands of scheduling steps per second', async () => {
    const all = await suites();
    const pick = all.filter((s) =>
      [
        'mutex/exclusion',
        'seqlock/snapshot',
        'channel/spsc-linearizable',
        'counter/invariant',
      ].includes(s.test.name),
    );
    let steps = 0;
    let ms = 0;
    for (const { file, test } of pick) {
      for (const strategy of ['random', 'pct'] as const) {
        const r = await runner.run(file, test, {
          mode: 'explore',
          strategy,
          seed: SEED,
          timeMs: 500,
        });
        expect(r.status).toBe('passed');
        steps += r.steps;
        ms += r.durationMs;
        console.log(
          `  ${test.name} explore/${strategy}: ${r.stepsPerSecond} steps/s, ${r.trialsPerSecond} trials/s`,
        );
      }
    }
    const rate = (steps * 1000) / ms;
    console.log(`  explore mode overall: ${Math.round(rate)} scheduling steps/s`);
    expect(rate).toBeGreaterThan(1000); // a very conservative floor: it measures ~50 000+ here
  });
});
