/**
 * ANTI-PATTERN (F3 in docs/architecture.md): shared state read and written by direct field access.
 *
 * Incident: a process manager (Go, "Brummer" scripts_status lockup). Process state was read by
 * direct field access (`status := p.Status`) next to mutex-guarded getters, and counters were
 * updated read-modify-write without synchronisation: under concurrent MCP calls readers saw
 * half-updated records and updates were lost; the mutex-heavy paths that were "safe" contended
 * into a lockup. The fix made the state an atomically swapped immutable record (CAS updates,
 * lock-free consistent reads).
 *
 * Reproduced faithfully with real threads on a SharedArrayBuffer: a process record of
 * RECORD_FIELDS Int32 fields that a writer updates field by field with plain stores and a reader
 * reads field by field with plain loads (a "torn" read mixes two updates), and a counter that
 * every thread increments with a plain `x = x + 1` (two threads' increments can overwrite each
 * other: lost updates). Do not copy this; atomvisor's equivalent is a CAS loop on a state word
 * (`update`) and a Seqlock snapshot for the multi-field record.
 */

/** pid, status, restarts, startedAt, exitCode, lastSeen: one process's record. */
export const RECORD_FIELDS = 6;

/** THE BUG: read-modify-write without an atomic operation. */
export function naiveIncrement(view: Int32Array, index: number): void {
  view[index] = (view[index] as number) + 1;
}

/** THE BUG: a multi-field update as separate plain stores; a reader may see it half done. */
export function naiveWriteRecord(view: Int32Array, base: number, values: ArrayLike<number>): void {
  for (let i = 0; i < RECORD_FIELDS; i++) view[base + i] = values[i] as number;
}

/** THE BUG: a multi-field read as separate plain loads, with nothing to detect a concurrent write. */
export function naiveReadRecord(view: Int32Array, base: number, out: Int32Array): void {
  for (let i = 0; i < RECORD_FIELDS; i++) out[i] = view[base + i] as number;
}
