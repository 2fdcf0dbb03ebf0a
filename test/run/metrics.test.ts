/**
 * The diagnostics channels and the metrics they feed, in process with a real coordinator and real
 * echo servers: each request, lease and probe is published once on its named channel with its
 * timings, the Prometheus registry counts them, and the strict parser used by the end-to-end
 * tests really rejects broken expositions.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.ts';
import {
  CHANNEL_NAMES,
  type EventMessage,
  type LeaseMessage,
  type RequestMessage,
} from '../../src/index.ts';
import { createMetrics } from '../../src/run/metrics.ts';
import { RunStatus } from '../../src/run/status.ts';
import { coordinatorsFor } from '../helpers/coordinators.ts';
import { echoSpec } from '../helpers/processes.ts';
import { parsePrometheus, sampleValue } from './helpers.ts';

const coordinators = coordinatorsFor({
  ioWorkers: 1,
  stop: { stdinGraceMs: 500, termGraceMs: 500 },
});
const subscriptions: [string, (message: unknown) => void][] = [];
afterEach(async () => {
  for (const [name, fn] of subscriptions.splice(0)) unsubscribe(name, fn);
  await coordinators.closeAll();
});

function record<T>(name: string): T[] {
  const seen: T[] = [];
  const fn = (message: unknown) => seen.push(message as T);
  subscribe(name, fn);
  subscriptions.push([name, fn]);
  return seen;
}

describe('diagnostics channels', () => {
  it('publish requests, leases (wait and hold), probes and process lifecycle', async () => {
    const requests = record<RequestMessage>(CHANNEL_NAMES.request);
    const leases = record<LeaseMessage>(CHANNEL_NAMES.lease);
    const probes = record<EventMessage>(CHANNEL_NAMES.probe);
    const lifecycle = record<EventMessage>(CHANNEL_NAMES.process);
    const c = coordinators.make();
    await c.register(
      'echo',
      echoSpec({ liveness: { kind: 'jsonrpc', method: 'ping', periodMs: 60_000 } }),
    );
    await c.request('echo', 'echo', { a: 1 });
    await expect(c.request('echo', 'fail', { code: 7, message: 'no' })).rejects.toThrow();
    await c.withConnection('echo', (lease) => lease.request('sleep', { ms: 30 }));
    await c.probeNow();

    expect(requests.map((r) => [r.method, r.ok, r.leased, r.error])).toEqual([
      ['echo', true, false, undefined],
      ['fail', false, false, 'ERR_ATOMVISOR_JSONRPC'],
      ['sleep', true, true, undefined],
    ]);
    for (const r of requests) {
      expect(r.key).toBe('echo');
      expect(r.durationMs).toBeGreaterThanOrEqual(0);
      expect(r.waitMs).toBeGreaterThanOrEqual(0);
    }
    expect((requests[2] as RequestMessage).durationMs).toBeGreaterThanOrEqual(25);
    expect(leases.map((l) => l.action)).toEqual(['acquire', 'release']);
    const release = leases[1] as Extract<LeaseMessage, { action: 'release' }>;
    expect(release.holdMs).toBeGreaterThanOrEqual(25); // the lease was held across the sleep
    expect(leases[0]).toMatchObject({ key: 'echo', leaseId: release.leaseId });
    expect(probes.some((p) => p.event === 'probe' && p.key === 'echo')).toBe(true);
    expect(lifecycle.map((e) => e.event)).toEqual(['spawn', 'ready']);
    await c.close({ timeoutMs: 1_000 });
    expect(lifecycle.map((e) => e.event)).toEqual(['spawn', 'ready', 'exit']);
  });

  it('publishes an acquire that times out, with its wait', async () => {
    const leases = record<LeaseMessage>(CHANNEL_NAMES.lease);
    const c = coordinators.make();
    await c.register('echo', echoSpec());
    const held = await c.acquire('echo');
    await expect(c.acquire('echo', { timeoutMs: 50 })).rejects.toThrow(/timed out/);
    held.release();
    const failed = leases.find((l) => l.action === 'acquire-failed');
    expect(failed).toMatchObject({ key: 'echo', error: 'ERR_ATOMVISOR_TIMEOUT' });
    expect((failed as { waitMs: number }).waitMs).toBeGreaterThanOrEqual(40);
  });
});

describe('metrics', () => {
  it('count requests, leases and probes, and read gauges from the snapshots', async () => {
    const c = coordinators.make();
    const servers = [{ name: 'echo', spec: echoSpec(), replicas: 2 }];
    const status = new RunStatus(c, servers);
    const metrics = createMetrics(c, { status, defaultMetrics: false });
    try {
      await c.register('echo', echoSpec(), { replicas: 2 });
      for (let i = 0; i < 5; i++) await c.request('echo', 'echo', { i });
      await expect(c.request('echo', 'nope')).rejects.toThrow();
      const lease = await c.acquire('echo');
      const text = await metrics.scrape();
      const f = parsePrometheus(text);
      expect(sampleValue(f, 'atomvisor_requests_total', { key: 'echo', outcome: 'ok' })).toBe(5);
      expect(
        sampleValue(f, 'atomvisor_requests_total', {
          key: 'echo',
          outcome: 'ERR_ATOMVISOR_JSONRPC',
        }),
      ).toBe(1);
      expect(sampleValue(f, 'atomvisor_request_duration_seconds_count', { key: 'echo' })).toBe(6);
      expect(sampleValue(f, 'atomvisor_request_wait_seconds_count', { key: 'echo' })).toBe(6);
      expect(
        sampleValue(f, 'atomvisor_lease_wait_seconds_count', { key: 'echo', outcome: 'acquired' }),
      ).toBe(1);
      expect(sampleValue(f, 'atomvisor_leases', { key: 'echo' })).toBe(1);
      expect(sampleValue(f, 'atomvisor_replicas', { key: 'echo', status: 'leased' })).toBe(1);
      expect(sampleValue(f, 'atomvisor_replicas', { key: 'echo', status: 'ready' })).toBe(1);
      expect(sampleValue(f, 'atomvisor_ready_replicas', { key: 'echo' })).toBe(2);
      lease.release();
      const after = parsePrometheus(await metrics.scrape());
      expect(sampleValue(after, 'atomvisor_lease_hold_seconds_count', { key: 'echo' })).toBe(1);
      expect(sampleValue(after, 'atomvisor_leases', { key: 'echo' })).toBe(0);
      expect(sampleValue(after, 'atomvisor_process_starts_total', { key: 'echo' })).toBe(2);
    } finally {
      metrics.close();
    }
  });
});

describe('metrics for an embedded coordinator (no config)', () => {
  it('read every registered key, and default process metrics on a registry of their own', async () => {
    const c = coordinators.make();
    const probeListeners = c.listenerCount('probe');
    const metrics = createMetrics(c);
    try {
      await c.register('echo', echoSpec(), { replicas: 2 });
      await c.register('other', echoSpec());
      await c.request('echo', 'echo', {});
      const text = await metrics.scrape();
      // prom-client writes an early event-loop-lag mean as `Nan`; the strict parser wants `NaN`.
      expect(text).not.toMatch(/ Nan$/m);
      const f = parsePrometheus(text);
      expect(sampleValue(f, 'atomvisor_ready_replicas', { key: 'echo' })).toBe(2);
      expect(sampleValue(f, 'atomvisor_ready_replicas', { key: 'other' })).toBe(1);
      expect(sampleValue(f, 'atomvisor_ready')).toBe(1);
      expect(sampleValue(f, 'atomvisor_requests_total', { key: 'echo', outcome: 'ok' })).toBe(1);
      expect(sampleValue(f, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
      const lease = await c.acquire('other');
      const busy = parsePrometheus(await metrics.scrape());
      expect(sampleValue(busy, 'atomvisor_leases', { key: 'other' })).toBe(1);
      lease.release();
    } finally {
      metrics.close();
    }
    // Its own replica view stopped following the coordinator.
    expect(c.listenerCount('probe')).toBe(probeListeners);
  });

  it('register into a registry you pass, and come off it on close', async () => {
    const c = coordinators.make();
    const registry = new Registry();
    new Counter({ name: 'app_hits_total', help: "the service's own", registers: [registry] }).inc();
    await c.register('echo', echoSpec());
    const first = createMetrics(c, { registry });
    const f = parsePrometheus(await first.scrape());
    expect(sampleValue(f, 'app_hits_total')).toBe(1);
    expect(sampleValue(f, 'atomvisor_ready_replicas', { key: 'echo' })).toBe(1);
    // Your registry, your choice: no default process metrics unless asked for.
    expect(sampleValue(f, 'process_cpu_user_seconds_total')).toBeUndefined();
    first.close();
    expect(registry.getMetricsAsArray().map((m) => m.name)).toEqual(['app_hits_total']);
    // The same names can be registered again (a new coordinator, a restart of the embedding).
    const second = createMetrics(c, { registry });
    await c.request('echo', 'echo', {});
    const g = parsePrometheus(await second.scrape());
    expect(sampleValue(g, 'atomvisor_requests_total', { key: 'echo', outcome: 'ok' })).toBe(1);
    second.close();
  });

  it('reject bad options, naming the field', () => {
    const c = coordinators.make();
    const bad: [unknown, string][] = [
      [{ registry: {} }, 'options.registry'],
      [{ status: {} }, 'options.status'],
      [{ defaultMetrics: 'yes' }, 'options.defaultMetrics'],
      [null, 'options'],
    ];
    for (const [options, field] of bad) {
      let caught: unknown;
      try {
        createMetrics(c, options as never);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(InvalidArgumentError);
      expect((caught as Error).message).toContain(field);
    }
  });
});

describe('two coordinators in one process', () => {
  it("tag their messages with their own id, and each one's metrics count only its own", async () => {
    const requests = record<RequestMessage>(CHANNEL_NAMES.request);
    const lifecycle = record<EventMessage>(CHANNEL_NAMES.process);
    const a = coordinators.make();
    const b = coordinators.make();
    expect(a.id).not.toBe(b.id);
    const servers = [{ name: 'echo', spec: echoSpec(), replicas: 1 }];
    const metrics = createMetrics(a, { status: new RunStatus(a, servers), defaultMetrics: false });
    try {
      // The same key in both.
      await a.register('echo', echoSpec());
      await b.register('echo', echoSpec());
      for (let i = 0; i < 2; i++) await a.request('echo', 'echo', { i });
      for (let i = 0; i < 3; i++) await b.request('echo', 'echo', { i });
      await b.withConnection('echo', (lease) => lease.request('echo', {}));
      expect(requests.map((r) => r.coordinator)).toEqual([a.id, a.id, b.id, b.id, b.id, b.id]);
      expect(
        lifecycle
          .filter((e) => e.event === 'spawn')
          .map((e) => e.coordinator)
          .sort(),
      ).toEqual([a.id, b.id].sort());
      const f = parsePrometheus(await metrics.scrape());
      expect(sampleValue(f, 'atomvisor_requests_total', { key: 'echo', outcome: 'ok' })).toBe(2);
      expect(sampleValue(f, 'atomvisor_process_starts_total', { key: 'echo' })).toBe(1);
      // b's lease never reached a's metrics.
      expect(
        sampleValue(f, 'atomvisor_lease_wait_seconds_count', { key: 'echo', outcome: 'acquired' }),
      ).toBeUndefined();
    } finally {
      metrics.close();
    }
  });
});

describe('the strict Prometheus parser', () => {
  const ok = '# HELP a_total x\n# TYPE a_total counter\na_total{k="v"} 1\n';
  const hist = (lines: string) => `# TYPE h histogram\n${lines}`;
  it('accepts a valid exposition', () => {
    expect(sampleValue(parsePrometheus(ok), 'a_total', { k: 'v' })).toBe(1);
    parsePrometheus(hist('h_bucket{le="0.1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 0.3\nh_count 2\n'));
  });
  it.each([
    ['a sample without # TYPE', 'b 1\n'],
    ['a value that is not a number', '# TYPE a gauge\na one\n'],
    ['an unquoted label', '# TYPE a gauge\na{k=v} 1\n'],
    ['a series twice', '# TYPE a gauge\na 1\na 2\n'],
    ['no trailing newline', '# TYPE a gauge\na 1'],
    ['a bucket without le', hist('h_bucket 1\nh_sum 1\nh_count 1\n')],
    ['no +Inf bucket', hist('h_bucket{le="1"} 1\nh_sum 1\nh_count 1\n')],
    ['+Inf ≠ count', hist('h_bucket{le="+Inf"} 1\nh_sum 1\nh_count 2\n')],
    ['no _sum', hist('h_bucket{le="+Inf"} 1\nh_count 1\n')],
    [
      'non-cumulative buckets',
      hist('h_bucket{le="1"} 3\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2\n'),
    ],
  ])('rejects %s', (_, text) => {
    expect(() => parsePrometheus(text)).toThrow();
  });
});
