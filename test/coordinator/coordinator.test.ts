import { afterEach, describe, expect, it } from 'vitest';
import { createCoordinator } from '../../src/index.ts';
import { Table } from '../../src/shm/layout.ts';
import { createBarrier } from '../helpers/barrier.ts';
import { coordinatorsFor } from '../helpers/coordinators.ts';
import { echoSpec, groupAlive, isAlive, STUBBORN, waitUntil } from '../helpers/processes.ts';
import { runWorkers, STRESS_THREADS } from '../helpers/threads.ts';

const LEASE_WORKER = new URL('../table/workers/lease-cycles.worker.ts', import.meta.url);

const coordinators = coordinatorsFor({
  stop: { stdinGraceMs: 200, termGraceMs: 200 },
  restart: { initialDelayMs: 10, maxDelayMs: 100 },
});
const coordinator = coordinators.make;

/** Processes a test's server started outside its own group: the test kills them itself. */
const daemons: number[] = [];
afterEach(async () => {
  await coordinators.closeAll();
  for (const pid of daemons.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

describe('register, request, snapshot', () => {
  it('starts with the handshake, keeps its result, and multiplexes requests', async () => {
    const c = coordinator();
    await c.register('echo', echoSpec());
    const snap = c.snapshot('echo');
    expect(snap.status).toBe('ready');
    expect(snap.replicas[0]).toMatchObject({ status: 'ready', restarts: 0, exit: -1 });
    expect(snap.replicas[0]?.handshake).toMatchObject({ capabilities: { echo: true } });
    expect(isAlive(snap.replicas[0]?.pid as number)).toBe(true);

    const replies = await Promise.all(
      Array.from({ length: 200 }, (_, i) => c.request('echo', 'echo', { i })),
    );
    expect(replies).toEqual(Array.from({ length: 200 }, (_, i) => ({ i })));
    await expect(
      c.request('echo', 'fail', { code: -32000, message: 'nope' }),
    ).rejects.toMatchObject({
      code: 'ERR_ATOMVISOR_JSONRPC',
      rpcCode: -32000,
    });
    expect(c.stats()).toMatchObject({
      connections: 1,
      inFlight: 0,
      requests: { total: 201, failed: 1 },
    });
  });

  it('runs an onStart hook instead of initialize, on every (re)start', async () => {
    const c = coordinator();
    let starts = 0;
    await c.register('hooked', {
      command: process.execPath,
      args: [echoSpec().args[0] as string],
      onStart: async (conn) => {
        starts++;
        return { pid: await conn.request('pid'), seen: conn.pid };
      },
    });
    const first = c.snapshot('hooked').replicas[0];
    expect(first?.handshake).toEqual({ pid: first?.pid, seen: first?.pid });
    process.kill(first?.pid as number, 'SIGKILL');
    await waitUntil(
      () =>
        c.snapshot('hooked').replicas[0]?.generation === 2 &&
        c.snapshot('hooked').status === 'ready',
      'restarted',
    );
    expect(starts).toBe(2);
  });

  it('reports progress and keeps a request with progress alive past its inactivity timeout', async () => {
    const c = coordinator();
    await c.register('echo', echoSpec());
    const seen: unknown[] = [];
    const result = await c.request(
      'echo',
      'sleep',
      { ms: 400, progressEveryMs: 20 },
      { timeoutMs: 150, onProgress: (p) => seen.push(p) },
    );
    expect(result).toEqual({ slept: 400 });
    expect(seen.length).toBeGreaterThan(3);
    await expect(
      c.request('echo', 'sleep', { ms: 2_000 }, { timeoutMs: 100 }),
    ).rejects.toMatchObject({ code: 'ERR_ATOMVISOR_TIMEOUT' });
  });

  it('aborts a request with the signal reason and tells the server', async () => {
    const c = coordinator();
    await c.register('echo', echoSpec());
    const controller = new AbortController();
    const pending = c.request('echo', 'sleep', { ms: 5_000 }, { signal: controller.signal });
    // The server has the sleep in hand: learn its id there.
    let running: unknown[] = [];
    const deadline = performance.now() + 10_000;
    while (running.length === 0) {
      if (performance.now() > deadline) throw new Error('the server never received the sleep');
      running = await c.request<unknown[]>('echo', 'running');
    }
    expect(running).toHaveLength(1);
    const [sleepId] = running;
    controller.abort(new Error('user gave up'));
    await expect(pending).rejects.toThrow('user gave up');
    await waitUntil(() => c.stats().inFlight === 0, 'the aborted request is no longer in flight');
    // The server heard notifications/cancelled for that request, and for no other.
    expect(await c.request('echo', 'cancelled')).toEqual([sleepId]);
    expect(await c.request('echo', 'running')).toEqual([]);
  });
});

describe('F5: a long lease on A blocks nothing else', () => {
  it('serves 200 requests to B, snapshot, stats and housekeeping while A is leased for 2 s', async () => {
    const c = coordinator();
    await Promise.all([c.register('A', echoSpec()), c.register('B', echoSpec())]);
    let released = 0;
    const held = c.withConnection('A', async (lease) => {
      await lease.request('sleep', { ms: 2_000 });
      released = performance.now();
    });
    await waitUntil(() => c.snapshot('A').status === 'leased', 'A is leased');
    const started = performance.now();
    const replies = await Promise.all(
      Array.from({ length: 200 }, (_, i) => c.request('B', 'echo', { i })),
    );
    expect(c.snapshot('A').status).toBe('leased');
    expect(c.stats().leases).toBe(1);
    c.housekeep();
    const bDone = performance.now();
    expect(replies).toHaveLength(200);
    await held;
    // Everything on B finished while A was still held, in a fraction of the hold.
    expect(bDone).toBeLessThan(released);
    expect(bDone - started).toBeLessThan(1_000);
  });

  it('sends plain requests to an unleased replica, or queues them until one is free', async () => {
    const c = coordinator();
    await c.register('pool', echoSpec(), { replicas: 2 });
    const a = await c.acquire('pool');
    const b = await c.acquire('pool');
    expect(new Set([a.slot, b.slot]).size).toBe(2);
    const waiting = c.request('pool', 'echo', { queued: true });
    expect(c.stats().waiters).toBe(1);
    a.release();
    await expect(waiting).resolves.toEqual({ queued: true });
    b.release();
    await expect(c.acquire('pool', { timeoutMs: 1_000 })).resolves.toBeDefined();
  });
});

describe('F2: closing a process that ignores SIGTERM and EOF', () => {
  it('does not delay other connections, and leaves the group dead', async () => {
    const c = coordinator({ stop: { stdinGraceMs: 300, termGraceMs: 300 } });
    await Promise.all([
      c.register('stubborn', { command: process.execPath, args: [STUBBORN] }),
      c.register('B', echoSpec()),
    ]);
    const pid = c.snapshot('stubborn').replicas[0]?.pid as number;
    const exits: { expected: boolean; signal: string | null }[] = [];
    c.on('exit', (e) => exits.push(e));
    const t0 = performance.now();
    const closing = c.unregister('stubborn', { timeoutMs: 0 });
    const replies = await Promise.all(
      Array.from({ length: 100 }, (_, i) => c.request('B', 'echo', { i })),
    );
    const bDone = performance.now() - t0;
    await closing;
    const closeTook = performance.now() - t0;
    expect(replies).toHaveLength(100);
    // It took the whole escalation (EOF grace + TERM grace) to stop the stubborn one; B did not wait.
    expect(closeTook).toBeGreaterThanOrEqual(550);
    expect(bDone).toBeLessThan(closeTook);
    expect(exits).toEqual([expect.objectContaining({ expected: true, signal: 'SIGKILL' })]);
    expect(isAlive(pid)).toBe(false);
    expect(groupAlive(pid)).toBe(false);
    expect(c.keys()).toEqual(['B']);
  });
});

describe('crashes, restarts and the breaker', () => {
  it('rejects pending requests at once when the process is killed, then restarts it', async () => {
    const c = coordinator();
    await c.register('echo', echoSpec());
    const pid = c.snapshot('echo').replicas[0]?.pid as number;
    const restarts: unknown[] = [];
    c.on('restart', (e) => restarts.push(e));
    const t0 = performance.now();
    const pending = Array.from({ length: 5 }, () => c.request('echo', 'sleep', { ms: 20_000 }));
    await waitUntil(() => c.stats().inFlight === 5, 'five requests in flight');
    process.kill(pid, 'SIGKILL');
    for (const p of pending)
      await expect(p).rejects.toMatchObject({
        code: 'ERR_ATOMVISOR_CONNECTION_LOST',
        signal: 'SIGKILL',
      });
    expect(performance.now() - t0).toBeLessThan(5_000); // not the 20 s the requests asked for
    await waitUntil(
      () => c.snapshot('echo').status === 'ready' && c.snapshot('echo').replicas[0]?.pid !== pid,
      'restarted',
    );
    expect(restarts).toHaveLength(1);
    expect(c.snapshot('echo').replicas[0]).toMatchObject({ restarts: 1, generation: 2 });
    expect(await c.request('echo', 'echo', { back: true })).toEqual({ back: true });
  });

  it('tags each stderr line with the generation of the process that wrote it', async () => {
    const c = coordinator();
    const spawns: { generation: number; pid: number }[] = [];
    const lines: { generation: number; line: string }[] = [];
    c.on('spawn', (e) => spawns.push(e));
    c.on('stderr', (e) => lines.push(e));
    await c.register('echo', echoSpec());
    void c.request('echo', 'crash', { code: 3 }).catch(() => {});
    await waitUntil(
      () => spawns.length === 2 && c.snapshot('echo').status === 'ready',
      'restarted',
    );
    void c.request('echo', 'crash', { code: 4 }).catch(() => {});
    await waitUntil(() => lines.some((l) => /code 4/.test(l.line)), 'the second crash logged');
    const [first, second] = spawns.map((e) => e.generation);
    expect(second).not.toBe(first);
    expect(lines.find((l) => /code 3/.test(l.line))?.generation).toBe(first);
    expect(lines.find((l) => /code 4/.test(l.line))?.generation).toBe(second);
  });

  it('stops a crash loop with the breaker and fails callers fast', async () => {
    const c = coordinator({
      restart: { initialDelayMs: 1, maxDelayMs: 20, maxRestarts: 3, windowMs: 60_000 },
    });
    await c.register('flaky', echoSpec());
    const failed = new Promise((resolve) => c.once('failed', resolve));
    let crashes = 0;
    c.on('ready', () => {
      crashes++;
      void c.request('flaky', 'crash', { code: 7 }).catch(() => {});
    });
    void c.request('flaky', 'crash', { code: 7 }).catch(() => {});
    await failed;
    expect(crashes).toBe(3);
    expect(c.snapshot('flaky').status).toBe('failed');
    await expect(c.request('flaky', 'ping')).rejects.toMatchObject({
      code: 'ERR_ATOMVISOR_CONNECTION_FAILED',
    });
    await expect(c.acquire('flaky')).rejects.toMatchObject({
      code: 'ERR_ATOMVISOR_CONNECTION_FAILED',
    });
  });

  it('counts a failed handshake as a failed start', async () => {
    const c = coordinator({
      startTimeoutMs: 200,
      restart: { initialDelayMs: 1, maxDelayMs: 5, maxRestarts: 0 },
    });
    await expect(
      c.register('mute', {
        command: process.execPath,
        args: ['-e', 'setInterval(() => {}, 1000)'],
        initialize: { method: 'initialize' },
      }),
    ).rejects.toMatchObject({ code: 'ERR_ATOMVISOR_TIMEOUT' });
    expect(c.keys()).toEqual([]);
    expect(c.stats().connections).toBe(0);
  });
});

describe('leases', () => {
  it(`never double-leases: ${STRESS_THREADS} worker threads + main, ≥ 10^5 cycles over 8 live connections`, async () => {
    const c = coordinator();
    const keys = Array.from({ length: 8 }, (_, i) => `conn${i}`);
    await Promise.all(keys.map((k) => c.register(k, echoSpec())));
    const slots = keys.map((k) => c.snapshot(k).replicas[0]?.slot as number);
    const holders = new Int32Array(new SharedArrayBuffer(4 * c.options.capacity));
    const barrier = createBarrier();
    const cycles = 25_000;
    const data = {
      handle: c.table.handle,
      variant: 'correct',
      holders,
      slots,
      cycles,
      barrier,
      parties: STRESS_THREADS,
    };
    let workersDone = false;
    const workers = runWorkers<{ doubles: number; released: number }>(
      LEASE_WORKER,
      Array.from({ length: STRESS_THREADS }, () => data),
    ).finally(() => {
      workersDone = true;
    });
    // Main leases through the coordinator at the same time; worker releases must wake it.
    let mainDoubles = 0;
    let mainCycles = 0;
    while (!workersDone || mainCycles < 200) {
      const lease = await c.acquire(keys[mainCycles % keys.length] as string, {
        timeoutMs: 30_000,
      });
      if (holders[lease.slot] !== 0) mainDoubles++;
      holders[lease.slot] = -1;
      // Yield to the event loop (not just a microtask): worker results arrive as messages.
      await new Promise((resolve) => setImmediate(resolve));
      if (holders[lease.slot] !== -1) mainDoubles++;
      holders[lease.slot] = 0;
      lease.release();
      mainCycles++;
    }
    const results = await workers;
    const doubles = results.reduce((n, r) => n + r.doubles, mainDoubles);
    const released = results.reduce((n, r) => n + r.released, 0);
    expect(doubles).toBe(0);
    expect(released).toBe(STRESS_THREADS * cycles);
    expect(released + mainCycles).toBeGreaterThanOrEqual(100_000);
    for (const k of keys)
      expect(c.snapshot(k).replicas[0]).toMatchObject({ status: 'ready', leaseId: 0 });
    expect(c.stats()).toMatchObject({ leases: 0, waiters: 0 });
    expect(await c.request('conn3', 'echo', { still: 'serving' })).toEqual({ still: 'serving' });
  });

  it('leases an idle replica before one still serving plain requests, else the least busy', async () => {
    const c = coordinator();
    await c.register('k', echoSpec(), { replicas: 2 });
    const abort = new AbortController();
    const long = () =>
      c
        .request('k', 'sleep', { ms: 30_000 }, { timeoutMs: 60_000, signal: abort.signal })
        .catch(() => undefined);
    const load = () =>
      new Map(c.snapshot('k').replicas.map((r) => [r.slot, r.inFlight] as [number, number]));
    try {
      const pending = [long()];
      await waitUntil(() => c.stats().inFlight === 1, 'one plain request in flight');
      const [busy] = [...load()].find(([, n]) => n === 1) as [number, number];
      const lease = await c.acquire('k');
      expect(lease.slot).not.toBe(busy); // the idle one, though the busy one is first and ready
      lease.release();

      // Both busy (1 and 2 in flight): the less busy one.
      pending.push(long(), long());
      await waitUntil(() => c.stats().inFlight === 3, 'three plain requests in flight');
      const byLoad = [...load()].sort((a, b) => a[1] - b[1]);
      expect(byLoad.map(([, n]) => n)).toEqual([1, 2]);
      const second = await c.acquire('k');
      expect(second.slot).toBe(byLoad[0]?.[0]);
      second.release();
      abort.abort(new Error('done'));
      await Promise.all(pending);
    } finally {
      abort.abort(new Error('done'));
    }
  });

  it('bounds the wait queue, times out waiters with the typed error, and serves the rest', async () => {
    const c = coordinator({ maxWaiting: 3 });
    await c.register('one', echoSpec());
    const held = await c.acquire('one');
    const served = c.acquire('one', { timeoutMs: 10_000 });
    // Assertions attached at once: these reject while the test awaits something else.
    const timedOut = expect(c.acquire('one', { timeoutMs: 30 })).rejects.toMatchObject({
      code: 'ERR_ATOMVISOR_TIMEOUT',
    });
    const aborted = expect(
      c.acquire('one', { signal: AbortSignal.timeout(30) }),
    ).rejects.toMatchObject({ name: 'TimeoutError' });
    await expect(c.acquire('one')).rejects.toMatchObject({ code: 'ERR_ATOMVISOR_QUEUE_FULL' });
    await timedOut;
    await aborted;
    held.release();
    held.release(); // idempotent
    const next = await served;
    expect(next.slot).toBe(held.slot);
    await expect(held.request('ping')).rejects.toMatchObject({
      code: 'ERR_ATOMVISOR_NOT_LEASE_HOLDER',
    });
    await next[Symbol.asyncDispose]();
    expect(c.stats()).toMatchObject({ leases: 0, waiters: 0 });
  });

  it('reports a leaked lease with the acquirer stack and evicts a hung one', async () => {
    const c = coordinator({
      housekeeping: { intervalMs: 20, leakDetectionMs: 50, leaseTimeoutMs: 300 },
    });
    await c.register('leaky', echoSpec());
    const leaks: { stack?: string }[] = [];
    c.on('leak', (e) => leaks.push(e));
    const evicted = new Promise((resolve) => c.once('evict', resolve));
    const lease = await c.acquire('leaky');
    const pid = lease.pid;
    await evicted;
    expect(leaks).toHaveLength(1);
    expect(leaks[0]?.stack).toContain('coordinator.test.ts');
    await waitUntil(
      () => c.snapshot('leaky').status === 'ready' && c.snapshot('leaky').replicas[0]?.pid !== pid,
      'replaced',
    );
    expect(isAlive(pid)).toBe(false);
    lease.release(); // the late release of an evicted lease is harmless
    expect(c.snapshot('leaky').status).toBe('ready');
  });
});

describe('retirement', () => {
  it('retires a ready connection at max lifetime, and a leased one only when released', async () => {
    const c = coordinator({
      housekeeping: { intervalMs: 20, maxLifetimeMs: 400, lifetimeVariance: 0 },
    });
    await c.register('old', echoSpec(), { replicas: 2 });
    const retired: { slot: number; reason: string }[] = [];
    c.on('retire', (e) => retired.push(e));
    const before = c.snapshot('old').replicas.map((r) => r.pid);
    const lease = await c.acquire('old');
    const leasedPid = lease.pid;
    // The free replica is replaced at its lifetime; the leased one keeps serving its holder.
    await waitUntil(
      () =>
        retired.length >= 1 &&
        c.snapshot('old').replicas.some((r) => r.status === 'ready' && !before.includes(r.pid)),
      'the free replica replaced',
    );
    expect(retired[0]).toMatchObject({ reason: 'max-lifetime' });
    expect(await lease.request('pid')).toBe(leasedPid);
    expect(isAlive(leasedPid)).toBe(true);
    lease.release();
    await waitUntil(() => !isAlive(leasedPid), 'the leased replica retired after its release');
    await waitUntil(
      () =>
        c.snapshot('old').replicas.every((r) => r.status === 'ready' && !before.includes(r.pid)),
      'both replaced',
    );
    expect(c.snapshot('old').replicas.every((r) => r.restarts === 0)).toBe(true); // planned, not crashes
  });

  it("starts the successor cleanly when a grandchild still holds the retired process's stdout", async () => {
    const c = coordinator({
      housekeeping: { intervalMs: 20, maxLifetimeMs: 300, lifetimeVariance: 0 },
    });
    const failures: unknown[] = [];
    c.on('start-failed', (e) => failures.push(e));
    await c.register('old', echoSpec());
    const first = c.snapshot('old').replicas[0];
    // A daemon outside its group holds its stdout: after it exits, its exit is reported only
    // after a drain grace (its last replies may still be in the pipe).
    const grandchild = (await c.request('old', 'spawn-grandchild', { detached: true })) as number;
    daemons.push(grandchild);
    await waitUntil(() => {
      const r = c.snapshot('old').replicas[0];
      return r?.status === 'ready' && r.pid !== first?.pid;
    }, 'the retired replica replaced');
    // One start: the successor waited for the drain instead of failing ('slot already has a
    // process') and restarting, which counted toward the breaker.
    expect(failures).toEqual([]);
    expect(c.snapshot('old').replicas[0]).toMatchObject({
      restarts: 0,
      generation: (first?.generation as number) + 1,
    });
    expect(isAlive(grandchild)).toBe(true); // outside the group: not ours to kill
  });

  it('stops an idle connection and starts it again on the next request', async () => {
    const c = coordinator({ housekeeping: { intervalMs: 20, idleTimeoutMs: 200 } });
    await c.register('sleepy', echoSpec());
    const pid = c.snapshot('sleepy').replicas[0]?.pid as number;
    await waitUntil(() => c.snapshot('sleepy').replicas[0]?.idle === true, 'stopped for idleness');
    expect(c.snapshot('sleepy').status).toBe('exited');
    expect(isAlive(pid)).toBe(false);
    expect(await c.request('sleepy', 'echo', { awake: true })).toEqual({ awake: true });
    expect(c.snapshot('sleepy').replicas[0]).toMatchObject({
      status: 'ready',
      idle: false,
      generation: 2,
    });
  });
});

describe('bad input', () => {
  it('refuses invalid options with the field and the reason', () => {
    expect(() => createCoordinator({ capacity: 0 })).toThrowError(
      expect.objectContaining({ field: 'options.capacity' }),
    );
    expect(() => createCoordinator({ bogus: 1 } as never)).toThrowError(
      expect.objectContaining({ field: 'options.bogus' }),
    );
    expect(() => createCoordinator({ restart: { maxRestarts: -1 } })).toThrowError(
      expect.objectContaining({ field: 'options.restart.maxRestarts' }),
    );
    expect(() => createCoordinator({ env: { allow: [1] } } as never)).toThrowError(
      expect.objectContaining({ field: 'options.env.allow[0]' }),
    );
  });

  it('refuses invalid specs, unknown keys and bad calls, leaking nothing', async () => {
    const c = coordinator();
    await expect(c.register('x', {} as never)).rejects.toMatchObject({ field: 'spec.command' });
    await expect(c.register('x', { command: 'node', args: 'a b' } as never)).rejects.toMatchObject({
      field: 'spec.args',
    });
    await expect(
      c.register('x', { command: 'node', protocol: 'http' } as never),
    ).rejects.toMatchObject({ field: 'spec.protocol' });
    await expect(c.register('', echoSpec())).rejects.toMatchObject({ field: 'key' });
    await expect(c.request('nope', 'ping')).rejects.toMatchObject({ field: 'key' });
    await c.register('echo', echoSpec());
    await expect(c.register('echo', echoSpec())).rejects.toMatchObject({ field: 'key' });
    await expect(c.request('echo', '')).rejects.toMatchObject({ field: 'method' });
    await expect(c.request('echo', 'ping', {}, { timeoutMs: -5 })).rejects.toMatchObject({
      field: 'options.timeoutMs',
    });
    expect(c.stats().connections).toBe(1);
  });

  it('reports a command that does not exist as a SpawnError and forgets the key', async () => {
    const c = coordinator();
    await expect(c.register('ghost', { command: '/nonexistent/server' })).rejects.toMatchObject({
      code: 'ERR_ATOMVISOR_SPAWN',
      field: 'spec.command',
      reason: expect.stringContaining('ENOENT'),
    });
    expect(c.keys()).toEqual([]);
    expect(c.stats().connections).toBe(0);
  });

  it('survives garbage and oversized lines on stdout, reporting them', async () => {
    const c = coordinator({ maxLineBytes: 64 * 1024 });
    await c.register('echo', echoSpec());
    const problems: string[] = [];
    c.on('protocol', (e) => problems.push(e.problem));
    expect(await c.request('echo', 'garbage')).toEqual({ afterGarbage: true });
    expect(await c.request('echo', 'oversized', { bytes: 200_000 })).toEqual({
      afterOversized: 200_000,
    });
    expect(problems).toEqual(['invalid', 'oversized']);
    expect(c.stats().protocolErrors).toBe(2);
  });
});

describe('shutdown', () => {
  it('close() stops every process and grandchild, and rejects new work', async () => {
    const c = coordinator();
    await c.register('echo', echoSpec(), { replicas: 2 });
    const pids = c.snapshot('echo').replicas.map((r) => r.pid);
    const grandchild = (await c.request('echo', 'spawn-grandchild')) as number;
    expect(isAlive(grandchild)).toBe(true);
    await c.close();
    for (const pid of [...pids, grandchild]) expect(isAlive(pid)).toBe(false);
    for (const pid of pids) expect(groupAlive(pid)).toBe(false);
    await expect(c.request('echo', 'ping')).rejects.toMatchObject({ code: 'ERR_ATOMVISOR_CLOSED' });
    await expect(c.register('again', echoSpec())).rejects.toMatchObject({
      code: 'ERR_ATOMVISOR_CLOSED',
    });
  });

  it('lets in-flight work finish within the close deadline', async () => {
    const c = coordinator();
    await c.register('echo', echoSpec());
    const slow = c.request('echo', 'sleep', { ms: 200 });
    await waitUntil(() => c.stats().inFlight === 1, 'in flight');
    await c.close({ timeoutMs: 5_000 });
    await expect(slow).resolves.toEqual({ slept: 200 });
  });
});

describe('housekeeping never throws out of its timer', () => {
  it('skips a slot whose record stays held (a writer died mid-write) and keeps serving the rest', async () => {
    const c = coordinator();
    await c.register('stuck', echoSpec());
    await c.register('fine', echoSpec());
    const slot = c.snapshot('stuck').replicas[0]?.slot as number;
    const raw = new Int32Array(c.table.handle.buffer);
    const seq = Table.slotBase(slot) + Table.SEQ;
    const before = Atomics.load(raw, seq);
    Atomics.store(raw, seq, before | 1); // odd: a write that never finishes
    try {
      expect(() => c.housekeep()).not.toThrow();
      expect(() => c.housekeep()).not.toThrow();
      const stats = c.stats(); // skips it too (a third give-up), counts the rest
      expect(stats.housekeeping.skipped).toBe(3);
      expect(stats.connections).toBe(2);
      expect(stats.byStatus.ready).toBe(1);
      await expect(c.request('fine', 'echo', { ok: 1 })).resolves.toEqual({ ok: 1 });
    } finally {
      Atomics.store(raw, seq, (before | 1) + 1); // the "writer" leaves
    }
    c.housekeep();
    expect(c.stats()).toMatchObject({ housekeeping: { skipped: 3 }, byStatus: { ready: 2 } });
  });
});
