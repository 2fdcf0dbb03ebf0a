/**
 * Plumbing of the pool and scale suites on a small scale: every pool design acquires and releases
 * under contention, and a supervised fleet closes without leaving a process behind.
 */
import { describe, expect, it } from 'vitest';
import { makeDriver, POOL_DESIGNS } from '../../bench/scenarios/pool-drivers.ts';
import { poolSample } from '../../bench/scenarios/pool-load.ts';
import { runScale } from '../../bench/scenarios/scale-run.ts';
import { suite as poolSuite } from '../../bench/suites/pool.ts';
import { suite as scaleSuite } from '../../bench/suites/scale.ts';

describe('pool suite', () => {
  it.each(POOL_DESIGNS)(
    '%s acquires and releases with more callers than resources',
    async (design) => {
      const driver = await makeDriver(design, 4);
      // generic-pool and tarn are devDependencies: `npm ci` installs them, so a missing one is a
      // broken install, not a reason to pass without running (the bench reports it as not run).
      if ('missing' in driver) throw new Error(`pool design ${design}: ${driver.missing}`);
      try {
        const sample = await poolSample(driver, 8, 'turn', 50, 300);
        expect(sample.ops).toBeGreaterThan(0);
        expect(sample.opsPerSec).toBeGreaterThan(0);
      } finally {
        await driver.close();
      }
    },
  );

  it('judges nothing it did not measure', () => {
    const targets = poolSuite.targets?.([]) ?? [];
    expect(targets.length).toBeGreaterThan(0);
    for (const t of targets) expect(t.met).toBe('not run');
  });
});

describe('scale suite', () => {
  it('supervises a fleet with liveness pings and leaves no orphans', async () => {
    const r = await runScale({ processes: 10, slices: 1, sliceMs: 1_000 });
    expect(r.pids).toBe(10);
    expect(r.orphans).toBe(0);
    expect(r.slices[0]!.probes).toBeGreaterThan(0);
  });

  it('says the event-loop target is judged at 1 000 processes when only 100 ran', () => {
    const [loop] = scaleSuite.targets?.([]) ?? [];
    expect(loop?.met).toBe('not run');
    expect(loop?.note).toContain('--full');
  });
});
