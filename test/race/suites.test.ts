/**
 * The built-in suites on atomvisor's own primitives and slot table, in a short budget: no
 * forbidden outcome in either mode. (`npm run race` runs the same suites for longer.)
 */
import { describe, expect, it } from 'vitest';
import { runRace } from '../../src/race/run.ts';

describe('built-in suites on the real primitives', () => {
  it('show no forbidden outcome in explore and stress mode', async () => {
    const report = await runRace({ mode: 'both', timeSeconds: 0.25, seed: 7, strategy: 'pct' });
    const names = new Set(report.tests.map((t) => t.test));
    expect(names.size).toBeGreaterThanOrEqual(14);
    expect([...names].some((n) => n.includes('['))).toBe(false); // planted variants left out
    for (const t of report.tests) {
      console.log(
        `  ${t.test} ${t.mode}: ${t.status}, ${t.trials} trials${t.interesting ? `, ${t.interesting} interesting` : ''}`,
      );
      expect(
        t.status,
        `${t.test} (${t.mode}): ${JSON.stringify(t.error ?? t.outcomes.filter((o) => o.expect === 'forbidden'))}`,
      ).toBe('passed');
      expect(t.trials).toBeGreaterThan(0);
    }
    expect(report.ok).toBe(true);
  });

  it('DFS explores a small test exhaustively within the preemption bound', async () => {
    const report = await runRace({
      mode: 'explore',
      strategy: 'dfs',
      filter: /^counter\/increments$/,
      timeSeconds: 20,
      seed: 1,
    });
    const [t] = report.tests;
    expect(t?.status).toBe('passed');
    expect(t?.exhausted).toBe(true);
    console.log(`  counter/increments: all ${t?.trials} schedules within 2 preemptions explored`);
  });
});
