/**
 * What the coordinator reports about itself: `snapshot(key)` (each replica's slot read as one
 * consistent seqlock snapshot, plus what only this thread knows: handshake, idleness, memory) and
 * `stats()` (counts over every slot, the request and data-plane counters, lease hold times,
 * housekeeping and probe costs). Reads only: slot state lock-free from the shared table, the rest
 * from the coordinator's parts. Nothing here changes anything but the skipped-read counter.
 */
import { decodeProbeCounts } from '../probes/counters.ts';
import type { ProbeScheduler } from '../probes/scheduler.ts';
import type { SlotTable } from '../table/slot-table.ts';
import { STATUS_NAMES, type StatusName } from '../table/state.ts';
import type { Housekeeper } from './housekeeper.ts';
import type { IoPool } from './io-pool.ts';
import type { Leases } from './leases.ts';
import type { Entry, Registry } from './registry.ts';
import type { Router } from './routing.ts';
import type { ConnectionSnapshot, CoordinatorStats, ReplicaSnapshot } from './types.ts';

/** A key's status is its best replica's, in this order. */
const STATUS_RANK: readonly StatusName[] = [
  'ready',
  'leased',
  'starting',
  'draining',
  'closing',
  'exited',
  'failed',
  'empty',
];

export interface StatsSources {
  readonly table: SlotTable;
  readonly registry: Registry;
  readonly leases: Leases;
  readonly router: Router;
  readonly io: IoPool;
  readonly probes: ProbeScheduler;
  readonly housekeeper: Housekeeper;
}

/** Every replica of `entry` as it is now (throws ContentionError for a slot held by a dead writer). */
export function snapshotOf(table: SlotTable, entry: Entry): ConnectionSnapshot {
  const key = entry.key;
  const replicas = entry.replicas.map((s, replica): ReplicaSnapshot => {
    const snap = table.snapshot(s.slot);
    return {
      ...snap,
      key,
      replica,
      handshake: s.handshake,
      idle: s.idle,
      probes: decodeProbeCounts(snap.probeFailures, snap.probeSuccesses),
      rssBytes: s.rssBytes,
      cpuPercent: s.cpuPercent,
    };
  });
  const status = STATUS_RANK.find((st) => replicas.some((r) => r.status === st)) ?? 'empty';
  return { key, status, replicas };
}

export function statsOf(src: StatsSources): CoordinatorStats {
  const byStatus = Object.fromEntries(STATUS_NAMES.map((s) => [s, 0])) as Record<
    StatusName,
    number
  >;
  let inFlight = 0;
  let restarts = 0;
  let waiters = 0;
  let oldest = 0;
  let connections = 0;
  for (const entry of src.registry.entries.values()) {
    waiters += entry.queue.size;
    for (const s of entry.replicas) {
      connections++;
      const snap = src.housekeeper.readSlot(s.slot);
      if (snap === undefined) continue;
      byStatus[snap.status]++;
      inFlight += snap.inFlight;
      restarts += s.restarts;
      if (snap.leaseAgeMs > oldest) oldest = snap.leaseAgeMs;
    }
  }
  const counters = src.router.counters;
  return {
    connections,
    byStatus,
    leases: src.leases.size,
    waiters,
    restarts,
    inFlight,
    requests: { total: counters.requests, failed: counters.failed },
    stdinBlocked: src.router.stdinBlocked(),
    dataPlane: dataPlaneStats(src.io),
    leaseHoldMs: src.leases.holdTimes(),
    oldestLeaseMs: oldest,
    protocolErrors: counters.protocol,
    housekeeping: src.housekeeper.counters(),
    probes: src.probes.stats(),
  };
}

function dataPlaneStats(io: IoPool): CoordinatorStats['dataPlane'] {
  const { toWorkers, fromWorkers } = io.ringCounts();
  return {
    framesSent: io.framesSent,
    publishes: toWorkers.publishes,
    workerWakeups: toWorkers.wakeups,
    framesRead: fromWorkers.frames,
    reads: fromWorkers.reads,
    parks: fromWorkers.parks,
  };
}
