/**
 * A server that speaks no protocol (`protocol: 'none'`: an HTTP service, what pm2 users run) under
 * `atomvisor run`, end to end: an http readiness probe gates /readyz, a crash restarts it, its
 * stdout lines land in its log file, and SIGTERM stops everything cleanly.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fixture, isAlive, waitUntil } from '../helpers/processes.ts';
import { CLI, get, jsonEvents, killAll, spawnedPids, start } from './helpers.ts';

afterEach(killAll);

/** A port nobody listens on right now (the server below takes it a moment later). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** Poll an async condition every 50 ms until it holds; fail at the deadline saying what. */
async function until(check: () => Promise<boolean>, what: string, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline)
      throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Status {
  ready: boolean;
  replicas: { name: string; pid: number; status: string; restarts: number }[];
}

describe("atomvisor run: a server with protocol 'none'", () => {
  it('is ready by its http probe, restarted on a crash, logged from stdout, and stopped by SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'atomvisor-plain-'));
    const port = await freePort();
    const web = `http://127.0.0.1:${port}`;
    const config = join(dir, 'plain.config.json');
    writeFileSync(
      config,
      JSON.stringify({
        servers: {
          web: {
            command: process.execPath,
            args: [fixture('http-server.mjs')],
            env: { PORT: String(port) },
            protocol: 'none',
            readiness: { kind: 'http', url: `${web}/healthz`, periodMs: 100, timeoutMs: 1000 },
          },
        },
        logs: { dir: join(dir, 'logs') },
        restart: { initialDelayMs: 50, maxDelayMs: 200 },
        stop: { stdinGraceMs: 200, termGraceMs: 2000 },
      }),
    );
    const run = start([...CLI, 'run', config, '--json', '--http-port', '0'], {
      pids: (h) => spawnedPids(h.stdout().slice(0, h.stdout().lastIndexOf('\n') + 1)),
    });
    const url = await run.waitFor(
      (out) =>
        jsonEvents(out.slice(0, out.lastIndexOf('\n') + 1)).find((e) => e.event === 'listening')
          ?.url as string | undefined,
      'the endpoint is listening',
    );
    const status = async () => JSON.parse((await get(`${url}/status`)).body) as Status;
    const readyz = async () => (await get(`${url}/readyz`)).status;
    await until(async () => (await readyz()) === 200, 'ready by the http probe', 30_000);
    const first = (await status()).replicas[0];
    expect(first).toMatchObject({ name: 'web', status: 'ready' });

    // Its stdout goes to its log file (it has no protocol: every line is output).
    expect((await get(`${web}/hello`)).body).toBe('/hello\n');
    const log = join(dir, 'logs', 'web.log');
    await waitUntil(
      () => {
        try {
          return /GET \/hello/.test(readFileSync(log, 'utf8'));
        } catch {
          return false;
        }
      },
      'the request line in web.log',
      10_000,
    );
    expect(readFileSync(log, 'utf8')).toMatch(/listening on \d+/);

    // A crash: restarted with a new pid, ready again.
    await get(`${web}/crash`).catch(() => undefined);
    await until(
      async () => {
        const r = (await status()).replicas[0];
        return (
          r !== undefined &&
          r.pid !== first?.pid &&
          r.status === 'ready' &&
          (await readyz()) === 200
        );
      },
      'restarted and ready again',
      30_000,
    );
    expect(isAlive(first?.pid as number)).toBe(false);
    expect((await get(`${web}/again`)).body).toBe('/again\n');

    // SIGTERM: a clean exit, nothing left behind.
    const last = (await status()).replicas[0]?.pid as number;
    run.child.kill('SIGTERM');
    expect(await run.exited).toEqual({ code: 0, signal: null });
    expect(isAlive(last)).toBe(false);
  }, 120_000);
});
