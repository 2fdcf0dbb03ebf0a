/**
 * "No orphans": whatever ends a coordinator's watch over its processes — close(), the death of an
 * IO worker, or a SIGKILL of the whole host process followed by a new coordinator on the same
 * state file — no child or grandchild it started stays alive.
 *
 * Every process a test starts carries a per-test ATOMVISOR_ORPHAN_TAG in its environment
 * (grandchildren inherit it), so "nothing is left" is checked by scanning /proc for live
 * processes with the tag, on top of the pid and process-group checks.
 */
import { createHook } from 'node:async_hooks';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Coordinator, Lease } from '../../src/index.ts';
import { groupMembers, processStartTime } from '../../src/io/process-group.ts';
import { Table } from '../../src/shm/layout.ts';
import { coordinatorsFor } from '../helpers/coordinators.ts';
import { echoSpec, fixture, groupAlive, isAlive, waitUntil } from '../helpers/processes.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const HOST = fixture('host-coordinator.ts');
const GRANDPARENT = fixture('host-grandparent.mjs');
const TAG = 'ATOMVISOR_ORPHAN_TAG';

let tag = '';
let dir = '';
const children: ChildProcess[] = [];
const hooks: { disable(): void }[] = [];

beforeEach(() => {
  tag = randomUUID();
  dir = mkdtempSync(join(tmpdir(), 'atomvisor-orphans-'));
});

afterEach(async () => {
  for (const hook of hooks.splice(0)) hook.disable();
  await coordinators.closeAll();
  // Whatever a failed test left behind: kill it by pid (never by group: a test-started host shares
  // the test runner's process group).
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const pid of tagged(tag)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

const coordinators = coordinatorsFor({
  stop: { stdinGraceMs: 200, termGraceMs: 200 },
  restart: { initialDelayMs: 10, maxDelayMs: 100 },
});
const coordinator = coordinators.make;

/** The environment a test's servers get: just the tag (grandchildren inherit it). */
const env = () => ({ [TAG]: tag });

/** Live (non-zombie) processes carrying `value` as their ATOMVISOR_ORPHAN_TAG. */
function tagged(value: string): number[] {
  const needle = `${TAG}=${value}`;
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let environ: string;
    try {
      environ = readFileSync(`/proc/${entry}/environ`, 'latin1');
    } catch {
      continue; // gone, or not ours
    }
    if (environ.split('\0').includes(needle) && isAlive(Number(entry))) pids.push(Number(entry));
  }
  return pids;
}

async function nothingLeft(pids: number[]): Promise<void> {
  await waitUntil(
    () => pids.every((pid) => !isAlive(pid) && !groupAlive(pid)) && tagged(tag).length === 0,
    `none of ${JSON.stringify(pids)} nor any tagged process is alive (left: ${JSON.stringify(tagged(tag))})`,
    5_000,
  );
}

/**
 * Watch the timers atomvisor's own code (src/) creates on this thread from now on: `pending()`
 * lists the creation stacks of those still armed (neither fired nor cleared) and ref'ed, i.e.
 * that would keep the process alive.
 */
function watchTimers(): { pending(): string[] } {
  const live = new Set<{ timer: NodeJS.Timeout; stack: string }>();
  const hook = createHook({
    init(_id, type, _trigger, resource) {
      if (type !== 'Timeout') return;
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 50;
      const stack = new Error('timer created').stack ?? '';
      Error.stackTraceLimit = limit;
      if (stack.includes(SRC)) live.add({ timer: resource as NodeJS.Timeout, stack });
    },
  }).enable();
  hooks.push(hook);
  // `_destroyed` is set synchronously when a Timeout fires (non-repeating) or is cleared; Node has
  // no public "is this timer armed" query (the async_hooks destroy event comes later, batched).
  const armed = (t: NodeJS.Timeout) => !(t as unknown as { _destroyed: boolean })._destroyed;
  return {
    pending: () => [...live].filter((t) => armed(t.timer) && t.timer.hasRef()).map((t) => t.stack),
  };
}

/** Timers and handles of this thread, by type (process.getActiveResourcesInfo()). */
function resources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo())
    counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

