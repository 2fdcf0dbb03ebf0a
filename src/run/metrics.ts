/**
 * Prometheus metrics for a coordinator (prom-client): what `atomvisor run` serves on /metrics, and
 * what a service that embeds the coordinator imports from 'atomvisor/metrics'. Counters and
 * histograms are fed by events as they happen — requests and leases from the diagnostics channels
 * (src/coordinator/diagnostics.ts, only this coordinator's messages), lifecycle and probes from the
 * coordinator's events — and the gauges are read at scrape time from lock-free snapshots, so an
 * idle scrape costs nothing between scrapes. Names and labels are listed in docs/run.md.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Coordinator } from '../coordinator/coordinator.ts';
import {
  CHANNEL_NAMES,
  type LeaseMessage,
  type RequestMessage,
} from '../coordinator/diagnostics.ts';
import type { CoordinatorEvents } from '../coordinator/events.ts';
import { InvalidArgumentError } from '../errors.ts';
import { STATUS_NAMES } from '../table/state.ts';
import { RunStatus } from './status.ts';

export { type ReplicaRow, RunStatus } from './status.ts';

const FAST = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const SLOW = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300];

export interface Metrics {
  readonly registry: Registry;
  /** The Prometheus text exposition of the whole registry. */
  scrape(): Promise<string>;
  readonly contentType: string;
  /** Stop listening (channels, events) and take this coordinator's metrics off the registry. */
  close(): void;
}

export interface MetricsOptions {
  /**
   * Register into this prom-client registry (e.g. your service's own) instead of a new one. Our
   * metric names start with `atomvisor_`; two coordinators need two registries.
   */
  registry?: Registry;
  /**
   * Also collect Node's default process metrics (`process_*`, `nodejs_*`). Default: true on a
   * registry of our own, false on one you pass (your service likely collects them already).
   */
  defaultMetrics?: boolean;
  /**
   * The replica view the gauges read (`atomvisor run` passes its own, which knows the config's
   * servers); default: one over every key the coordinator has registered.
   */
  status?: RunStatus;
}

/**
 * prom-client 15 writes a NaN sample value as `Nan` (e.g. the event-loop lag mean before its first
 * sample); the exposition format spells it `NaN`, and strict parsers reject anything else.
 */
