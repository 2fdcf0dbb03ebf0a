/**
 * `atomvisor run examples/three-servers.config.json` end to end, as a real process: the servers
 * start, /readyz turns ready only after the warming server's startup probe passes, /metrics is
 * valid Prometheus text, --json gives one JSON event per line, and SIGTERM leaves no child alive.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isAlive, waitUntil } from '../helpers/processes.ts';
import {
  CLI,
  EXAMPLE_CONFIG,
  get,
  jsonEvents,
  killAll,
  parsePrometheus,
  sampleValue,
  spawnedPids,
  start,
} from './helpers.ts';

afterEach(killAll);

function listeningUrl(stdout: string): string | undefined {
  const event = jsonEvents(stdout.slice(0, stdout.lastIndexOf('\n') + 1)).find(
    (e) => e.event === 'listening',
  );
  return event?.url as string | undefined;
}

describe('atomvisor run (example config, --json)', () => {
  it('starts the servers, gates /readyz on startup probes, serves /metrics, and SIGTERM leaves no child', async () => {
    const run = start([...CLI, 'run', EXAMPLE_CONFIG, '--json', '--http-port', '0'], {
      pids: (h) => spawnedPids(h.stdout().slice(0, h.stdout().lastIndexOf('\n') + 1)),
    });
    const url = await run.waitFor(listeningUrl, 'the endpoint is listening');
    // Bound to loopback by default, the actual port logged.
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(url).not.toMatch(/:0$/);
    expect((await get(`${url}/healthz`)).status).toBe(200);

    // The warming server's health method fails for its first 1.5 s, so its startup probe holds
    // it out of service: /readyz is 503 (naming it) until that probe passes, then 200.
    const notReady: string[] = [];
    let ready: { body: string } | undefined;
    const deadline = performance.now() + 20_000;
    while (ready === undefined && performance.now() < deadline) {
      const r = await get(`${url}/readyz`);
      if (r.status === 200) ready = r;
      else {
        expect(r.status).toBe(503);
        notReady.push(r.body);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    expect(ready?.body).toBe('ready\n');
    expect(notReady.length).toBeGreaterThan(0);
    expect(notReady.some((b) => /warming/.test(b))).toBe(true);
    const status = JSON.parse((await get(`${url}/status`)).body) as {
      ready: boolean;
      replicas: {
        name: string;
        pid: number;
        status: string;
        probes: Record<string, { state: string }>;
      }[];
    };
    expect(status.ready).toBe(true);
    expect(status.replicas.map((r) => r.name).sort()).toEqual([
      'kv',
      'text#0',
      'text#1',
      'warming',
    ]);
    expect(status.replicas.find((r) => r.name === 'warming')?.probes.startup?.state).toBe('ok');
    // The event stream shows the failing startup probes before the passing one.
    const events = await run.waitFor((out) => {
      const all = jsonEvents(out.slice(0, out.lastIndexOf('\n') + 1));
      return all.some(
        (e) => e.event === 'probe' && e.key === 'warming' && e.probe === 'startup' && e.ok,
      )
        ? all
        : undefined;
    }, 'the passing startup probe is logged');
    const startupProbes = events.filter(
      (e) => e.event === 'probe' && e.key === 'warming' && e.probe === 'startup',
    );
    expect(startupProbes[0]?.ok).toBe(false);
    expect(startupProbes.at(-1)?.ok).toBe(true);
    for (const e of events) expect(typeof e.time).toBe('string');

    // /metrics: valid Prometheus text (strict parse), with atomvisor's families in it.
    const scrape = await get(`${url}/metrics`);
    expect(scrape.status).toBe(200);
    expect(scrape.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = parsePrometheus(scrape.body);
    for (const name of [
      'atomvisor_requests_total',
      'atomvisor_request_duration_seconds',
      'atomvisor_lease_wait_seconds',
      'atomvisor_lease_hold_seconds',
      'atomvisor_restarts_total',
      'atomvisor_probe_results_total',
      'atomvisor_probe_duration_seconds',
      'atomvisor_replicas',
      'atomvisor_ready',
    ])
      expect(families.has(name), name).toBe(true);
    expect(families.get('atomvisor_probe_duration_seconds')?.type).toBe('histogram');
    expect(sampleValue(families, 'atomvisor_process_starts_total', { key: 'text' })).toBe(2);
    expect(sampleValue(families, 'atomvisor_ready')).toBe(1);
    expect(
      sampleValue(families, 'atomvisor_probe_results_total', {
        key: 'warming',
        probe: 'startup',
        outcome: 'failed',
      }),
    ).toBeGreaterThan(0);
    expect(
      sampleValue(families, 'atomvisor_probe_duration_seconds_count', {
        key: 'warming',
        probe: 'startup',
      }),
    ).toBeGreaterThan(1);

    // SIGTERM: a graceful close; every process it reported is gone (zombie-aware), exit 0.
    const pids = status.replicas.map((r) => r.pid);
    expect(pids.every((pid) => pid > 0 && isAlive(pid))).toBe(true);
    run.child.kill('SIGTERM');
    const exit = await run.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    const all = jsonEvents(run.stdout());
    expect(all.some((e) => e.event === 'shutdown' && e.reason === 'SIGTERM')).toBe(true);
    expect(all.at(-1)?.event).toBe('closed');
    expect(spawnedPids(run.stdout()).sort()).toEqual([...pids].sort());
    await waitUntil(
      () => pids.every((pid) => !isAlive(pid)),
      'every server process is gone',
      5_000,
    );
  }, 60_000);
});
