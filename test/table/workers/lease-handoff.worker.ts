// The other side of the cross-thread hand-off test: block in the sync `leaseAny` until the main
// thread releases, then hold the lease until the main thread's queue pump has announced itself on
// the futex (LEASE_WAITERS), and release so that the pump's futex path must wake it.
import { parentPort, workerData } from 'node:worker_threads';
import { SlotTable, type SlotTableHandle } from '../../../src/table/slot-table.ts';

const { handle, slot } = workerData as { handle: SlotTableHandle; slot: number };
const table = SlotTable.from(handle);
const nap = new Int32Array(new SharedArrayBuffer(4));

const leased = table.leaseAny([slot], { timeoutMs: 20_000 });
parentPort!.postMessage({ phase: 'leased', leaseId: leased.leaseId });
const deadline = Date.now() + 20_000;
while (table.leaseWaiters() === 0 && Date.now() < deadline) Atomics.wait(nap, 0, 0, 1);
table.release(slot, leased.leaseId);
parentPort!.postMessage({ phase: 'released', sawWaiters: table.leaseWaiters() });
