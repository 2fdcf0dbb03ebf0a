/**
 * Coordinator: the object users embed. It registers keyed connections (each a group of identical
 * replica processes), routes requests to them, hands out exclusive leases, and keeps every
 * process supervised — and it stays responsive whatever one process does.
 *
 * This file is the public API and the wiring; each job is a part of its own:
 * registry.ts (keys, replicas, slots), queues.ts (the FIFO wait per key and the futex pump),
 * leases.ts (taking and releasing leases), supervisor.ts (one replica's process life),
 * routing.ts (the data plane, requests and what servers send), housekeeper.ts (leaks, evictions,
 * retirements), io-events.ts (exits, memory, dead IO workers), stats.ts (snapshots and stats),
 * and the probe scheduler (src/probes/scheduler.ts).
 *
 * How the five classic pool failures (F1–F5, docs/architecture.md) are ruled out here:
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
import { ClosedError, InvalidArgumentError, NotRunningError, QueueFullError } from '../errors.ts';
import { StateFile } from '../io/state-file.ts';
import { ProbeScheduler } from '../probes/scheduler.ts';
import type { RoundReport } from '../probes/types.ts';
import { checkSignal, describe, timeoutOr } from '../shm/validate.ts';
import { SlotTable } from '../table/slot-table.ts';
import { Flag } from '../table/state.ts';
import { EVENT_CHANNEL, requestChannel } from './diagnostics.ts';
import type { CoordinatorEvents } from './events.ts';
import type { NotificationHandler, RequestHandler } from './handlers.ts';
import { Housekeeper } from './housekeeper.ts';
import { type IoEventsContext, onIoEvent, onIoWorkerDeath } from './io-events.ts';
import { IoPool } from './io-pool.ts';
import { Keys } from './keys.ts';
import type { Lease } from './lease.ts';
import { Leases } from './leases.ts';
import {
  type CoordinatorOptions,
  checkReplicas,
  type ResolvedOptions,
  resolveOptions,
  resolveRegisterOptions,
} from './options.ts';
import { Queues, REQUESTING } from './queues.ts';
import { type Core, type Entry, Registry } from './registry.ts';
import type { ReloadReport } from './reload.ts';
import { noProtocol, Router } from './routing.ts';
import { type ConnectionSpec, resolveSpec } from './spec.ts';
import { snapshotOf, statsOf } from './stats.ts';
import type { Supervisor, SupervisorContext } from './supervisor.ts';
import {
  type AcquireOptions,
  type ConnectionSnapshot,
  type CoordinatorStats,
  checkRequest,
  type RequestOptions,
} from './types.ts';

const events = channel('atomvisor:coordinator');

/** How long unregister/reload/scale/close let in-flight work finish: `timeoutMs`, default 10 s. */
const drainTimeout = (timeoutMs: unknown): number =>
  timeoutOr(timeoutMs, 'options.timeoutMs', 10_000);

let nextCoordinatorId = 1;

export class Coordinator extends EventEmitter {
  /** Process-unique; every diagnostics-channel message carries it as `coordinator`. */
  readonly id = nextCoordinatorId++;
  readonly options: ResolvedOptions;
  readonly #table: SlotTable;
  readonly #io: IoPool;
  readonly #stateFile: StateFile | undefined;
  readonly #registry = new Registry();
  readonly #queues: Queues;
  readonly #leases: Leases;
  readonly #router: Router;
  readonly #housekeeper: Housekeeper;
  readonly #keys: Keys;
  readonly #ioEvents: IoEventsContext;
  readonly #ctx: SupervisorContext;
  readonly #started: Promise<void>;
  readonly #housekeeping: NodeJS.Timeout;
  readonly #probes: ProbeScheduler;
  #closing: Promise<void> | undefined;

