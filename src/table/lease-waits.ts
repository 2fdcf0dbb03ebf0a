/**
 * LeaseWaits: how one SlotTable instance waits for a lease — across threads on the table's
 * RELEASES futex word, and inside its own thread in a FIFO queue with synchronous hand-off. The
 * SlotTable owns the slots and calls `madeLeasable` after every move into a leasable state it
 * makes; its waiting methods (`leaseAny`, `leaseAnyAsync`, `onLeasable`, the futex building blocks)
 * hand over to this. docs/architecture.md, "Waiting for a connection", has the whole picture.
 *
 * Waiting for a lease across threads: a thread that found nothing leasable reads the RELEASES
 * futex word, increments LEASE_WAITERS, retries, then parks on RELEASES. Every move into a
 * leasable state (ready; unready cleared) that nobody in the mover's thread took at once loads
 * LEASE_WAITERS afterwards and, if anyone waits, bumps RELEASES and wakes them all. With
 * sequentially consistent Atomics either the waiter's retry sees the ready slot or the mover sees
 * the waiter: no lost wake-up. Waking all is deliberate: waiters may want different slots.
 *
 * Waiting inside one thread (`leaseAnyAsync`) is a FIFO queue per SlotTable instance (an instance
 * belongs to one thread): the WaitQueue and ReleasePump of wait-queue.ts, which the coordinator's
 * per-key queues use too. Parking every async waiter on the futex would wake them all on every
 * release and let the releasing caller, still running, take the slot back before any of them got a
 * turn: starvation and a thundering herd. Instead:
 * - a new call does not barge: with waiters queued it joins the tail;
 * - a move into a leasable state made in this thread (a release, a move to ready, unready
 *   cleared) hands the slot synchronously to the first queued waiter that wants it, before the
 *   caller runs on;
 * - ONE pump per instance parks on RELEASES (announced through LEASE_WAITERS, with the same
 *   epoch → announce → retry → park order as above) while the queue is non-empty, so moves made
 *   by other threads still wake it; it then serves the queue in order;
 * - a waiter's timeout or abort removes it from the queue; an empty queue stops the pump.
 * Across threads there is no FIFO: a worker blocked in the sync `leaseAny` and this thread's queue
 * compete through the futex (the local queue wins a release made in its own thread).
 * `SlotTable.tryLease` stays a non-blocking try that may barge past queued waiters (HikariCP's
 * borrow does the same); callers that want FIFO use `leaseAnyAsync`. Callers with their own queue
 * in this thread (the coordinator) subscribe with `onLeasable` to get the same synchronous
 * hand-off.
 */
import { TimeoutError } from '../errors.ts';
import { Table as L } from '../shm/layout.ts';
import { parkAsync, parkSync } from '../shm/park.ts';
import { deadlineAfter, now as monotonicNow } from '../shm/runtime.ts';
import { ReleasePump, SKIP, WaitQueue } from './wait-queue.ts';

export interface Leased {
  slot: number;
  leaseId: number;
  generation: number;
}

/** What LeaseWaits needs of its table. */
export interface LeaseSource {
  /** Lease `slot` if it is leasable now (one CAS), or undefined. Never waits. */
  leaseOne(slot: number): Leased | undefined;
  /** Is `slot` ready now? */
  ready(slot: number): boolean;
}

