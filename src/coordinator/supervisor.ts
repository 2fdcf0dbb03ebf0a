/**
 * Supervisor: the life of one replica slot — start (spawn + handshake), unexpected exit and
 * restart (backoff, breaker), planned stop (drain → close → escalate), retirement.
 *
 * All state changes go through the slot table's CAS transitions (src/table/state.ts), each checked
 * against the generation this supervisor started, so a late event from a previous process can
 * never move the current one. Nothing here holds a lock across I/O: a stop first moves the slot
 * to draining/closing by CAS (new work is refused from that moment), then does the slow part —
 * waiting for in-flight work, signalling the process group — with nothing held.
 *
 * Its own state (pid, generation, restarts, measurements, the retirement schedule) is private:
 * others read it through getters and change it only through the methods below (onExit,
 * onMemorySample, markMemoryExceeded, touch, useSpec...).
 */
import { ConnectionLostError } from '../errors.ts';
import type { IoEvent, UsageSample } from '../io/io-host.ts';
import type { StateFile } from '../io/state-file.ts';
import { MAX_TIMER_MS } from '../shm/validate.ts';
import type { SlotTable } from '../table/slot-table.ts';
import { Flag, type StatusName } from '../table/state.ts';
import type { CoordinatorEvents, RetireReason } from './events.ts';
import { handshake } from './handshake.ts';
import type { IoPool } from './io-pool.ts';
import type { ResolvedOptions } from './options.ts';
import { RestartPolicy } from './restart-policy.ts';
import type { Router } from './routing.ts';
import { childEnvironment, type ResolvedSpec } from './spec.ts';

export interface SupervisorContext {
  readonly table: SlotTable;
  readonly io: IoPool;
  readonly router: Router;
  readonly options: ResolvedOptions;
  readonly stateFile: StateFile | undefined;
  emit<E extends keyof CoordinatorEvents>(event: E, payload: CoordinatorEvents[E]): void;
  /** A replica may have become usable (ready, released) or failed: serve or fail waiters. */
  changed(supervisor: Supervisor): void;
}

const LIVE: readonly StatusName[] = ['starting', 'ready', 'leased', 'draining'];

export class Supervisor {
  readonly key: string;
  readonly slot: number;
  readonly #ctx: SupervisorContext;
  readonly #policy: RestartPolicy;
  // Everything below changes only through this class's methods; the getters further down are
  // what the coordinator, the probe scheduler and stats read.
  #spec: ResolvedSpec;
  #generation = 0;
  #pid = 0;
  #handshake: unknown;
  #restarts = 0;
  #lastError: unknown;
  #idle = false;
  /** When the current process turned ready (performance.now ms). */
  #readyAt = 0;
  /** Retire after this (performance.now ms), from maxLifetimeMs minus jitter. */
  #retireAt = Number.POSITIVE_INFINITY;
  /** The generation whose process group went over spec.maxMemoryMb (retire it), or -1. */
  #memoryExceeded = -1;
  #rssBytes: number | undefined;
  #cpuPercent: number | undefined;
  #lastUsed = performance.now();
  #removed = false;
  #restartTimer: NodeJS.Timeout | undefined;
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #drainWaiters: (() => void)[] = [];

  constructor(ctx: SupervisorContext, key: string, slot: number, spec: ResolvedSpec) {
    this.#ctx = ctx;
    this.key = key;
    this.slot = slot;
    this.#spec = spec;
    this.#policy = new RestartPolicy(ctx.options.restart);
  }

  /** What the next start runs; a reload with a new spec swaps it (useSpec) before the restart. */
  get spec(): ResolvedSpec {
    return this.#spec;
  }

  /** The generation of the process this supervisor started last (0: never started). */
  get generation(): number {
    return this.#generation;
  }

  get pid(): number {
    return this.#pid;
  }

  /** What the start handshake returned (e.g. MCP initialize's result). */
  get handshake(): unknown {
    return this.#handshake;
  }

  /** Restarts after unexpected exits (and memory retirements) so far. */
  get restarts(): number {
    return this.#restarts;
  }

  /** Why the last start failed, if one did. */
  get lastError(): unknown {
    return this.#lastError;
  }

  /** Stopped for idleness: starts again on demand. */
  get idle(): boolean {
    return this.#idle;
  }

  /** When work last finished here or a lease was taken (performance.now ms). */
  get lastUsed(): number {
    return this.#lastUsed;
  }

