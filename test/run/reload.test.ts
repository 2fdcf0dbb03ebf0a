/**
 * Config reload of `atomvisor run`, as a real process with real servers: SIGHUP (or a change of
 * the file under --watch) re-reads the config and applies only the difference — a new server
 * registered, a removed one stopped (its processes dead), a changed spec rolled onto new
 * processes, a raised replica count scaled without touching the first replica, the endpoint moved
 * to its new port — and a broken edit is refused with the very error `--check` gives, leaving
 * everything as it was.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/run/config.ts';
import { diffConfig, sameValue } from '../../src/run/reload.ts';
import { ECHO, isAlive, waitUntil } from '../helpers/processes.ts';
import { CLI, get, jsonEvents, killAll, type RunHandle, spawnedPids, start } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'atomvisor-run-reload-'));
afterEach(killAll);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const complete = (out: string) => out.slice(0, out.lastIndexOf('\n') + 1);
const events = (run: RunHandle) => jsonEvents(complete(run.stdout()));

interface Row {
  name: string;
  key: string;
  replica: number;
  pid: number;
  status: string;
  ready: boolean;
}

async function rows(url: string): Promise<Row[]> {
  const body = JSON.parse((await get(`${url}/status`)).body) as { replicas: Row[] };
  return body.replicas;
}

const echo = (extra: Record<string, unknown> = {}) => ({
  command: process.execPath,
  args: [ECHO],
  initialize: { method: 'initialize', params: {} },
  ...extra,
});

const base = {
  stop: { stdinGraceMs: 1_000, termGraceMs: 1_000 },
  shutdownTimeoutMs: 1_000,
};

/** The n-th event named `name` (1-based), once it is there. */
function nth(run: RunHandle, name: string, n: number) {
  return run.waitFor(
    (out) => jsonEvents(complete(out)).filter((e) => e.event === name)[n - 1],
    `${name} #${n}`,
    30_000,
  );
}

describe('config reload', () => {
  it('SIGHUP applies only what changed; a broken edit is refused and nothing moves', async () => {
    const file = join(dir, 'reload.json');
    writeFileSync(
      file,
      JSON.stringify({ ...base, servers: { a: echo(), b: echo(), c: echo() }, http: { port: 0 } }),
    );
    const run = start([...CLI, 'run', file, '--json'], {
      pids: (h) => spawnedPids(complete(h.stdout())),
    });
    await nth(run, 'started', 1);
    const url = (await nth(run, 'listening', 1)).url as string;
    const before = await rows(url);
    const pid = (name: string) => before.find((r) => r.name === name)?.pid as number;
    expect(before.map((r) => r.name).sort()).toEqual(['a', 'b', 'c']);

    // Add d, remove c, change b's args, raise a's replicas to 2.
    writeFileSync(
      file,
      JSON.stringify({
        ...base,
        servers: {
          a: { ...echo(), replicas: 2 },
          b: echo({ args: [ECHO, '--edited'] }),
          d: echo(),
        },
        http: { port: 0 },
      }),
    );
    run.child.kill('SIGHUP');
    const reload = await nth(run, 'config-reload', 1);
    expect(reload).toMatchObject({
      reason: 'SIGHUP',
      added: ['d'],
      removed: ['c'],
      changed: ['b'],
      scaled: [{ key: 'a', from: 1, to: 2 }],
      unchanged: [],
    });
    const done = await nth(run, 'config-reloaded', 1);
    expect(done.failed).toBeUndefined();

    const after = await rows(url);
    expect(after.map((r) => r.name).sort()).toEqual(['a#0', 'a#1', 'b', 'd']);
    expect(after.every((r) => r.ready)).toBe(true);
    const now = (name: string) => after.find((r) => r.name === name)?.pid as number;
    expect(now('a#0')).toBe(pid('a')); // untouched
    expect(now('a#1')).not.toBe(pid('a'));
    expect(now('b')).not.toBe(pid('b')); // rolled onto its new args
    expect(readFileSync(`/proc/${now('b')}/cmdline`, 'utf8').split('\0')).toContain('--edited');
    await waitUntil(() => !isAlive(pid('c')) && !isAlive(pid('b')), 'c and the old b are gone');
    for (const r of after) expect(isAlive(r.pid)).toBe(true);
    // Only what changed moved: the spawns after the reload are a#1, b and d.
    const spawnsAfter = events(run)
      .slice(events(run).findIndex((e) => e.event === 'config-reload'))
      .filter((e) => e.event === 'spawn')
      .map((e) => e.key)
      .sort();
    expect(spawnsAfter).toEqual(['a', 'b', 'd']);

    // A broken edit: refused with the error `--check` gives for the same file, nothing changes.
    writeFileSync(
      file,
      JSON.stringify({ ...base, servers: { a: { command: 5 }, e: echo() }, http: { port: 0 } }),
    );
    const check = start([...CLI, 'run', file, '--check']);
    expect((await check.exited).code).toBe(2);
    run.child.kill('SIGHUP');
    const refused = await nth(run, 'config-reload-failed', 1);
    expect(refused.error).toBe(check.stderr().trimEnd());
    expect(refused.error).toMatch(/servers\.a\.command: expected a string, got 5/);
    const unchanged = await rows(url);
    expect(unchanged.map((r) => [r.name, r.pid])).toEqual(after.map((r) => [r.name, r.pid]));
    expect(events(run).filter((e) => e.event === 'config-reload')).toHaveLength(1);

    run.child.kill('SIGTERM');
    expect(await run.exited).toEqual({ code: 0, signal: null });
    await waitUntil(() => after.every((r) => !isAlive(r.pid)), 'no server is left', 5_000);
  }, 90_000);

  it('--watch applies an edit of the file; an unchanged SIGHUP restarts nothing; a new http port moves the endpoint', async () => {
    const file = join(dir, 'watch.json');
    writeFileSync(file, JSON.stringify({ ...base, servers: { a: echo() }, http: { port: 0 } }));
    const run = start([...CLI, 'run', file, '--json', '--watch'], {
      pids: (h) => spawnedPids(complete(h.stdout())),
    });
    await nth(run, 'started', 1);
    const oldUrl = (await nth(run, 'listening', 1)).url as string;
    const [a] = await rows(oldUrl);

    // An unchanged SIGHUP restarts nothing.
    run.child.kill('SIGHUP');
    expect(await nth(run, 'config-reload', 1)).toMatchObject({ unchanged: ['a'], added: [] });
    await nth(run, 'config-reloaded', 1);
    expect((await rows(oldUrl)).map((r) => r.pid)).toEqual([a?.pid]);

    // Written in place, as an editor does: a second server, and log files from now on.
    const logs = { dir: join(dir, 'watch-logs'), maxBytes: 4096, keep: 1 };
    writeFileSync(
      file,
      JSON.stringify({ ...base, servers: { a: echo(), z: echo() }, http: { port: 0 }, logs }),
    );
    const second = await nth(run, 'config-reload', 2);
    expect(second).toMatchObject({ reason: 'file changed', added: ['z'], unchanged: ['a'], logs });
    await nth(run, 'config-reloaded', 2);
    expect((await rows(oldUrl)).map((r) => r.name).sort()).toEqual(['a', 'z']);

    // The endpoint on another port.
    const port = Number(new URL(oldUrl).port) + 1;
    writeFileSync(
      file,
      JSON.stringify({ ...base, servers: { a: echo(), z: echo() }, http: { port }, logs }),
    );
    const third = await nth(run, 'config-reload', 3);
    expect(third.http).toEqual({ host: '127.0.0.1', port });
    const moved = await nth(run, 'config-reloaded', 3);
    if (moved.failed !== undefined) {
      // The port happened to be taken: then the endpoint must have stayed where it was.
      expect(JSON.stringify(moved.failed)).toMatch(/EADDRINUSE/);
      expect((await get(`${oldUrl}/healthz`)).status).toBe(200);
    } else {
      const newUrl = (await nth(run, 'listening', 2)).url as string;
      expect(newUrl).toBe(`http://127.0.0.1:${port}`);
      expect((await get(`${newUrl}/healthz`)).status).toBe(200);
      await expect(get(`${oldUrl}/healthz`)).rejects.toThrow(/ECONNREFUSED/);
      expect((await rows(newUrl)).find((r) => r.name === 'a')?.pid).toBe(a?.pid);
    }

    run.child.kill('SIGTERM');
    expect(await run.exited).toEqual({ code: 0, signal: null });
    // Both servers' last words (at stdin EOF) went to their files; the events after the second
    // reload to atomvisor.log.
    for (const name of ['a', 'z'])
      expect(readFileSync(join(logs.dir, `${name}.log`), 'utf8')).toMatch(
        /^\S+Z #0 pid=\d+ stderr: \[\d+\] stdin closed; exiting$/m,
      );
    const own = readFileSync(join(logs.dir, 'atomvisor.log'), 'utf8');
    expect(own).toMatch(/"event":"config-reload".*"reason":"file changed"/);
    expect(own.trimEnd().split('\n').at(-1)).toMatch(/"event":"closed"/);
  }, 90_000);
});

