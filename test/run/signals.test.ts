/**
 * SIGINT/SIGTERM on `atomvisor run`: the first signal starts a graceful close (endpoint says
 * not-ready/unhealthy meanwhile); a second one forces it at once: every process group is
 * SIGKILLed, even a server that ignores stdin EOF and SIGTERM, and the exit code says which signal.
 * SIGUSR2 restarts every server one replica at a time (SIGHUP reloads the config: reload.test.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ECHO, isAlive, STUBBORN, waitUntil } from '../helpers/processes.ts';
import { CLI, get, jsonEvents, killAll, spawnedPids, start } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'atomvisor-run-signals-'));
afterEach(killAll);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const complete = (out: string) => out.slice(0, out.lastIndexOf('\n') + 1);

describe('signals', () => {
  it('a second SIGTERM forces the close: a stubborn server is SIGKILLed, long before its grace', async () => {
    const file = join(dir, 'stubborn.json');
    // Graceful close would wait 30 s for stdin EOF and 30 s more after SIGTERM: it never ends
    // within this test unless forced.
    writeFileSync(
      file,
      JSON.stringify({
        servers: {
          stubborn: { command: process.execPath, args: [STUBBORN] },
          echo: { command: process.execPath, args: [ECHO] },
        },
        stop: { stdinGraceMs: 30_000, termGraceMs: 30_000 },
        shutdownTimeoutMs: 1_000,
      }),
    );
    const run = start([...CLI, 'run', file, '--json', '--http-port', '0'], {
      pids: (h) => spawnedPids(complete(h.stdout())),
    });
    const url = await run.waitFor(
      (out) => jsonEvents(complete(out)).find((e) => e.event === 'listening')?.url as string,
      'listening',
    );
    await run.waitFor((out) => out.includes('"event":"started"'), 'the servers started');
    const pids = spawnedPids(complete(run.stdout()));
    expect(pids).toHaveLength(2);

    run.child.kill('SIGTERM');
    await run.waitFor((out) => out.includes('"event":"shutdown"'), 'the graceful close began');
    // Graceful close in progress: the endpoint still answers, and says so.
    expect((await get(`${url}/readyz`)).status).toBe(503);
    expect((await get(`${url}/healthz`)).status).toBe(503);
    // The echo server goes at stdin EOF; the stubborn one stays.
    await waitUntil(
      () => !isAlive(pids[1] as number) || !isAlive(pids[0] as number),
      'one server exited',
    );
    expect(run.done()).toBe(false);

    const forcedAt = performance.now();
    run.child.kill('SIGTERM');
    const exit = await run.exited;
    const forceMs = performance.now() - forcedAt;
    expect(exit).toEqual({ code: 143, signal: null });
    expect(forceMs).toBeLessThan(10_000); // far below the 30 s stdin grace the close would take
    const force = jsonEvents(complete(run.stdout())).find((e) => e.event === 'force');
    expect(force?.reason).toBe('second SIGTERM');
    await waitUntil(() => pids.every((pid) => !isAlive(pid)), 'no server process is left', 5_000);
  }, 60_000);

  it('SIGINT closes gracefully with exit code 0, and a server that obeys stops by stdin EOF', async () => {
    const file = join(dir, 'echo.json');
    writeFileSync(
      file,
      JSON.stringify({
        servers: { echo: { command: process.execPath, args: [ECHO], replicas: 2 } },
      }),
    );
    const run = start([...CLI, 'run', file], {
      pids: (h) =>
        [...h.stdout().matchAll(/ spawn key=\S+ slot=\d+ generation=\d+ pid=(\d+)/g)].map((m) =>
          Number(m[1]),
        ),
    });
    await run.waitFor((out) => /^\S+ started /m.test(out), 'started');
    const pids = [...run.stdout().matchAll(/ spawn .* pid=(\d+)/g)].map((m) => Number(m[1]));
    expect(pids).toHaveLength(2);
    run.child.kill('SIGINT');
    expect(await run.exited).toEqual({ code: 0, signal: null });
    // Plain log lines (stdout is a pipe, not a TTY): no escape sequences, one event per line.
    const lines = run.stdout().trimEnd().split('\n');
    for (const line of lines) expect(line).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z [a-z-]+( |$)/);
    expect(run.stdout().includes('\u001b[')).toBe(false);
    expect(lines.filter((l) => / exit .*expected=true/.test(l))).toHaveLength(2);
    expect(lines.at(-1)).toMatch(/ closed ms=\d+$/);
    expect(lines.some((l) => / shutdown reason=SIGINT /.test(l))).toBe(true);
    await waitUntil(() => pids.every((pid) => !isAlive(pid)), 'no server process is left', 5_000);
  }, 60_000);
  it('SIGUSR2 restarts every server one replica at a time; it keeps running, then SIGTERM closes it', async () => {
    const file = join(dir, 'reload.json');
    writeFileSync(
      file,
      JSON.stringify({
        servers: { echo: { command: process.execPath, args: [ECHO], replicas: 2 } },
        stop: { stdinGraceMs: 1_000, termGraceMs: 1_000 },
      }),
    );
    const run = start([...CLI, 'run', file, '--json'], {
      pids: (h) => spawnedPids(complete(h.stdout())),
    });
    await run.waitFor((out) => out.includes('"event":"started"'), 'the servers started');
    const before = spawnedPids(complete(run.stdout()));
    expect(before).toHaveLength(2);

    run.child.kill('SIGUSR2');
    const reloaded = await run.waitFor(
      (out) => jsonEvents(complete(out)).find((e) => e.event === 'reloaded'),
      'the reload finished',
    );
    expect(reloaded).toMatchObject({ key: 'echo', replaced: 2, skipped: 0 });
    const after = reloaded.pids as number[];
    expect(after).toHaveLength(2);
    for (const pid of after) expect(before).not.toContain(pid);
    const retires = jsonEvents(complete(run.stdout())).filter((e) => e.event === 'retire');
    expect(retires.map((e) => e.reason)).toEqual(['reload', 'reload']);
    await waitUntil(() => before.every((pid) => !isAlive(pid)), 'the old processes are gone');
    expect(after.every((pid) => isAlive(pid))).toBe(true);
    expect(run.done()).toBe(false); // still supervising

    run.child.kill('SIGTERM');
    expect(await run.exited).toEqual({ code: 0, signal: null });
    await waitUntil(() => after.every((pid) => !isAlive(pid)), 'no server process is left', 5_000);
  }, 60_000);
});
