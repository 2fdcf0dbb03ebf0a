/**
 * Coordinator: the object users embed. It registers keyed connections (each a group of identical
 * replica processes), routes requests to them, hands out exclusive leases, and keeps every
 * process supervised — and it stays responsive whatever one process does.
 *
 * How the five classic pool failures are ruled out here:
 * - F1/F2: there is no pool lock. Per-slot state moves by CAS in the shared slot table; stopping a
 *   process first moves its slot to draining/closing (so new work goes elsewhere), then waits and
 *   signals with nothing held.
 * - F3: state is read lock-free (state word + seqlock snapshot) from any thread.
 * - F4: leases live in shared memory with their start time; housekeeping reports leaks, evicts
 *   hung leases, retires old connections with jitter; restarts back off with full jitter and a
 *   breaker; every wait queue is bounded and rejects loudly (QueueFullError).
 * - F5: a lease locks one connection only; plain requests never wait on a leased connection (they
 *   use another ready replica, or wait for one in a bounded queue); housekeeping never waits on a
 *   lease; a process that dies fails its pending requests at once.
 */
import { channel } from 'node:diagnostics_channel';
import { EventEmitter } from 'node:events';
import {
  ClosedError,
  ConnectionFailedError,
  ConnectionLostError,
  ContentionError,
  InvalidArgumentError,
  NotLeaseHolderError,
  NotRunningError,
  QueueFullError,
  TimeoutError,
} from '../errors.ts';
import type { IoEvent } from '../io/io-host.ts';
import { signalGroup } from '../io/process-group.ts';
import { StateFile } from '../io/state-file.ts';
import { readObject } from '../options.ts';
import { decodeProbeCounts, type ProbeCounts } from '../probes/counters.ts';
import { ProbeScheduler, type ProbeStats, type RoundReport } from '../probes/scheduler.ts';
import type { ProbeName } from '../probes/spec.ts';
import { nearestRank } from '../quantile.ts';
import { checkSignal, checkTimeout, describe, MAX_TIMER_MS } from '../shm/validate.ts';
import { type SlotSnapshot, SlotTable } from '../table/slot-table.ts';
import { Flag, STATUS_NAMES, type StatusName } from '../table/state.ts';
import {
  EVENT_CHANNEL,
  errorCode,
  type LeaseMessage,
  leaseChannel,
  requestChannel,
} from './diagnostics.ts';
import type { CoordinatorEvents } from './events.ts';
import type { NotificationHandler, RequestHandler } from './handlers.ts';
import { IoPool } from './io-pool.ts';
import { Lease, type LeaseBackend } from './lease.ts';
import {
  type CoordinatorOptions,
  checkReplicas,
  type ResolvedOptions,
  resolveOptions,
  resolveRegisterOptions,
} from './options.ts';
import { type ReloadReport, rollReplicas } from './reload.ts';
import { noProtocol, type RequestOptions, Router } from './routing.ts';
import { type ConnectionSpec, type ResolvedSpec, resolveSpec } from './spec.ts';
import { Supervisor, type SupervisorContext } from './supervisor.ts';

export type { RequestOptions };

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
  /** Housekeeping passes and their cost on the main thread (µs). */
  /**
   * Housekeeping passes and their cost; `skipped`: slot reads (by housekeeping or stats) given up
   * because the record stayed held by a writer past the main thread's retry budget (a thread that
   * died mid-write); such a slot is left out of that pass or these stats.
   */
  housekeeping: { passes: number; lastPassUs: number; maxPassUs: number; skipped: number };
  /** Health probes: counts, outcomes, latency, dropped stale results, and their main-thread cost. */
  probes: ProbeStats;
}

interface Entry {
  key: string;
  /** The spec new replicas start from: register's, or the last reload({ spec })'s. */
  spec: ResolvedSpec;
  replicas: Supervisor[];
  /**
   * Callers waiting for a usable replica, in arrival order (a Set keeps insertion order): the
   * FIFO queue. Failed with the reason when the key fails or closes; its size is what maxWaiting
   * bounds and what stats() reports.
   */
  waiters: Set<Waiter>;
  /** How many of `waiters` are of each kind. */
  queued: Record<WaiterKind, number>;
  removing: boolean;
}

/** 'lease': acquire() (takes the replica); 'request': request() (uses a ready one, takes nothing). */
type WaiterKind = 'lease' | 'request';

/** A queued caller. Plain data: settling goes through the coordinator (#grant, #reject). */
interface Waiter {
  readonly entry: Entry;
  readonly kind: WaiterKind;
  /**
   * What the caller waits for (a Lease, or a ready Supervisor), or undefined if not available now.
   * `only`: the one replica that just became usable (a hand-off pass); an acquire tries just it.
   */
  readonly attempt: (only?: Supervisor) => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly timeoutMs: number;
  timer: NodeJS.Timeout | undefined;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

const events = channel('atomvisor:coordinator');
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

let nextCoordinatorId = 1;

export class Coordinator extends EventEmitter {
  /** Process-unique; every diagnostics-channel message carries it as `coordinator`. */
  readonly id = nextCoordinatorId++;
  readonly options: ResolvedOptions;
  readonly #table: SlotTable;
  readonly #io: IoPool;
  readonly #stateFile: StateFile | undefined;
  readonly #entries = new Map<string, Entry>();
  readonly #bySlot = new Map<number, Supervisor>();
  readonly #leases = new Map<number, Lease>();
  readonly #ctx: SupervisorContext;
  readonly #started: Promise<void>;
  readonly #housekeeping: NodeJS.Timeout;
  readonly #probes: ProbeScheduler;
  readonly #holds: number[] = [];
  #closing: Promise<void> | undefined;
  /** Waiters queued over all entries; the futex pump runs while it is above zero. */
  #queued = 0;
  #pumping = false;
  #pumpStop: AbortController | undefined;
  readonly #router: Router;
  #counters = {
    passes: 0,
    lastPassUs: 0,
    maxPassUs: 0,
    skipped: 0,
  };