  constructor(options?: CoordinatorOptions) {
    super();
    this.options = resolveOptions(options);
    const table = SlotTable.create(this.options.capacity);
    this.#table = table;
    const registry = this.#registry;
    const { bySlot } = registry;
    const core: Core = {
      table,
      registry,
      options: this.options,
      closing: () => this.#closing !== undefined,
      emit: (event, payload) => this.#emit(event, payload),
      changed: (key) => this.#queues.changed(key),
    };
    this.#queues = new Queues({
      ...core,
      admit: (entry) => this.#admit(entry),
      lease: (entry, stack, only) => this.#leases.take(entry, stack, only),
    });
    // Releases, starts and readiness changes made on this thread hand off to the queue at once.
    table.onLeasable((slot) => this.#queues.onLeasable(slot));
    this.#stateFile =
      this.options.stateFile === undefined ? undefined : new StateFile(this.options.stateFile);
    this.#io = new IoPool(
      this.options.ioWorkers,
      table.handle,
      (kind, slot, generation, data, start, end) =>
        this.#router.onFrame(kind, slot, generation, data, start, end),
      (index) => onIoWorkerDeath(this.#ioEvents, index),
    );
    this.#router = new Router({
      coordinatorId: this.id,
      io: this.#io,
      options: this.options,
      keyOf: (slot) => bySlot.get(slot)?.key,
      replicaOf: (slot) => {
        const s = bySlot.get(slot);
        if (s === undefined) return undefined;
        const replica = registry.replicaIndex(s);
        return { key: s.key, replica, pid: s.pid, handlers: s.spec.handlers };
      },
      leaseOf: (slot) => this.#leases.get(slot),
      listens: (event) => this.listenerCount(event) > 0 || this.#channelListens(event),
      emit: core.emit,
      ioEvent: (event) => onIoEvent(this.#ioEvents, event),
    });
    const router = this.#router;
    this.#leases = new Leases({ ...core, coordinatorId: this.id, queues: this.#queues, router });
    this.#ioEvents = { ...core, io: this.#io, router };
    this.#housekeeper = new Housekeeper({ ...core, leases: this.#leases });
    this.#ctx = {
      ...core,
      io: this.#io,
      router,
      stateFile: this.#stateFile,
      changed: (supervisor) => core.changed(supervisor.key),
    };
    this.#probes = new ProbeScheduler({
      table,
      pool: this.options.probes,
      replicas: () => bySlot.values(),
      jsonrpc: async (target, generation, method, params, timeoutMs) => {
        const peer = router.peer(target.slot, generation);
        if (peer === undefined)
          throw new NotRunningError(
            `the process of slot ${target.slot} (generation ${generation})`,
          );
        return peer.request(method, params, { timeoutMs, totalTimeoutMs: timeoutMs });
      },
      kill: (target, generation) => {
        bySlot.get(target.slot)?.killUnhealthy(generation);
      },
      probe: (event) => this.#emit('probe', event),
      unhealthy: (event) => this.#emit('unhealthy', event),
    });
    this.#keys = new Keys({
      ...core,
      queues: this.#queues,
      leases: this.#leases,
      probes: this.#probes,
      supervisors: this.#ctx,
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
    if (this.#registry.entries.has(key))
      throw new InvalidArgumentError('key', `${JSON.stringify(key)} is already registered`);
    const resolved = resolveSpec(spec);
    const { replicas } = resolveRegisterOptions(options);
    await this.#started;
    this.#checkOpen();
    await this.#keys.add(key, resolved, replicas, 'options.replicas');
  }

  /** Stop `key`'s processes (in-flight work may finish for up to timeoutMs) and forget the key. */
  async unregister(key: string, options: { timeoutMs?: number } = {}): Promise<void> {
    const entry = this.#entry(key);
    const drainMs = drainTimeout(options.timeoutMs);
    await this.#keys.remove(entry, drainMs);
  }

  /** Start a failed (breaker tripped) or idle connection again by hand. */
  async restart(key: string): Promise<void> {
    await this.#keys.restart(this.#entry(key));
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
    const drainMs = drainTimeout(options.timeoutMs);
    const readyTimeoutMs = timeoutOr(
      options.readyTimeoutMs,
      'options.readyTimeoutMs',
      this.options.startTimeoutMs,
    );
    const spec = options.spec === undefined ? undefined : resolveSpec(options.spec, 'options.spec');
    return this.#keys.reload(entry, drainMs, readyTimeoutMs, spec);
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
    const drainMs = drainTimeout(options.timeoutMs);
    await this.#keys.scale(entry, target, drainMs);
  }

  /**
   * A JSON-RPC request to any ready replica of `key` that is not under an exclusive lease (the
   * least busy one). With none ready, it waits in the key's FIFO queue for one to be, bounded by
   * the signal and by options.timeoutMs (default there: options.acquireTimeoutMs); the request's
   * own inactivity timeout starts once it is sent.
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
      checkRequest(method, options);
      if (entry.replicas[0]?.spec.protocol === 'none') throw noProtocol(key);
      // The replica is chosen and the request counted in flight in one synchronous step (#admit),
      // whether now or when the queue serves it later: a drain that starts in between sees it and
      // waits for it, and a lease taken in the same pass finds it in flight (it finishes there; no
      // new plain request goes to the leased process).
      if (entry.queue.size === 0) {
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
    const admitted = await this.#queues.wait<Admitted>(
      entry,
      REQUESTING,
      options.timeoutMs ?? this.options.acquireTimeoutMs,
      options.signal,
    );
    const waitMs = waitStart < 0 ? 0 : performance.now() - waitStart;
    const { supervisor, generation } = admitted;
    return this.#router.send(supervisor, generation, method, params, options, waitMs);
  }

  /** Choose a replica for a plain request and count the request in flight there at once. */
  #admit(entry: Entry): Admitted | undefined {
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

  /** Exclusive use of one connection of `key` until the lease is released. */
  acquire(key: string, options: AcquireOptions = {}): Promise<Lease> {
    try {
      this.#checkOpen();
      const entry = this.#entry(key);
      const timeout = timeoutOr(
        options.timeoutMs,
        'options.timeoutMs',
        this.options.acquireTimeoutMs,
      );
      checkSignal(options.signal, 'options.signal');
      const stack =
        this.options.housekeeping.leakDetectionMs > 0
          ? new Error('lease acquired here').stack
          : undefined;
      return this.#leases.acquire(entry, stack, timeout, options.signal);
    } catch (error) {
      return Promise.reject(error);
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
   * request), in order with the requests still waiting to be written to each. Resolves with how
   * many it went to: a replica whose queue is full (it stopped reading, maxQueued reached) is
   * skipped.
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
        // It exited meanwhile, or its queue is full (it stopped reading stdin): skip it.
        if (!(error instanceof NotRunningError || error instanceof QueueFullError)) throw error;
      }
    }
    return sent;
  }

  snapshot(key: string): ConnectionSnapshot {
    return snapshotOf(this.#table, this.#entry(key));
  }

  keys(): string[] {
    return [...this.#registry.entries.keys()];
  }

  stats(): CoordinatorStats {
    return statsOf({
      table: this.#table,
      registry: this.#registry,
      leases: this.#leases,
      router: this.#router,
      io: this.#io,
      probes: this.#probes,
      housekeeper: this.#housekeeper,
    });
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
    this.#housekeeper.pass();
  }

  /**
   * Reject new work, let in-flight work finish for up to timeoutMs (default 10 s), stop every
   * process (escalating), and stop the IO workers. Idempotent.
   */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#closing) return this.#closing;
    const drainMs = drainTimeout(options.timeoutMs);
    this.#closing = (async () => {
      clearInterval(this.#housekeeping);
      const probesClosed = this.#probes.close(); // no new rounds; the pool goes down meanwhile
      await this.#started.catch(() => {});
      const entries = [...this.#registry.entries.values()];
      await Promise.all(entries.map((e) => this.#keys.remove(e, drainMs)));
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

  /** Test hook: make IO worker `index` crash (terminate it). */
  async crashIoWorker(index: number): Promise<void> {
    await this.#io.crash(index);
  }

  // ---- internals ----------------------------------------------------------------------------

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
    return this.#registry.entry(key, this.#closing !== undefined);
  }

  #checkOpen(): void {
    if (this.#closing) throw new ClosedError('the coordinator');
  }
}

/** A replica chosen for a plain request, with the request already counted in flight there. */
interface Admitted {
  supervisor: Supervisor;
  generation: number;
}

/** Make a coordinator. Every option has a default: `createCoordinator()` alone works. */
export function createCoordinator(options?: CoordinatorOptions): Coordinator {
  return new Coordinator(options);
}
