/**
 * The failure scenarios really show their failures, and atomvisor really avoids them: ratios with
 * wide margins on real subprocesses and threads (short timeouts, so the file takes seconds).
 */
import { describe, expect, it } from 'vitest';
import { runF1 } from '../../bench/scenarios/f1.ts';
import { runF2 } from '../../bench/scenarios/f2.ts';
import { runF3 } from '../../bench/scenarios/f3.ts';
import { runF4 } from '../../bench/scenarios/f4.ts';
import { runF5 } from '../../bench/scenarios/f5.ts';

const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] as number;
};

describe('F1: a health round over 10 hung probes', () => {
  it('blocks acquire under the naive pool lock, not in atomvisor', async () => {
    const p = { connections: 10, probeTimeoutMs: 50, rounds: 1, everyMs: 2 };
    const naive = await runF1('naive', p);
    const atomvisor = await runF1('atomvisor', p);
    const n = naive.rounds[0]!;
    const a = atomvisor.rounds[0]!;
    // The naive round holds the lock for the sum of the probe timeouts (10 × 50 ms).
    expect(n.maxLockHoldMs).toBeGreaterThan(0.8 * p.connections * p.probeTimeoutMs);
    // Callers arriving during it wait for it; atomvisor's callers do not.
    expect(n.acquireP99Ms).toBeGreaterThan(20 * a.acquireP99Ms);
    expect(n.acquireP99Ms).toBeGreaterThan(0.5 * p.connections * p.probeTimeoutMs);
    // atomvisor probes in parallel: the round lasts about one timeout, not ten.
    expect(a.roundMs).toBeLessThan(n.roundMs / 3);
  });
});

describe('F2: closing a hung process', () => {
  it('stalls other callers under the naive pool mutex, not in atomvisor', async () => {
    const p = { hangMs: 300, rounds: 1, everyMs: 2 };
    const naive = (await runF2('naive', p))[0]!;
    const atomvisor = (await runF2('atomvisor', p))[0]!;
    expect(naive.duringP99Ms).toBeGreaterThan(0.5 * p.hangMs);
    expect(naive.duringP99Ms).toBeGreaterThan(10 * atomvisor.duringP99Ms);
    expect(naive.errors + atomvisor.errors).toBe(0);
  });
});

describe('F3: a shared process record under two threads', () => {
  it('loses or tears updates with plain field access, never with CAS + seqlock', async () => {
    const p = { threads: 2, incrementMs: 50, reads: 300_000, samples: 1 };
    // The damage needs the two threads to run at the same time; on a busy 2-core machine they
    // sometimes share one core for a whole sample. So: the failure shows within a few tries.
    let damage = 0;
    for (let attempt = 0; attempt < 8 && damage === 0; attempt++) {
      const [s] = await runF3('naive', p);
      damage = s!.lostUpdates + s!.tornReads;
    }
    expect(damage).toBeGreaterThan(0);
    for (const s of await runF3('atomvisor', { ...p, samples: 3 })) {
      expect(s.lostUpdates).toBe(0);
      expect(s.tornReads).toBe(0);
    }
  });
});

describe('F4: leaked leases and reconnects', () => {
  it('the naive pool never sees its leaks; atomvisor reports every leak and spreads its restarts', async () => {
    const p = { connections: 6, leaked: 2, leakWaitMs: 300, reconnectDelayMs: 200, rounds: 2 };
    const naive = await runF4('naive', p);
    const atomvisor = await runF4('atomvisor', p);
    expect(naive.leaksFound).toBe(0);
    expect(naive.acquiresFailedAfterLeaks).toBeGreaterThanOrEqual(1); // the leaks exhausted it
    expect(atomvisor.leaksFound).toBe(p.leaked);
    // Full jitter over [0, 200 ms] for 6 restarts: a spread under 20 ms has odds below 1e-5.
    expect(median(atomvisor.reconnects.map((r) => r.spreadMs))).toBeGreaterThan(20);
  });
});

describe('F5: session B while session A runs a long request', () => {
  it('waits for A under the naive global lock, not in atomvisor', async () => {
    const p = { longMs: 300, rounds: 1, everyMs: 2 };
    const naive = (await runF5('naive', p))[0]!;
    const atomvisor = (await runF5('atomvisor', p))[0]!;
    expect(naive.duringP99Ms).toBeGreaterThan(0.5 * p.longMs);
    expect(naive.duringP99Ms).toBeGreaterThan(10 * atomvisor.duringP99Ms);
    expect(naive.errors + atomvisor.errors).toBe(0);
  });
});