/**
 * Right after close(): no timer of atomvisor's is armed; and (allowing a moment for the teardown
 * of the IO workers' handles) this thread has no more active resources of any type — Timeout above
 * all — than before the coordinator was made.
 */
async function nothingArmed(
  timers: { pending(): string[] },
  before: Map<string, number>,
): Promise<void> {
  expect(timers.pending(), 'timers of atomvisor still armed after close').toEqual([]);
  const extra = () =>
    [...resources()]
      .filter(([type, n]) => n > (before.get(type) ?? 0))
      .map(([t, n]) => `${t}×${n}`);
  try {
    await waitUntil(() => extra().length === 0, 'no extra resources are active', 2_000);
  } catch {
    expect(extra(), `resources still active after close (before: ${[...before]})`).toEqual([]);
  }
}

/** Resolves with the pid of the first `grandchild <pid>` line a slot writes to stderr. */
function grandchildOf(c: Coordinator, slot?: number): Promise<number> {
  return new Promise((resolve) => {
    const onLine = (e: { slot: number; line: string }) => {
      const match = /^grandchild (\d+)$/.exec(e.line);
      if (match === null || (slot !== undefined && e.slot !== slot)) return;
      c.off('stderr', onLine);
      resolve(Number(match[1]));
    };
    c.on('stderr', onLine);
  });
}