  constructor(options?: CoordinatorOptions) {
    super();
    this.options = resolveOptions(options);
    this.#table = SlotTable.create(this.options.capacity);
    // Releases, starts and readiness changes made on this thread hand off to the queue at once.
    this.#table.onLeasable((slot) => this.#onLeasable(slot));
    this.#stateFile =
      this.options.stateFile === undefined ? undefined : new StateFile(this.options.stateFile);
    this.#io = new IoPool(
      this.options.ioWorkers,
      this.#table.handle,
      (kind, slot, generation, data, start, end) =>
        this.#router.onFrame(kind, slot, generation, data, start, end),
      (index) => this.#onIoWorkerDeath(index),
    );
    this.#router = new Router({
      coordinatorId: this.id,
      io: this.#io,
      options: this.options,
      keyOf: (slot) => this.#bySlot.get(slot)?.key,
      replicaOf: (slot) => {
        const s = this.#bySlot.get(slot);
        if (s === undefined) return undefined;
        const replica = this.#entries.get(s.key)?.replicas.indexOf(s) ?? -1;
        return { key: s.key, replica, pid: s.pid, handlers: s.spec.handlers };
      },
      leaseOf: (slot) => this.#leases.get(slot),
      listens: (event) => this.listenerCount(event) > 0 || this.#channelListens(event),
      emit: (event, payload) => this.#emit(event, payload),
      ioEvent: (event) => this.#onIoEvent(event),
    });
    this.#ctx = {
      table: this.#table,
      io: this.#io,
      router: this.#router,
      options: this.options,
      stateFile: this.#stateFile,
      emit: (event, payload) => this.#emit(event, payload),
      changed: (supervisor) => this.#serve(supervisor.key),
    };
    this.#probes = new ProbeScheduler({
      table: this.#table,
      pool: this.options.probes,
      replicas: () => this.#bySlot.values(),
      jsonrpc: async (target, generation, method, params, timeoutMs) => {
        const peer = this.#router.peer(target.slot, generation);
        if (peer === undefined)
          throw new NotRunningError(
            `the process of slot ${target.slot} (generation ${generation})`,
          );
        return peer.request(method, params, { timeoutMs, totalTimeoutMs: timeoutMs });
      },
      kill: (target, generation) => {
        this.#bySlot.get(target.slot)?.killUnhealthy(generation);
      },
      probe: (event) => this.#emit('probe', event),
      unhealthy: (event) => this.#emit('unhealthy', event),
    });
    const io = this.#io;
    const stateFile = this.#stateFile;
    this.#started = (async () => {
      if (stateFile) await stateFile.reapLeftovers();
      await io.start();
    })();
    this.#started.catch(() => {}); // surfaced by the first call that awaits it
    this.#housekeeping = setInterval(() => this.housekeep(), this.options.housekeeping.intervalMs);
    this.#housekeeping.unref();
  }

  /** The shared slot table (read-only use: snapshots from any thread via its handle). */
  get table(): SlotTable {
    return this.#table;
  }

  /** Resolves when the IO workers are up (and a state file, if any, has been reaped). */
  ready(): Promise<void> {
    return this.#started;
  }

  /**
   * Register `key`: start `replicas` identical processes from `spec`. Resolves when every replica
   * has passed its start handshake; if a replica's first start fails, the key is removed again and
   * the start error (e.g. SpawnError for ENOENT) rejects.
   */
  async register(
    key: string,
    spec: ConnectionSpec,
    options: { replicas?: number } = {},
  ): Promise<void> {
    this.#checkOpen();
    if (typeof key !== 'string' || key.length === 0)
      throw new InvalidArgumentError('key', `expected a non-empty string, got ${describe(key)}`);
    if (this.#entries.has(key))
      throw new InvalidArgumentError('key', `${JSON.stringify(key)} is already registered`);
    const resolved = resolveSpec(spec);
    const { replicas } = resolveRegisterOptions(options);
    await this.#started;
    this.#checkOpen();
    const entry: Entry = {
      key,
      spec: resolved,
      replicas: [],
      waiters: new Set(),
      queued: { lease: 0, request: 0 },
      removing: false,
    };
    for (let i = 0; i < replicas; i++) {
      const claimed = this.#table.claim();
      if (claimed === undefined) {
        await this.#remove(entry, 0);
        throw new InvalidArgumentError(
          'options.replicas',
          `the slot table is full (capacity ${this.options.capacity})`,
        );
      }
      const supervisor = new Supervisor(this.#ctx, key, claimed.slot, resolved);
      entry.replicas.push(supervisor);
      this.#bySlot.set(claimed.slot, supervisor);
    }
    this.#entries.set(key, entry);
    await Promise.all([
      ...entry.replicas.map((s) => s.start()),
      this.#probes.refresh().catch(() => {}),
    ]);
    if (entry.removing || this.#closing) throw new ClosedError('the coordinator');
    const failed = entry.replicas.find((s) => s.status !== 'ready' && s.lastError !== undefined);
    if (failed !== undefined) {
      await this.#remove(entry, 0);
      throw failed.lastError;
    }
  }

  /** Stop `key`'s processes (in-flight work may finish for up to timeoutMs) and forget the key. */
  async unregister(key: string, options: { timeoutMs?: number } = {}): Promise<void> {
    const entry = this.#entry(key);
    const drainMs = checkTimeout(options.timeoutMs, 'options.timeoutMs') ?? 10_000;
    await this.#remove(entry, drainMs);
  }

  /** Start a failed (breaker tripped) or idle connection again by hand. */
  async restart(key: string): Promise<void> {
    const entry = this.#entry(key);
    await Promise.all(
      entry.replicas.map((s) => {
        s.resetPolicy();
        return s.status === 'failed' || s.status === 'exited' ? s.start() : undefined;
      }),
    );
  }

  /**
   * Rolling restart of `key` (pm2's reload): one replica at a time is drained (in-flight work and
   * its lease finish, up to `timeoutMs`, default 10 s), stopped and started afresh, and the next
   * only once the new process serves (ready, readiness passing; up to `readyTimeoutMs`, default
   * options.startTimeoutMs). Stops at the first replica that does not come back, leaving the rest
   * on their old processes: see ReloadReport.stopped. src/coordinator/reload.ts has the rules.
   *
   * With `spec`, each replica starts afresh from that spec instead (a changed command, args, env,
   * probes...), and so do replicas added later by scale(); replicas with no process take it for
   * their next start. A rollout that stopped early leaves the replicas after it on the old spec.
   */
  async reload(
    key: string,
    options: { timeoutMs?: number; readyTimeoutMs?: number; spec?: ConnectionSpec } = {},
  ): Promise<ReloadReport> {
    this.#checkOpen();
    const entry = this.#entry(key);
    const drainMs = checkTimeout(options.timeoutMs, 'options.timeoutMs') ?? 10_000;
    const readyTimeoutMs =
      checkTimeout(options.readyTimeoutMs, 'options.readyTimeoutMs') ?? this.options.startTimeoutMs;
    const spec = options.spec === undefined ? undefined : resolveSpec(options.spec, 'options.spec');
    if (spec !== undefined) entry.spec = spec;
    const report = await rollReplicas(key, [...entry.replicas], {
      table: this.#table,
      cancelled: (s) => this.#closing !== undefined || s.removed || entry.removing,
      drainMs,
      readyTimeoutMs,
      ...(spec === undefined ? {} : { prepare: (s: Supervisor) => s.useSpec(spec) }),
    });
    if (spec !== undefined) void this.#probes.refresh().catch(() => {});
    return report;
  }

  /**
   * Change how many replicas `key` has (1..1024). New replicas start from the key's spec and are
   * added after the others; it resolves once each has passed its start handshake or failed it (a
   * failed one then restarts with backoff, as after a crash). Fewer: the last replicas are stopped
   * the way unregister() stops them (drained up to `timeoutMs`, default 10 s) and their slots
   * freed; the others are not touched.
   */
  async scale(key: string, replicas: number, options: { timeoutMs?: number } = {}): Promise<void> {
    this.#checkOpen();
    const entry = this.#entry(key);
    const target = checkReplicas(replicas, 'replicas');
    const drainMs = checkTimeout(options.timeoutMs, 'options.timeoutMs') ?? 10_000;
    if (target < entry.replicas.length) {
      const gone = entry.replicas.slice(target);
      await Promise.all(gone.map((s) => s.stop({ drainMs, remove: true })));
      entry.replicas = entry.replicas.filter((s) => !gone.includes(s));
      for (const s of gone) {
        this.#bySlot.delete(s.slot);
        this.#leases.delete(s.slot);
        this.#probes.forget(s.slot);
      }
      void this.#probes.refresh().catch(() => {});
      return;
    }
    const added: Supervisor[] = [];
    while (entry.replicas.length < target) {
      const claimed = this.#table.claim();
      if (claimed === undefined)
        throw new InvalidArgumentError(
          'replicas',
          `the slot table is full (capacity ${this.options.capacity})`,
        );
      const supervisor = new Supervisor(this.#ctx, key, claimed.slot, entry.spec);
      entry.replicas.push(supervisor);
      this.#bySlot.set(claimed.slot, supervisor);
      added.push(supervisor);
    }
    await Promise.all([...added.map((s) => s.start()), this.#probes.refresh().catch(() => {})]);
  }

  /**
   * A JSON-RPC request to any ready replica of `key` that is not under an exclusive lease (the
   * least busy one). With none ready, it waits (bounded by options.acquireTimeoutMs and the
   * signal) for one to be.
   */
  request<T = unknown>(
    key: string,
    method: string,
    params?: unknown,
    options: RequestOptions = {},
  ): Promise<T> {
    try {
      this.#checkOpen();
      const entry = this.#entry(key);
      this.#checkRequest(method, options);
      if (entry.replicas[0]?.spec.protocol === 'none') throw noProtocol(key);
      // The replica is chosen and the request counted in flight in one synchronous step (#admit),
      // whether now or when the queue serves it later: a drain that starts in between sees it and
      // waits for it, and a lease taken in the same pass finds it in flight (it finishes there; no
      // new plain request goes to the leased process).
      if (entry.waiters.size === 0) {
        // The common case, nobody queued and a replica ready: no wait, no closure, no extra turn.
        const admitted = this.#admit(entry);
        if (admitted !== undefined) {
          const { supervisor, generation } = admitted;
          return this.#router.send(
            supervisor,
            generation,
            method,
            params,
            options,
            0,
          ) as Promise<T>;
        }
      }
      return this.#requestWhenReady(entry, method, params, options) as Promise<T>;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** request() when it must wait its turn in the key's queue for a usable replica. */
  async #requestWhenReady(
    entry: Entry,
    method: string,
    params: unknown,
    options: RequestOptions,
  ): Promise<unknown> {
    // Timed only while someone listens: with no subscriber, instrumentation costs one check.
    const waitStart = requestChannel.hasSubscribers ? performance.now() : -1;
    const admitted = await this.#waitFor(
      entry,
      'request',
      () => this.#admit(entry),
      options.timeoutMs ?? this.options.acquireTimeoutMs,
      options.signal,
    );
    const waitMs = waitStart < 0 ? 0 : performance.now() - waitStart;
    const { supervisor, generation } = admitted;
    return this.#router.send(supervisor, generation, method, params, options, waitMs);
  }

  /** Exclusive use of one connection of `key` until the lease is released. */
  async acquire(key: string, options: AcquireOptions = {}): Promise<Lease> {
    this.#checkOpen();
    const entry = this.#entry(key);
    const timeout =
      checkTimeout(options.timeoutMs, 'options.timeoutMs') ?? this.options.acquireTimeoutMs;
    checkSignal(options.signal, 'options.signal');
    const stack =
      this.options.housekeeping.leakDetectionMs > 0
        ? new Error('lease acquired here').stack
        : undefined;
    const waitStart = leaseChannel.hasSubscribers ? performance.now() : -1;
    try {
      const lease = await this.#waitFor(
        entry,
        'lease',
        (only?: Supervisor) => this.#tryLease(entry, stack, only),
        timeout,
        options.signal,
      );
      if (waitStart >= 0 && leaseChannel.hasSubscribers) {
        leaseChannel.publish({
          coordinator: this.id,
          action: 'acquire',
          key,
          slot: lease.slot,
          leaseId: lease.leaseId,
          waitMs: performance.now() - waitStart,
        } satisfies LeaseMessage);
      }
      return lease;
    } catch (error) {
      if (waitStart >= 0 && leaseChannel.hasSubscribers) {
        leaseChannel.publish({
          coordinator: this.id,
          action: 'acquire-failed',
          key,
          waitMs: performance.now() - waitStart,
          error: errorCode(error),
        } satisfies LeaseMessage);
      }
      throw error;
    }
  }

  /** Run `fn` with an exclusive lease on a connection of `key`; release when it settles. */
  async withConnection<T>(
    key: string,
    fn: (lease: Lease) => Promise<T> | T,
    options: AcquireOptions = {},
  ): Promise<T> {
    if (typeof fn !== 'function')
      throw new InvalidArgumentError('fn', `expected a function, got ${describe(fn)}`);
    const lease = await this.acquire(key, options);
    try {
      return await fn(lease);
    } finally {
      lease.release();
    }
  }

  /**
   * Answer `key`'s servers when they ask the client `method` ('*': any method): MCP sampling, LSP
   * workspace/configuration, ACP session/request_permission... A lease's handler (while it is
   * held) comes first, then these, then spec.onRequest; an exact method before '*'. `handler`
   * returns the result or a promise of it; throw `{ code, message, data? }` for that JSON-RPC
   * error (any other throw: -32603). May be added before `register(key)`. Returns the function
   * that removes it. docs/coordinator.md, "Talking both ways".
   */
  onRequest(key: string, method: string, handler: RequestHandler<Lease>): () => void {
    return this.#router.inbound.add('request', key, method, handler);
  }

  /**
   * Hear `key`'s servers' `method` notifications ('*': any), in the order they were sent: after a
   * lease's handlers (while it is held), before spec.onNotification's and the `notification`
   * event. May be added before `register(key)`. Returns the function that removes it.
   */
  onNotification(key: string, method: string, handler: NotificationHandler<Lease>): () => void {
    return this.#router.inbound.add('notification', key, method, handler);
  }

  /**
   * A JSON-RPC notification to every ready replica of `key` (leased ones included: it is not a
   * request). Resolves with how many it went to.
   */
  async notify(key: string, method: string, params?: unknown): Promise<number> {
    this.#checkOpen();
    const entry = this.#entry(key);
    if (typeof method !== 'string' || method.length === 0)
      throw new InvalidArgumentError(
        'method',
        `expected a non-empty string, got ${describe(method)}`,
      );
    if (entry.replicas[0]?.spec.protocol === 'none') throw noProtocol(key);
    let sent = 0;
    for (const s of entry.replicas) {
      const state = this.#table.state(s.slot);
      if (state.status !== 'ready' && state.status !== 'leased') continue;
      try {
        this.#router.notify(s.slot, state.generation, method, params);
        sent++;
      } catch (error) {
        if (!(error instanceof NotRunningError)) throw error; // it exited meanwhile: skip it
      }
    }
    return sent;
  }

  snapshot(key: string): ConnectionSnapshot {
    const entry = this.#entry(key);
    const replicas = entry.replicas.map((s, replica): ReplicaSnapshot => {
      const snap = this.#table.snapshot(s.slot);
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

  keys(): string[] {
    return [...this.#entries.keys()];
  }

  stats(): CoordinatorStats {
    const byStatus = Object.fromEntries(STATUS_NAMES.map((s) => [s, 0])) as Record<
      StatusName,
      number
    >;
    let inFlight = 0;
    let restarts = 0;
    let waiters = 0;
    let oldest = 0;
    let connections = 0;
    for (const entry of this.#entries.values()) {
      waiters += entry.waiters.size;
      for (const s of entry.replicas) {
        connections++;
        const snap = this.#readSlot(s.slot);
        if (snap === undefined) continue;
        byStatus[snap.status]++;
        inFlight += snap.inFlight;
        restarts += s.restarts;
        if (snap.leaseAgeMs > oldest) oldest = snap.leaseAgeMs;
      }
    }
    const holds = [...this.#holds].sort((a, b) => a - b);
    const at = (q: number) => nearestRank(holds, q);
    return {
      connections,
      byStatus,
      leases: this.#leases.size,
      waiters,
      restarts,
      inFlight,
      requests: { total: this.#router.counters.requests, failed: this.#router.counters.failed },
      stdinBlocked: this.#router.stdinBlocked(),
      dataPlane: this.#dataPlaneStats(),
      leaseHoldMs: { count: holds.length, p50: at(0.5), p99: at(0.99), max: holds.at(-1) ?? 0 },
      oldestLeaseMs: oldest,
      protocolErrors: this.#router.counters.protocol,
      housekeeping: {
        passes: this.#counters.passes,
        lastPassUs: this.#counters.lastPassUs,
        maxPassUs: this.#counters.maxPassUs,
        skipped: this.#counters.skipped,
      },
      probes: this.#probes.stats(),
    };
  }

  #dataPlaneStats(): CoordinatorStats['dataPlane'] {
    const { toWorkers, fromWorkers } = this.#io.ringCounts();
    return {
      framesSent: this.#io.framesSent,
      publishes: toWorkers.publishes,
      workerWakeups: toWorkers.wakeups,
      framesRead: fromWorkers.frames,
      reads: fromWorkers.reads,
      parks: fromWorkers.parks,
    };
  }

  /**
   * Run a health round now: every probe that may run (startup gating holds; probes in flight are
   * not doubled) is dispatched at once, whatever its due time. Resolves when all of this round's
   * results are applied, with what the round cost the coordinator's thread. Rounds also run on
   * their own (a tick every shortest probe period / 4).
   */
  probeNow(): Promise<RoundReport> {
    this.#checkOpen();
    return this.#probes.probeNow();
  }

  /**
   * One housekeeping pass (also run every housekeeping.intervalMs): leak reports, hung-lease
   * eviction, max-lifetime and idle retirement. Reads slot state lock-free and changes it by CAS;
   * it never waits on a connection — slow work (stopping a process) is started, not awaited.
   */
  housekeep(): void {
    if (this.#closing) return;
    const started = performance.now();
    const hk = this.options.housekeeping;
    for (const s of this.#bySlot.values()) {
      if (s.removed) continue;
      const snap = this.#readSlot(s.slot);
      if (snap === undefined) continue; // look again next pass
      if (snap.status === 'leased' && snap.leaseId !== 0) {
        const lease = this.#leases.get(s.slot);
        if (
          hk.leakDetectionMs > 0 &&
          snap.leaseAgeMs >= hk.leakDetectionMs &&
          (snap.flags & Flag.leakReported) === 0
        ) {
          if (this.#table.setFlags(s.slot, snap.generation, Flag.leakReported)) {
            this.#emit('leak', {
              key: s.key,
              slot: s.slot,
              leaseId: snap.leaseId,
              ageMs: snap.leaseAgeMs,
              stack: lease?.stack,
            });
          }
        }
        if (
          hk.leaseTimeoutMs > 0 &&
          snap.leaseAgeMs >= hk.leaseTimeoutMs &&
          this.#table.evict(s.slot, snap.generation)
        ) {
          this.#emit('evict', {
            key: s.key,
            slot: s.slot,
            leaseId: snap.leaseId,
            ageMs: snap.leaseAgeMs,
          });
          void s.kill();
          continue;
        }
        if (s.retirementDue(snap.generation) !== undefined)
          this.#table.setFlags(s.slot, snap.generation, Flag.retireOnRelease);
      } else if (snap.status === 'ready') {
        const due = s.retirementDue(snap.generation);
        if (due !== undefined) void s.retire(due, this.options.acquireTimeoutMs);
        else if (
          hk.idleTimeoutMs > 0 &&
          snap.inFlight === 0 &&
          performance.now() - s.lastUsed >= hk.idleTimeoutMs
        ) {
          void s.retire('idle', 0);
        }
      }
    }
    const us = Math.round((performance.now() - started) * 1000);
    this.#counters.passes++;
    this.#counters.lastPassUs = us;
    if (us > this.#counters.maxPassUs) this.#counters.maxPassUs = us;
  }

  /**
   * A slot's snapshot for the coordinator's own periodic work (housekeeping, stats), or undefined
   * when its record stayed held by a writer past the main thread's retry budget (only a thread that
   * died mid-write does that): counted, skipped, never thrown out of a timer or a metrics scrape.
   */
  #readSlot(slot: number): SlotSnapshot | undefined {
    try {
      return this.#table.snapshot(slot);
    } catch (error) {
      if (!(error instanceof ContentionError)) throw error;
      this.#counters.skipped++;
      return undefined;
    }
  }

  /**
   * Reject new work, let in-flight work finish for up to timeoutMs (default 10 s), stop every
   * process (escalating), and stop the IO workers. Idempotent.
   */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#closing) return this.#closing;
    const drainMs = checkTimeout(options.timeoutMs, 'options.timeoutMs') ?? 10_000;
    this.#closing = (async () => {
      clearInterval(this.#housekeeping);
      const probesClosed = this.#probes.close(); // no new rounds; the pool goes down meanwhile
      await this.#started.catch(() => {});
      await Promise.all([...this.#entries.values()].map((e) => this.#remove(e, drainMs)));
      await probesClosed;
      await this.#io.close();
      this.#router.closeAll(new ClosedError('the coordinator'));
      await this.#stateFile?.discard();
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- leases -------------------------------------------------------------------------------

  readonly #leaseBackend: LeaseBackend = {
    request: (lease, method, params, options) => {
      this.#checkRequest(method, options);
      const s = this.#bySlotOrThrow(lease.slot);
      this.#table.addInFlight(s.slot, 1);
      return this.#router.send(s, lease.generation, method, params, options, undefined);
    },
    notify: async (lease, method, params) => {
      this.#router.notify(this.#bySlotOrThrow(lease.slot).slot, lease.generation, method, params);
    },
    release: (lease) => this.#release(lease),
  };

  #release(lease: Lease): void {
    const supervisor = this.#bySlot.get(lease.slot);
    if (this.#leases.get(lease.slot) === lease) this.#leases.delete(lease.slot);
    const holdMs = performance.now() - lease.acquiredAt;
    this.#holds.push(holdMs);
    if (leaseChannel.hasSubscribers) {
      leaseChannel.publish({
        coordinator: this.id,
        action: 'release',
        key: lease.key,
        slot: lease.slot,
        leaseId: lease.leaseId,
        holdMs,
      } satisfies LeaseMessage);
    }
    if (this.#holds.length > 1024) this.#holds.shift();
    let outcome: 'ready' | 'draining' | 'evicted';
    try {
      outcome = this.#table.release(lease.slot, lease.leaseId);
    } catch (error) {
      if (error instanceof NotLeaseHolderError) return; // evicted and cleared: nothing to give back
      throw error;
    }
    if (supervisor === undefined) return;
    supervisor.onWorkDone();
    if (outcome === 'draining' && !supervisor.removed && !this.#closing) {
      const reason = supervisor.retirementDue(lease.generation) ?? 'max-lifetime';
      void supervisor.retire(reason, this.options.acquireTimeoutMs);
    }
    // Back to ready: the table's onLeasable hook has already handed it to the queue (#onLeasable).
    if (outcome !== 'ready') this.#serve(supervisor.key);
  }

  // ---- internals ----------------------------------------------------------------------------

  /**
   * Lease a replica of `entry` (or `only`): an idle one first, else the least busy. A lease on a
   * replica with plain requests still in flight shares the process with them until they finish
   * (no new ones go to it), so it is the last resort, not the first replica that happens to be
   * ready.
   */
  #tryLease(entry: Entry, stack: string | undefined, only?: Supervisor): Lease | undefined {
    if (only !== undefined) return this.#leaseReplica(entry, only, stack);
    let busy: { s: Supervisor; load: number }[] | undefined;
    for (const s of entry.replicas) {
      const load = this.#table.inFlight(s.slot);
      if (load !== 0) {
        if (busy === undefined) busy = [];
        busy.push({ s, load });
        continue;
      }
      const lease = this.#leaseReplica(entry, s, stack);
      if (lease !== undefined) return lease;
    }
    if (busy === undefined) return undefined;
    for (const { s } of busy.sort((a, b) => a.load - b.load)) {
      const lease = this.#leaseReplica(entry, s, stack);
      if (lease !== undefined) return lease;
    }
    return undefined;
  }

  #leaseReplica(entry: Entry, s: Supervisor, stack: string | undefined): Lease | undefined {
    const leaseId = this.#table.tryLease(s.slot);
    if (leaseId === 0) return undefined;
    const lease = new Lease(this.#leaseBackend, {
      key: entry.key,
      slot: s.slot,
      replica: entry.replicas.indexOf(s),
      generation: this.#table.state(s.slot).generation,
      leaseId,
      pid: s.pid,
      stack,
    });
    this.#leases.set(s.slot, lease);
    s.lastUsed = performance.now();
    return lease;
  }

  /** Choose a replica for a plain request and count the request in flight there at once. */
  #admit(entry: Entry): { supervisor: Supervisor; generation: number } | undefined {
    const supervisor = this.#readyReplica(entry);
    if (supervisor === undefined) return undefined;
    this.#table.addInFlight(supervisor.slot, 1);
    return { supervisor, generation: this.#table.state(supervisor.slot).generation };
  }

  /** A ready, unleased, readiness-passing replica, least busy first. */
  #readyReplica(entry: Entry): Supervisor | undefined {
    let best: Supervisor | undefined;
    let bestLoad = Number.POSITIVE_INFINITY;
    for (const s of entry.replicas) {
      const state = this.#table.state(s.slot);
      if (state.status !== 'ready' || (state.flags & Flag.unready) !== 0) continue;
      const load = this.#table.inFlight(s.slot);
      if (load < bestLoad) {
        best = s;
        bestLoad = load;
      }
    }
    return best;
  }

  /**
   * Wait until `attempt()` succeeds for `entry`: a ready replica (request) or a lease (acquire).
   *
   * The wait is a FIFO queue per key (entry.waiters). A new caller does not barge past queued
   * callers of its kind: it joins the tail. Everything on this thread that can make a replica
   * usable — a release, a start or restart reaching ready, readiness clearing `unready` — serves
   * the queue synchronously (the table's onLeasable hook, and `#serve`), so a released lease goes
   * to the head of the queue before the releasing caller can take it back. Changes made by other
   * threads (a worker releasing a lease it took through SlotTable.leaseAny) reach the queue through
   * ONE futex park per coordinator (`#pump`), not one per waiter. Bounded three ways: the timeout,
   * the caller's signal, and maxWaiting; a key that fails or closes fails its waiters at once.
   */
  async #waitFor<T>(
    entry: Entry,
    kind: WaiterKind,
    attempt: (only?: Supervisor) => T | undefined,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    if (entry.queued[kind] === 0) {
      // Nobody of this kind waits: serve whoever of the other kind is ahead, then try at once.
      if (entry.waiters.size > 0) this.#serveQueue(entry);
      const now = attempt();
      if (now !== undefined) return now;
    }
    this.#wakeIdle(entry);
    const failure = this.#failure(entry);
    if (failure !== undefined) throw failure;
    if (entry.waiters.size >= this.options.maxWaiting) {
      throw new QueueFullError(
        `the wait queue of ${JSON.stringify(entry.key)}`,
        this.options.maxWaiting,
      );
    }
    if (signal?.aborted) throw signal.reason;
    // Hot under contention: one closure (the executor) per waiter, the rest is shared.
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter = {
        entry,
        kind,
        attempt,
        resolve: resolve as (value: unknown) => void,
        reject,
        timeoutMs,
        timer: undefined,
        signal,
        onAbort: undefined,
      };
      entry.waiters.add(waiter);
      entry.queued[kind]++;
      this.#queued++;
      for (const s of entry.replicas) this.#table.addWaiters(s.slot, 1);
      if (timeoutMs < MAX_TIMER_MS)
        waiter.timer = setTimeout(this.#onWaitTimeout, timeoutMs, waiter);
      if (signal !== undefined) {
        waiter.onAbort = () => this.#reject(waiter, signal.reason);
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      if (!this.#pumping) void this.#pump();
    });
  }

  readonly #onWaitTimeout = (waiter: Waiter): void => {
    const key = JSON.stringify(waiter.entry.key);
    const what = waiter.kind === 'lease' ? `acquire(${key})` : `waiting for a connection of ${key}`;
    this.#reject(waiter, new TimeoutError(what, waiter.timeoutMs));
  };

  /** Take `waiter` out of its queue; false if it already left (served or failed). */
  #leave(waiter: Waiter): boolean {
    const entry = waiter.entry;
    if (!entry.waiters.delete(waiter)) return false;
    entry.queued[waiter.kind]--;
    this.#queued--;
    clearTimeout(waiter.timer);
    if (waiter.onAbort !== undefined) waiter.signal?.removeEventListener('abort', waiter.onAbort);
    for (const s of entry.replicas) this.#table.addWaiters(s.slot, -1);
    if (this.#queued === 0) this.#pumpStop?.abort(); // nobody waits: stop parking
    return true;
  }

  #grant(waiter: Waiter, value: unknown): void {
    if (this.#leave(waiter)) waiter.resolve(value);
  }

  #reject(waiter: Waiter, error: unknown): void {
    if (this.#leave(waiter)) waiter.reject(error);
  }

  /**
   * Serve `entry`'s queue in order. Once a waiter of one kind cannot be served, the rest of that
   * kind are skipped for this pass (acquires stay FIFO among themselves) while the other kind is
   * still tried, so requests are not held behind an acquire that cannot be served. Runs inside
   * table calls (onLeasable): it only tries leases and settles promises, nothing re-enters it.
   *
   * `only`: the replica whose release/start/readiness triggered this pass. Every usable replica is
   * handed out by the pass of the event that made it usable (or by the pump, for other threads'
   * changes), so acquires need try only that one; requests still pick the least busy ready one.
   */
  #serveQueue(entry: Entry, only?: Supervisor): void {
    let leaseBlocked = false;
    let requestBlocked = false;
    for (const waiter of entry.waiters) {
      if (!(waiter.kind === 'lease' ? leaseBlocked : requestBlocked)) {
        const got = waiter.attempt(only);
        if (got !== undefined) {
          this.#grant(waiter, got);
          continue;
        }
        if (waiter.kind === 'lease') leaseBlocked = true;
        else requestBlocked = true;
      }
      if (
        (leaseBlocked || entry.queued.lease === 0) &&
        (requestBlocked || entry.queued.request === 0)
      )
        return;
    }
  }

  /** The table says `slot` just became usable by this thread's doing: serve its key's queue. */
  #onLeasable(slot: number): void {
    const s = this.#bySlot.get(slot);
    const entry = s === undefined ? undefined : this.#entries.get(s.key);
    if (entry !== undefined && entry.waiters.size > 0) this.#serveQueue(entry, s);
  }

  /**
   * The coordinator's one futex waiter, alive while anyone is queued: it catches replicas made
   * usable by other threads. Announced once (addLeaseWaiter) for its whole life, and every epoch
   * read is followed by a serve pass (the retry) before parking, so no wake-up is lost.
   */
  async #pump(): Promise<void> {
    this.#pumping = true;
    this.#table.addLeaseWaiter(1);
    try {
      while (this.#queued > 0) {
        const epoch = this.#table.releaseEpoch();
        for (const entry of this.#entries.values())
          if (entry.waiters.size > 0) this.#serveQueue(entry);
        if (this.#queued === 0) break;
        const stop = new AbortController();
        this.#pumpStop = stop;
        try {
          await this.#table.parkForRelease(epoch, Number.POSITIVE_INFINITY, stop.signal);
        } catch {
          // stopped because the queues emptied; the loop condition decides
        } finally {
          this.#pumpStop = undefined;
        }
      }
    } finally {
      this.#table.addLeaseWaiter(-1);
      this.#pumping = false;
    }
  }

  /**
   * Something changed for `key` (a replica started, stopped, exited, failed, was released): fail
   * its waiters if it can no longer serve anyone, else serve its queue.
   */
  #serve(key: string): void {
    const entry = this.#entries.get(key);
    if (entry === undefined || entry.waiters.size === 0) return;
    const failure = this.#failure(entry);
    if (failure === undefined) this.#serveQueue(entry);
    else for (const waiter of entry.waiters) this.#reject(waiter, failure);
  }

  #failure(entry: Entry): Error | undefined {
    if (this.#closing || entry.removing)
      return new ClosedError(`connection ${JSON.stringify(entry.key)}`);
    if (entry.replicas.every((s) => s.status === 'failed')) {
      const last = entry.replicas[0]?.lastError;
      return new ConnectionFailedError(
        entry.key,
        `its restart breaker tripped${last instanceof Error ? ` (last error: ${last.message})` : ''}`,
      );
    }
    return undefined;
  }

  #wakeIdle(entry: Entry): void {
    for (const s of entry.replicas) if (s.idle && s.status === 'exited') void s.start();
  }

  async #remove(entry: Entry, drainMs: number): Promise<void> {
    entry.removing = true;
    const closed = new ClosedError(`connection ${JSON.stringify(entry.key)}`);
    for (const waiter of entry.waiters) this.#reject(waiter, closed);
    await Promise.all(entry.replicas.map((s) => s.stop({ drainMs, remove: true })));
    for (const s of entry.replicas) {
      this.#bySlot.delete(s.slot);
      this.#leases.delete(s.slot);
      this.#probes.forget(s.slot);
    }
    if (!this.#closing) void this.#probes.refresh().catch(() => {});
    if (this.#entries.get(entry.key) === entry) this.#entries.delete(entry.key);
  }

  /** What the IO workers report about processes, after routing.ts took its share. */
  #onIoEvent(event: IoEvent): void {
    if (event.type === 'memory-sample') {
      for (const sample of event.samples) {
        const s = this.#bySlot.get(sample.slot);
        if (s === undefined || s.generation !== sample.generation) continue;
        s.rssBytes = sample.rssBytes;
        s.cpuPercent = sample.cpuPercent;
      }
      return;
    }
    const s = this.#bySlot.get(event.slot);
    if (s === undefined) return;
    switch (event.type) {
      case 'exit':
        s.onExit(event);
        this.#serve(s.key);
        return;
      case 'memory':
        this.#onMemoryExceeded(s, event);
        return;
    }
  }

  /**
   * A process group went over spec.maxMemoryMb. Retire it the way max lifetime does: now if it is
   * ready (drain, stop, start afresh), on release if it is leased, as soon as it turns ready if it
   * is still starting (the next housekeeping pass).
   */
  #onMemoryExceeded(s: Supervisor, event: Extract<IoEvent, { type: 'memory' }>): void {
    if (event.generation !== s.generation || s.removed) return; // about a process already replaced
    s.memoryExceeded = event.generation;
    const { type: _, ...breach } = event;
    this.#emit('memory', { key: s.key, ...breach });
    const { slot, generation } = breach;
    if (this.#closing) return;
    const state = this.#table.state(slot);
    if (state.generation !== generation) return;
    if (state.status === 'ready') void s.retire('memory', this.options.acquireTimeoutMs);
    else if (state.status === 'leased')
      this.#table.setFlags(slot, generation, Flag.retireOnRelease);
  }

  /** An IO worker died: kill the process groups it owned and restart those connections. */
  #onIoWorkerDeath(index: number): void {
    const slots: number[] = [];
    const repaired: number[] = [];
    for (const s of this.#bySlot.values()) {
      if (this.#io.indexOf(s.slot) !== index) continue;
      // Its thread has stopped ('exit'), and besides this thread it was the only one publishing to
      // its slots' fields: a write still open there is its own, abandoned mid-way. Close it first,
      // or every read of the slot would stall and then fail from now on.
      const abandoned = this.#table.recoverFromDeadWriter(s.slot);
      if (abandoned) repaired.push(s.slot);
      // The IO worker publishes pid and exit = -1 together at spawn, and the exit status when it
      // sees the exit; so exit === -1 means this pid is a process it was still running. Any other
      // pid is an old, dead one that may since have been reused: never signal it. After an
      // abandoned write the two may disagree (the pid written, exit not yet): the pid is then the
      // one it was publishing a moment ago, so it is signalled too.
      const { pid, exit } = this.#table.fields(s.slot);
      if (pid > 0 && (exit === -1 || abandoned)) signalGroup(pid, 'SIGKILL');
      slots.push(s.slot);
      this.#router.close(
        s.slot,
        undefined,
        new ConnectionLostError(null, 'SIGKILL', 'its IO worker exited'),
      );
      s.onExit({
        type: 'exit',
        slot: s.slot,
        generation: s.generation,
        pid,
        code: null,
        signal: 'SIGKILL',
        stderrTail: [],
      });
      this.#serve(s.key);
    }
    this.#emit('io-worker-exit', { index, slots, repaired });
  }

  /** Test hook: make IO worker `index` crash (terminate it). */
  async crashIoWorker(index: number): Promise<void> {
    await this.#io.crash(index);
  }

  /** Does a diagnostics channel listen to `event`? */
  #channelListens(event: keyof CoordinatorEvents): boolean {
    return events.hasSubscribers || EVENT_CHANNEL[event]?.hasSubscribers === true;
  }

  #emit<E extends keyof CoordinatorEvents>(event: E, payload: CoordinatorEvents[E]): void {
    if (events.hasSubscribers) events.publish({ event, coordinator: this.id, ...payload });
    const named = EVENT_CHANNEL[event];
    if (named?.hasSubscribers) named.publish({ event, coordinator: this.id, ...payload });
    if (this.listenerCount(event) > 0) this.emit(event, payload);
  }

  #entry(key: string): Entry {
    const entry = this.#entries.get(key);
    if (entry === undefined) {
      if (this.#closing) throw new ClosedError('the coordinator');
      throw new InvalidArgumentError(
        'key',
        `no connection is registered under ${JSON.stringify(key)}`,
      );
    }
    return entry;
  }

  #bySlotOrThrow(slot: number): Supervisor {
    const s = this.#bySlot.get(slot);
    if (s === undefined) throw new ClosedError(`the connection in slot ${slot}`);
    return s;
  }

  #checkOpen(): void {
    if (this.#closing) throw new ClosedError('the coordinator');
  }

  #checkRequest(method: unknown, options: RequestOptions): void {
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
}

/** Make a coordinator. Every option has a default: `createCoordinator()` alone works. */
export function createCoordinator(options?: CoordinatorOptions): Coordinator {
  return new Coordinator(options);
}
