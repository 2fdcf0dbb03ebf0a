/**
 * Planted-bug locks for the race harness's self-check. Each works on a Mutex's two words
 * (handle.buffer at handle.byteOffset) and has the surface the suites use, so the same test runs
 * against atomvisor's Mutex and against each of these. Each carries exactly one bug, named in its
 * comment. Never use these for anything but catching them.
 */
import { Mutex as MutexLayout } from '../../shm/layout.ts';
import { Mutex, type MutexHandle } from '../../shm/mutex.ts';
import { currentThreadId } from '../../shm/runtime.ts';

export interface LockLike {
  lock(timeoutMs?: number): boolean;
  unlock(): void;
}

function words(handle: MutexHandle): Int32Array {
  return new Int32Array(handle.buffer, handle.byteOffset, MutexLayout.WORDS);
}

const LOCK = MutexLayout.LOCK;
const MINE = (currentThreadId + 1) << MutexLayout.OWNER_SHIFT;

/** BUG (check-then-set lock): looks at the word, then stores to it — two threads both see it free. */
export function checkThenSetLock(handle: MutexHandle): LockLike {
  const v = words(handle);
  return {
    lock() {
      for (let spins = 0; ; spins++) {
        const c = Atomics.load(v, LOCK);
        if (c === 0) {
          Atomics.store(v, LOCK, MINE);
          return true;
        }
        if (spins > 100) Atomics.wait(v, LOCK, c, 1);
      }
    },
    unlock() {
      Atomics.store(v, LOCK, 0);
      Atomics.notify(v, LOCK, 1);
    },
  };
}

/** BUG (unlock without owner check): atomvisor's Mutex, but any thread's unlock() releases it. */
export function unlockWithoutOwnerCheck(handle: MutexHandle): LockLike {
  const inner = Mutex.from(handle);
  const v = words(handle);
  return {
    lock: (timeoutMs) => inner.lock(timeoutMs),
    unlock() {
      if ((Atomics.exchange(v, LOCK, 0) & MutexLayout.WAITERS_BIT) !== 0)
        Atomics.notify(v, LOCK, 1);
    },
  };
}

/**
 * BUG (notify before the store it announces): atomvisor's Mutex, but unlock() wakes a waiter
 * before it frees the word. The waiter can wake, find the lock still held, park again — and the
 * store that follows wakes nobody: a lost wake-up, the waiter sleeps for ever.
 */
export function notifyBeforeStoreLock(handle: MutexHandle): LockLike {
  const inner = Mutex.from(handle);
  const v = words(handle);
  return {
    lock: (timeoutMs) => inner.lock(timeoutMs),
    unlock() {
      if ((Atomics.load(v, LOCK) & MutexLayout.WAITERS_BIT) !== 0) Atomics.notify(v, LOCK, 1);
      Atomics.store(v, LOCK, 0);
    },
  };
}

/**
 * BUG (a wait that ignores spurious wake-ups): a futex lock (0 free, 1 locked, 2 locked with
 * waiters, after Drepper) whose waiter takes any return from Atomics.wait as "the lock is mine"
 * instead of re-trying to take it. Correct as long as every wake-up comes from unlock() — which
 * nothing promises.
 */
export function wakeMeansMineLock(handle: MutexHandle): LockLike {
  const v = words(handle);
  return {
    lock() {
      let c = Atomics.compareExchange(v, LOCK, 0, 1);
      if (c === 0) return true;
      if (c !== 2) c = Atomics.exchange(v, LOCK, 2);
      if (c !== 0) Atomics.wait(v, LOCK, 2); // ← should loop: while (c !== 0) { wait; c = exchange(2) }
      return true;
    },
    unlock() {
      if (Atomics.sub(v, LOCK, 1) !== 1) {
        Atomics.store(v, LOCK, 0);
        Atomics.notify(v, LOCK, 1);
      }
    },
  };
}