describe('an IO worker dies', () => {
  it('kills the groups it owned, fails its calls at once, restarts them elsewhere, spares the rest', async () => {
    const c = coordinator({ ioWorkers: 2 });
    await Promise.all([
      c.register('a', echoSpec({ env: env() }), { replicas: 2 }),
      c.register('b', echoSpec({ env: env() }), { replicas: 2 }),
    ]);
    // One lease per replica: each spawns a grandchild in its group.
    const leases: Lease[] = [];
    for (const key of ['a', 'b']) leases.push(await c.acquire(key), await c.acquire(key));
    const before = new Map<number, { pid: number; generation: number; grandchild: number }>();
    for (const lease of leases) {
      const grandchild = (await lease.request('spawn-grandchild')) as number;
      before.set(lease.slot, { pid: lease.pid, generation: lease.generation, grandchild });
    }
    expect([...before.keys()].sort()).toEqual([0, 1, 2, 3]);
    for (const { pid, grandchild } of before.values()) {
      expect(isAlive(grandchild)).toBe(true);
      expect(groupMembers(pid)).toEqual(expect.arrayContaining([pid, grandchild]));
    }
    const doomed = [0, 2]; // slot % 2 === 0: IO worker 0's
    const spared = [1, 3];

    // Long requests in flight on worker 0's connections; the others are given back.
    const pending: Promise<unknown>[] = [];
    for (const lease of leases) {
      if (!doomed.includes(lease.slot)) {
        lease.release();
        continue;
      }
      for (let i = 0; i < 3; i++)
        pending.push(lease.request('sleep', { ms: 30_000 }, { timeoutMs: 60_000 }));
    }
    await waitUntil(() => c.stats().inFlight === 6, 'six requests in flight on worker 0');
    const outcomes = pending.map((p) =>
      p.then(
        () => ({ error: undefined, at: performance.now() }),
        (error: unknown) => ({ error, at: performance.now() }),
      ),
    );

    const workerExits: { index: number; slots: number[] }[] = [];
    c.on('io-worker-exit', (e) => workerExits.push(e));
    const crashedAt = performance.now();
    await c.crashIoWorker(0);

    expect(workerExits).toEqual([{ index: 0, slots: expect.any(Array), repaired: [] }]);
    expect([...(workerExits[0]?.slots ?? [])].sort()).toEqual(doomed);
    for (const outcome of await Promise.all(outcomes)) {
      expect(outcome.error).toMatchObject({ code: 'ERR_ATOMVISOR_CONNECTION_LOST' });
      expect(outcome.at - crashedAt).toBeLessThan(10_000); // not the 30 s they asked for
    }
    for (const lease of leases) if (doomed.includes(lease.slot)) lease.release();

    // Every group worker 0 owned is gone: leaders and grandchildren.
    const dead = doomed.flatMap((slot) => {
      const b = before.get(slot) as { pid: number; grandchild: number };
      return [b.pid, b.grandchild];
    });
    await waitUntil(
      () => dead.every((pid) => !isAlive(pid)),
      `worker 0's processes ${JSON.stringify(dead)} are dead`,
    );
    for (const slot of doomed) expect(groupAlive(before.get(slot)?.pid as number)).toBe(false);

    // ...and restarted on the replacement worker.
    const replica = (slot: number) =>
      [...c.snapshot('a').replicas, ...c.snapshot('b').replicas].find((r) => r.slot === slot);
    await waitUntil(
      () =>
        doomed.every((slot) => {
          const r = replica(slot);
          return r?.status === 'ready' && r.pid !== before.get(slot)?.pid;
        }),
      "worker 0's connections are ready again with new processes",
    );
    for (const slot of doomed) {
      const r = replica(slot);
      expect(r?.generation).toBeGreaterThan(before.get(slot)?.generation as number);
      expect(isAlive(r?.pid as number)).toBe(true);
    }
    // Worker 1's connections did not notice.
    for (const slot of spared) {
      const b = before.get(slot) as { pid: number; generation: number; grandchild: number };
      expect(replica(slot)).toMatchObject({
        status: 'ready',
        pid: b.pid,
        generation: b.generation,
      });
      expect(isAlive(b.pid)).toBe(true);
      expect(isAlive(b.grandchild)).toBe(true);
    }
    // Every connection serves again, the restarted ones included.
    for (const key of ['a', 'b']) {
      const both = [await c.acquire(key), await c.acquire(key)];
      for (const lease of both) expect(await lease.request('pid')).toBe(lease.pid);
      for (const lease of both) lease.release();
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) => c.request(key, 'echo', { i })),
      );
      expect(replies).toEqual(Array.from({ length: 20 }, (_, i) => ({ i })));
    }

    const restarted = doomed.map((slot) => replica(slot)?.pid as number);
    await c.close();
    await nothingLeft([
      ...[...before.values()].flatMap((b) => [b.pid, b.grandchild]),
      ...restarted,
    ]);
  });

  it('dying in the middle of publishing a slot: the write is closed, its process killed and restarted', async () => {
    const c = coordinator({ ioWorkers: 2 });
    await c.register('a', echoSpec({ env: env() }), { replicas: 2 });
    const both = [await c.acquire('a'), await c.acquire('a')];
    const lease = both.find((l) => l.slot % 2 === 0) as Lease; // IO worker 0's
    const grandchild = (await lease.request('spawn-grandchild')) as number;
    const { slot, pid, generation } = lease;
    for (const l of both) l.release();
    const other = c.snapshot('a').replicas.find((r) => r.slot !== slot);

    // The memory a worker leaves when it dies halfway through publishing a new process (pid, then
    // startedAt, then exit = -1): pid written, exit still the previous process's status, the
    // record's sequence odd. Planted here, then the worker really dies.
    c.table.publish(slot, { exit: 0 });
    const seq = Table.slotBase(slot) + Table.SEQ;
    const words = new Int32Array(c.table.handle.buffer);
    Atomics.add(words, seq, 1);
    expect(() => c.snapshot('a')).toThrowError(
      expect.objectContaining({ code: 'ERR_ATOMVISOR_CONTENTION' }),
    );

    const workerExits: { index: number; slots: number[]; repaired: number[] }[] = [];
    c.on('io-worker-exit', (e) => workerExits.push(e));
    await c.crashIoWorker(0);
    expect(workerExits).toEqual([{ index: 0, slots: [slot], repaired: [slot] }]);
    expect(Atomics.load(words, seq) & 1).toBe(0); // readable again
    // exit said 0, yet the pid being published was killed with its group: no orphan.
    await waitUntil(() => !isAlive(pid) && !isAlive(grandchild), 'its process group is dead');
    await waitUntil(() => {
      const r = c.snapshot('a').replicas.find((x) => x.slot === slot);
      return r?.status === 'ready' && r.pid !== pid && r.generation > generation;
    }, 'the slot serves again under a new process');
    // The other replica (IO worker 1's) did not notice.
    expect(c.snapshot('a').replicas.find((r) => r.slot !== slot)).toMatchObject({
      pid: other?.pid,
      generation: other?.generation,
    });
    await c.close();
    await nothingLeft([pid, grandchild]);
  });
});

