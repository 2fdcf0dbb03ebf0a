/**
 * The scale suite's run: one coordinator supervising `processes` real subprocesses (the shell
 * JSON-RPC server) with a jsonrpc liveness ping every second each, measured from the
 * coordinator's own process (children excluded):
 *
 * - time to spawn all: from `register()` until it resolved (every replica started and ready);
 * - over a steady window cut into 1 s slices: main-thread event-loop delay p50/p99
 *   (`monitorEventLoopDelay` at 5 ms resolution; its samples include the 5 ms interval itself,
 *   which is subtracted, so 0 means "on time"), the process's CPU (`process.cpuUsage`: main thread and worker
 *   threads, not the children) as % of one core, and RSS at the end of each slice;
 * - time to close all (`close()`), then every pid the coordinator reported checked with a
 *   zombie-aware liveness test: the orphans left.
 *
 * The same event-loop figures are taken for one slice before anything starts (`idle`): on a
 * shared machine that baseline is far from zero, and the steady figures read against it.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createCoordinator } from '../../src/coordinator/coordinator.ts';
import { shRpcServer } from '../fixtures/sh-rpc-server.ts';
import { sleep } from './measure.ts';
import { isAlive, killGroup } from './processes.ts';

export interface ScaleParams {
  processes: number;
  slices: number;
  sliceMs: number;
}

export interface ScaleSlice {
  loopP50Ms: number;
  loopP99Ms: number;
  loopMaxMs: number;
  cpuPercent: number;
  rssMiB: number;
  probes: number;
  probeFailures: number;
  /** Processes killed because their liveness probe failed (then restarted). */
  probeKills: number;
}

export interface ScaleResult {
  idle: ScaleSlice;
  /** Probe latency over the last 1 024 results at the end of the window, ms. */
  probeLatencyP99Ms: number;
  restarts: number;
  spawnAllMs: number;
  slices: ScaleSlice[];
  closeAllMs: number;
  orphans: number;
  pids: number;
}

const RESOLUTION_MS = 5;

/** Event-loop delay and CPU over `ms`; probes counted by the caller. */
async function slice(
  ms: number,
): Promise<Omit<ScaleSlice, 'probes' | 'probeFailures' | 'probeKills'>> {
  const loop = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  loop.enable();
  const cpu0 = process.cpuUsage();
  const w0 = performance.now();
  await sleep(ms);
  const cpu = process.cpuUsage(cpu0);
  const wallUs = (performance.now() - w0) * 1000;
  loop.disable();
  const beyond = (ns: number) => Math.max(0, ns / 1e6 - RESOLUTION_MS);
  return {
    loopP50Ms: beyond(loop.percentile(50)),
    loopP99Ms: beyond(loop.percentile(99)),
    loopMaxMs: beyond(loop.max),
    cpuPercent: ((cpu.user + cpu.system) / wallUs) * 100,
    rssMiB: process.memoryUsage().rss / 2 ** 20,
  };
}

export async function runScale(p: ScaleParams): Promise<ScaleResult> {
  const idle = { ...(await slice(p.sliceMs)), probes: 0, probeFailures: 0, probeKills: 0 };
  const coordinator = createCoordinator({
    capacity: p.processes + 8,
    maxWaiting: Math.max(1024, p.processes),
  });
  let pids: number[] = [];
  let closed = false;
  try {
    await coordinator.ready();
    const t0 = performance.now();
    await coordinator.register(
      'fleet',
      {
        ...shRpcServer(),
        liveness: { kind: 'jsonrpc', method: 'ping', periodMs: 1_000, timeoutMs: 1_000 },
      },
      { replicas: p.processes },
    );
    const spawnAllMs = performance.now() - t0;
    pids = coordinator.snapshot('fleet').replicas.map((r) => r.pid);
    await sleep(1_000); // let the first probe round pass before measuring the steady state
    const slices: ScaleSlice[] = [];
    for (let i = 0; i < p.slices; i++) {
      const before = coordinator.stats().probes;
      const measured = await slice(p.sliceMs);
      const after = coordinator.stats().probes;
      slices.push({
        ...measured,
        probes: after.results - before.results,
        probeFailures: after.failed - before.failed,
        probeKills: after.kills - before.kills,
      });
    }
    const end = coordinator.stats();
    const probeLatencyP99Ms = end.probes.latencyMs.p99;
    const restarts = end.restarts;
    const t1 = performance.now();
    await coordinator.close({ timeoutMs: 5_000 });
    closed = true;
    const closeAllMs = performance.now() - t1;
    const orphans = pids.filter(isAlive).length;
    return {
      idle,
      probeLatencyP99Ms,
      restarts,
      spawnAllMs,
      slices,
      closeAllMs,
      orphans,
      pids: pids.length,
    };
  } finally {
    if (!closed) await coordinator.close({ timeoutMs: 1_000 }).catch(() => {});
    // Never leave anything behind, even when the figures say something was.
    for (const pid of pids) if (isAlive(pid)) killGroup(pid);
  }
}
