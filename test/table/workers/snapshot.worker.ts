// Reads one slot's snapshot from another thread and posts it back.
import { parentPort, workerData } from 'node:worker_threads';
import { SlotTable, type SlotTableHandle } from '../../../src/table/slot-table.ts';

const { handle, slot } = workerData as { handle: SlotTableHandle; slot: number };
parentPort!.postMessage(SlotTable.from(handle).snapshot(slot));
