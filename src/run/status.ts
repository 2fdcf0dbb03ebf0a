/**
 * What `atomvisor run` knows about each replica, in one place for the live view, `/status` and
 * `/readyz`: the coordinator's lock-free snapshots (status, pid, restarts, lease, in-flight) plus
 * what only events tell (each probe's last result, the last error). Events are kept per slot and
 * generation, so a result about a replaced process never shows against its successor.
 */
import type { Coordinator } from '../coordinator/coordinator.ts';
import type { CoordinatorEvents } from '../coordinator/events.ts';
import type { ProbeName } from '../probes/spec.ts';
import { Flag, type StatusName } from '../table/state.ts';
import type { ServerEntry } from './config.ts';

export type ProbeState = 'pending' | 'ok' | 'failing';

export interface ReplicaRow {
  /** `key` for a single replica, `key#i` otherwise. */
  name: string;
  key: string;
  replica: number;
  slot: number;
  status: StatusName;
  /** Out of service: its readiness or startup probe has not passed. */
  unready: boolean;
  /** True when it serves: ready or leased, and not unready. */
  ready: boolean;
  pid: number;
  generation: number;
  /** Since the current process started; undefined when none runs. */
  uptimeMs: number | undefined;
  restarts: number;
  /** Each configured probe: its last result for the current process. */
  probes: Partial<Record<ProbeName, { state: ProbeState; failures: number; reason?: string }>>;
  leaseId: number;
  leaseAgeMs: number;
  inFlight: number;
  waiters: number;
  /** Resident memory of its whole process group, as last measured; undefined before that. */
  rssBytes: number | undefined;
  /** CPU use of the group between the last two measurements, % of one core. */
  cpuPercent: number | undefined;
  lastError: { message: string; at: string } | undefined;
}

interface SlotNotes {
  generation: number;
  probes: Partial<Record<ProbeName, { ok: boolean; reason?: string }>>;
  lastError: { message: string; at: string } | undefined;
}

/** What the status needs of a configured server: its key, and its spec for the probes it has. */
export type StatusServer = Pick<ServerEntry, 'name' | 'spec'>;

export class RunStatus {
  readonly #coordinator: Coordinator;
  /** Undefined: every key the coordinator has registered (an embedding without a config). */
  #servers: readonly StatusServer[] | undefined;
  #logStats: (() => unknown) | undefined;
  readonly #listeners: [string, (...args: never[]) => void][] = [];
  readonly #notes = new Map<number, SlotNotes>();
  readonly #startedAt = Date.now();
  #shuttingDown = false;