  /** The current process group's resident memory as last measured (undefined: not yet/never). */
  get rssBytes(): number | undefined {
    return this.#rssBytes;
  }

  /** Its CPU use between the last two measurements, % of one core (undefined: not yet/never). */
  get cpuPercent(): number | undefined {
    return this.#cpuPercent;
  }

  get status(): StatusName {
    return this.#ctx.table.state(this.slot).status;
  }

  get removed(): boolean {
    return this.#removed;
  }

  /** Start (or restart) the process; resolves when it is ready or the attempt has failed. */
  start(): Promise<void> {
    this.#starting ??= this.#start().finally(() => {
      this.#starting = undefined;
    });
    return this.#starting;
  }

  /** The process behind this slot reported an exit (from the IO worker). */
  onExit(event: Extract<IoEvent, { type: 'exit' }>): void {
    const { table } = this.#ctx;
    this.#ctx.stateFile?.remove(event.pid);
    if (event.generation !== this.#generation) return; // a previous process: already dealt with
    const status = this.status;
    if (!LIVE.includes(status)) return; // a stop or a failed start is handling it
    table.transition(this.slot, 'exited', { from: LIVE, generation: event.generation });
    this.#wakeDrainWaiters();
    this.#ctx.emit('exit', {
      key: this.key,
      slot: this.slot,
      generation: event.generation,
      pid: event.pid,
      code: event.code,
      signal: event.signal,
      expected: false,
      stderrTail: event.stderrTail,
    });
    this.#afterExit(this.#policy.onExit(this.#readyAt || performance.now(), performance.now()));
  }

  /** A request counted in flight here is over (answered, failed, or never sent). */
  requestDone(): void {
    this.#ctx.table.addInFlight(this.slot, -1);
    this.onWorkDone();
  }

  /** Work on this slot finished (a request settled, a lease was released). */
  onWorkDone(): void {
    this.#lastUsed = performance.now();
    if (this.#drainWaiters.length > 0 && this.#drained()) this.#wakeDrainWaiters();
  }

  /**
   * Stop the process: refuse new work (draining), let in-flight work and the lease finish for up to
   * `drainMs`, then stop the process group with escalation. `remove` frees the slot afterwards and
   * stops any further restart.
   */
  stop(options: { drainMs: number; remove: boolean }): Promise<void> {
    if (options.remove) {
      this.#removed = true;
      clearTimeout(this.#restartTimer);
      this.#restartTimer = undefined;
    }
    this.#stopping ??= this.#stop(options.drainMs).finally(() => {
      this.#stopping = undefined;
    });
    return this.#stopping.then(() => {
      if (this.#removed) this.#free();
    });
  }

  /** Why the process of `generation` should be retired now, if it should. */
  retirementDue(generation: number): 'memory' | 'max-lifetime' | undefined {
    if (this.#memoryExceeded === generation) return 'memory';
    return performance.now() >= this.#retireAt ? 'max-lifetime' : undefined;
  }

  /**
   * Replacement by plan (max lifetime, memory, idle): stop gracefully, then start afresh unless
   * idle. A memory retirement then goes through the restart policy like a crash (backoff, the
   * breaker, a `restart` event): a limit that every fresh process exceeds ends in `failed`, not in
   * a retirement loop.
   */
  async retire(reason: RetireReason, drainMs: number): Promise<void> {
    this.#ctx.emit('retire', { key: this.key, slot: this.slot, reason });
    await this.stop({ drainMs, remove: false });
    if (this.#removed) return;
    if (reason === 'idle') {
      this.#idle = true;
      return;
    }
    if (reason === 'memory') {
      // Unless an exit during the drain already went through the policy (a restart is pending,
      // or the breaker gave up).
      if (this.status === 'exited' && this.#restartTimer === undefined)
        this.#afterExit(this.#policy.onExit(this.#readyAt, performance.now()));
      return;
    }
    await this.start();
  }

  /** Kill the process now (hung lease evicted) and restart it through the normal path. */
  async kill(): Promise<void> {
    const generation = this.#generation;
    await this.#stopProcess(generation, { stdinGraceMs: 0, termGraceMs: 0 });
    if (this.#ctx.table.transition(this.slot, 'exited', { from: 'closing', generation })) {
      this.#wakeDrainWaiters();
      this.#afterExit(this.#policy.onExit(this.#readyAt, performance.now()));
    }
  }

  /**
   * A liveness (or startup) probe failed for the process of `generation`, which is ready or
   * leased: take it out of service (unready), then stop it quickly (SIGTERM, SIGKILL after
   * stop.termGraceMs). Its exit then takes the normal unexpected-exit path — exit event, backoff,
   * breaker, restart — and fails its pending requests at once. Returns false for another process.
   */
  killUnhealthy(generation: number): boolean {
    const { table, io, options } = this.#ctx;
    if (generation !== this.#generation || this.#removed) return false;
    const status = this.status;
    if (status !== 'ready' && status !== 'leased') return false;
    if (!table.setFlags(this.slot, generation, Flag.unready)) return false;
    void io
      .call(this.slot, (h) =>
        h.stop(this.slot, generation, { stdinGraceMs: 0, termGraceMs: options.stop.termGraceMs }),
      )
      .catch(() => {});
    return true;
  }

  /** Start from `spec` from the next start on (a reload with a changed spec). */
  useSpec(spec: ResolvedSpec): void {
    this.#spec = spec;
  }

  /** A lease was just taken on this replica. */
  touch(): void {
    this.#lastUsed = performance.now();
  }

  /** The IO worker measured this slot's process group: keep it if it is about the current one. */
  onMemorySample(sample: UsageSample): void {
    if (sample.generation !== this.#generation) return;
    this.#rssBytes = sample.rssBytes;
    this.#cpuPercent = sample.cpuPercent;
  }

  /**
   * The process group of `generation` went over spec.maxMemoryMb: retire it at the next chance
   * (retirementDue says 'memory'). False when that is not the current process, or it is removed.
   */
  markMemoryExceeded(generation: number): boolean {
    if (generation !== this.#generation || this.#removed) return false;
    this.#memoryExceeded = generation;
    return true;
  }

  /** Forget the restart history (a manual restart of a failed connection). */
  resetPolicy(): void {
    this.#policy.reset();
  }

  async #start(): Promise<void> {
    const { table, io, options } = this.#ctx;
    if (this.#removed) return;
    clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    if (
      this.status !== 'starting' &&
      !table.transition(this.slot, 'starting', { from: ['exited', 'failed'] })
    )
      return;
    this.#idle = false;
    const generation = table.state(this.slot).generation;
    this.#generation = generation;
    // A new process: its probe counts start from zero. With a readiness or startup probe, it
    // serves only once they pass (Kubernetes).
    table.publish(this.slot, {
      probeFailures: 0,
      probeSuccesses: 0,
      lastProbeAt: 0,
      lastProbeMs: 0,
    });
    const probes = this.#spec.probes;
    if (probes.readiness !== undefined || probes.startup !== undefined)
      table.setFlags(this.slot, generation, Flag.unready);
    this.#handshake = undefined;
    this.#rssBytes = undefined;
    this.#cpuPercent = undefined;
    let spawned = false;
    // The peer exists before the process does: whatever it says first, or its exit, has a reader.
    this.#ctx.router.open(this.slot, generation, this.#spec.protocol);
    try {
      const env = childEnvironment(this.#spec, options.env.allow, options.env.inherit);
      const { pid } = await io.call(this.slot, (h) =>
        h.spawn({
          slot: this.slot,
          generation,
          command: this.#spec.command,
          args: this.#spec.args,
          cwd: this.#spec.cwd,
          env,
          protocol: this.#spec.protocol,
          maxLineBytes: options.maxLineBytes,
          maxMemoryBytes: this.#spec.maxMemoryBytes,
          measureMemory: options.housekeeping.measureMemory,
          memoryCheckMs: options.housekeeping.memoryCheckMs,
        }),
      );
      spawned = true;
      this.#pid = pid;
      this.#ctx.stateFile?.add(pid);
      this.#ctx.emit('spawn', { key: this.key, slot: this.slot, generation, pid });
      this.#handshake = await handshake(this.#ctx.router, {
        key: this.key,
        slot: this.slot,
        generation,
        pid,
        spec: this.#spec,
        limitMs: options.startTimeoutMs,
      });
      if (!table.transition(this.slot, 'ready', { from: 'starting', generation })) return; // died or stopped meanwhile
      this.#readyAt = performance.now();
      this.#lastUsed = this.#readyAt;
      const { maxLifetimeMs, lifetimeVariance } = options.housekeeping;
      this.#retireAt =
        maxLifetimeMs > 0
          ? this.#readyAt + maxLifetimeMs * (1 - Math.random() * lifetimeVariance)
          : Number.POSITIVE_INFINITY;
      this.#ctx.emit('ready', {
        key: this.key,
        slot: this.slot,
        generation,
        pid,
        handshake: this.#handshake,
      });
      this.#ctx.changed(this);
    } catch (error) {
      this.#lastError = error;
      if (table.state(this.slot).generation !== generation || this.status !== 'starting') return;
      this.#ctx.emit('start-failed', { key: this.key, slot: this.slot, generation, error });
      if (spawned) {
        table.transition(this.slot, 'closing', { from: 'starting', generation });
        await this.#stopProcess(generation, options.stop);
        table.transition(this.slot, 'exited', { from: 'closing', generation });
      } else {
        this.#ctx.router.close(this.slot, generation, error);
        table.transition(this.slot, 'exited', { from: 'starting', generation });
      }
      this.#afterExit(this.#policy.onFailedStart(performance.now()));
    }
  }

  /**
   * Stop the process of `generation` (escalating per `grace`) and wait until its group is gone.
   * The IO worker replies after the exit event is in the ring; reading the ring now settles every
   * request the process answered before it went, and the rest fail with ConnectionLostError.
   */
  async #stopProcess(
    generation: number,
    grace: { stdinGraceMs: number; termGraceMs: number },
  ): Promise<{ code: number | null; signal: string | null } | undefined> {
    const { io, router } = this.#ctx;
    const info = await io
      .call(this.slot, (h) => h.stop(this.slot, generation, grace))
      .catch(() => undefined);
    io.drain(this.slot);
    router.close(
      this.slot,
      generation,
      new ConnectionLostError(info?.code ?? null, info?.signal ?? null, 'it was stopped'),
    );
    return info;
  }

  async #stop(drainMs: number): Promise<void> {
    const { table, options } = this.#ctx;
    const generation = this.#generation;
    for (;;) {
      const status = this.status;
      if (status === 'ready' || status === 'leased') {
        if (table.transition(this.slot, 'draining', { from: status, generation })) break;
        continue;
      }
      break;
    }
    if (this.status === 'draining' && !this.#drained()) await this.#waitDrained(drainMs);
    const status = this.status;
    if (
      !table.transition(this.slot, 'closing', {
        from: ['draining', 'starting', 'ready', 'leased'],
        generation,
      })
    ) {
      if (this.#starting) await this.#starting.catch(() => {}); // let a start that is in its catch settle
      if (status !== 'closing') return; // already exited (or never ran)
    }
    this.#ctx.changed(this);
    const info = await this.#stopProcess(generation, options.stop);
    // The group is gone now. Forget it here: the IO worker's own 'exit' event may arrive after an
    // unregister() has dropped this supervisor, and would then leave a stale state-file entry.
    this.#ctx.stateFile?.remove(this.#pid);
    if (table.transition(this.slot, 'exited', { from: 'closing', generation })) {
      this.#wakeDrainWaiters();
      this.#ctx.emit('exit', {
        key: this.key,
        slot: this.slot,
        generation,
        pid: this.#pid,
        code: info?.code ?? null,
        signal: info?.signal ?? null,
        expected: true,
        stderrTail: [],
      });
    }
  }

  #afterExit(decision: ReturnType<RestartPolicy['onExit']>): void {
    if (this.#removed) return;
    if (decision.action === 'give-up') {
      this.#ctx.table.transition(this.slot, 'failed', { from: 'exited' });
      this.#ctx.emit('failed', {
        key: this.key,
        slot: this.slot,
        restartsInWindow: decision.restartsInWindow,
      });
      this.#ctx.changed(this);
      return;
    }
    this.#restarts++;
    this.#ctx.table.publish(this.slot, { restarts: this.#restarts });
    this.#ctx.emit('restart', {
      key: this.key,
      slot: this.slot,
      attempt: decision.attempt,
      delayMs: decision.delayMs,
    });
    this.#ctx.changed(this);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      void this.start();
    }, decision.delayMs);
  }

  #free(): void {
    const { table } = this.#ctx;
    table.transition(this.slot, 'empty', { from: ['exited', 'failed'] });
  }

  #drained(): boolean {
    const snap = this.#ctx.table.snapshot(this.slot);
    return snap.inFlight === 0 && snap.leaseId === 0;
  }

  #waitDrained(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = ms < MAX_TIMER_MS ? setTimeout(done, ms) : undefined; // Infinity: no limit
      const waiter = () => done();
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#drainWaiters.push(waiter);
    });
  }

  #wakeDrainWaiters(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const wake of waiters) wake();
  }
}
