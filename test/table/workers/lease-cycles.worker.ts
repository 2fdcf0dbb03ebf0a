// Acquire/release cycles over a set of slots. Each holder marks the slot in a separate plain
// array while it holds the lease; finding someone else's mark is a double lease.
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { SlotTable, type SlotTableHandle } from '../../../src/table/slot-table.ts';
import { arriveAndWait } from '../../helpers/barrier.ts';
import { type LeaseVariant, leaseVariants } from '../../planted/tables.ts';

const { handle, variant, holders, slots, cycles, barrier, parties } = workerData as {
  handle: SlotTableHandle;
  variant: LeaseVariant;
  holders: Int32Array;
  slots: number[];
  cycles: number;
  barrier: Int32Array;
  parties: number;
};
const table = SlotTable.from(handle);
const tryLease = leaseVariants[variant](handle);
const me = threadId + 1;
let doubles = 0;
let released = 0;
arriveAndWait(barrier, parties);
for (let i = 0; i < cycles; i++) {
  let slot = -1;
  let leaseId = 0;
  for (let spins = 0; leaseId === 0; spins++) {
    slot = slots[(i + spins) % slots.length] as number;
    leaseId = tryLease(table, slot);
    if (leaseId === 0 && spins % slots.length === slots.length - 1) {
      ({ slot, leaseId } = table.leaseAny(slots, { timeoutMs: 30_000 }));
    }
  }
  if (holders[slot] !== 0) doubles++;
  holders[slot] = me;
  for (let k = 0; k < 20; k++) if (holders[slot] !== me) doubles++;
  holders[slot] = 0;
  try {
    table.release(slot, leaseId);
    released++;
  } catch {
    doubles++; // a lease someone else released: only possible after a double lease
  }
}
parentPort!.postMessage({ doubles, released });
