/**
 * F1 scenario: a health round over N connections whose health checks all hang until their
 * timeout, while other callers keep acquiring and releasing connections (open loop).
 *
 * - naive: bench/naive/f1-health-round-under-lock.ts — the round holds the pool lock and probes
 *   in turn, so acquires wait for N × timeout.
 * - atomvisor: a coordinator whose replicas have a jsonrpc liveness probe on the same hanging
 *   method; `probeNow()` runs the round (probes in parallel in the IO workers, no lock), while
 *   callers `acquire()`/`release()` leases.
 *
 * Figures per round: the longest lock hold (atomvisor has no pool lock: the longest synchronous
 * section the round ran on the coordinator's thread), acquire p50/p99 during the round, the
 * round's wall time; and the idle acquire p99 before any round.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createCoordinator } from '../../src/coordinator/coordinator.ts';
import { rpcServer } from '../fixtures/rpc-server.ts';
import { NaiveConnectionManager } from '../naive/f1-health-round-under-lock.ts';
import { startClients } from '../naive/stdio-client.ts';
import { closedLoop, openLoop, quantile } from './measure.ts';

export interface F1Params {
  connections: number;
  probeTimeoutMs: number;
  rounds: number;
  /** An acquire+release starts this often during a round. */
  everyMs: number;
}

export interface F1Round {
  maxLockHoldMs: number;
  /** The main thread's longest event-loop delay during the round (monitorEventLoopDelay). */
  loopDelayMaxMs: number;
  acquireP50Ms: number;
  acquireP99Ms: number;
  acquireMaxMs: number;
  roundMs: number;
  acquires: number;
}

export interface F1Result {
  rounds: F1Round[];
  idleAcquireP99Ms: number;
}

const HOUR = 3_600_000;
/** Rounds run first and not counted (JIT warm-up of both designs' paths). */
const WARMUP_ROUNDS = 1;

/** Start watching the event loop; the returned function stops and gives the max delay in ms. */
function startLoopDelay(): () => number {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  return () => {
    h.disable();
    return h.max / 1e6;
  };
}

export async function runF1(design: 'naive' | 'atomvisor', p: F1Params): Promise<F1Result> {
  return design === 'naive' ? runNaive(p) : runAtomvisor(p);
}

async function runNaive(p: F1Params): Promise<F1Result> {
  const clients = await startClients(rpcServer(), p.connections);
  try {
    const pool = new NaiveConnectionManager(clients);
    const cycle = async () => {
      const c = await pool.acquire();
      await pool.release(c);
    };
    const idle = await closedLoop(cycle, 200);
    const rounds: F1Round[] = [];
    for (let r = -WARMUP_ROUNDS; r < p.rounds; r++) {
      const holdsBefore = pool.lock.holdsMs.length;
      const t0 = performance.now();
      const round = pool.healthCheckRound('hang', p.probeTimeoutMs).then(() => {
        roundMs = performance.now() - t0;
      });
      let roundMs = 0;
      const loop = startLoopDelay();
      const { latenciesMs } = await openLoop(cycle, p.everyMs, round);
      const holds = pool.lock.holdsMs.slice(holdsBefore);
      if (r < 0) continue;
      rounds.push({
        maxLockHoldMs: Math.max(...holds),
        loopDelayMaxMs: loop(),
        acquireP50Ms: quantile(latenciesMs, 0.5),
        acquireP99Ms: quantile(latenciesMs, 0.99),
        acquireMaxMs: Math.max(...latenciesMs),
        roundMs,
        acquires: latenciesMs.length,
      });
    }
    return { rounds, idleAcquireP99Ms: quantile(idle, 0.99) };
  } finally {
    await Promise.all(clients.map((c) => c.kill()));
  }
}

async function runAtomvisor(p: F1Params): Promise<F1Result> {
  const coordinator = createCoordinator({ stop: { stdinGraceMs: 200, termGraceMs: 200 } });
  try {
    await coordinator.register(
      'svc',
      {
        ...rpcServer(),
        liveness: {
          kind: 'jsonrpc',
          method: 'hang',
          timeoutMs: p.probeTimeoutMs,
          // Rounds are started by hand (probeNow); no restarts: the point is the round itself.
          periodMs: HOUR,
          initialDelayMs: HOUR,
          failureThreshold: 1000,
        },
      },
      { replicas: p.connections },
    );
    const cycle = async () => {
      const lease = await coordinator.acquire('svc', { timeoutMs: 60_000 });
      lease.release();
    };
    const idle = await closedLoop(cycle, 200);
    const rounds: F1Round[] = [];
    for (let r = -WARMUP_ROUNDS; r < p.rounds; r++) {
      const loop = startLoopDelay();
      let report: Awaited<ReturnType<typeof coordinator.probeNow>> | undefined;
      const round = coordinator.probeNow().then((x) => {
        report = x;
      });
      const { latenciesMs } = await openLoop(cycle, p.everyMs, round);
      await round;
      if (report === undefined || report.dispatched !== p.connections)
        throw new Error(
          `F1: the round dispatched ${report?.dispatched} probes, not ${p.connections}`,
        );
      const loopDelayMaxMs = loop();
      if (r < 0) continue;
      rounds.push({
        maxLockHoldMs: report.maxCriticalUs / 1000,
        loopDelayMaxMs,
        acquireP50Ms: quantile(latenciesMs, 0.5),
        acquireP99Ms: quantile(latenciesMs, 0.99),
        acquireMaxMs: Math.max(...latenciesMs),
        roundMs: report.wallMs,
        acquires: latenciesMs.length,
      });
    }
    return { rounds, idleAcquireP99Ms: quantile(idle, 0.99) };
  } finally {
    await coordinator.close({ timeoutMs: 1_000 });
  }
}
