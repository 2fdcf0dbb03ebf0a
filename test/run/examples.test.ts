/**
 * examples/http-service.ts runs as documented: a node:http service in front of a pool of stdio
 * JSON-RPC servers answers requests through the coordinator (any replica, and an exclusive lease
 * for a read-your-write session), and SIGTERM leaves none of its server processes behind.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { isAlive, waitUntil } from '../helpers/processes.ts';
import { descendants, get, killAll, parsePrometheus, sampleValue, start } from './helpers.ts';

afterEach(killAll);

function post(url: string, body: unknown): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('examples/http-service.ts', () => {
  it('serves requests through the coordinator and stops its servers on SIGTERM', async () => {
    const service = start([process.execPath, '--import', 'tsx', 'examples/http-service.ts']);
    const url = await service.waitFor(
      (out) => /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out)?.[1],
      'the service listens',
    );
    // Its servers are its own children (spawned by its IO worker threads): 3 text + 1 kv
    // (tsx's esbuild helper is a child too: not one of them).
    const children = descendants(service.child.pid as number).filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('examples/servers/');
      } catch {
        return false;
      }
    });
    expect(children).toHaveLength(4);

    for (let i = 0; i < 6; i++) {
      const r = await post(`${url}/upper`, { text: `hello ${i}` });
      expect(r.status).toBe(200);
      const { text, pid } = r.json as { text: string; pid: number };
      expect(text).toBe(`HELLO ${i}`);
      expect(children).toContain(pid); // answered by one of its own servers
    }
    const session = await post(`${url}/session`, { key: 'a', value: 42 });
    expect(session).toEqual({ status: 200, json: { key: 'a', value: 42 } });
    expect((await get(`${url}/readyz`)).status).toBe(200);
    expect((await get(`${url}/nope`)).status).toBe(404);
    // Its /metrics ('atomvisor/metrics'): the 6 plain requests and the 2 of the session.
    const metrics = await get(`${url}/metrics`);
    expect(metrics.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = parsePrometheus(metrics.body);
    expect(sampleValue(families, 'atomvisor_requests_total', { key: 'text', outcome: 'ok' })).toBe(
      6,
    );
    expect(sampleValue(families, 'atomvisor_requests_total', { key: 'kv', outcome: 'ok' })).toBe(2);
    expect(sampleValue(families, 'atomvisor_ready_replicas', { key: 'text' })).toBe(3);
    expect(sampleValue(families, 'atomvisor_lease_hold_seconds_count', { key: 'kv' })).toBe(1);

    service.child.kill('SIGTERM');
    const exit = await service.exited;
    expect(exit.code).toBe(0);
    expect(service.stdout()).toMatch(/"event":"closed"/);
    await waitUntil(() => children.every((pid) => !isAlive(pid)), 'no server is left', 5_000);
  }, 60_000);
});
