/**
 * The coordinator's side of exclusive leases: taking one on a replica (the table's ready → leased
 * CAS: the lease *is* the slot's lock), the Lease objects held now (by slot), what a Lease's
 * request/notify/release do (its LeaseBackend), and the hold times of released leases (the last
 * 1 024, for stats), and the `atomvisor:lease` diagnostics. The Lease class users hold is
 * lease.ts; the queue acquire() waits in is queues.ts.
 *
 * A release goes back through the table (leased → ready, or → draining when the replica is due
 * for retirement): a move to ready hands the replica to the key's queue synchronously, inside the
 * table call (onLeasable), before the releasing caller runs on.
 */
import { NotLeaseHolderError } from '../errors.ts';
import { SampleWindow, type WindowSummary } from '../quantile.ts';
import { errorCode, type LeaseMessage, leaseChannel } from './diagnostics.ts';
import { Lease, type LeaseBackend } from './lease.ts';
import type { Queues } from './queues.ts';
import type { Core, Entry } from './registry.ts';
import type { Router } from './routing.ts';
import type { Supervisor } from './supervisor.ts';
import { checkRequest } from './types.ts';

export interface LeasesContext extends Core {
  readonly coordinatorId: number;
  readonly queues: Queues;
  readonly router: Router;
}

export class Leases {
  readonly #ctx: LeasesContext;
  readonly #held = new Map<number, Lease>();
  readonly #holds = new SampleWindow(1024);

  constructor(ctx: LeasesContext) {
    this.#ctx = ctx;
  }

  /** Leases held now. */
  get size(): number {
    return this.#held.size;
  }

  /** The lease held on `slot` now, if any. */
  get(slot: number): Lease | undefined {
    return this.#held.get(slot);
  }

  /** `slot` left the coordinator (its replica was removed): forget its lease. */
  forget(slot: number): void {
    this.#held.delete(slot);
  }

  /** Hold times of released leases, ms: the last 1 024. */
  holdTimes(): WindowSummary {
    return this.#holds.summary();
  }

  /**
   * Wait in `entry`'s queue for a lease (coordinator.acquire() after its checks), published on the
   * `atomvisor:lease` channel with the wait when someone listens there.
   */
  async acquire(
    entry: Entry,
    stack: string | undefined,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<Lease> {
    const coordinator = this.#ctx.coordinatorId;
    const key = entry.key;
    const waitStart = leaseChannel.hasSubscribers ? performance.now() : -1;
    try {
      const lease = await this.#ctx.queues.wait<Lease>(
        entry,
        { kind: 'lease', stack },
        timeoutMs,
        signal,
      );
      if (waitStart >= 0 && leaseChannel.hasSubscribers) {
        leaseChannel.publish({
          coordinator,
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
          coordinator,
          action: 'acquire-failed',
          key,
          waitMs: performance.now() - waitStart,
          error: errorCode(error),
        } satisfies LeaseMessage);
      }
      throw error;
    }
  }

  /**
   * Lease a replica of `entry` (or `only`): an idle one first, else the least busy. A lease on a
   * replica with plain requests still in flight shares the process with them until they finish
   * (no new ones go to it), so it is the last resort, not the first replica that happens to be
   * ready. `stack`: where acquire() was called, for leak reports.
   */
  take(entry: Entry, stack: string | undefined, only?: Supervisor): Lease | undefined {
    if (only !== undefined) return this.#leaseReplica(entry, only, stack);
    const { table } = this.#ctx;
    let busy: { s: Supervisor; load: number }[] | undefined;
    for (const s of entry.replicas) {
      const load = table.inFlight(s.slot);
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
    const { table } = this.#ctx;
    const leaseId = table.tryLease(s.slot);
    if (leaseId === 0) return undefined;
    const lease = new Lease(this.#backend, {
      key: entry.key,
      slot: s.slot,
      replica: entry.replicas.indexOf(s),
      generation: table.state(s.slot).generation,
      leaseId,
      pid: s.pid,
      stack,
    });
    this.#held.set(s.slot, lease);
    s.touch();
    return lease;
  }

  readonly #backend: LeaseBackend = {
    request: (lease, method, params, options) => {
      checkRequest(method, options);
      const s = this.#ctx.registry.supervisor(lease.slot);
      this.#ctx.table.addInFlight(s.slot, 1);
      return this.#ctx.router.send(s, lease.generation, method, params, options, undefined);
    },
    notify: async (lease, method, params) => {
      const slot = this.#ctx.registry.supervisor(lease.slot).slot;
      this.#ctx.router.notify(slot, lease.generation, method, params);
    },
    release: (lease) => this.#release(lease),
  };

  #release(lease: Lease): void {
    const { registry, table } = this.#ctx;
    const supervisor = registry.bySlot.get(lease.slot);
    if (this.#held.get(lease.slot) === lease) this.#held.delete(lease.slot);
    const holdMs = performance.now() - lease.acquiredAt;
    this.#holds.add(holdMs);
    if (leaseChannel.hasSubscribers) {
      leaseChannel.publish({
        coordinator: this.#ctx.coordinatorId,
        action: 'release',
        key: lease.key,
        slot: lease.slot,
        leaseId: lease.leaseId,
        holdMs,
      } satisfies LeaseMessage);
    }
    let outcome: 'ready' | 'draining' | 'evicted';
    try {
      outcome = table.release(lease.slot, lease.leaseId);
    } catch (error) {
      if (error instanceof NotLeaseHolderError) return; // evicted and cleared: nothing to give back
      throw error;
    }
    if (supervisor === undefined) return;
    supervisor.onWorkDone();
    if (outcome === 'draining' && !supervisor.removed && !this.#ctx.closing()) {
      const reason = supervisor.retirementDue(lease.generation) ?? 'max-lifetime';
      void supervisor.retire(reason, this.#ctx.options.acquireTimeoutMs);
    }
    // Back to ready: the table's onLeasable hook has already handed it to the queue. Otherwise
    // the key's waiters may have to be failed (its last replica is going).
    if (outcome !== 'ready') this.#ctx.changed(supervisor.key);
  }
}
