/**
 * F4 scenario, two halves:
 *
 * 1. Leaks: a pool of `connections`; a caller takes `leaked` leases and never gives them back.
 *    After `leakWaitMs`, how many leaks has the pool reported? naive (NaiveLeasePool): none — it
 *    has no way to tell a leak from a busy connection; the extra shows it is now short of
 *    connections. atomvisor: `housekeeping.leakDetectionMs` emits one `leak` event per lease,
 *    with the acquirer's stack.
 * 2. Reconnect spread: every connection's process is SIGKILLed at once (a server-side restart).
 *    naive (FixedDelayReconnector): all come back after exactly `reconnectDelayMs`, together.
 *    atomvisor: restarts back off with full jitter over [0, restart.initialDelayMs] (same value).
 *    Figures: the spread of the reconnect times (max − min, ms; higher spreads the load) and the
 *    most reconnects inside any 10 ms (a herd is all of them).
 *
 * The children are the tiny shell JSON-RPC server (bench/fixtures/sh-rpc-server.ts).
 */
import { createCoordinator } from '../../src/coordinator/coordinator.ts';
import { shRpcServer } from '../fixtures/sh-rpc-server.ts';
import {
  FixedDelayReconnector,
  NaiveLeasePool,
} from '../naive/f4-no-leak-detection-fixed-reconnect.ts';
import { type StdioClient, startClients } from '../naive/stdio-client.ts';
import { sleep } from './measure.ts';
import { killGroup, pollUntil } from './processes.ts';

export interface F4Params {
  connections: number;
  leaked: number;
  leakWaitMs: number;
  reconnectDelayMs: number;
  rounds: number;
}

export interface F4Result {
  leaksFound: number;
  /** Acquires (of the connections that should be free) that timed out after the leaks. */
  acquiresFailedAfterLeaks: number;
  reconnects: { spreadMs: number; peakPer10Ms: number; count: number }[];
}

/** Max − min, and the most timestamps inside any 10 ms window. */
export function spreadOf(times: readonly number[]): { spreadMs: number; peakPer10Ms: number } {
  const sorted = [...times].sort((a, b) => a - b);
  let peak = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while ((sorted[i] as number) - (sorted[j] as number) >= 10) j++;
    peak = Math.max(peak, i - j + 1);
  }
  return {
    spreadMs: sorted.length === 0 ? Number.NaN : (sorted.at(-1) as number) - (sorted[0] as number),
    peakPer10Ms: peak,
  };
}

export async function runF4(design: 'naive' | 'atomvisor', p: F4Params): Promise<F4Result> {
  return design === 'naive' ? runNaive(p) : runAtomvisor(p);
}

async function runNaive(p: F4Params): Promise<F4Result> {
  const clients = await startClients(shRpcServer(), p.connections);
  const reconnectTimes: number[] = [];
  const reconnector = new FixedDelayReconnector(shRpcServer(), p.reconnectDelayMs, () =>
    reconnectTimes.push(performance.now()),
  );
  try {
    // 1. Leaks.
    const pool = new NaiveLeasePool(clients);
    for (let i = 0; i < p.leaked; i++) await pool.acquire(1_000); // never released
    await sleep(p.leakWaitMs);
    const leaksFound = 0; // NaiveLeasePool has no leak report: a leaked lease looks busy
    const wanted = p.connections - p.leaked + 1; // one more than is really free
    const attempts = await Promise.allSettled(
      Array.from({ length: wanted }, () => pool.acquire(p.leakWaitMs)),
    );
    const acquiresFailedAfterLeaks = attempts.filter((a) => a.status === 'rejected').length;
    // 2. Reconnects.
    for (const c of clients) reconnector.manage(c);
    const reconnects: F4Result['reconnects'] = [];
    for (let r = 0; r < p.rounds; r++) {
      reconnectTimes.length = 0;
      const victims = [...reconnector.clients];
      for (const c of victims) killGroup(c.pid);
      const back = await pollUntil(
        () => reconnectTimes.length >= victims.length,
        p.reconnectDelayMs * 4 + 5_000,
      );
      if (!back) throw new Error('F4 naive: not every connection came back');
      reconnects.push({ ...spreadOf(reconnectTimes), count: reconnectTimes.length });
      await Promise.all([...reconnector.clients].map((c: StdioClient) => c.started()));
    }
    return { leaksFound, acquiresFailedAfterLeaks, reconnects };
  } finally {
    await reconnector.stop();
    await Promise.all(clients.map((c) => c.kill()));
  }
}

async function runAtomvisor(p: F4Params): Promise<F4Result> {
  const coordinator = createCoordinator({
    housekeeping: { intervalMs: 20, leakDetectionMs: Math.max(1, Math.round(p.leakWaitMs / 2)) },
    restart: {
      initialDelayMs: p.reconnectDelayMs,
      // Each round starts from the first backoff step, like the naive fixed delay.
      resetAfterMs: 50,
      maxRestarts: 1000,
    },
  });
  try {
    await coordinator.register('svc', shRpcServer(), { replicas: p.connections });
    // 1. Leaks.
    let leakEvents = 0;
    coordinator.on('leak', () => leakEvents++);
    for (let i = 0; i < p.leaked; i++) await coordinator.acquire('svc'); // never released
    await sleep(p.leakWaitMs);
    // Counted now: the leases taken below are held past leakDetectionMs too and would add theirs.
    const leaksFound = leakEvents;
    const wanted = p.connections - p.leaked + 1;
    const attempts = await Promise.allSettled(
      Array.from({ length: wanted }, () => coordinator.acquire('svc', { timeoutMs: p.leakWaitMs })),
    );
    for (const a of attempts) if (a.status === 'fulfilled') a.value.release();
    const acquiresFailedAfterLeaks = attempts.filter((a) => a.status === 'rejected').length;
    // 2. Reconnects.
    const spawnTimes: number[] = [];
    coordinator.on('spawn', () => spawnTimes.push(performance.now()));
    const reconnects: F4Result['reconnects'] = [];
    for (let r = 0; r < p.rounds; r++) {
      await sleep(60); // past resetAfterMs: the backoff starts from its first step
      spawnTimes.length = 0;
      const pids = coordinator.snapshot('svc').replicas.map((x) => x.pid);
      for (const pid of pids) killGroup(pid);
      const back = await pollUntil(
        () =>
          spawnTimes.length >= pids.length &&
          coordinator
            .snapshot('svc')
            .replicas.every((x) => x.status === 'ready' || x.status === 'leased'),
        p.reconnectDelayMs * 4 + 5_000,
      );
      if (!back) throw new Error('F4 atomvisor: not every connection came back');
      reconnects.push({ ...spreadOf(spawnTimes), count: spawnTimes.length });
    }
    return { leaksFound, acquiresFailedAfterLeaks, reconnects };
  } finally {
    await coordinator.close({ timeoutMs: 1_000 });
  }
}