function spellNaN(text: string): string {
  return text.replace(/^([^#\n].*) Nan$/gm, '$1 NaN');
}

/** Prometheus metrics for `coordinator`. Call `close()` when done (before the coordinator's). */
export function createMetrics(coordinator: Coordinator, options: MetricsOptions = {}): Metrics {
  if (options === null || typeof options !== 'object')
    throw new InvalidArgumentError('options', 'expected an object');
  if (options.registry !== undefined && !(options.registry instanceof Registry))
    throw new InvalidArgumentError('options.registry', 'expected a prom-client Registry');
  if (options.status !== undefined && !(options.status instanceof RunStatus))
    throw new InvalidArgumentError('options.status', 'expected a RunStatus');
  if (options.defaultMetrics !== undefined && typeof options.defaultMetrics !== 'boolean')
    throw new InvalidArgumentError('options.defaultMetrics', 'expected a boolean');
  const registry = options.registry ?? new Registry();
  const ownsStatus = options.status === undefined;
  const status = options.status ?? new RunStatus(coordinator);
  const registers = [registry];
  if (options.defaultMetrics ?? options.registry === undefined)
    collectDefaultMetrics({ register: registry });

  const requests = new Counter({
    name: 'atomvisor_requests_total',
    help: 'JSON-RPC requests finished, by key and outcome (ok, or the error code).',
    labelNames: ['key', 'outcome'] as const,
    registers,
  });
  const requestSeconds = new Histogram({
    name: 'atomvisor_request_duration_seconds',
    help: 'From sending a request to its answer.',
    labelNames: ['key'] as const,
    buckets: SLOW,
    registers,
  });
  const requestWait = new Histogram({
    name: 'atomvisor_request_wait_seconds',
    help: 'How long request() waited for a usable replica.',
    labelNames: ['key'] as const,
    buckets: FAST,
    registers,
  });
  const leaseWait = new Histogram({
    name: 'atomvisor_lease_wait_seconds',
    help: 'How long acquire() waited for an exclusive lease (outcome: acquired or the error code).',
    labelNames: ['key', 'outcome'] as const,
    buckets: FAST,
    registers,
  });
  const leaseHold = new Histogram({
    name: 'atomvisor_lease_hold_seconds',
    help: 'How long an exclusive lease (the connection lock) was held.',
    labelNames: ['key'] as const,
    buckets: SLOW,
    registers,
  });
  const starts = new Counter({
    name: 'atomvisor_process_starts_total',
    help: 'Processes spawned.',
    labelNames: ['key'] as const,
    registers,
  });
  const startFailures = new Counter({
    name: 'atomvisor_process_start_failures_total',
    help: 'Starts (spawn or handshake) that failed.',
    labelNames: ['key'] as const,
    registers,
  });
  const exits = new Counter({
    name: 'atomvisor_process_exits_total',
    help: 'Processes exited (expected: stopped by atomvisor).',
    labelNames: ['key', 'expected'] as const,
    registers,
  });
  const restarts = new Counter({
    name: 'atomvisor_restarts_total',
    help: 'Restarts scheduled after an unexpected exit.',
    labelNames: ['key'] as const,
    registers,
  });
  const retirements = new Counter({
    name: 'atomvisor_retirements_total',
    help: 'Planned replacements, by key and reason (max-lifetime, memory, idle).',
    labelNames: ['key', 'reason'] as const,
    registers,
  });
  const probes = new Counter({
    name: 'atomvisor_probe_results_total',
    help: 'Health probe results, by key, probe (liveness, readiness, startup) and outcome.',
    labelNames: ['key', 'probe', 'outcome'] as const,
    registers,
  });
  const probeSeconds = new Histogram({
    name: 'atomvisor_probe_duration_seconds',
    help: 'Health probe latency.',
    labelNames: ['key', 'probe'] as const,
    buckets: FAST,
    registers,
  });
  const unhealthy = new Counter({
    name: 'atomvisor_unhealthy_total',
    help: 'Liveness or startup probes that gave up: the process was killed and restarted.',
    labelNames: ['key', 'probe'] as const,
    registers,
  });

  // Gauges: read at scrape time from lock-free snapshots.
  new Gauge({
    name: 'atomvisor_replicas',
    help: 'Replicas by key and status.',
    labelNames: ['key', 'status'] as const,
    registers,
    collect() {
      this.reset();
      const rows = status.rows();
      for (const key of new Set(rows.map((r) => r.key))) {
        for (const s of STATUS_NAMES) {
          const n = rows.filter((r) => r.key === key && r.status === s).length;
          if (n > 0 || s === 'ready') this.set({ key, status: s }, n);
        }
      }
    },
  });
  const perKey = (
    name: string,
    help: string,
    value: (rows: ReturnType<RunStatus['rows']>) => number,
  ) =>
    new Gauge({
      name,
      help,
      labelNames: ['key'] as const,
      registers,
      collect() {
        this.reset();
        const rows = status.rows();
        for (const key of new Set(rows.map((r) => r.key)))
          this.set({ key }, value(rows.filter((r) => r.key === key)));
      },
    });
  perKey(
    'atomvisor_ready_replicas',
    'Replicas that serve (ready or leased, probes passing).',
    (r) => r.reduce((n, x) => n + (x.ready ? 1 : 0), 0),
  );
  perKey('atomvisor_in_flight_requests', 'Requests in flight.', (r) =>
    r.reduce((n, x) => n + x.inFlight, 0),
  );
  perKey('atomvisor_leases', 'Exclusive leases held now.', (r) =>
    r.reduce((n, x) => n + (x.leaseId !== 0 ? 1 : 0), 0),
  );
  perKey('atomvisor_oldest_lease_seconds', 'Age of the oldest lease held now.', (r) =>
    r.reduce((n, x) => Math.max(n, x.leaseAgeMs / 1000), 0),
  );
  new Gauge({
    name: 'atomvisor_resident_memory_bytes',
    help: "Resident memory of each replica's whole process group, as last measured.",
    labelNames: ['key', 'replica'] as const,
    registers,
    collect() {
      this.reset();
      for (const r of status.rows())
        if (r.rssBytes !== undefined)
          this.set({ key: r.key, replica: String(r.replica) }, r.rssBytes);
    },
  });
  new Gauge({
    name: 'atomvisor_waiters',
    help: 'Callers waiting for a connection.',
    registers,
    collect() {
      this.set(coordinator.stats().waiters);
    },
  });
  new Gauge({
    name: 'atomvisor_ready',
    help: '1 when every configured (or, embedded, registered) replica serves (what /readyz says).',
    registers,
    collect() {
      this.set(status.readiness().ready ? 1 : 0);
    },
  });
  new Gauge({
    name: 'atomvisor_main_thread_max_section_seconds',
    help: 'Longest synchronous section of the coordinator (housekeeping pass or probe round).',
    labelNames: ['section'] as const,
    registers,
    collect() {
      const stats = coordinator.stats();
      this.set({ section: 'housekeeping' }, stats.housekeeping.maxPassUs / 1e6);
      this.set({ section: 'probes' }, stats.probes.maxCriticalUs / 1e6);
    },
  });

  // Only this coordinator's messages: another one in the process may use the same keys.
  const ours = (m: { coordinator: number }) => m.coordinator === coordinator.id;
  const onRequest = (message: unknown) => {
    const m = message as RequestMessage;
    if (!ours(m)) return;
    requests.inc({ key: m.key, outcome: m.ok ? 'ok' : (m.error ?? 'error') });
    requestSeconds.observe({ key: m.key }, m.durationMs / 1000);
    if (!m.leased) requestWait.observe({ key: m.key }, m.waitMs / 1000);
  };
  const onLease = (message: unknown) => {
    const m = message as LeaseMessage;
    if (!ours(m)) return;
    if (m.action === 'acquire')
      leaseWait.observe({ key: m.key, outcome: 'acquired' }, m.waitMs / 1000);
    else if (m.action === 'acquire-failed')
      leaseWait.observe({ key: m.key, outcome: m.error }, m.waitMs / 1000);
    else leaseHold.observe({ key: m.key }, m.holdMs / 1000);
  };
  subscribe(CHANNEL_NAMES.request, onRequest);
  subscribe(CHANNEL_NAMES.lease, onLease);

  const listeners: { [E in keyof CoordinatorEvents]?: (e: CoordinatorEvents[E]) => void } = {
    spawn: (e) => starts.inc({ key: e.key }),
    'start-failed': (e) => startFailures.inc({ key: e.key }),
    exit: (e) => exits.inc({ key: e.key, expected: String(e.expected) }),
    restart: (e) => restarts.inc({ key: e.key }),
    retire: (e) => retirements.inc({ key: e.key, reason: e.reason }),
    probe: (e) => {
      probes.inc({ key: e.key, probe: e.probe, outcome: e.ok ? 'ok' : 'failed' });
      probeSeconds.observe({ key: e.key, probe: e.probe }, e.latencyMs / 1000);
    },
    unhealthy: (e) => unhealthy.inc({ key: e.key, probe: e.probe }),
  };
  for (const [event, fn] of Object.entries(listeners))
    coordinator.on(event, fn as (...args: unknown[]) => void);

  const names = registry
    .getMetricsAsArray()
    .map((metric) => metric.name)
    .filter((name) => name.startsWith('atomvisor_'));

  let closed = false;
  return {
    registry,
    contentType: registry.contentType,
    scrape: async () => spellNaN(await registry.metrics()),
    close() {
      if (closed) return;
      closed = true;
      unsubscribe(CHANNEL_NAMES.request, onRequest);
      unsubscribe(CHANNEL_NAMES.lease, onLease);
      for (const [event, fn] of Object.entries(listeners))
        coordinator.off(event, fn as (...args: unknown[]) => void);
      if (ownsStatus) status.close();
      // Off a shared registry, so the next createMetrics on it can register the same names.
      if (options.registry !== undefined)
        for (const name of names) registry.removeSingleMetric(name);
    },
  };
}
