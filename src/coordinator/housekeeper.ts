/**
 * Housekeeping: one pass over every replica (every housekeeping.intervalMs, and on
 * coordinator.housekeep()) that reports leaked leases, evicts hung ones, and retires replicas past
 * their lifetime or idle too long — failure F4 of docs/architecture.md. It reads slot state
 * lock-free and changes it by CAS only; it never waits on a connection (F5): slow work (stopping a
 * process) is started, not awaited.
 *
 * Also the one place the coordinator's periodic work reads a slot (`readSlot`, shared with stats):
 * a slot whose record stays held by a writer past the main thread's retry budget (only a thread
 * that died mid-write does that) is counted and skipped, never thrown out of a timer or a scrape.
 */
import { ContentionError } from '../errors.ts';
import type { SlotSnapshot } from '../table/slot-table.ts';
import { Flag } from '../table/state.ts';
import type { Leases } from './leases.ts';
import type { Core } from './registry.ts';
import type { CoordinatorStats } from './types.ts';

export interface HousekeeperContext extends Core {
  readonly leases: Leases;
}

export class Housekeeper {
  readonly #ctx: HousekeeperContext;
  readonly #counters = { passes: 0, lastPassUs: 0, maxPassUs: 0, skipped: 0 };

  constructor(ctx: HousekeeperContext) {
    this.#ctx = ctx;
  }

  /** Passes so far, their cost on this thread, and the slot reads skipped (stats().housekeeping). */
  counters(): CoordinatorStats['housekeeping'] {
    return { ...this.#counters };
  }

  /** One pass (see the file comment). Does nothing once the coordinator is closing. */
  pass(): void {
    const { table, registry, leases, options } = this.#ctx;
    if (this.#ctx.closing()) return;
    const started = performance.now();
    const hk = options.housekeeping;
    for (const s of registry.bySlot.values()) {
      if (s.removed) continue;
      const snap = this.readSlot(s.slot);
      if (snap === undefined) continue; // look again next pass
      if (snap.status === 'leased' && snap.leaseId !== 0) {
        if (
          hk.leakDetectionMs > 0 &&
          snap.leaseAgeMs >= hk.leakDetectionMs &&
          (snap.flags & Flag.leakReported) === 0
        ) {
          if (table.setFlags(s.slot, snap.generation, Flag.leakReported)) {
            this.#ctx.emit('leak', {
              key: s.key,
              slot: s.slot,
              leaseId: snap.leaseId,
              ageMs: snap.leaseAgeMs,
              stack: leases.get(s.slot)?.stack,
            });
          }
        }
        if (
          hk.leaseTimeoutMs > 0 &&
          snap.leaseAgeMs >= hk.leaseTimeoutMs &&
          table.evict(s.slot, snap.generation)
        ) {
          this.#ctx.emit('evict', {
            key: s.key,
            slot: s.slot,
            leaseId: snap.leaseId,
            ageMs: snap.leaseAgeMs,
          });
          void s.kill();
          continue;
        }
        if (s.retirementDue(snap.generation) !== undefined)
          table.setFlags(s.slot, snap.generation, Flag.retireOnRelease);
      } else if (snap.status === 'ready') {
        const due = s.retirementDue(snap.generation);
        if (due !== undefined) void s.retire(due, options.acquireTimeoutMs);
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
    const c = this.#counters;
    c.passes++;
    c.lastPassUs = us;
    if (us > c.maxPassUs) c.maxPassUs = us;
  }

  /**
   * A slot's snapshot for the coordinator's own periodic work (housekeeping, stats), or undefined
   * when its record stayed held by a writer past the main thread's retry budget: counted, skipped.
   */
  readSlot(slot: number): SlotSnapshot | undefined {
    try {
      return this.#ctx.table.snapshot(slot);
    } catch (error) {
      if (!(error instanceof ContentionError)) throw error;
      this.#counters.skipped++;
      return undefined;
    }
  }
}
