/**
 * Each probe kind on real things: the connection's own stdio (jsonrpc), real subprocesses (exec),
 * real TCP and HTTP servers on 127.0.0.1, and module probes in real piscina workers.
 */

import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Coordinator, ProbeEvent, ProbeSpec } from '../../src/index.ts';
import { echoSpec, isAlive, waitUntil } from '../helpers/processes.ts';
import { cleanup, coordinator, httpServer, onCleanup, PROBES, tcpPort } from './helpers.ts';

afterEach(cleanup);

/** Register one connection with `liveness` (never due on its own), run one round, return the event. */
async function probeOnce(c: Coordinator, key: string, liveness: ProbeSpec): Promise<ProbeEvent> {
  const events: ProbeEvent[] = [];
  c.on('probe', (e: ProbeEvent) => {
    if (e.key === key) events.push(e);
  });
  await c.register(
    key,
    echoSpec({
      liveness: { periodMs: 60_000, initialDelayMs: 60_000, failureThreshold: 1000, ...liveness },
    }),
  );
  const round = await c.probeNow();
  expect(round.dispatched).toBeGreaterThanOrEqual(1);
  expect(events).toHaveLength(1);
  return events[0] as ProbeEvent;
}

describe('probe kinds', () => {
  it('jsonrpc: a ping on the connection itself, through its IO worker', async () => {
    const c = coordinator();
    const ok = await probeOnce(c, 'rpc-ok', { kind: 'jsonrpc', method: 'ping' });
    expect(ok).toMatchObject({ key: 'rpc-ok', probe: 'liveness', kind: 'jsonrpc', ok: true });
    expect(ok.generation).toBe(c.snapshot('rpc-ok').replicas[0]?.generation);
    const bad = await probeOnce(c, 'rpc-missing', { kind: 'jsonrpc', method: 'no-such-method' });
    expect(bad).toMatchObject({ ok: false, kind: 'jsonrpc' });
    expect(bad.reason).toMatch(/no-such-method/);
    const slow = await probeOnce(c, 'rpc-slow', {
      kind: 'jsonrpc',
      method: 'sleep',
      params: { ms: 5_000 },
      timeoutMs: 200,
    });
    expect(slow).toMatchObject({ ok: false });
    expect(slow.reason).toMatch(/timed out/);
    expect(slow.latencyMs).toBeLessThan(1_500);
  });

  it('exec: exit 0 is healthy, other codes are not, a hung command is killed at its timeout', async () => {
    const c = coordinator();
    const node = process.execPath;
    expect(
      await probeOnce(c, 'exec-ok', {
        kind: 'exec',
        command: node,
        args: ['-e', 'process.exit(0)'],
      }),
    ).toMatchObject({ ok: true, kind: 'exec' });
    const fail = await probeOnce(c, 'exec-fail', {
      kind: 'exec',
      command: node,
      args: ['-e', 'process.exit(3)'],
    });
    expect(fail).toMatchObject({ ok: false, reason: 'exited with code 3' });
    const hung = await probeOnce(c, 'exec-hung', {
      kind: 'exec',
      command: node,
      args: ['-e', 'setInterval(() => {}, 1000)'],
      timeoutMs: 300,
    });
    expect(hung).toMatchObject({ ok: false });
    expect(hung.reason).toMatch(/timed out after 300 ms/);
    expect(hung.latencyMs).toBeLessThan(1_500);
  });

  it('exec: a hung command dies at its timeout even when its probe worker is stuck', async () => {
    const c = coordinator({ probes: { threads: 1 } });
    const pidFile = join(tmpdir(), `atomvisor-exec-pid-${process.pid}-${Date.now()}`);
    onCleanup(async () => rmSync(pidFile, { force: true }));
    const never = { periodMs: 60_000, initialDelayMs: 60_000, failureThreshold: 1_000 };
    // Registered first, so dispatched first: the command starts, then the worker blocks.
    await c.register(
      'exec-hung',
      echoSpec({
        liveness: {
          kind: 'exec',
          command: process.execPath,
          args: [
            '-e',
            `require('node:fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setInterval(() => {}, 1000)`,
          ],
          timeoutMs: 500,
          ...never,
        },
      }),
    );
    await c.register(
      'spin',
      echoSpec({
        liveness: { kind: 'module', path: PROBES, export: 'spin', timeoutMs: 500, ...never },
      }),
    );
    const round = c.probeNow();
    await waitUntil(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8') !== '', 'started');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(isAlive(pid)).toBe(true);
    const report = await round;
    expect(report.wallMs).toBeLessThan(1_500); // the worker itself spins for 3 s
    // The worker could not kill it (it was spinning): the coordinator did, at the timeout.
    await waitUntil(() => !isAlive(pid), 'the exec probe child is gone', 1_000);
  });

  it('exec: a command that does not exist is a typed configuration error', async () => {
    const c = coordinator();
    const e = await probeOnce(c, 'exec-enoent', {
      kind: 'exec',
      command: '/nonexistent/atomvisor-probe-command',
    });
    expect(e).toMatchObject({ ok: false, config: true });
    expect(e.reason).toMatch(/ENOENT/);
    expect(e.error).toMatchObject({
      code: 'ERR_ATOMVISOR_PROBE_CONFIG',
      key: 'exec-enoent',
      probe: 'liveness',
    });
    expect(c.stats().probes.configErrors).toBe(1);
  });

  it('tcp: connects to a listening port, fails on a closed one', async () => {
    const c = coordinator();
    const closed = await tcpPort();
    const bad = await probeOnce(c, 'tcp-closed', { kind: 'tcp', port: closed.port });
    expect(bad).toMatchObject({ ok: false, kind: 'tcp' });
    expect(bad.reason).toMatch(/ECONNREFUSED/);
    await closed.listen();
    onCleanup(() => closed.close());
    expect(
      await probeOnce(c, 'tcp-open', { kind: 'tcp', port: closed.port, host: '127.0.0.1' }),
    ).toMatchObject({ ok: true, kind: 'tcp' });
  });

  it('http: 200–399 is healthy, 500 is not, no answer times out', async () => {
    const c = coordinator();
    const server = await httpServer(200);
    onCleanup(() => server.close());
    expect(await probeOnce(c, 'http-200', { kind: 'http', url: server.url })).toMatchObject({
      ok: true,
      detail: 200,
    });
    server.mode = 302;
    expect(await probeOnce(c, 'http-302', { kind: 'http', url: server.url })).toMatchObject({
      ok: true,
      detail: 302,
    });
    server.mode = 500;
    expect(await probeOnce(c, 'http-500', { kind: 'http', url: server.url })).toMatchObject({
      ok: false,
      reason: 'HTTP 500',
    });
    server.mode = 'hang';
    const hung = await probeOnce(c, 'http-hang', { kind: 'http', url: server.url, timeoutMs: 300 });
    expect(hung).toMatchObject({ ok: false });
    expect(hung.reason).toMatch(/timed out after 300 ms/);
  });

  it('module: booleans and { ok, detail }; throwing, garbage and never resolving are failures with a reason', async () => {
    const c = coordinator();
    const mod = (name: string, extra: Partial<ProbeSpec> = {}) =>
      ({ kind: 'module', path: PROBES, export: name, ...extra }) as ProbeSpec;
    expect(await probeOnce(c, 'mod-default', { kind: 'module', path: PROBES })).toMatchObject({
      ok: true,
      kind: 'module',
    });
    expect(await probeOnce(c, 'mod-healthy', mod('healthy'))).toMatchObject({
      ok: true,
      detail: 'fine',
    });
    const ctx = await probeOnce(c, 'mod-context', mod('context'));
    expect(ctx).toMatchObject({
      ok: true,
      detail: { key: 'mod-context', pid: c.snapshot('mod-context').replicas[0]?.pid },
    });
    expect(await probeOnce(c, 'mod-unhealthy', mod('unhealthy'))).toMatchObject({
      ok: false,
      reason: 'disk full',
    });
    expect(await probeOnce(c, 'mod-throws', mod('throws'))).toMatchObject({
      ok: false,
      reason: 'the probe threw: probe exploded',
    });
    const garbage = await probeOnce(c, 'mod-garbage', mod('garbage'));
    expect(garbage).toMatchObject({ ok: false });
    expect(garbage.reason).toMatch(/returned number 42; expected a boolean or \{ ok, detail\? \}/);
    const hang = await probeOnce(c, 'mod-hang', mod('hang', { timeoutMs: 300 }));
    expect(hang).toMatchObject({ ok: false });
    expect(hang.reason).toMatch(/timed out after 300 ms/);
    const missing = await probeOnce(c, 'mod-missing', mod('nope'));
    expect(missing).toMatchObject({ ok: false, config: true });
    expect(missing.error?.code).toBe('ERR_ATOMVISOR_PROBE_CONFIG');

    // Each round probed every connection registered so far: 1 + 2 + ... + 8 probes.
    const stats = c.stats().probes;
    expect(stats).toMatchObject({ dispatched: 36, results: 36, dropped: 0, inFlight: 0 });
    expect(stats.ok + stats.failed).toBe(36);
    expect(stats.byProbe.liveness.ok + stats.byProbe.liveness.failed).toBe(36);
    expect(stats.timedOut).toBeGreaterThanOrEqual(2); // mod-hang, twice
    expect(stats.configErrors).toBe(1);
    expect(stats.latencyMs.count).toBe(36);
  });

  it('module: a probe that blocks its worker is cut on the main side; the worker is replaced', async () => {
    const c = coordinator({ probes: { threads: 1 } });
    const spun = await probeOnce(c, 'mod-spin', {
      kind: 'module',
      path: PROBES,
      export: 'spin',
      timeoutMs: 300,
    });
    expect(spun).toMatchObject({ ok: false });
    expect(spun.reason).toMatch(/timed out after 300 ms/);
    expect(spun.latencyMs).toBeLessThan(1_000); // the worker spins for 3 s
    // The stuck worker is terminated shortly after (not waited for by anything).
    await waitUntil(
      () => c.stats().probes.workersReplaced >= 1,
      'the stuck worker replaced',
      2_000,
    );
    // (A probe that blocks its worker also stalls the probes sharing that worker — they fail at
    // their timeouts like it does — so take it out before the next round.)
    await c.unregister('mod-spin', { timeoutMs: 0 });
    // A healthy probe right after runs on the fresh worker.
    const started = performance.now();
    const next = await probeOnce(c, 'mod-after', {
      kind: 'module',
      path: PROBES,
      timeoutMs: 2_000,
    });
    expect(next).toMatchObject({ ok: true });
    expect(performance.now() - started).toBeLessThan(2_500);
    expect(c.stats().probes.workersReplaced).toBeGreaterThanOrEqual(1);
  });
});
