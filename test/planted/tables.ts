/**
 * Deliberately broken lease acquisition, the planted bug the lease-exclusivity test must catch:
 * it checks that the slot is ready, then writes `leased` with a plain store instead of a CAS, so two
 * threads can both see `ready` and both take the lease.
 */
import { Table as L } from '../../src/shm/layout.ts';
import type { SlotTable, SlotTableHandle } from '../../src/table/slot-table.ts';
import { StateWord, Status } from '../../src/table/state.ts';

export type LeaseFn = (table: SlotTable, slot: number) => number;

export function checkThenSetLease(handle: SlotTableHandle): LeaseFn {
  const view = new Int32Array(handle.buffer);
  return (_table, slot) => {
    const index = L.slotBase(slot) + L.STATE;
    const base = L.slotBase(slot);
    const word = Atomics.load(view, index);
    if (StateWord.get(word, 'status') !== Status.ready) return 0;
    Atomics.store(view, index, StateWord.with(word, 'status', Status.leased));
    const id = Atomics.add(view, base + L.LEASE_IDS, 1) + 1;
    Atomics.store(view, base + L.LEASE, id);
    return id;
  };
}

export const leaseVariants = {
  correct:
    (_handle: SlotTableHandle): LeaseFn =>
    (table, slot) =>
      table.tryLease(slot),
  'check-then-set': checkThenSetLease,
} as const;

export type LeaseVariant = keyof typeof leaseVariants;
