/**
 * Kubernetes probe semantics on real processes, sockets and probe workers: liveness restarts
 * through the normal restart path, readiness takes a replica out of service without restarting
 * it, startup gates both, and a result for a replaced process is dropped, never applied.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CoordinatorEvents,
  InvalidArgumentError,
  type ProbeEvent,
  type UnhealthyEvent,
} from '../../src/index.ts';
import { Flag } from '../../src/table/state.ts';
import { echoSpec, isAlive, waitUntil } from '../helpers/processes.ts';
import { cleanup, coordinator, httpServer, onCleanup, PROBES, tcpPort } from './helpers.ts';

afterEach(cleanup);

function flagFile(key: string, content: 'ok' | 'fail'): void {
  const path = join(tmpdir(), `atomvisor-probe-${key}`);
  writeFileSync(path, content);
  onCleanup(async () => rmSync(path, { force: true }));
}

describe('spec validation', () => {
  it('names the offending field', async () => {
    const c = coordinator();
    const bad = async (probes: Record<string, unknown>, field: string) => {
      const error = await c.register('bad', echoSpec(probes)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error).toMatchObject({ field });
    };

    await bad(
      { liveness: { kind: 'jsonrpc', method: 'ping', periodMs: -1 } },
      'spec.liveness.periodMs',
    );
    await bad(
      { liveness: { kind: 'jsonrpc', method: 'ping', timeoutMs: 'x' } },
      'spec.liveness.timeoutMs',
    );
    await bad({ readiness: { kind: 'carrier-pigeon' } }, 'spec.readiness.kind');
    await bad({ readiness: 'ping' }, 'spec.readiness');
    await bad({ liveness: { kind: 'jsonrpc' } }, 'spec.liveness.method');
    await bad({ startup: { kind: 'tcp' } }, 'spec.startup.port');
    await bad({ startup: { kind: 'tcp', port: 70_000 } }, 'spec.startup.port');
    await bad({ liveness: { kind: 'http', url: 'ftp://x/' } }, 'spec.liveness.url');
    await bad({ liveness: { kind: 'exec', command: 'true', url: 'x' } }, 'spec.liveness.url');
    await bad({ liveness: { kind: 'module' } }, 'spec.liveness.path');
    await bad(
      { liveness: { kind: 'jsonrpc', method: 'ping', successThreshold: 2 } },
      'spec.liveness.successThreshold',
    );
    await bad(
      { startup: { kind: 'jsonrpc', method: 'ping', successThreshold: 2 } },
      'spec.startup.successThreshold',
    );
    await bad(
      { readiness: { kind: 'jsonrpc', method: 'ping', failureThreshold: 0 } },
      'spec.readiness.failureThreshold',
    );
    await bad(
      { readiness: { kind: 'jsonrpc', method: 'ping', failureThreshold: 1.5 } },
      'spec.readiness.failureThreshold',
    );
    // successThreshold > 1 is fine for readiness.
    await c.register(
      'ok',
      echoSpec({ readiness: { kind: 'jsonrpc', method: 'ping', successThreshold: 3 } }),
    );
  });
});

describe('liveness', () => {
  it('failureThreshold failures in a row restart the process through the restart path', async () => {
    const c = coordinator();
    const server = await httpServer(200);
    onCleanup(() => server.close());
    const events: ProbeEvent[] = [];
    const unhealthy: UnhealthyEvent[] = [];
    const exits: CoordinatorEvents['exit'][] = [];
    const restarts: CoordinatorEvents['restart'][] = [];
    c.on('probe', (e: ProbeEvent) => events.push(e));
    c.on('unhealthy', (e: UnhealthyEvent) => unhealthy.push(e));
    c.on('exit', (e: CoordinatorEvents['exit']) => exits.push(e));
    c.on('restart', (e: CoordinatorEvents['restart']) => restarts.push(e));
    await c.register(
      'live',
      echoSpec({
        liveness: {
          kind: 'http',
          url: server.url,
          periodMs: 60,
          // Generous: the failures under test are HTTP 500s, answered at once. A short timeout
          // would also count the probe pool's own start-up (seconds on a loaded machine).
          timeoutMs: 5_000,
          failureThreshold: 3,
        },
      }),
    );
    const first = c.snapshot('live').replicas[0];
    const pid = first?.pid as number;
    await waitUntil(() => events.filter((e) => e.ok).length >= 3, 'a few healthy probes');
    expect(unhealthy).toHaveLength(0);

    server.mode = 500;
    await waitUntil(() => unhealthy.length === 1, 'liveness gave up');
    await waitUntil(
      () =>
        c.snapshot('live').replicas[0]?.generation === 2 && c.snapshot('live').status === 'ready',
      'restarted',
    );
    server.mode = 200;
    const after = c.snapshot('live').replicas[0];
    expect(after?.pid).not.toBe(pid);
    expect(isAlive(pid)).toBe(false);
    expect(unhealthy[0]).toMatchObject({
      key: 'live',
      probe: 'liveness',
      generation: 1,
      pid,
      failures: 3,
      reason: 'HTTP 500',
    });
    // Exactly failureThreshold failures in a row for generation 1, and nothing applied after.
    const gen1 = events.filter((e) => e.generation === 1);
    const tail = gen1.slice(gen1.map((e) => e.ok).lastIndexOf(true) + 1);
    expect(tail.map((e) => e.ok)).toEqual([false, false, false]);
    expect(exits).toContainEqual(expect.objectContaining({ pid, expected: false, generation: 1 }));
    expect(restarts.length).toBeGreaterThanOrEqual(1);
    expect(c.stats().probes.kills).toBe(1);
    expect(c.stats().restarts).toBe(1);
    // The new process is probed afresh.
    await waitUntil(
      () => events.some((e) => e.generation === 2 && e.ok),
      'the new process passes liveness',
    );
  });

  it('a long request on a process that stops answering fails at once when liveness kills it (F5)', async () => {
    const c = coordinator();
    const period = 100;
    await c.register(
      'hung',
      echoSpec({
        liveness: {
          kind: 'jsonrpc',
          method: 'ping',
          periodMs: period,
          timeoutMs: 100,
          failureThreshold: 2,
        },
      }),
    );
    const pid = c.snapshot('hung').replicas[0]?.pid as number;
    const lease = await c.acquire('hung');
    const long = lease.request('sleep', { ms: 30_000 }).then(
      () => 'resolved',
      (e: { code?: string }) => e.code,
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    process.kill(pid, 'SIGSTOP'); // alive, answers nothing
    const stopped = performance.now();
    expect(await long).toBe('ERR_ATOMVISOR_CONNECTION_LOST');
    const detectedMs = performance.now() - stopped;
    // Two failed pings (period + timeout each, at worst) and a 200 ms SIGTERM grace: ≪ 30 s.
    console.log(
      `F5 (SIGSTOP under a lease): request failed ${detectedMs.toFixed(0)} ms after the stop`,
    );
    expect(detectedMs).toBeLessThan(2 * (period + 100) + 200 + 1_500);
    await waitUntil(() => c.snapshot('hung').replicas[0]?.generation === 2, 'restarted');
    lease.release();
  });

  it('a dead process under a long request is detected within one liveness period plus a margin', async () => {
    const c = coordinator();
    const period = 500;
    await c.register(
      'dies',
      echoSpec({ liveness: { kind: 'jsonrpc', method: 'ping', periodMs: period, timeoutMs: 200 } }),
    );
    const pid = c.snapshot('dies').replicas[0]?.pid as number;
    const long = c.request('dies', 'sleep', { ms: 30_000 }).then(
      () => 'resolved',
      (e: { code?: string }) => e.code,
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    const killed = performance.now();
    process.kill(pid, 'SIGKILL');
    expect(await long).toBe('ERR_ATOMVISOR_CONNECTION_LOST');
    const detectedMs = performance.now() - killed;
    console.log(
      `F5 (SIGKILL under a request): request failed ${detectedMs.toFixed(0)} ms after the kill`,
    );
    expect(detectedMs).toBeLessThan(period + 500);
  });
});

describe('readiness', () => {
  it('failing readiness makes a replica unleasable without restarting it, until successThreshold passes', async () => {
    const c = coordinator();
    const key = `ready-${process.pid}-${Date.now()}`;
    flagFile(key, 'ok');
    const events: ProbeEvent[] = [];
    c.on('probe', (e: ProbeEvent) => events.push(e));
    await c.register(
      key,
      echoSpec({
        readiness: {
          kind: 'module',
          path: PROBES,
          export: 'file',
          periodMs: 50,
          timeoutMs: 500,
          failureThreshold: 2,
          successThreshold: 2,
        },
      }),
    );
    const pid = c.snapshot(key).replicas[0]?.pid;
    // Starts unready; serves once readiness passed twice.
    (await c.acquire(key, { timeoutMs: 3_000 })).release();
    expect(events.filter((e) => e.probe === 'readiness' && e.ok).length).toBeGreaterThanOrEqual(2);

    flagFile(key, 'fail');
    await waitUntil(
      () => ((c.snapshot(key).replicas[0]?.flags ?? 0) & Flag.unready) !== 0,
      'unready',
    );
    expect(c.snapshot(key).replicas[0]?.probes.readiness.failures).toBeGreaterThanOrEqual(2);
    await expect(c.acquire(key, { timeoutMs: 200 })).rejects.toMatchObject({
      code: 'ERR_ATOMVISOR_TIMEOUT',
    });
    await expect(c.request(key, 'echo', 1, { timeoutMs: 200 })).rejects.toMatchObject({
      code: 'ERR_ATOMVISOR_TIMEOUT',
    });
    // A waiter parked now gets the replica as soon as readiness passes again.
    const waiting = c.acquire(key, { timeoutMs: 5_000 });
    const requested = c.request(key, 'echo', { back: true }, { timeoutMs: 5_000 });
    const healed = performance.now();
    flagFile(key, 'ok');
    const lease = await waiting;
    expect(performance.now() - healed).toBeLessThan(2_000);
    lease.release();
    await expect(requested).resolves.toEqual({ back: true });
    // Never restarted.
    expect(c.snapshot(key).replicas[0]).toMatchObject({ pid, generation: 1, restarts: 0 });
    expect(c.stats().probes.kills).toBe(0);
  });
});

describe('startup', () => {
  it('gates liveness and readiness: neither runs, and nothing is leased, before startup passes', async () => {
    const c = coordinator();
    const port = await tcpPort();
    onCleanup(() => port.close());
    const events: ProbeEvent[] = [];
    c.on('probe', (e: ProbeEvent) => events.push(e));
    await c.register(
      'gated',
      echoSpec({
        startup: {
          kind: 'tcp',
          port: port.port,
          periodMs: 50,
          timeoutMs: 300,
          failureThreshold: 1000,
        },
        liveness: { kind: 'module', path: PROBES, periodMs: 50, timeoutMs: 500 },
        readiness: { kind: 'module', path: PROBES, periodMs: 50, timeoutMs: 500 },
      }),
    );
    await waitUntil(
      () => events.filter((e) => e.probe === 'startup').length >= 4,
      'startup probes',
    );
    await expect(c.acquire('gated', { timeoutMs: 150 })).rejects.toMatchObject({
      code: 'ERR_ATOMVISOR_TIMEOUT',
    });
    expect(events.every((e) => e.probe === 'startup' && !e.ok)).toBe(true);
    // A forced round respects the gate too.
    await c.probeNow();
    expect(events.every((e) => e.probe === 'startup')).toBe(true);

    const waiting = c.acquire('gated', { timeoutMs: 5_000 });
    await port.listen();
    (await waiting).release();
    await waitUntil(
      () =>
        events.some((e) => e.probe === 'liveness' && e.ok) &&
        events.some((e) => e.probe === 'readiness' && e.ok),
      'liveness and readiness run after startup',
    );
    const firstOther = events.findIndex((e) => e.probe !== 'startup');
    expect(events[firstOther - 1]).toMatchObject({ probe: 'startup', ok: true });
    // Startup ran until it passed, then never again for this process.
    expect(events.slice(firstOther).some((e) => e.probe === 'startup')).toBe(false);
  });

  it('failureThreshold startup failures restart the process', async () => {
    const c = coordinator();
    const unhealthy: UnhealthyEvent[] = [];
    c.on('unhealthy', (e: UnhealthyEvent) => unhealthy.push(e));
    await c.register(
      'never-starts',
      echoSpec({
        startup: {
          kind: 'exec',
          command: process.execPath,
          args: ['-e', 'process.exit(1)'],
          periodMs: 50,
          timeoutMs: 2_000,
          failureThreshold: 2,
        },
      }),
    );
    await waitUntil(() => unhealthy.length >= 1, 'startup gave up');
    expect(unhealthy[0]).toMatchObject({ probe: 'startup', failures: 2, generation: 1 });
    await waitUntil(
      () => (c.snapshot('never-starts').replicas[0]?.generation ?? 0) >= 2,
      'restarted',
    );
  });
});

describe('stale results', () => {
  it('a result for a process that was replaced meanwhile is dropped and counted, never applied', async () => {
    const c = coordinator();
    const events: ProbeEvent[] = [];
    c.on('probe', (e: ProbeEvent) => events.push(e));
    await c.register(
      'stale',
      echoSpec({
        liveness: {
          kind: 'module',
          path: PROBES,
          export: 'slow', // 400 ms
          periodMs: 60_000,
          initialDelayMs: 60_000,
          timeoutMs: 2_000,
          failureThreshold: 1,
        },
      }),
    );
    const pid = c.snapshot('stale').replicas[0]?.pid as number;
    const round = c.probeNow();
    await new Promise((resolve) => setTimeout(resolve, 50));
    process.kill(pid, 'SIGKILL');
    await waitUntil(
      () =>
        c.snapshot('stale').replicas[0]?.generation === 2 && c.snapshot('stale').status === 'ready',
      'replaced before the probe answers',
    );
    await round;
    expect(c.stats().probes).toMatchObject({ dispatched: 1, dropped: 1, results: 0, kills: 0 });
    expect(events).toHaveLength(0);
    const now = c.snapshot('stale').replicas[0];
    expect(now).toMatchObject({
      generation: 2,
      probeFailures: 0,
      probeSuccesses: 0,
      lastProbeAt: 0,
    });
    expect(now?.flags).toBe(0);
  });
});
