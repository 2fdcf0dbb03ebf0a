/**
 * The coordinator's events and their payloads (CoordinatorEvents), the one list the EventEmitter,
 * the diagnostics channels (diagnostics.ts) and `atomvisor run`'s log and metrics are typed from.
 */
import type { MemoryBreach } from '../io/memory.ts';
import type { ProbeEvent, UnhealthyEvent } from '../probes/types.ts';

/**
 * What the coordinator reports. Every event goes to the Coordinator's EventEmitter under its name
 * and to the `node:diagnostics_channel` channel `atomvisor:coordinator` as
 * `{ event, coordinator, ...payload }` (`coordinator`: the publishing coordinator's `id`).
 */
export interface CoordinatorEvents {
  /** A process was started (before its handshake). */
  spawn: { key: string; slot: number; generation: number; pid: number };
  /** A connection passed its handshake and serves. */
  ready: { key: string; slot: number; generation: number; pid: number; handshake: unknown };
  /** A start (spawn or handshake) failed; it counts towards backoff and the breaker. */
  'start-failed': { key: string; slot: number; generation: number; error: unknown };
  /** A process exited; `expected` when the coordinator stopped it. */
  exit: {
    key: string;
    slot: number;
    generation: number;
    pid: number;
    code: number | null;
    signal: string | null;
    expected: boolean;
    stderrTail: string[];
  };
  /** A restart is scheduled after `delayMs` (full-jitter backoff). */
  restart: { key: string; slot: number; attempt: number; delayMs: number };
  /** The restart breaker tripped: no more automatic restarts for this replica. */
  failed: { key: string; slot: number; restartsInWindow: number };
  /** A lease has been held longer than leakDetectionMs; `stack` is where it was acquired. */
  leak: { key: string; slot: number; leaseId: number; ageMs: number; stack: string | undefined };
  /** A lease held past leaseTimeoutMs was evicted and its process killed. */
  evict: { key: string; slot: number; leaseId: number; ageMs: number };
  /** A connection is being replaced on purpose (max lifetime, idle timeout). */
  retire: { key: string; slot: number; reason: RetireReason };
  /**
   * A process group went over spec.maxMemoryMb (resident memory of all its members): the replica
   * is retired — drained, stopped, started afresh; a leased one when its lease is released.
   */
  memory: { key: string } & MemoryBreach;
  /** The server broke the framing or the protocol; the connection keeps going. */
  protocol: {
    key: string;
    slot: number;
    problem: 'invalid' | 'oversized' | 'truncated';
    detail: string;
  };
  /** A notification the server sent (other than progress), after its handlers saw it. */
  notification: { key: string; slot: number; method: string; params: unknown };
  /** The server made a request no handler answers: it got -32601 (method not found). */
  'server-request': { key: string; slot: number; method: string };
  /** A notification handler threw or rejected (with no listener here, it is thrown uncaught). */
  'handler-error': {
    key: string;
    slot: number;
    method: string;
    kind: 'notification';
    error: unknown;
  };
  /** A line the server wrote to stderr (`generation`: which process of the slot wrote it). */
  stderr: { key: string; slot: number; generation: number; line: string };
  /** A stdout line of a server that speaks no protocol (protocol 'none'). */
  stdout: { key: string; slot: number; generation: number; line: string };
  /** One health probe result (docs/health.md); results for a replaced process are not reported. */
  probe: ProbeEvent;
  /** A liveness (or startup) probe failed failureThreshold times in a row: the process is killed and restarted. */
  unhealthy: UnhealthyEvent;
  /**
   * An IO worker thread died; its `slots` restart. `repaired`: slots whose fields it was writing
   * when it died (the write was closed; their processes were killed and restart like the others).
   */
  'io-worker-exit': { index: number; slots: number[]; repaired: number[] };
}

export type CoordinatorEventName = keyof CoordinatorEvents;

/** Why a replica was retired: its max lifetime, its memory limit, idleness, or a reload. */
export type RetireReason = 'max-lifetime' | 'memory' | 'idle' | 'reload';
