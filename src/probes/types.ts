/**
 * The probe scheduler's public shapes: what it needs from its host (ProbeHost, ProbeTarget: the
 * coordinator), what it reports (ProbeEvent, UnhealthyEvent: events; ProbeStats: stats().probes;
 * RoundReport, RoundSection: probeNow()). The scheduler itself is scheduler.ts.
 */
import type { ProbeConfigError } from '../errors.ts';
import type { SlotTable } from '../table/slot-table.ts';
import type { ProbeKind, ProbeName, ResolvedProbes } from './spec.ts';

export interface ProbeTarget {
  readonly key: string;
  readonly slot: number;
  readonly pid: number;
  readonly removed: boolean;
  readonly spec: { readonly probes: ResolvedProbes };
}

export interface ProbeEvent {
  key: string;
  slot: number;
  probe: ProbeName;
  kind: ProbeKind;
  ok: boolean;
  latencyMs: number;
  generation: number;
  reason?: string;
  /** A module probe's detail, or an HTTP probe's status. */
  detail?: unknown;
  /** The probe is misconfigured (exec command not found, module without that export...). */
  config?: boolean;
  /** With `config`: the typed error (ERR_ATOMVISOR_PROBE_CONFIG). */
  error?: ProbeConfigError;
}

export interface UnhealthyEvent {
  key: string;
  slot: number;
  generation: number;
  pid: number;
  probe: 'liveness' | 'startup';
  failures: number;
  reason: string | undefined;
}

export interface ProbeHost {
  readonly table: SlotTable;
  readonly pool: { threads: number; tasksPerThread: number };
  replicas(): Iterable<ProbeTarget>;
  /** A JSON-RPC request on the target's own stdio, through the IO worker that owns it. */
  jsonrpc(
    target: ProbeTarget,
    generation: number,
    method: string,
    params: unknown,
    timeoutMs: number,
  ): Promise<unknown>;
  /** Liveness or startup failed: kill the process so the normal restart path takes over. */
  kill(target: ProbeTarget, generation: number): void;
  probe(event: ProbeEvent): void;
  unhealthy(event: UnhealthyEvent): void;
}

export interface ProbeStats {
  dispatched: number;
  results: number;
  ok: number;
  failed: number;
  timedOut: number;
  /** Results for a process that was replaced (or exited) meanwhile: dropped, never applied. */
  dropped: number;
  /** Results not applied because the slot's record stayed held by a writer (one died mid-write). */
  contended: number;
  configErrors: number;
  inFlight: number;
  /** Processes killed because liveness (or startup) failed. */
  kills: number;
  /** Probe workers terminated because a task did not answer by its timeout. */
  workersReplaced: number;
  byProbe: Record<ProbeName, { ok: number; failed: number }>;
  /** Latency of the last 1 024 results, ms. */
  latencyMs: { count: number; p50: number; p99: number; max: number };
  /** Rounds (ticks that dispatched something, and forced rounds). */
  rounds: number;
  /** A round's decision: read the slot states lock-free, pick the due probes, µs. */
  lastRoundUs: number;
  maxRoundUs: number;
  /** One dispatch slice: handing due probes to the workers (bounded per slice), µs. */
  maxDispatchUs: number;
  /** The synchronous application of one result, µs. */
  maxApplyUs: number;
  /** max(maxRoundUs, maxApplyUs): the longest piece of shared-state work (F1's "lock hold"). */
  maxStateUs: number;
  /**
   * max of the three above: the longest the coordinator's thread spent in probe work at once
   * (since the coordinator started, first cold rounds included).
   */
  maxCriticalUs: number;
}

/** What one round cost (probeNow): its synchronous parts on the coordinator's thread, µs. */
export interface RoundReport {
  dispatched: number;
  /** From the round's start until its last result was applied, ms. */
  wallMs: number;
  decideUs: number;
  maxDispatchUs: number;
  maxApplyUs: number;
  /**
   * max(decideUs, maxApplyUs): the round's shared-state work (read the states, apply results with
   * generation-checked CAS). This is what F1's "lock hold" was; no lock exists here.
   */
  maxStateUs: number;
  /** max(decideUs, maxDispatchUs, maxApplyUs): every synchronous section, hand-offs included. */
  maxCriticalUs: number;
  /** Every synchronous section of this round (to line them up with GC pauses, say). */
  sections: RoundSection[];
}

/** One synchronous section of a round on the coordinator's thread. */
export interface RoundSection {
  part: 'decide' | 'dispatch' | 'apply';
  /** performance.now() at its start, ms. */
  start: number;
  us: number;
}
