/**
 * WaitQueue and ReleasePump on their own, with fake attempts (a counter of free tokens, lanes of
 * callers) and a real SharedArrayBuffer futex: no slot table, no processes. The coordinator's
 * per-key queue and SlotTable.leaseAnyAsync are built on these; their own tests run the whole.
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.ts';
import { parkAsync } from '../../src/shm/park.ts';
import { MAX_TIMER_MS } from '../../src/shm/validate.ts';
import { ReleasePump, SKIP, WaitQueue } from '../../src/table/wait-queue.ts';
import { waitUntil } from '../helpers/processes.ts';

/** A pool of `free` interchangeable tokens; each attempt takes one if there is one. */
function tokens(free: number) {
  const pool = { free, taken: 0, joined: 0, left: 0 };
  const queue = new WaitQueue<number, string>({
    attempt: () => {
      if (pool.free === 0) return undefined;
      pool.free--;
      return ++pool.taken;
    },
    timeoutError: (name, ms) => new Error(`${name} timed out after ${ms} ms`),
    counted: (_name, delta) => {
      if (delta > 0) pool.joined++;
      else pool.left++;
    },
  });
  return { pool, queue };
}

describe('WaitQueue', () => {
  it('serves waiters in arrival order, one per free token, and counts who joins and leaves', async () => {
    const { pool, queue } = tokens(0);
    const order: string[] = [];
    const all = ['A', 'B', 'C', 'D'].map((name) =>
      queue.wait(name, undefined, undefined).then((token) => order.push(`${name}${token}`)),
    );
    expect(queue.size).toBe(4);
    expect(queue.serve()).toBe(0); // nothing free: the first waiter blocks the lane, the pass ends
    pool.free = 2;
    expect(queue.serve()).toBe(2);
    expect(queue.size).toBe(2);
    pool.free = 5;
    expect(queue.serve()).toBe(2);
    await Promise.all(all);
    expect(order).toEqual(['A1', 'B2', 'C3', 'D4']);
    expect(pool).toMatchObject({ joined: 4, left: 4, free: 3 });
    expect(queue.serve()).toBe(0);
  });

  it('keeps each lane FIFO but does not hold one lane behind another that is blocked', async () => {
    // Lane 0 wants "big" (none free), lane 1 wants "small" (two free).
    const free = { big: 0, small: 2 };
    const tried: string[] = [];
    const queue = new WaitQueue<string, { name: string; want: 'big' | 'small' }>(
      {
        attempt: ({ name, want }) => {
          tried.push(name);
          if (free[want] === 0) return undefined;
          free[want]--;
          return name;
        },
        timeoutError: () => new Error('timeout'),
        lane: ({ want }) => (want === 'big' ? 0 : 1),
      },
      2,
    );
    const served: string[] = [];
    const wait = (name: string, want: 'big' | 'small') =>
      queue.wait({ name, want }, undefined, undefined).then((n) => served.push(n));
    const all = [
      wait('big1', 'big'),
      wait('small1', 'small'),
      wait('big2', 'big'),
      wait('small2', 'small'),
      wait('small3', 'small'),
    ];
    expect(queue.laneSize(0)).toBe(2);
    expect(queue.laneSize(1)).toBe(3);
    expect(queue.serve()).toBe(2);
    // big2 is never tried while big1 (ahead of it in its lane) waits; small3 blocks lane 1 and
    // with both lanes blocked the pass ends.
    expect(tried).toEqual(['big1', 'small1', 'small2', 'small3']);
    tried.length = 0;
    free.big = 1;
    expect(queue.serve()).toBe(1);
    expect(tried).toEqual(['big1', 'big2', 'small3']);
    free.big = 1;
    free.small = 1;
    expect(queue.serve()).toBe(2);
    await Promise.all(all);
    expect(served).toEqual(['small1', 'small2', 'big1', 'big2', 'small3']);
  });

  it('passes the hint to every attempt, and SKIP neither serves nor blocks', async () => {
    const taken = new Set<number>();
    const queue = new WaitQueue<number, readonly number[], number>({
      attempt: (wants, hint) => {
        if (hint === undefined || !wants.includes(hint)) return SKIP;
        if (taken.has(hint)) return undefined;
        taken.add(hint);
        return hint;
      },
      timeoutError: () => new Error('timeout'),
    });
    const a = queue.wait([1], undefined, undefined);
    const b = queue.wait([2], undefined, undefined);
    const c = queue.wait([2], undefined, undefined);
    expect(queue.serve()).toBe(0); // no hint: everyone skips
    expect(queue.serve(2)).toBe(1); // a skips, b takes 2, c finds it taken: the pass ends
    expect(await b).toBe(2);
    expect(queue.serve(1)).toBe(1);
    expect(await a).toBe(1);
    taken.delete(2);
    expect(queue.serve(2)).toBe(1);
    expect(await c).toBe(2);
    expect(queue.size).toBe(0);
  });

  it('a timeout takes the waiter out with the hook error and leaves its place to the next', async () => {
    const { pool, queue } = tokens(0);
    const first = queue.wait('first', 30, undefined);
    const second = queue.wait('second', undefined, undefined);
    await expect(first).rejects.toThrow('first timed out after 30 ms');
    expect(queue.size).toBe(1);
    expect(pool.left).toBe(1);
    pool.free = 1;
    queue.serve();
    expect(await second).toBe(1);
  });

  it('an abort takes the waiter out at once; an aborted signal never joins', async () => {
    const { pool, queue } = tokens(0);
    const controller = new AbortController();
    const waiting = queue.wait('a', 60_000, controller.signal);
    expect(queue.size).toBe(1);
    controller.abort(new Error('gave up'));
    await expect(waiting).rejects.toThrow('gave up');
    expect(queue.size).toBe(0);
    await expect(queue.wait('b', undefined, controller.signal)).rejects.toThrow('gave up');
    expect(pool).toMatchObject({ joined: 1, left: 1 });
  });

  it('treats MAX_TIMER_MS and longer as no limit (no timer that would fire at once)', async () => {
    const { pool, queue } = tokens(0);
    const waiting = queue.wait('long', MAX_TIMER_MS, undefined);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(queue.size).toBe(1);
    pool.free = 1;
    queue.serve();
    expect(await waiting).toBe(1);
  });

  it('rejectAll fails every waiter with the reason', async () => {
    const { queue } = tokens(0);
    const all = [1, 2, 3].map((i) => queue.wait(`w${i}`, 60_000, undefined));
    queue.rejectAll(new Error('closed'));
    for (const w of all) await expect(w).rejects.toThrow('closed');
    expect(queue.size).toBe(0);
  });

  it('refuses a lane count it cannot track', () => {
    const hooks = { attempt: () => undefined, timeoutError: () => new Error('t') };
    expect(() => new WaitQueue(hooks, 0)).toThrow(InvalidArgumentError);
    expect(() => new WaitQueue(hooks, 32)).toThrow(InvalidArgumentError);
  });
});

