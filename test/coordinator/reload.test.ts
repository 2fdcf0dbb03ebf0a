/**
 * coordinator.reload(key): a rolling restart. Requests keep succeeding while every replica is
 * replaced one at a time, and a replacement that cannot start stops the rollout with the other
 * replicas still serving their old processes. Real processes; the "broken deploy" is a file the
 * fixture server checks when it starts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { coordinatorsFor } from '../helpers/coordinators.ts';
import { echoSpec, isAlive, waitUntil } from '../helpers/processes.ts';

const coordinators = coordinatorsFor({
  stop: { stdinGraceMs: 500, termGraceMs: 500 },
  restart: { initialDelayMs: 10, maxDelayMs: 50, maxRestarts: 2 },
});
const dirs: string[] = [];
afterEach(async () => {
  await coordinators.closeAll();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('coordinator.reload', () => {
  it('replaces every replica one at a time while requests keep succeeding', async () => {
    const c = coordinators.make();
    await c.register('k', echoSpec(), { replicas: 3 });
    const before = c.snapshot('k').replicas.map((r) => r.pid);
    const retires: { reason: string }[] = [];
    c.on('retire', (e) => retires.push(e));

    let done = false;
    let ok = 0;
    let failed = 0;
    let fewestServing = Number.POSITIVE_INFINITY;
    const traffic = (async () => {
      while (!done) {
        try {
          await c.request('k', 'echo', { n: ok });
          ok++;
        } catch {
          failed++;
        }
        const serving = c.snapshot('k').replicas.filter((r) => r.status === 'ready').length;
        fewestServing = Math.min(fewestServing, serving);
      }
    })();
    const report = await c.reload('k');
    done = true;
    await traffic;

    expect(report.stopped).toBeUndefined();
    expect(report.replaced.map((r) => r.replica)).toEqual([0, 1, 2]);
    expect(report.replaced.map((r) => r.fromPid)).toEqual(before);
    const after = c.snapshot('k').replicas;
    expect(after.map((r) => r.pid)).toEqual(report.replaced.map((r) => r.toPid));
    for (const r of after) {
      expect(before).not.toContain(r.pid);
      expect(r).toMatchObject({ status: 'ready', generation: 2, restarts: 0 });
    }
    await waitUntil(() => before.every((pid) => !isAlive(pid)), 'the old processes are gone');
    expect(retires.map((e) => e.reason)).toEqual(['reload', 'reload', 'reload']);
    expect(failed).toBe(0);
    expect(ok).toBeGreaterThan(0);
    expect(fewestServing).toBeGreaterThanOrEqual(2); // never more than one replica out at a time
  });

  it('lets a request admitted just before a drain began finish on the old process', async () => {
    const c = coordinators.make();
    await c.register('one', echoSpec());
    const old = c.snapshot('one').replicas[0]?.pid;
    // The request picks the only replica now but sends a turn later; the reload's drain begins in
    // between (it is synchronous up to its first await). The drain must see it and wait.
    const answer = c.request('one', 'pid');
    const reloaded = c.reload('one');
    expect(await answer).toBe(old); // answered by the old process, not lost with it
    const report = await reloaded;
    expect(report.replaced).toEqual([
      { replica: 0, slot: expect.any(Number), fromPid: old, toPid: expect.any(Number) },
    ]);
    expect(report.replaced[0]?.toPid).not.toBe(old);
  });

  it('stops at a replacement that cannot start: the rest keep their old processes and serve', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'atomvisor-reload-'));
    dirs.push(dir);
    const broken = join(dir, 'broken');
    const c = coordinators.make();
    await c.register('k', echoSpec({ env: { ECHO_FAIL_IF_EXISTS: broken } }), { replicas: 2 });
    const before = c.snapshot('k').replicas.map((r) => r.pid);
    writeFileSync(broken, ''); // the new version does not start

    const report = await c.reload('k', { readyTimeoutMs: 5_000 });
    expect(report.replaced).toEqual([]);
    expect(report.stopped).toMatchObject({ replica: 0 });
    expect(report.stopped?.reason).toMatch(/failed to start|did not serve/);
    const [first, second] = c.snapshot('k').replicas;
    expect(first?.status).not.toBe('ready');
    // Replica 1 was never touched: same process, still serving.
    expect(second).toMatchObject({ status: 'ready', pid: before[1] });
    expect(isAlive(before[1] as number)).toBe(true);
    expect(await c.request('k', 'pid')).toBe(before[1]);
  });

  it('skips replicas with no process, and refuses bad input', async () => {
    const c = coordinators.make({ housekeeping: { intervalMs: 20, idleTimeoutMs: 100 } });
    await c.register('idle', echoSpec());
    await waitUntil(() => c.snapshot('idle').replicas[0]?.idle === true, 'stopped for idleness');
    expect(await c.reload('idle')).toEqual({
      key: 'idle',
      replaced: [],
      skipped: [{ replica: 0, slot: expect.any(Number), status: 'exited' }],
    });
    await expect(c.reload('nope')).rejects.toMatchObject({
      code: 'ERR_ATOMVISOR_INVALID_ARGUMENT',
      field: 'key',
    });
    await expect(c.reload('idle', { timeoutMs: -1 })).rejects.toMatchObject({
      field: 'options.timeoutMs',
    });
    await expect(c.reload('idle', { readyTimeoutMs: Number.NaN })).rejects.toMatchObject({
      field: 'options.readyTimeoutMs',
    });
  });

  it('reload({ spec }) restarts each replica from the new spec, one at a time', async () => {
    const c = coordinators.make();
    await c.register('k', echoSpec({ env: { VERSION: 'one' } }), { replicas: 2 });
    const before = c.snapshot('k').replicas.map((r) => r.pid);
    const version = async (pid: number) =>
      (await readFile(`/proc/${pid}/environ`, 'utf8'))
        .split('\0')
        .find((v) => v.startsWith('VERSION='));
    expect(await version(before[0] as number)).toBe('VERSION=one');

    const report = await c.reload('k', { spec: echoSpec({ env: { VERSION: 'two' } }) });
    expect(report.stopped).toBeUndefined();
    expect(report.replaced.map((r) => r.fromPid)).toEqual(before);
    const after = c.snapshot('k').replicas.map((r) => r.pid);
    for (const pid of after) {
      expect(before).not.toContain(pid);
      expect(await version(pid)).toBe('VERSION=two');
    }
    // Replicas added later start from the new spec too.
    await c.scale('k', 3);
    const third = c.snapshot('k').replicas[2];
    expect(third?.status).toBe('ready');
    expect(await version(third?.pid as number)).toBe('VERSION=two');
    await expect(c.reload('k', { spec: { command: '' } })).rejects.toMatchObject({
      field: 'options.spec.command',
    });
  });

  it('scale(key, n) adds replicas after the others and removes the last ones, leaving the rest alone', async () => {
    const c = coordinators.make();
    await c.register('k', echoSpec());
    const first = c.snapshot('k').replicas[0]?.pid as number;
    await c.scale('k', 3);
    const three = c.snapshot('k').replicas;
    expect(three.map((r) => r.status)).toEqual(['ready', 'ready', 'ready']);
    expect(three[0]?.pid).toBe(first);
    expect(new Set(three.map((r) => r.pid)).size).toBe(3);
    const answers = await Promise.all(Array.from({ length: 30 }, () => c.request('k', 'pid')));
    expect(new Set(answers).size).toBeGreaterThan(1); // the new ones serve

    const exits: { pid: number; expected: boolean }[] = [];
    c.on('exit', (e) => exits.push(e));
    await c.scale('k', 1);
    expect(c.snapshot('k').replicas.map((r) => r.pid)).toEqual([first]);
    const gone = [three[1]?.pid, three[2]?.pid] as number[];
    expect(exits.map((e) => e.pid).sort()).toEqual([...gone].sort());
    expect(exits.every((e) => e.expected)).toBe(true);
    await waitUntil(() => gone.every((pid) => !isAlive(pid)), 'the removed replicas are gone');
    expect(isAlive(first)).toBe(true);
    expect(c.stats().connections).toBe(1);

    await expect(c.scale('k', 0)).rejects.toMatchObject({ field: 'replicas' });
    await expect(c.scale('k', 1.5)).rejects.toMatchObject({ field: 'replicas' });
    await expect(c.scale('nope', 2)).rejects.toMatchObject({ field: 'key' });
  });
});