describe('a host SIGKILLed, and a new coordinator on its state file', () => {
  interface HostReport {
    host: number;
    groups: { key: string; slot: number; pid: number; grandchild: number }[];
  }

  function startHost(stateFile: string): { child: ChildProcess; report: Promise<HostReport> } {
    const child = spawn(process.execPath, ['--import', 'tsx', HOST, stateFile], {
      cwd: ROOT,
      env: { ...process.env, [TAG]: tag },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    const report = new Promise<HostReport>((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        stdout += chunk;
        const nl = stdout.indexOf('\n');
        if (nl >= 0) resolve(JSON.parse(stdout.slice(0, nl)) as HostReport);
      });
      child.once('exit', (code, signal) =>
        reject(new Error(`the host exited (${code ?? signal}) before reporting:\n${stderr}`)),
      );
    });
    return { child, report };
  }

  it('reaps every group the dead host left, stubborn ones and grandchildren included', async () => {
    const stateFile = join(dir, 'state.json');
    const { child: host, report } = startHost(stateFile);
    const { groups, host: hostPid } = await report;
    expect(hostPid).toBe(host.pid);
    expect(groups.map((g) => g.key).sort()).toEqual(['echo', 'echo', 'stubborn']);
    // Everything in the groups now (leaders and grandchildren) must be gone in the end.
    const members = groups.flatMap((g) => groupMembers(g.pid));
    for (const g of groups) {
      expect(groupMembers(g.pid)).toEqual(expect.arrayContaining([g.pid, g.grandchild]));
    }
    expect(members.every(isAlive)).toBe(true);
    const recorded = JSON.parse(readFileSync(stateFile, 'utf8'));
    expect(recorded.host.pid).toBe(hostPid);
    expect(recorded.groups.map((g: { pid: number }) => g.pid).sort()).toEqual(
      groups.map((g) => g.pid).sort(),
    );

    // While the host lives, its state file is not ours to take: ready() rejects, nothing dies,
    // and closing the refused coordinator leaves the file to its owner.
    const rival = coordinator({ stateFile });
    await expect(rival.ready()).rejects.toMatchObject({ code: 'ERR_ATOMVISOR_STATE_FILE_IN_USE' });
    await rival.close();
    expect(members.every(isAlive)).toBe(true);
    expect(JSON.parse(readFileSync(stateFile, 'utf8'))).toEqual(recorded);

    const hostExit = new Promise((resolve) => host.once('exit', resolve));
    host.kill('SIGKILL');
    await hostExit; // reaped: its pid no longer names a live process
    // Stdin EOF ends the echo servers, not the stubborn one; every grandchild stays.
    const echoes = groups.filter((g) => g.key === 'echo');
    await waitUntil(() => echoes.every((g) => !isAlive(g.pid)), 'the echo servers exited on EOF');
    const stubborn = groups.find((g) => g.key === 'stubborn') as HostReport['groups'][number];
    expect(isAlive(stubborn.pid)).toBe(true);
    for (const g of groups) expect(isAlive(g.grandchild)).toBe(true);
    expect(tagged(tag).length).toBeGreaterThanOrEqual(4);

    const next = coordinator({ stateFile, ioWorkers: 1 });
    await next.ready();
    await nothingLeft(members);
    for (const g of groups) expect(groupAlive(g.pid)).toBe(false);
    // The file is the new coordinator's now, and it runs nothing yet.
    expect(JSON.parse(readFileSync(stateFile, 'utf8'))).toMatchObject({
      host: { pid: process.pid },
      groups: [],
    });
    // It works normally on that file: records what it runs, forgets what it stopped (a grandchild
    // holding the pipes delays the IO worker's exit report past unregister()), and a clean close
    // leaves no file.
    const groupsInFile = () =>
      (JSON.parse(readFileSync(stateFile, 'utf8')).groups as { pid: number }[]).map((g) => g.pid);
    await next.register('echo', echoSpec({ env: env() }));
    await next.register('other', echoSpec({ env: env() }));
    const [pid, other] = ['echo', 'other'].map((k) => next.snapshot(k).replicas[0]?.pid as number);
    const gc = (await next.request('echo', 'spawn-grandchild')) as number;
    await waitUntil(() => groupsInFile().length === 2, 'both groups are recorded');
    await next.unregister('echo');
    await waitUntil(
      () => JSON.stringify(groupsInFile()) === JSON.stringify([other]),
      `only ${other} is recorded (file: ${JSON.stringify(groupsInFile())})`,
      5_000,
    );
    await next.close();
    await nothingLeft([pid as number, other as number, gc]);
    expect(() => readFileSync(stateFile)).toThrow(/ENOENT/);
  });

  it('never kills a reused pid (wrong start time), and refuses a file whose host is alive', async () => {
    const stateFile = join(dir, 'state.json');
    const sleeper = () => {
      const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {
        detached: true,
        stdio: 'ignore',
        env: { ...process.env, [TAG]: tag },
      });
      children.push(child);
      return new Promise<number>((resolve, reject) => {
        child.once('spawn', () => resolve(child.pid as number));
        child.once('error', reject);
      });
    };
    const [unrelated, stranger, leftover] = await Promise.all([sleeper(), sleeper(), sleeper()]);
    const start = (pid: number) => processStartTime(pid) as string;
    expect(start(unrelated)).toMatch(/^\d+$/);
    const wrong = String(Number(start(unrelated)) + 12_345);

    // The recorded host's pid is alive but is another process (wrong start): not in use. Of the
    // recorded groups, only the one whose leader has the recorded start time is reaped.
    writeFileSync(
      stateFile,
      JSON.stringify({
        version: 1,
        host: { pid: unrelated, start: wrong },
        groups: [
          { pid: unrelated, start: wrong },
          { pid: stranger }, // start unknown: cannot be proven ours
          { pid: leftover, start: start(leftover) },
        ],
      }),
    );
    const c = coordinator({ stateFile, ioWorkers: 1 });
    await c.ready();
    await waitUntil(() => !isAlive(leftover), 'the genuine leftover is reaped');
    expect(isAlive(unrelated)).toBe(true);
    expect(groupAlive(unrelated)).toBe(true);
    expect(isAlive(stranger)).toBe(true);
    expect(JSON.parse(readFileSync(stateFile, 'utf8'))).toMatchObject({
      host: { pid: process.pid },
      groups: [],
    });
    await c.close();

    // A recorded host that is alive with its start time: the file is in use. Nothing is killed,
    // and the refused coordinator's close() leaves the file alone.
    const inUse = {
      version: 1,
      host: { pid: unrelated, start: start(unrelated) },
      groups: [{ pid: stranger, start: start(stranger) }],
    };
    writeFileSync(stateFile, JSON.stringify(inUse));
    const refused = coordinator({ stateFile, ioWorkers: 1 });
    await expect(refused.ready()).rejects.toMatchObject({
      code: 'ERR_ATOMVISOR_STATE_FILE_IN_USE',
    });
    await expect(refused.register('echo', echoSpec({ env: env() }))).rejects.toMatchObject({
      code: 'ERR_ATOMVISOR_STATE_FILE_IN_USE',
    });
    await refused.close();
    expect(isAlive(unrelated)).toBe(true);
    expect(isAlive(stranger)).toBe(true);
    expect(JSON.parse(readFileSync(stateFile, 'utf8'))).toEqual(inUse);
  });
});

