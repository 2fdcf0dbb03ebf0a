/**
 * atomvisor: supervise pools of subprocess-backed connections with lock-free shared-memory state.
 * This entry point exports the shared-memory primitives and the typed errors.
 */

export * from './coordinator/index.ts';
export * from './errors.ts';
export * from './shm/index.ts';
export { type SlotSnapshot, SlotTable, type SlotTableHandle } from './table/slot-table.ts';
