/**
 * The pools the pool suite compares, behind one small interface, each over `resources` in-memory
 * tokens (or, for the coordinator line, real tiny subprocesses) so what is measured is the pool:
 *
 * - `atomvisor`: the SlotTable lease path the coordinator's acquire uses — `tryLease` by CAS on a
 *   ready slot, else queue in the table's in-thread FIFO (`leaseAnyAsync`: served by hand-off on
 *   release, one futex pump per thread for other threads' releases), `release` by CAS.
 * - `atomvisor:coordinator`: `coordinator.acquire()` / `lease.release()` on real processes (the
 *   shell JSON-RPC server): the table path plus the coordinator's bookkeeping (Lease objects,
 *   waiter queues, stats).
 * - `generic-pool`, `tarn`: the usual Node pools, defaults except min = max = resources.
 *   They are devDependencies: when one is missing the driver says so instead of failing.
 */
import { createCoordinator } from '../../src/coordinator/coordinator.ts';
import { SlotTable } from '../../src/table/slot-table.ts';
import { shRpcServer } from '../fixtures/sh-rpc-server.ts';

export interface PoolDriver {
  /** Rejects after `timeoutMs` (pool-level for generic-pool and tarn: ACQUIRE_TIMEOUT_MS). */
  acquire(timeoutMs: number): Promise<unknown>;
  release(resource: unknown): void;
  close(): Promise<void>;
}

/** The peers' acquire timeout (their queues are FIFO: only a stuck run ever reaches it). */
export const ACQUIRE_TIMEOUT_MS = 2_000;

export type PoolDesign = 'atomvisor' | 'atomvisor:coordinator' | 'generic-pool' | 'tarn';

export const POOL_DESIGNS: readonly PoolDesign[] = [
  'atomvisor',
  'atomvisor:coordinator',
  'generic-pool',
  'tarn',
];

/** A driver, or why it cannot run here (a peer that is not installed). */
export async function makeDriver(
  design: PoolDesign,
  resources: number,
): Promise<PoolDriver | { missing: string }> {
  switch (design) {
    case 'atomvisor': {
      const table = SlotTable.create(resources);
      const slots: number[] = [];
      for (let i = 0; i < resources; i++) {
        const claimed = table.claim();
        if (claimed === undefined) throw new Error('slot table full');
        table.transition(claimed.slot, 'ready', { from: 'starting' });
        slots.push(claimed.slot);
      }
      return {
        acquire: (timeoutMs) => table.leaseAnyAsync(slots, { timeoutMs }),
        release: (r) => {
          const leased = r as { slot: number; leaseId: number };
          table.release(leased.slot, leased.leaseId);
        },
        close: async () => {},
      };
    }
    case 'atomvisor:coordinator': {
      const coordinator = createCoordinator({ capacity: Math.max(16, resources) });
      try {
        await coordinator.register('pool', shRpcServer(), { replicas: resources });
      } catch (error) {
        await coordinator.close({ timeoutMs: 1_000 });
        throw error;
      }
      return {
        acquire: (timeoutMs) => coordinator.acquire('pool', { timeoutMs }),
        release: (r) => (r as { release(): void }).release(),
        close: () => coordinator.close({ timeoutMs: 1_000 }),
      };
    }
    case 'generic-pool': {
      let mod: typeof import('generic-pool');
      try {
        mod = await import('generic-pool');
      } catch {
        return { missing: 'generic-pool is not installed' };
      }
      const createPool =
        mod.createPool ?? (mod as unknown as { default: typeof mod }).default.createPool;
      let next = 0;
      const pool = createPool(
        { create: async () => ({ token: next++ }), destroy: async () => {} },
        { min: resources, max: resources, acquireTimeoutMillis: ACQUIRE_TIMEOUT_MS },
      );
      return {
        acquire: () => pool.acquire(),
        release: (r) => void pool.release(r as { token: number }),
        close: async () => {
          await pool.drain();
          await pool.clear();
        },
      };
    }
    case 'tarn': {
      let mod: typeof import('tarn');
      try {
        mod = await import('tarn');
      } catch {
        return { missing: 'tarn is not installed' };
      }
      const Pool = mod.Pool ?? (mod as unknown as { default: typeof mod }).default.Pool;
      let next = 0;
      const pool = new Pool({
        create: () => Promise.resolve({ token: next++ }),
        destroy: () => {},
        min: resources,
        max: resources,
        acquireTimeoutMillis: ACQUIRE_TIMEOUT_MS,
      });
      return {
        acquire: () => pool.acquire().promise,
        release: (r) => void pool.release(r as { token: number }),
        close: async () => {
          await pool.destroy();
        },
      };
    }
  }
}