describe('diffConfig', () => {
  const config = (input: object) => parseConfig(input, '/srv/app/atomvisor.config.json');

  it('sorts servers into added, removed, changed (spec), scaled and unchanged', () => {
    const running = config({
      servers: {
        same: { command: 'node', args: ['a.mjs'], env: { A: '1', B: '2' } },
        moved: { command: 'node', args: ['b.mjs'] },
        more: { command: 'node' },
        both: { command: 'node', replicas: 3 },
        gone: { command: 'node' },
      },
      restart: { maxRestarts: 3 },
    });
    const next = config({
      servers: {
        // Key order and an explicit replicas: 1 change nothing.
        same: { env: { B: '2', A: '1' }, args: ['a.mjs'], command: 'node', replicas: 1 },
        moved: { command: 'node', args: ['b.mjs', '--flag'] },
        more: { command: 'node', replicas: 2 },
        both: { command: 'node', cwd: 'sub', replicas: 1 },
        fresh: { command: 'node' },
      },
      restart: { maxRestarts: 4 },
    });
    expect(diffConfig(running, next)).toEqual({
      added: ['fresh'],
      removed: ['gone'],
      changed: ['moved', 'both'],
      scaled: [
        { key: 'more', from: 1, to: 2 },
        { key: 'both', from: 3, to: 1 },
      ],
      unchanged: ['same'],
      restartNeeded: ['restart'],
    });
    expect(diffConfig(running, running)).toMatchObject({
      changed: [],
      scaled: [],
      restartNeeded: [],
    });
  });

  it('compares functions (a .js config imported anew) by their source', () => {
    expect(sameValue({ f: () => 1 }, { f: () => 1 })).toBe(true);
    expect(sameValue({ f: () => 1 }, { f: () => 2 })).toBe(false);
    expect(sameValue({ a: undefined, b: 1 }, { b: 1 })).toBe(true);
    expect(sameValue([1, 2], { 0: 1, 1: 2 })).toBe(false);
    expect(sameValue(null, {})).toBe(false);
  });
});
