import type { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { Mutex } from '../../src/shm/mutex.ts';
import { createBarrier } from '../helpers/barrier.ts';
import { firstMessage, runWorkers, STRESS_THREADS, spawnWorker } from '../helpers/threads.ts';
import { type MutexVariant, mutexVariants } from '../planted/mutexes.ts';

const COUNTER_WORKER = new URL('./workers/mutex-counter.worker.ts', import.meta.url);
const HOLDER_WORKER = new URL('./workers/mutex-holder.worker.ts', import.meta.url);
const ITERATIONS = 100_000;

/** N threads × ITERATIONS plain increments under the variant's lock; returns the final count. */
async function countUnder(variant: MutexVariant, threads = STRESS_THREADS): Promise<number> {
  const mutex = Mutex.create();
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const barrier = createBarrier();
  const data = {
    variant,
    handle: mutex.handle,
    counter,
    barrier,
    parties: threads,
    iterations: ITERATIONS,
  };
  await runWorkers(
    COUNTER_WORKER,
    Array.from({ length: threads }, () => data),
  );
  expect(mutex.isLocked).toBe(false);
  return counter[0] as number;
}

const live: Worker[] = [];
afterEach(async () => {
  await Promise.all(live.splice(0).map((w) => w.terminate()));
});

interface HolderReply {
  ready?: boolean;
  locked?: boolean;
  unlocked?: boolean;
  ownerDied?: boolean;
  threadId?: number;
  error?: string;
  code?: string;
}

async function startHolder(
  mutex: Mutex,
): Promise<{ worker: Worker; threadId: number; ask(c: string): Promise<HolderReply> }> {
  const worker = spawnWorker(HOLDER_WORKER, { handle: mutex.handle });
  live.push(worker);
  const hello = await firstMessage<HolderReply>(worker);
  const ask = (command: string) => {
    const reply = firstMessage<HolderReply>(worker);
    worker.postMessage(command);
    return reply;
  };
  return { worker, threadId: hello.threadId as number, ask };
}

describe('Mutex under contention (real threads)', () => {
  it(`keeps ${STRESS_THREADS} threads × ${ITERATIONS} non-atomic increments exact`, async () => {
    expect(await countUnder('correct')).toBe(STRESS_THREADS * ITERATIONS);
  });

  it('catches the planted check-then-set lock (lost updates)', async () => {
    // The broken lock loses updates only when two threads collide inside its check-then-set
    // window; a few rounds make that a near certainty without a timing assumption.
    let lost = 0;
    for (let round = 0; round < 5 && lost === 0; round++) {
      lost = STRESS_THREADS * ITERATIONS - (await countUnder('check-then-set'));
    }
    expect(lost).toBeGreaterThan(0);
  });

  it('serves lockAsync on the main thread while workers hammer the lock', async () => {
    const mutex = Mutex.create();
    const counter = new Int32Array(new SharedArrayBuffer(4));
    const barrier = createBarrier();
    const threads = STRESS_THREADS;
    const data = {
      variant: 'correct',
      handle: mutex.handle,
      counter,
      barrier,
      parties: threads,
      iterations: 50_000,
    };
    const workers = runWorkers(
      COUNTER_WORKER,
      Array.from({ length: threads }, () => data),
    );
    const mainRounds = 2_000;
    for (let i = 0; i < mainRounds; i++) {
      await mutex.lockAsync({ timeoutMs: 30_000 });
      counter[0] = (counter[0] as number) + 1;
      mutex.unlock();
    }
    await workers;
    expect(counter[0]).toBe(threads * 50_000 + mainRounds);
  });
});

describe('Mutex ownership', () => {
  for (const variant of ['correct', 'no-owner-check'] as const) {
    it(`refuses unlock() by a thread that does not hold it (${variant})`, async () => {
      const mutex = Mutex.create();
      const holder = await startHolder(mutex);
      expect((await holder.ask('lock')).locked).toBe(true);
      const suspect = mutexVariants[variant](mutex.handle);
      let refused: unknown;
      try {
        suspect.unlock();
      } catch (error) {
        refused = error;
      }
      if (variant === 'correct') {
        expect(refused).toMatchObject({ code: 'ERR_ATOMVISOR_NOT_OWNER' });
        expect(mutex.ownerThreadId).toBe(holder.threadId);
      } else {
        // The planted variant lets a stranger release someone else's lock: the check must see it.
        expect(refused).toBeUndefined();
        expect(mutex.ownerThreadId).toBeUndefined();
      }
    });
  }

  it('refuses a second blocking lock() by its holder instead of deadlocking', async () => {
    const holder = await startHolder(Mutex.create());
    expect((await holder.ask('lock')).locked).toBe(true);
    expect(await holder.ask('lock')).toMatchObject({ code: 'ERR_ATOMVISOR_DEADLOCK' });
  });

  it('refuses blocking lock() on the main thread', () => {
    const mutex = Mutex.create();
    expect(() => mutex.lock()).toThrowError(
      expect.objectContaining({ code: 'ERR_ATOMVISOR_MAIN_THREAD_BLOCKING' }),
    );
    expect(mutex.isLocked).toBe(false);
  });
});

describe('Mutex waiting: timeouts and abort', () => {
  it('times out lock() in a worker and lockAsync() on the main thread while another holds it', async () => {
    const mutex = Mutex.create();
    const holder = await startHolder(mutex);
    const other = await startHolder(mutex);
    expect((await holder.ask('lock')).locked).toBe(true);
    expect((await other.ask('lock-short')).locked).toBe(false);
    await expect(mutex.lockAsync({ timeoutMs: 30 })).rejects.toMatchObject({
      code: 'ERR_ATOMVISOR_TIMEOUT',
    });
    expect(mutex.ownerThreadId).toBe(holder.threadId);
    await holder.ask('unlock');
    await mutex.lockAsync({ timeoutMs: 5_000 });
    mutex.unlock();
  });

  it('rejects lockAsync with the signal reason, and an abandoned waiter does not swallow a wake-up', async () => {
    const mutex = Mutex.create();
    const holder = await startHolder(mutex);
    expect((await holder.ask('lock')).locked).toBe(true);

    const controller = new AbortController();
    const aborted = mutex.lockAsync({ signal: controller.signal });
    const reason = new Error('caller went away');
    setTimeout(() => controller.abort(reason), 20);
    await expect(aborted).rejects.toBe(reason);

    // The aborted waiter's waitAsync is still queued ahead of this one; the live waiter must
    // still get the lock when the holder unlocks (park.test.ts checks the hand-on exactly).
    const live = mutex.lockAsync({ timeoutMs: 20_000 });
    await holder.ask('unlock');
    await live;
    expect(mutex.ownerThreadId).toBe(0);
    mutex.unlock();
  });

  it('rejects at once when the signal is already aborted', async () => {
    const mutex = Mutex.create();
    const reason = new Error('already');
    await expect(mutex.lockAsync({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(mutex.isLocked).toBe(false);
  });
});

describe('Mutex owner-death recovery', () => {
  it('releases a lock whose holder thread was terminated, and tells the next locker', async () => {
    const mutex = Mutex.create();
    const holder = await startHolder(mutex);
    expect((await holder.ask('lock')).locked).toBe(true);
    await holder.worker.terminate();

    await expect(mutex.lockAsync({ timeoutMs: 30 })).rejects.toMatchObject({
      code: 'ERR_ATOMVISOR_TIMEOUT',
    });
    expect(Mutex.recoverOwner(holder.threadId, [Mutex.create(), mutex])).toBe(1);
    expect(Mutex.recoverOwner(holder.threadId, [mutex])).toBe(0);

    const next = await startHolder(mutex);
    expect((await next.ask('lock')).locked).toBe(true);
    expect((await next.ask('owner-died')).ownerDied).toBe(true);
    await next.ask('unlock');

    await mutex.lockAsync({ timeoutMs: 5_000 });
    expect(mutex.ownerDied).toBe(true); // stays set until someone repairs the state
    mutex.markConsistent();
    expect(mutex.ownerDied).toBe(false);
    mutex.unlock();
  });

  it('wakes a waiter parked on the dead holder', async () => {
    const mutex = Mutex.create();
    const holder = await startHolder(mutex);
    expect((await holder.ask('lock')).locked).toBe(true);
    const waiting = mutex.lockAsync({ timeoutMs: 20_000 });
    await holder.worker.terminate();
    expect(mutex.recoverFromDeadOwner(holder.threadId)).toBe(true);
    await waiting;
    expect(mutex.ownerDied).toBe(true);
    mutex.unlock();
  });

  it('will not recover from a thread that still holds nothing or from the caller itself', () => {
    const mutex = Mutex.create();
    expect(mutex.tryLock()).toBe(true);
    expect(() => mutex.recoverFromDeadOwner(0)).toThrowError(
      expect.objectContaining({ field: 'threadId' }),
    );
    expect(mutex.recoverFromDeadOwner(12345)).toBe(false);
    mutex.unlock();
  });
});

describe('Mutex bad input', () => {
  it('names the field and the reason', () => {
    const shared = new Int32Array(new SharedArrayBuffer(16));
    expect(() => new Mutex(new Int32Array(4), 0)).toThrowError(
      expect.objectContaining({ code: 'ERR_ATOMVISOR_INVALID_ARGUMENT', field: 'view' }),
    );
    expect(() => new Mutex(new Float64Array(new SharedArrayBuffer(16)) as never, 0)).toThrowError(
      expect.objectContaining({ field: 'view', reason: expect.stringContaining('Float64Array') }),
    );
    expect(() => new Mutex(shared, 3)).toThrowError(
      expect.objectContaining({ field: 'wordIndex' }),
    );
    expect(() => new Mutex(shared, -1)).toThrowError(
      expect.objectContaining({ field: 'wordIndex' }),
    );
    expect(() => new Mutex(shared, 1.5)).toThrowError(
      expect.objectContaining({ field: 'wordIndex' }),
    );
  });

  it('rejects a bad timeout in lockAsync', async () => {
    await expect(Mutex.create().lockAsync({ timeoutMs: -1 })).rejects.toMatchObject({
      field: 'options.timeoutMs',
    });
    await expect(Mutex.create().lockAsync({ signal: 'stop' as never })).rejects.toMatchObject({
      field: 'options.signal',
    });
  });

  it('refuses handles from another layout version, kind or alignment', () => {
    const handle = Mutex.create().handle;
    expect(() => Mutex.from({ ...handle, layoutVersion: 99 })).toThrowError(
      expect.objectContaining({
        code: 'ERR_ATOMVISOR_LAYOUT_MISMATCH',
        field: 'handle.layoutVersion',
      }),
    );
    expect(() => Mutex.from({ ...handle, kind: 'atomvisor.channel' } as never)).toThrowError(
      expect.objectContaining({ field: 'handle.kind' }),
    );
    expect(() => Mutex.from({ ...handle, byteOffset: 2 })).toThrowError(
      expect.objectContaining({
        field: 'handle.byteOffset',
        reason: expect.stringContaining('aligned'),
      }),
    );
    expect(() => Mutex.from({ ...handle, byteOffset: 8 })).toThrowError(
      expect.objectContaining({ field: 'handle.byteOffset' }),
    );
    expect(() => Mutex.from(null as never)).toThrowError(
      expect.objectContaining({ field: 'handle' }),
    );
  });

  it('places a Mutex inside a caller buffer and shares it by handle', () => {
    const view = new Int32Array(new SharedArrayBuffer(64));
    const a = new Mutex(view, 6);
    const b = Mutex.from(structuredClone(a.handle));
    expect(a.tryLock()).toBe(true);
    expect(b.tryLock()).toBe(false);
    expect(view[6]).not.toBe(0);
    b.unlock(); // same thread: ownership is per thread
    expect(a.isLocked).toBe(false);
  });
});