describe('close() in the middle of things', () => {
  it('cancels a pending restart (backoff timer): nothing runs, no timer is left', async () => {
    const baseline = resources();
    const timers = watchTimers();
    const c = coordinator({
      ioWorkers: 1,
      restart: { initialDelayMs: 60_000, maxDelayMs: 60_000 },
    });
    await c.register('echo', echoSpec({ env: env() }));
    const pid = c.snapshot('echo').replicas[0]?.pid as number;
    const grandchild = (await c.request('echo', 'spawn-grandchild')) as number;
    const spawns: number[] = [];
    c.on('spawn', (e) => spawns.push(e.pid));
    // close() from the 'restart' listener: the backoff timer is armed right after the event, so
    // close() finds it pending whatever delay the jitter drew.
    let closing: Promise<void> | undefined;
    const restart = new Promise<{ delayMs: number }>((resolve) =>
      c.once('restart', (e) => {
        closing = c.close();
        resolve(e);
      }),
    );
    process.kill(pid, 'SIGKILL');
    await restart;
    expect(c.snapshot('echo').status).toBe('exited');
    await closing;
    await nothingArmed(timers, baseline);
    await nothingLeft([pid, grandchild]);
    expect(spawns).toEqual([]); // the scheduled restart never ran
  });

  it('stops a process whose start handshake is in progress, grandchild included', async () => {
    const baseline = resources();
    const timers = watchTimers();
    const c = coordinator({
      ioWorkers: 1,
      startTimeoutMs: 60_000,
      stop: { stdinGraceMs: 200, termGraceMs: 200 },
    });
    await c.ready();
    const spawned = new Promise<number>((resolve) => c.once('spawn', (e) => resolve(e.pid)));
    const grandchild = grandchildOf(c);
    // A mute server: never answers initialize, ignores stdin EOF and SIGTERM.
    const registering = c.register('mute', {
      command: process.execPath,
      args: [GRANDPARENT],
      env: env(),
      initialize: { method: 'initialize', params: {} },
    });
    const outcome = registering.then(
      () => undefined,
      (error: unknown) => error,
    );
    const pid = await spawned;
    const gc = await grandchild;
    expect(c.snapshot('mute').status).toBe('starting');
    expect(isAlive(pid) && isAlive(gc)).toBe(true);

    const t0 = performance.now();
    await c.close();
    expect(performance.now() - t0).toBeLessThan(20_000); // not the 60 s start timeout
    await nothingArmed(timers, baseline);
    expect(await outcome).toBeInstanceOf(Error);
    await nothingLeft([pid, gc]);
  });

  it('stops a process whose spawn is still under way when close() is called', async () => {
    const baseline = resources();
    const timers = watchTimers();
    const c = coordinator({ ioWorkers: 1, stop: { stdinGraceMs: 100, termGraceMs: 100 } });
    await c.ready();
    const pids: number[] = [];
    c.on('spawn', (e) => pids.push(e.pid));
    const registering = c
      .register('mute', { command: process.execPath, args: [GRANDPARENT], env: env() })
      .catch((error: unknown) => error);
    // The slot turns 'starting' in the same synchronous run that sends the spawn order to the IO
    // worker: close() now sends its stop while the spawn is under way there.
    for (let i = 0; i < 1_000 && c.table.snapshot(0).status !== 'starting'; i++)
      await Promise.resolve();
    expect(c.table.snapshot(0).status).toBe('starting');
    await c.close();
    await nothingArmed(timers, baseline);
    await registering;
    const pid = c.table.snapshot(0).pid; // published by the IO worker, whether or not we heard back
    expect(pid).toBeGreaterThan(0);
    expect(c.table.snapshot(0).status).toBe('empty');
    await nothingLeft([pid, ...pids]);
  });
});