export class LeaseWaits {
  readonly #view: Int32Array;
  readonly #table: LeaseSource;
  /** This thread's `leaseAnyAsync` callers (each waits for any of its slots), FIFO. */
  readonly #queue = new WaitQueue<Leased, readonly number[], number>({
    attempt: (slots, hint) => this.#attempt(slots, hint),
    timeoutError: (_slots, timeoutMs) => new TimeoutError('SlotTable.leaseAnyAsync()', timeoutMs),
    counted: () => {
      if (this.#queue.size === 0) this.#pump.stop(); // nobody left: stop parking (no keep-alive)
    },
  });
  /** Slots found not leasable in the current serve pass: skipped for later waiters. */
  readonly #busy = new Set<number>();
  readonly #pump = new ReleasePump(
    this,
    () => this.#queue.size > 0,
    () => this.#serveAll(),
  );
  readonly #listeners: ((slot: number) => void)[] = [];

  /** `view`: the table's words (RELEASES and LEASE_WAITERS are in its header). */
  constructor(view: Int32Array, table: LeaseSource) {
    this.#view = view;
    this.#table = table;
  }

  /** Callers queued in `leaseAnyAsync` right now (this thread only). */
  get queued(): number {
    return this.#queue.size;
  }

  /** Waiters announced on RELEASES, all threads (pumps and blocked `leaseAny`). */
  announced(): number {
    return Atomics.load(this.#view, L.LEASE_WAITERS);
  }

  /** Block this worker until one of `slots` is leased, or `timeoutMs` (checked) has passed. */
  leaseAny(slots: readonly number[], timeoutMs: number | undefined): Leased {
    const deadline = deadlineAfter(timeoutMs);
    for (;;) {
      const got = this.#tryLeaseAny(slots);
      if (got !== undefined) return got;
      const epoch = Atomics.load(this.#view, L.RELEASES);
      Atomics.add(this.#view, L.LEASE_WAITERS, 1);
      try {
        const retry = this.#tryLeaseAny(slots);
        if (retry !== undefined) return retry;
        if (monotonicNow() >= deadline)
          throw new TimeoutError('SlotTable.leaseAny()', timeoutMs ?? 0);
        parkSync(this.#view, L.RELEASES, epoch, deadline);
      } finally {
        Atomics.sub(this.#view, L.LEASE_WAITERS, 1);
      }
    }
  }

  /** Lease one of `slots` (checked) now if nobody of this thread is queued, else join the queue. */
  leaseAnyAsync(
    slots: readonly number[],
    timeoutMs: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Leased> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#queue.size === 0) {
      const got = this.#tryLeaseAny(slots);
      if (got !== undefined) return Promise.resolve(got);
    }
    const queued = this.#queue.wait([...slots], timeoutMs, signal);
    this.#pump.start();
    return queued;
  }

  /** SlotTable.onLeasable. */
  onLeasable(listener: (slot: number) => void): () => void {
    this.#listeners.push(listener);
    return () => {
      const at = this.#listeners.indexOf(listener);
      if (at >= 0) this.#listeners.splice(at, 1);
    };
  }

  releaseEpoch(): number {
    return Atomics.load(this.#view, L.RELEASES);
  }

  addLeaseWaiter(delta: number): void {
    Atomics.add(this.#view, L.LEASE_WAITERS, delta);
  }

  async parkForRelease(epoch: number, deadline: number, signal?: AbortSignal): Promise<void> {
    await parkAsync(this.#view, L.RELEASES, epoch, deadline, signal);
  }

  /**
   * `slot` just became leasable by this thread's doing. Hand it to the first queued waiter that
   * wants it, else to the in-thread listeners; only if it is still ready afterwards wake the futex
   * waiters (other threads, and pumps), since a slot taken here changed nothing for them.
   */
  madeLeasable(slot: number): void {
    if (this.#queue.size > 0 && this.#queue.serve(slot) > 0) return;
    for (const listener of this.#listeners) listener(slot);
    if (this.#table.ready(slot)) this.#announceRelease();
  }

  /**
   * Serve one queued `leaseAnyAsync` caller: with `hint` (the slot this thread just made
   * leasable), that slot if the caller wants it (SKIP if not: a later caller may); after a futex
   * wake-up, any of its slots not already found busy in this pass (SKIP if none: a later caller
   * may want other slots).
   */
  #attempt(slots: readonly number[], hint: number | undefined): Leased | undefined | typeof SKIP {
    if (hint !== undefined) return slots.includes(hint) ? this.#table.leaseOne(hint) : SKIP;
    const busy = this.#busy;
    for (const slot of slots) {
      if (busy.has(slot)) continue;
      const got = this.#table.leaseOne(slot);
      if (got !== undefined) return got;
      busy.add(slot);
    }
    return SKIP;
  }

  /** A pass after a futex wake-up: any slot may have freed up. */
  #serveAll(): void {
    this.#busy.clear();
    this.#queue.serve();
  }

  /** Any of `slots`, trying them from a random start (spreads concurrent callers). */
  #tryLeaseAny(slots: readonly number[]): Leased | undefined {
    const n = slots.length;
    const start = n > 1 ? Math.floor(Math.random() * n) : 0;
    for (let i = 0; i < n; i++) {
      const got = this.#table.leaseOne(slots[(start + i) % n] as number);
      if (got !== undefined) return got;
    }
    return undefined;
  }

  #announceRelease(): void {
    if (Atomics.load(this.#view, L.LEASE_WAITERS) === 0) return;
    Atomics.add(this.#view, L.RELEASES, 1);
    Atomics.notify(this.#view, L.RELEASES);
  }
}
