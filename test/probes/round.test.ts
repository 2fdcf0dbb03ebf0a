/**
 * F1 (docs/architecture.md): a health round over 10 connections whose probes all hang until their
 * timeout T takes about T, not 10·T, and costs the coordinator microseconds of shared-state work: acquire,
 * release and stats() run freely meanwhile and the event loop stays responsive.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProbeEvent, RoundSection } from '../../src/index.ts';
import { echoSpec } from '../helpers/processes.ts';
import { cleanup, coordinator, httpServer, onCleanup, PROBES } from './helpers.ts';

afterEach(cleanup);

const T = 400;
const N = 10;

describe('F1: a health round over hanging probes', () => {
  it('finishes in about one timeout while 1 000 acquire/release cycles and stats() run', async () => {
    const c = coordinator();
    const server = await httpServer('hang');
    onCleanup(() => server.close());
    // Not due on their own (the test runs the rounds) and never restarting anyone.
    const never = { periodMs: 60_000, initialDelayMs: 60_000, failureThreshold: 1_000 };
    const keys = Array.from({ length: N }, (_, i) => `conn-${i}`);
    // Half hang in a module probe that never resolves, half on an HTTP server that never answers.
    // Never due on their own: the test runs the round.
    await Promise.all(
      keys.map((key, i) =>
        c.register(
          key,
          echoSpec({
            liveness:
              i % 2 === 0
                ? { kind: 'module', path: PROBES, export: 'hang', timeoutMs: T, ...never }
                : { kind: 'http', url: server.url, timeoutMs: T, ...never },
          }),
        ),
      ),
    );
    // Warm-up rounds (first use of the code paths), then the measured ones.
    for (let i = 0; i < 2; i++) await c.probeNow();
    const events: ProbeEvent[] = [];
    c.on('probe', (e: ProbeEvent) => events.push(e));

    // Three measured rounds.
    for (let r = 0; r < 3; r++) {
      events.length = 0;
      const loop = monitorEventLoopDelay({ resolution: 5 });
      loop.enable();
      const started = performance.now();
      const round = c.probeNow();
      let cycles = 0;
      let statsCalls = 0;
      let cyclesDoneAt = 0;
      const acquireMs: number[] = [];
      const work = (async () => {
        for (let i = 0; i < 1_000; i++) {
          const t0 = performance.now();
          const lease = await c.acquire(keys[i % N] as string, { timeoutMs: 1_000 });
          acquireMs.push(performance.now() - t0);
          lease.release();
          cycles++;
          if (i % 10 === 0) {
            c.stats();
            statsCalls++;
            await new Promise((resolve) => setImmediate(resolve));
          }
        }
        cyclesDoneAt = performance.now();
      })();
      const report = await round;
      const wallMs = performance.now() - started;
      await work;
      loop.disable();
      const p99 = loop.percentile(99) / 1e6;
      const cyclesMs = cyclesDoneAt - started;
      const median = (part: RoundSection['part']) => {
        const us = report.sections
          .filter((x) => x.part === part)
          .map((x) => x.us)
          .sort((x, y) => x - y);
        return us[Math.floor(us.length / 2)] ?? 0;
      };
      acquireMs.sort((x, y) => x - y);
      const acquireP99 = acquireMs[Math.floor(0.99 * acquireMs.length)] as number;
      const medianSliceUs = median('dispatch');
      const medianApplyUs = median('apply');
      console.log(
        `F1 round ${r + 1}: ${report.dispatched} probes hanging to T=${T} ms, wall ${wallMs.toFixed(0)} ms ` +
          `(${(wallMs / T).toFixed(2)}·T); max state work ${report.maxStateUs} µs, max synchronous section ${report.maxCriticalUs} µs ` +
          `(decide ${report.decideUs} µs, dispatch slice ${report.maxDispatchUs} µs, apply ${report.maxApplyUs} µs), ` +
          `${report.sections.length} sections, medians: dispatch slice ${medianSliceUs} µs, apply ${medianApplyUs} µs; ` +
          `1000 acquire/release + 100 stats() in ${cyclesMs.toFixed(0)} ms, acquire p99 ${acquireP99.toFixed(3)} ms; ` +
          `event-loop delay p99 ${p99.toFixed(2)} ms, max ${(loop.max / 1e6).toFixed(2)} ms`,
      );
      expect(report.dispatched).toBe(N);
      expect(events).toHaveLength(N);
      for (const e of events)
        expect(e).toMatchObject({ ok: false, reason: `timed out after ${T} ms` });
      expect(wallMs).toBeGreaterThanOrEqual(T * 0.9);
      expect(wallMs).toBeLessThan(2 * T);
      expect(cycles).toBe(1_000);
      expect(statsCalls).toBe(100);
      // The acquire/release cycles were not held up by the round.
      expect(cyclesMs).toBeLessThan(2 * T);
      // No acquire waited for the round (one round-trip through the event loop is ~0.01–1 ms).
      expect(acquireP99).toBeLessThan(T / 4);
      // F1's "lock hold": the round's shared-state work — the decision (read every state
      // lock-free, pick the due probes) and each result's application (generation check,
      // counts, CAS) — ≤ 1 ms at max (seen: 25–150 µs).
      expect(report.decideUs).toBeLessThanOrEqual(1_000);
      expect(report.maxApplyUs).toBeLessThanOrEqual(1_000);
      expect(report.maxStateUs).toBeLessThanOrEqual(1_000);
      // A dispatch slice holds no state: it is one piscina hand-off (a postMessage that wakes a
      // worker), the I/O step. ~0.1 ms typically; on this shared 2-core VM single slices were seen
      // at 1–4 ms (the sender loses its core to the thread it woke), and with both cores taken by
      // two busy loops the median was 1.6 ms. Median ≤ 5 ms (50× the typical), each ≤ 10 ms; the
      // state work above keeps its 1 ms bound.
      expect(medianSliceUs).toBeLessThanOrEqual(5_000);
      expect(medianApplyUs).toBeLessThanOrEqual(1_000);
      expect(report.maxCriticalUs).toBeLessThanOrEqual(10_000);
      expect(p99).toBeLessThan(50);
    }
    const stats = c.stats().probes;
    console.log(
      `F1 since start (cold rounds included): max state work ${stats.maxStateUs} µs, max section ${stats.maxCriticalUs} µs`,
    );
    expect(stats).toMatchObject({ dropped: 0, inFlight: 0, kills: 0 });
    for (const key of keys) expect(c.snapshot(key).replicas[0]?.generation).toBe(1);
    expect(c.snapshot('conn-0').replicas[0]?.probes.liveness).toEqual({
      failures: 5,
      successes: 0,
    });
  });
});
