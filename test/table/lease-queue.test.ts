/**
 * The in-thread FIFO of SlotTable.leaseAnyAsync: many async callers on one thread over few slots
 * are all served, fairly and in arrival order; a release hands the slot to the head of the queue
 * before the releasing caller can take it back; timeouts and aborts leave the queue and no timer
 * behind; and the one futex pump still connects this thread's queue with other threads.
 */
import type { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { SlotTable } from '../../src/table/slot-table.ts';
import { waitUntil } from '../helpers/processes.ts';
import { spawnWorker } from '../helpers/threads.ts';

const HANDOFF_WORKER = new URL('./workers/lease-handoff.worker.ts', import.meta.url);

function readyTable(n: number): SlotTable {
  const table = SlotTable.create(n);
  for (let i = 0; i < n; i++) {
    expect(table.claim()?.slot).toBe(i);
    expect(table.transition(i, 'ready', { from: 'starting' })).toBe(true);
  }
  return table;
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

const live: Worker[] = [];
afterEach(async () => {
  await Promise.all(live.splice(0).map((w) => w.terminate()));
});

/**
 * `callers` async callers each run `cycles` of lease → hold one setImmediate turn → release.
 * Returns each caller's ops, the ops of all callers when the first one finished (the fairness
 * window), and how many times a slot had two holders at once.
 */
async function contend(table: SlotTable, callers: number, cycles: number) {
  const slots = Array.from({ length: table.capacity }, (_, i) => i);
  const holders = new Int32Array(table.capacity); // per-slot owner counter: > 1 is a double lease
  const ops = new Array<number>(callers).fill(0);
  let window: number[] | undefined;
  let doubles = 0;
  const caller = async (me: number) => {
    for (let c = 0; c < cycles; c++) {
      const { slot, leaseId } = await table.leaseAnyAsync(slots, { timeoutMs: 10_000 });
      if (++holders[slot]! !== 1) doubles++;
      await turn();
      if (holders[slot] !== 1) doubles++;
      holders[slot]!--;
      table.release(slot, leaseId);
      ops[me]!++;
    }
    window ??= [...ops];
  };
  await Promise.all(Array.from({ length: callers }, (_, me) => caller(me)));
  return { ops, window: window as number[], doubles };
}

describe('leaseAnyAsync FIFO (one thread)', () => {
  for (const callers of [16, 64]) {
    it(`serves ${callers} callers over 4 slots fairly, none starved, no double lease`, async () => {
      const table = readyTable(4);
      const before = timers();
      const cycles = 60;
      const { ops, window, doubles } = await contend(table, callers, cycles);
      expect(doubles).toBe(0);
      expect(ops).toEqual(new Array(callers).fill(cycles)); // everyone finished its cycles
      // When the first caller finished, how far were the others? (fewest / most ops)
      const fairness = Math.min(...window) / Math.max(...window);
      expect(fairness).toBeGreaterThanOrEqual(0.5);
      expect(table.queuedWaiters).toBe(0);
      await waitUntil(() => table.leaseWaiters() === 0, 'the pump left the futex');
      expect(timers()).toBeLessThanOrEqual(before);
      for (let slot = 0; slot < 4; slot++)
        expect(table.snapshot(slot)).toMatchObject({ status: 'ready', leaseId: 0 });
    });
  }

  it('serves waiters in arrival order, and a releasing caller cannot take the slot back', async () => {
    const table = readyTable(1);
    const held = table.tryLease(0);
    const order: string[] = [];
    // Each served waiter records itself, holds one turn, then releases: slots free one at a time.
    const waiter = (name: string) =>
      table.leaseAnyAsync([0], { timeoutMs: 10_000 }).then(async ({ slot, leaseId }) => {
        order.push(name);
        await turn();
        table.release(slot, leaseId);
      });
    const queued = ['A', 'B', 'C', 'D'].map(waiter);
    await turn(); // everyone is queued (or parked) now
    table.release(0, held);
    const barger = waiter('E'); // the releasing caller asks again at once
    await Promise.all([...queued, barger]);
    expect(order).toEqual(['A', 'B', 'C', 'D', 'E']);
  });

  it('keeps FIFO across slots: a freed slot goes to the oldest waiter that wants it', async () => {
    const table = readyTable(3);
    const held = [0, 1, 2].map((slot) => table.tryLease(slot));
    const served: string[] = [];
    const wait = (name: string, slots: number[]) =>
      table.leaseAnyAsync(slots, { timeoutMs: 10_000 }).then((l) => {
        served.push(`${name}@${l.slot}`);
        return l;
      });
    const a = wait('A', [0, 1]);
    const b = wait('B', [2]);
    const c = wait('C', [0, 1, 2]);
    await turn();
    table.release(2, held[2]!); // B is the oldest that wants slot 2 (A does not)
    await b;
    table.release(0, held[0]!); // A
    await a;
    table.release(1, held[1]!); // C
    await c;
    expect(served).toEqual(['B@2', 'A@0', 'C@1']);
  });

  it('timeouts and aborts leave the queue: it drains to zero, no timer or futex waiter is left', async () => {
    const table = readyTable(2);
    const held = [table.tryLease(0), table.tryLease(1)];
    const before = timers();
    const abort = new AbortController();
    const reason = new Error('caller gave up');
    const timedOut = table.leaseAnyAsync([0, 1], { timeoutMs: 30 });
    const aborted = table.leaseAnyAsync([0, 1], { signal: abort.signal });
    const later = table.leaseAnyAsync([0, 1], { timeoutMs: 60 });
    const forever = new AbortController();
    const unbounded = table.leaseAnyAsync([0, 1], { signal: forever.signal }); // no timeout
    expect(table.queuedWaiters).toBe(4);
    expect(table.leaseWaiters()).toBe(1); // one pump on the futex, not one park per waiter
    abort.abort(reason);
    await expect(aborted).rejects.toBe(reason);
    await expect(timedOut).rejects.toMatchObject({ code: 'ERR_ATOMVISOR_TIMEOUT' });
    await expect(later).rejects.toMatchObject({ code: 'ERR_ATOMVISOR_TIMEOUT' });
    expect(table.queuedWaiters).toBe(1);
    forever.abort(reason);
    await expect(unbounded).rejects.toBe(reason);
    expect(table.queuedWaiters).toBe(0);
    await waitUntil(() => table.leaseWaiters() === 0, 'the pump left the futex');
    expect(timers()).toBeLessThanOrEqual(before);
    // Nobody who left may still take a slot: a release leaves it ready.
    table.release(0, held[0]!);
    table.release(1, held[1]!);
    await turn();
    expect(table.state(0).status).toBe('ready');
    expect(table.state(1).status).toBe('ready');
    // And the queue works again afterwards.
    const id = table.tryLease(0);
    const next = table.leaseAnyAsync([0], { timeoutMs: 10_000 });
    table.release(0, id);
    expect((await next).slot).toBe(0);
  });

  it('rejects bad slots at once, even with waiters queued', async () => {
    const table = readyTable(1);
    const held = table.tryLease(0);
    const queued = table.leaseAnyAsync([0], { timeoutMs: 10_000 });
    await expect(table.leaseAnyAsync([5])).rejects.toMatchObject({
      code: 'ERR_ATOMVISOR_INVALID_ARGUMENT',
    });
    table.release(0, held);
    expect((await queued).slot).toBe(0);
  });
});

describe('leaseAnyAsync across threads', () => {
  it('a main-thread release wakes a worker blocked in leaseAny; a worker release wakes the main queue', async () => {
    const table = readyTable(1);
    const mine = table.tryLease(0);
    const worker = spawnWorker(HANDOFF_WORKER, { handle: table.handle, slot: 0 });
    live.push(worker);
    const messages: { phase: string; leaseId?: number; sawWaiters?: number }[] = [];
    worker.on('message', (m) => messages.push(m));
    let failed: unknown;
    worker.once('error', (e) => {
      failed = e;
    });
    await waitUntil(() => table.leaseWaiters() === 1 || failed !== undefined, 'the worker parked');
    expect(failed).toBeUndefined();
    table.release(0, mine); // no local waiter wants it: the futex wakes the worker
    await waitUntil(() => messages.length > 0, 'the worker leased');
    expect(messages[0]).toMatchObject({ phase: 'leased' });
    // Now the main thread waits; the worker releases once it sees the pump announced.
    const got = await table.leaseAnyAsync([0], { timeoutMs: 20_000 });
    expect(got.slot).toBe(0);
    expect(got.leaseId).not.toBe(messages[0]?.leaseId);
    await waitUntil(() => messages.length > 1, 'the worker reported its release');
    expect(messages[1]).toMatchObject({ phase: 'released' });
    table.release(0, got.leaseId);
    expect(table.queuedWaiters).toBe(0);
  });
});