  constructor(coordinator: Coordinator, servers?: readonly StatusServer[]) {
    this.#coordinator = coordinator;
    this.#servers = servers;
    this.#on('probe', (e) => {
      const notes = this.#notesFor(e.slot, e.generation);
      notes.probes[e.probe] = e.ok ? { ok: true } : { ok: false, reason: e.reason ?? 'failed' };
    });
    this.#on('spawn', (e) => {
      this.#notesFor(e.slot, e.generation);
    });
    this.#on('exit', (e) => {
      if (e.expected) return;
      const how = e.signal ? `killed by ${e.signal}` : `exited with code ${e.code}`;
      const tail = e.stderrTail.at(-1);
      this.#error(e.slot, `${how}${tail ? `: ${tail}` : ''}`);
    });
    this.#on('start-failed', (e) => {
      this.#error(e.slot, `start failed: ${(e.error as Error)?.message ?? String(e.error)}`);
    });
    this.#on('unhealthy', (e) => {
      this.#error(e.slot, `${e.probe} failed ${e.failures}×: ${e.reason ?? ''}`);
    });
    this.#on('failed', (e) => {
      this.#error(e.slot, `restart breaker tripped (${e.restartsInWindow} restarts)`);
    });
  }

  #on<E extends keyof CoordinatorEvents>(
    event: E,
    listener: (payload: CoordinatorEvents[E]) => void,
  ): void {
    this.#coordinator.on(event, listener);
    this.#listeners.push([event, listener]);
  }

  /** Stop following the coordinator's events. */
  close(): void {
    for (const [event, listener] of this.#listeners.splice(0))
      this.#coordinator.off(event, listener as (...args: unknown[]) => void);
  }

  /** The configured servers changed (a config reload): rows and readiness follow these now. */
  setServers(servers: readonly StatusServer[]): void {
    this.#servers = servers;
  }

  /** What `/status` shows under `logs` (the log files' counters), or nothing. */
  setLogStats(stats: (() => unknown) | undefined): void {
    this.#logStats = stats;
  }

  /** From the first signal on: /readyz answers 503 and the view says so. */
  markShuttingDown(): void {
    this.#shuttingDown = true;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  rows(): ReplicaRow[] {
    const rows: ReplicaRow[] = [];
    const registered = new Set(this.#coordinator.keys());
    const now = this.#coordinator.table.now();
    for (const server of this.#servers ?? [...registered].map((name) => ({ name }))) {
      if (!registered.has(server.name)) continue;
      let snapshot: ReturnType<Coordinator['snapshot']>;
      try {
        snapshot = this.#coordinator.snapshot(server.name);
      } catch {
        continue; // removed meanwhile (closing)
      }
      for (const r of snapshot.replicas) {
        const notes = this.#notes.get(r.slot);
        const current = notes?.generation === r.generation ? notes : undefined;
        const unready = (r.flags & Flag.unready) !== 0;
        // exit === -1: the IO worker saw this pid spawn and not exit yet (src/table).
        const running = r.pid > 0 && r.exit === -1;
        const probes: ReplicaRow['probes'] = {};
        for (const name of ['startup', 'liveness', 'readiness'] as const) {
          const last = current?.probes[name];
          // Without a config: the probes that have reported on this process.
          const configured =
            'spec' in server ? server.spec[name] !== undefined : last !== undefined;
          if (!configured) continue;
          probes[name] = {
            state: last === undefined ? 'pending' : last.ok ? 'ok' : 'failing',
            failures: r.probes[name].failures,
            ...(last?.reason === undefined ? {} : { reason: last.reason }),
          };
        }
        rows.push({
          name: snapshot.replicas.length > 1 ? `${server.name}#${r.replica}` : server.name,
          key: server.name,
          replica: r.replica,
          slot: r.slot,
          status: r.status,
          unready,
          ready: (r.status === 'ready' || r.status === 'leased') && !unready,
          pid: r.pid,
          generation: r.generation,
          uptimeMs: running ? (now - r.startedAt) | 0 : undefined,
          restarts: r.restarts,
          probes,
          leaseId: r.leaseId,
          leaseAgeMs: r.leaseAgeMs,
          inFlight: r.inFlight,
          waiters: r.waiters,
          rssBytes: running ? r.rssBytes : undefined,
          cpuPercent: running ? r.cpuPercent : undefined,
          lastError: notes?.lastError,
        });
      }
    }
    return rows;
  }

  /**
   * Ready when every configured server is registered and every replica serves (without a config:
   * every registered replica).
   */
  readiness(): { ready: boolean; reasons: string[] } {
    const reasons: string[] = [];
    if (this.#shuttingDown) reasons.push('shutting down');
    const registered = new Set(this.#coordinator.keys());
    for (const server of this.#servers ?? [])
      if (!registered.has(server.name)) reasons.push(`${server.name}: not started yet`);
    for (const row of this.rows()) {
      if (!row.ready)
        reasons.push(`${row.name}: ${row.status}${row.unready ? ' (probes not passing)' : ''}`);
    }
    return { ready: reasons.length === 0, reasons };
  }

  /** The `/status` document. */
  toJSON(): unknown {
    const stats = this.#coordinator.stats();
    return {
      startedAt: new Date(this.#startedAt).toISOString(),
      uptimeMs: Date.now() - this.#startedAt,
      shuttingDown: this.#shuttingDown,
      ready: this.readiness().ready,
      replicas: this.rows(),
      stats,
      ...(this.#logStats === undefined ? {} : { logs: this.#logStats() }),
    };
  }

  #notesFor(slot: number, generation: number): SlotNotes {
    let notes = this.#notes.get(slot);
    if (notes === undefined) {
      notes = { generation, probes: {}, lastError: undefined };
      this.#notes.set(slot, notes);
    } else if (notes.generation !== generation) {
      // A new process in this slot: its probes start over; the last error stays on show.
      notes.generation = generation;
      notes.probes = {};
    }
    return notes;
  }

  #error(slot: number, message: string): void {
    const notes = this.#notes.get(slot) ?? { generation: -1, probes: {}, lastError: undefined };
    notes.lastError = { message, at: new Date().toISOString() };
    this.#notes.set(slot, notes);
  }
}
