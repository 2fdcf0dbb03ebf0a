/**
 * The coordinator's wait queues: one FIFO per key (the WaitQueue of src/table/wait-queue.ts, the
 * same one SlotTable.leaseAnyAsync uses) for callers that found no usable replica, and ONE futex
 * pump for the whole coordinator.
 *
 * A queue has two lanes: acquire() callers ('lease': they take the replica) and request() callers
 * ('request': they need a ready, unleased replica and take nothing). A new caller does not barge
 * past queued callers of its kind: it joins the tail. Everything on this thread that can make a
 * replica usable — a release, a start or restart reaching ready, readiness clearing `unready` —
 * serves the key's queue synchronously (the table's onLeasable hook → `onLeasable`, and
 * `changed`), so a released lease goes to the head of the queue before the releasing caller can
 * take it back. Once a waiter of one kind cannot be served, the rest of that kind are skipped for
 * that pass (acquires stay FIFO among themselves) while the other kind is still tried, so requests
 * are not held behind an acquire that cannot be served. Changes made by other threads (a worker
 * releasing a lease it took through SlotTable.leaseAny) reach the queues through the one pump.
 * Bounded three ways: the caller's timeout, its signal, and maxWaiting (QueueFullError); a key
 * that fails or closes fails its waiters at once. Each waiter is also counted in the `waiters`
 * word of every replica's slot (visible to any thread: docs/architecture.md, F4).
 */
import { ClosedError, ConnectionFailedError, QueueFullError, TimeoutError } from '../errors.ts';
import { ReleasePump, WaitQueue } from '../table/wait-queue.ts';
import type { Core, Entry, Requesting, Want } from './registry.ts';
import type { ResolvedSpec } from './spec.ts';
import type { Supervisor } from './supervisor.ts';

const LANE = { lease: 0, request: 1 } as const;

/** The one Want of every queued request (they carry nothing of their own). */
export const REQUESTING: Requesting = { kind: 'request' };

export interface QueuesContext extends Omit<Core, 'changed'> {
  /** Serve a request waiter: choose a ready replica and count the request there (or undefined). */
  admit(entry: Entry): unknown;
  /** Serve an acquire waiter: a lease on `only`, or on any replica of `entry` (or undefined). */
  lease(entry: Entry, stack: string | undefined, only: Supervisor | undefined): unknown;
}

export class Queues {
  readonly #ctx: QueuesContext;
  /** Waiters queued over all keys; the pump runs while it is above zero. */
  #queued = 0;
  readonly #pump: ReleasePump;

  constructor(ctx: QueuesContext) {
    this.#ctx = ctx;
    this.#pump = new ReleasePump(
      ctx.table,
      () => this.#queued > 0,
      () => {
        for (const entry of ctx.registry.entries.values())
          if (entry.queue.size > 0) entry.queue.serve();
      },
    );
  }

  /** A new key's entry, with its queue. */
  entry(key: string, spec: ResolvedSpec): Entry {
    const { table } = this.#ctx;
    const name = JSON.stringify(key);
    const entry: Entry = {
      key,
      spec,
      replicas: [],
      removing: false,
      queue: new WaitQueue<unknown, Want, Supervisor>(
        {
          attempt: (want, only) =>
            want.kind === 'request'
              ? this.#ctx.admit(entry)
              : this.#ctx.lease(entry, want.stack, only),
          lane: (want) => LANE[want.kind],
          timeoutError: (want, timeoutMs) =>
            new TimeoutError(
              want.kind === 'lease' ? `acquire(${name})` : `waiting for a connection of ${name}`,
              timeoutMs,
            ),
          counted: (_want, delta) => {
            this.#queued += delta;
            for (const s of entry.replicas) table.addWaiters(s.slot, delta);
            if (this.#queued === 0) this.#pump.stop(); // nobody waits: stop parking
          },
        },
        2,
      ),
    };
    return entry;
  }

  /**
   * Wait until `entry` can serve `want` (a lease, or a ready replica for a request): at once if
   * nobody of that kind is queued and it can be served now, else in the key's queue.
   */
  async wait<T>(
    entry: Entry,
    want: Want,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    const queue = entry.queue;
    if (queue.laneSize(LANE[want.kind]) === 0) {
      // Nobody of this kind waits: serve whoever of the other kind is ahead, then try at once.
      if (queue.size > 0) queue.serve();
      const now =
        want.kind === 'request'
          ? this.#ctx.admit(entry)
          : this.#ctx.lease(entry, want.stack, undefined);
      if (now !== undefined) return now as T;
    }
    for (const s of entry.replicas) if (s.idle && s.status === 'exited') void s.start();
    const failure = this.failure(entry);
    if (failure !== undefined) throw failure;
    const { maxWaiting } = this.#ctx.options;
    if (queue.size >= maxWaiting)
      throw new QueueFullError(`the wait queue of ${JSON.stringify(entry.key)}`, maxWaiting);
    if (signal?.aborted) throw signal.reason;
    const queued = queue.wait(want, timeoutMs, signal) as Promise<T>;
    this.#pump.start();
    return queued;
  }

  /** The table says `slot` just became usable by this thread's doing: serve its key's queue. */
  onLeasable(slot: number): void {
    const found = this.#ctx.registry.entryOfSlot(slot);
    if (found !== undefined && found.entry.queue.size > 0)
      found.entry.queue.serve(found.supervisor);
  }

  /**
   * Something changed for `key` (a replica started, stopped, exited, failed, was released): fail
   * its waiters if it can no longer serve anyone, else serve its queue.
   */
  changed(key: string): void {
    const entry = this.#ctx.registry.entries.get(key);
    if (entry === undefined || entry.queue.size === 0) return;
    const failure = this.failure(entry);
    if (failure === undefined) entry.queue.serve();
    else entry.queue.rejectAll(failure);
  }

  /** Why `entry` can serve nobody any more (closing, removed, every replica failed), if so. */
  failure(entry: Entry): Error | undefined {
    if (this.#ctx.closing() || entry.removing)
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
}
