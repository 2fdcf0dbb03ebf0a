/**
 * The coordinator's public request, acquire, snapshot and stats shapes, in a module of their own
 * so that lease.ts, routing.ts and the coordinator's parts use them without importing each other;
 * and `checkRequest`, the cheap hand check of a request's arguments that request() and
 * lease.request() run on their hot path. (The coordinator's options and connection specs live in
 * options.ts and spec.ts.)
 */
import { InvalidArgumentError } from '../errors.ts';
import { readObject } from '../options.ts';
import type { ProbeCounts } from '../probes/counters.ts';
import type { ProbeName } from '../probes/spec.ts';
import type { ProbeStats } from '../probes/types.ts';
import { checkSignal, checkTimeout, describe } from '../shm/validate.ts';
import type { SlotSnapshot } from '../table/slot-table.ts';
import type { StatusName } from '../table/state.ts';

export interface RequestOptions {
  /**
   * Inactivity timeout of the request once sent (reset by each progress notification). Default:
   * options.requestTimeoutMs. When coordinator.request() finds no usable replica and must queue,
   * it also bounds that wait (default there: options.acquireTimeoutMs); the inactivity clock
   * starts afresh when the request is sent. A request through a lease never queues.
   */
  timeoutMs?: number;
  /** Total deadline of the request once sent. Default: options.maxTotalTimeoutMs. */
  totalTimeoutMs?: number;
  signal?: AbortSignal;
  /** Called with each `notifications/progress` for this request (a progress token is added). */
  onProgress?: (params: unknown) => void;
  /**
   * Called with every notification from the replica that serves this request, from when it is
   * sent until it settles (for servers that tie notifications to a call without a token).
   */
  onNotification?: (method: string, params: unknown) => void;
}

export interface AcquireOptions {
  /** How long to wait for a free connection. Default: options.acquireTimeoutMs. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ReplicaSnapshot extends SlotSnapshot {
  key: string;
  replica: number;
  /** What the start handshake returned (e.g. MCP initialize's result, with capabilities). */
  handshake: unknown;
  idle: boolean;
  /** Consecutive probe counts of the current process (decoded from probeFailures/probeSuccesses). */
  probes: Record<ProbeName, ProbeCounts>;
  /**
   * Resident memory of the process's whole group, as last measured (every
   * housekeeping.memoryCheckMs, when it has spec.maxMemoryMb or housekeeping.measureMemory is on);
   * undefined before the first measurement or when not measured.
   */
  rssBytes: number | undefined;
  /** Its CPU use between the last two measurements, in % of one core (measured like rssBytes). */
  cpuPercent: number | undefined;
}

export interface ConnectionSnapshot {
  key: string;
  /** The best status among the replicas (ready > leased > starting > ...). */
  status: StatusName;
  replicas: ReplicaSnapshot[];
}

export interface CoordinatorStats {
  connections: number;
  byStatus: Record<StatusName, number>;
  leases: number;
  waiters: number;
  restarts: number;
  inFlight: number;
  requests: { total: number; failed: number };
  /**
   * Processes that have not read what they were sent (over 1 MiB waits in their stdin pipe):
   * their requests queue, bounded by maxQueued, until they read again.
   */
  stdinBlocked: number;
  /**
   * The data plane as this thread sees it, over the live IO workers' rings: frames it sent and
   * the publishes and wake-ups (notifies of a parked worker) they took; frames it read, the reads
   * they took, and how often it parked waiting for them. Fewer wake-ups than frames is batching.
   */
  dataPlane: {
    framesSent: number;
    publishes: number;
    workerWakeups: number;
    framesRead: number;
    reads: number;
    parks: number;
  };
  /** Hold times of released leases (ms): the last 1 024. */
  leaseHoldMs: { count: number; p50: number; p99: number; max: number };
  /** The longest current lease, ms. */
  oldestLeaseMs: number;
  protocolErrors: number;
  /**
   * Housekeeping passes and their cost on the main thread (µs); `skipped`: slot reads (by
   * housekeeping or stats) given up because the record stayed held by a writer past the main
   * thread's retry budget (a thread that died mid-write); such a slot is left out of that pass or
   * these stats.
   */
  housekeeping: { passes: number; lastPassUs: number; maxPassUs: number; skipped: number };
  /** Health probes: counts, outcomes, latency, dropped stale results, and their main-thread cost. */
  probes: ProbeStats;
}

/** A request's method and options, checked cheaply (request() and lease.request(), per call). */
export function checkRequest(method: unknown, options: RequestOptions): void {
  if (typeof method !== 'string' || method.length === 0) {
    throw new InvalidArgumentError(
      'method',
      `expected a non-empty string, got ${describe(method)}`,
    );
  }
  const o = readObject(options, 'options', [
    'timeoutMs',
    'totalTimeoutMs',
    'signal',
    'onProgress',
    'onNotification',
  ]);
  checkTimeout(o.timeoutMs, 'options.timeoutMs');
  checkTimeout(o.totalTimeoutMs, 'options.totalTimeoutMs');
  checkSignal(o.signal, 'options.signal');
  for (const name of ['onProgress', 'onNotification'] as const) {
    if (o[name] !== undefined && typeof o[name] !== 'function') {
      throw new InvalidArgumentError(
        `options.${name}`,
        `expected a function, got ${describe(o[name])}`,
      );
    }
  }
}
