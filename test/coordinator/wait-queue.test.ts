/**
 * The coordinator's per-key FIFO wait queue, on real echo servers: many acquire() callers over few
 * replicas are all served, fairly and in arrival order; a release hands the connection to the
 * head of the queue before the releasing caller can take it back; requests queued among acquires
 * are served in their turn without taking the connection; timeouts, aborts and close() leave the
 * queue empty and the futex pump gone.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Lease } from '../../src/index.ts';
import { coordinatorsFor } from '../helpers/coordinators.ts';
import { echoSpec, waitUntil } from '../helpers/processes.ts';

const coordinators = coordinatorsFor({
  stop: { stdinGraceMs: 200, termGraceMs: 200 },
  restart: { initialDelayMs: 10, maxDelayMs: 100 },
});
const coordinator = coordinators.make;

afterEach(async () => {
  await coordinators.closeAll();
});

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('acquire() queue', () => {
  for (const callers of [16, 64]) {
    it(`serves ${callers} callers over 4 replicas fairly, none starved, no double lease`, async () => {
      const c = coordinator();
      await c.register('pool', echoSpec(), { replicas: 4 });
      const holders = new Map<number, number>(); // slot → holders right now (> 1: double lease)
      const cycles = 40;
      const ops = new Array<number>(callers).fill(0);
      let window: number[] | undefined;
      let doubles = 0;
      const caller = async (me: number) => {
        for (let i = 0; i < cycles; i++) {
          const lease = await c.acquire('pool', { timeoutMs: 10_000 });
          const n = (holders.get(lease.slot) ?? 0) + 1;
          holders.set(lease.slot, n);
          if (n !== 1) doubles++;
          await turn();
          if (holders.get(lease.slot) !== 1) doubles++;
          holders.set(lease.slot, (holders.get(lease.slot) ?? 1) - 1);
          lease.release();
          ops[me]!++;
        }
        window ??= [...ops];
      };
      await Promise.all(Array.from({ length: callers }, (_, me) => caller(me)));
      expect(doubles).toBe(0);
      expect(ops).toEqual(new Array(callers).fill(cycles));
      // When the first caller finished, how far were the others? (fewest / most ops)
      const w = window as number[];
      expect(Math.min(...w) / Math.max(...w)).toBeGreaterThanOrEqual(0.5);
      expect(c.stats()).toMatchObject({ leases: 0, waiters: 0 });
      await waitUntil(() => c.table.leaseWaiters() === 0, 'the pump left the futex');
    });
  }

  it('serves acquires in arrival order, and a releasing caller cannot take the connection back', async () => {
    const c = coordinator();
    await c.register('one', echoSpec());
    const held = await c.acquire('one');
    const order: string[] = [];
    const waiter = (name: string) =>
      c.acquire('one', { timeoutMs: 10_000 }).then(async (lease) => {
        order.push(name);
        await turn();
        lease.release();
      });
    const queued = ['A', 'B', 'C', 'D'].map(waiter);
    await waitUntil(() => c.stats().waiters === 4, 'four waiters queued');
    held.release();
    const barger = waiter('E'); // the releasing caller asks again at once
    await Promise.all([...queued, barger]);
    expect(order).toEqual(['A', 'B', 'C', 'D', 'E']);
  });

  it('serves requests queued among acquires in their turn, in the same pass, taking nothing', async () => {
    const c = coordinator();
    await c.register('one', echoSpec());
    const held = await c.acquire('one');
    const events: string[] = [];
    const acquire = (name: string) =>
      c.acquire('one', { timeoutMs: 10_000 }).then((lease) => {
        events.push(name);
        return lease;
      });
    const request = (name: string) =>
      c.request('one', 'echo', { name }, { timeoutMs: 10_000 }).then((reply) => {
        events.push(name);
        return reply;
      });
    const a1 = acquire('A1');
    const r1 = request('R1');
    const r2 = request('R2');
    const a2 = acquire('A2');
    await waitUntil(() => c.stats().waiters === 4, 'four waiters queued');
    held.release(); // hands off to A1 at once; the requests cannot use a leased connection
    expect(c.stats().waiters).toBe(3);
    const first: Lease = await a1;
    expect(events).toEqual(['A1']);
    first.release(); // one pass: R1 and R2 get the ready replica (taking nothing), then A2 leases it
    expect(c.stats().waiters).toBe(0);
    const second = await a2;
    // The requests went out before A2's lease and complete while A2 still holds it.
    await expect(Promise.all([r1, r2])).resolves.toEqual([{ name: 'R1' }, { name: 'R2' }]);
    expect(c.snapshot('one').replicas[0]?.status).toBe('leased');
    second.release();
    expect(c.stats()).toMatchObject({ leases: 0, waiters: 0 });
  });

  it('a request queued behind blocked acquires is served as soon as a replica is usable for it', async () => {
    // Two replicas, both leased; two acquires and then a request queue. Each release goes to the
    // oldest acquire; the request (which needs a ready, unleased replica just like an acquire) is
    // served by the next release after them, and the acquire queue never holds it longer.
    const c = coordinator();
    await c.register('two', echoSpec(), { replicas: 2 });
    const h1 = await c.acquire('two');
    const h2 = await c.acquire('two');
    const a1 = c.acquire('two', { timeoutMs: 10_000 });
    const a2 = c.acquire('two', { timeoutMs: 10_000 });
    const r1 = c.request('two', 'echo', { n: 1 }, { timeoutMs: 10_000 });
    await waitUntil(() => c.stats().waiters === 3, 'three waiters queued');
    h1.release(); // A1 takes it; A2 and R1 still have nothing usable
    const l1 = await a1;
    expect(c.stats().waiters).toBe(2);
    h2.release(); // A2 takes the other one; R1 waits for a ready replica
    const l2 = await a2;
    expect(c.stats().waiters).toBe(1);
    l1.release(); // the only waiter left is the request: served at once
    expect(c.stats().waiters).toBe(0);
    await expect(r1).resolves.toEqual({ n: 1 });
    l2.release();
  });

  it('timeouts, aborts and close() take waiters out of the queue; the pump stops', async () => {
    const c = coordinator();
    await c.register('one', echoSpec());
    const held = await c.acquire('one');
    const abort = new AbortController();
    const reason = new Error('caller gave up');
    const timedOut = c.acquire('one', { timeoutMs: 40 });
    const aborted = c.acquire('one', { signal: abort.signal, timeoutMs: 10_000 });
    const requestTimedOut = c.request('one', 'echo', {}, { timeoutMs: 40 });
    await waitUntil(() => c.stats().waiters === 3, 'three waiters queued');
    expect(c.table.leaseWaiters()).toBe(1); // one futex park for the coordinator, not per waiter
    expect(c.snapshot('one').replicas[0]?.waiters).toBe(3);
    abort.abort(reason);
    await expect(aborted).rejects.toBe(reason);
    await expect(timedOut).rejects.toMatchObject({
      code: 'ERR_ATOMVISOR_TIMEOUT',
      message: expect.stringContaining('acquire("one")'),
    });
    await expect(requestTimedOut).rejects.toMatchObject({ code: 'ERR_ATOMVISOR_TIMEOUT' });
    expect(c.stats().waiters).toBe(0);
    expect(c.snapshot('one').replicas[0]?.waiters).toBe(0);
    await waitUntil(() => c.table.leaseWaiters() === 0, 'the pump left the futex');
    // Nobody who left takes the connection: a release leaves it ready.
    held.release();
    expect(c.snapshot('one').replicas[0]?.status).toBe('ready');

    const again = await c.acquire('one');
    const closing = c.acquire('one', { timeoutMs: 10_000 });
    await waitUntil(() => c.stats().waiters === 1, 'a waiter queued');
    const closed = c.close({ timeoutMs: 1_000 });
    await expect(closing).rejects.toMatchObject({ code: 'ERR_ATOMVISOR_CLOSED' });
    again.release();
    await closed;
    expect(c.table.leaseWaiters()).toBe(0);
  });

  it('timeoutMs: Infinity waits past the default (acquireTimeoutMs) until served', async () => {
    const c = coordinator({ acquireTimeoutMs: 50 });
    await c.register('one', echoSpec());
    const held = await c.acquire('one');
    // The control: the default bound applies.
    await expect(c.acquire('one')).rejects.toMatchObject({ code: 'ERR_ATOMVISOR_TIMEOUT' });
    let settled = false;
    const patient = c.acquire('one', { timeoutMs: Number.POSITIVE_INFINITY }).finally(() => {
      settled = true;
    });
    const request = c.request(
      'one',
      'echo',
      { late: true },
      { timeoutMs: Number.POSITIVE_INFINITY },
    );
    // Ten default timeouts later both still wait (with `?? default` they failed after 50 ms).
    const expiry = Date.now() + 500;
    await waitUntil(() => Date.now() >= expiry, 'ten default timeouts');
    expect(settled).toBe(false);
    expect(c.stats().waiters).toBe(2);
    held.release();
    const lease = await patient;
    lease.release();
    await expect(request).resolves.toEqual({ late: true });
  });
});