describe('ReleasePump', () => {
  /** A futex word in shared memory, with the SlotTable's three operations. */
  function futex() {
    const view = new Int32Array(new SharedArrayBuffer(8));
    return {
      view,
      waiters: () => Atomics.load(view, 1),
      releaseEpoch: () => Atomics.load(view, 0),
      addLeaseWaiter: (delta: number) => void Atomics.add(view, 1, delta),
      parkForRelease: async (epoch: number, deadline: number, signal?: AbortSignal) => {
        await parkAsync(view, 0, epoch, deadline, signal);
      },
      /** What a release on another thread does. */
      release: () => {
        Atomics.add(view, 0, 1);
        Atomics.notify(view, 0);
      },
    };
  }

  it('announces itself once, serves on every wake-up, and leaves when the queue empties', async () => {
    const f = futex();
    const { pool, queue } = tokens(0);
    let passes = 0;
    const pump = new ReleasePump(
      f,
      () => queue.size > 0,
      () => {
        passes++;
        queue.serve();
      },
    );
    const waiters = [queue.wait('a', 10_000, undefined), queue.wait('b', 10_000, undefined)];
    pump.start();
    pump.start(); // already running: no second pump
    expect(f.waiters()).toBe(1);
    expect(passes).toBe(1); // the retry after announcing
    pool.free = 1;
    f.release();
    expect(await waiters[0]).toBe(1);
    expect(f.waiters()).toBe(1); // still parked for b
    pool.free = 1;
    f.release();
    expect(await waiters[1]).toBe(2);
    await waitUntil(() => f.waiters() === 0, 'the pump left the futex');
  });

  it('loses no wake-up that lands between the epoch read and the park', async () => {
    const f = futex();
    const { pool, queue } = tokens(0);
    const pump = new ReleasePump(
      f,
      () => queue.size > 0,
      () => {
        // The "release" happens during the retry pass, after the epoch was read: the park that
        // follows must return at once because the epoch moved.
        if (pool.taken === 0 && pool.free === 0) {
          queue.serve();
          pool.free = 1;
          f.release();
          return;
        }
        queue.serve();
      },
    );
    const waiting = queue.wait('a', 10_000, undefined);
    pump.start();
    expect(await waiting).toBe(1);
    await waitUntil(() => f.waiters() === 0, 'the pump left the futex');
  });

  it('stop() ends a parked pump at once when its queue empties by timeout', async () => {
    const f = futex();
    const { queue } = tokens(0);
    const pump = new ReleasePump(
      f,
      () => queue.size > 0,
      () => queue.serve(),
    );
    const waiting = queue.wait('a', 20, undefined).catch((e: Error) => e.message);
    pump.start();
    expect(f.waiters()).toBe(1);
    expect(await waiting).toBe('a timed out after 20 ms');
    pump.stop();
    await waitUntil(() => f.waiters() === 0, 'the pump left the futex');
  });
});
