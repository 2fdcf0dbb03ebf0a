/**
 * Deliberately broken mutexes, the planted bugs the Mutex tests must catch. Each has the same
 * surface as Mutex (from(handle), tryLock, lock, unlock) over the same two words, so the same
 * worker code runs against any of them.
 */
import { Mutex, type MutexHandle } from '../../src/shm/mutex.ts';
import { currentThreadId } from '../../src/shm/runtime.ts';

export interface MutexLike {
  tryLock(): boolean;
  lock(timeoutMs?: number): boolean;
  unlock(): void;
}

function viewOf(handle: MutexHandle): Int32Array {
  return new Int32Array(handle.buffer, handle.byteOffset, 2);
}

/** Check-then-set: looks at the word, then stores to it; two threads can both see it free. */
class CheckThenSetMutex implements MutexLike {
  readonly #view: Int32Array;
  constructor(handle: MutexHandle) {
    this.#view = viewOf(handle);
  }
  tryLock(): boolean {
    if (Atomics.load(this.#view, 0) !== 0) return false;
    Atomics.store(this.#view, 0, (currentThreadId + 1) << 1);
    return true;
  }
  lock(): boolean {
    while (!this.tryLock()) Atomics.wait(this.#view, 0, Atomics.load(this.#view, 0), 1);
    return true;
  }
  unlock(): void {
    Atomics.store(this.#view, 0, 0);
    Atomics.notify(this.#view, 0, 1);
  }
}

/** A correct lock whose unlock() skips the owner check: any thread can release it. */
class NoOwnerCheckMutex implements MutexLike {
  readonly #inner: Mutex;
  readonly #view: Int32Array;
  constructor(handle: MutexHandle) {
    this.#inner = Mutex.from(handle);
    this.#view = viewOf(handle);
  }
  tryLock(): boolean {
    return this.#inner.tryLock();
  }
  lock(timeoutMs?: number): boolean {
    return this.#inner.lock(timeoutMs);
  }
  unlock(): void {
    if ((Atomics.exchange(this.#view, 0, 0) & 1) !== 0) Atomics.notify(this.#view, 0, 1);
  }
}

export const mutexVariants = {
  correct: (handle: MutexHandle): MutexLike => Mutex.from(handle),
  'check-then-set': (handle: MutexHandle): MutexLike => new CheckThenSetMutex(handle),
  'no-owner-check': (handle: MutexHandle): MutexLike => new NoOwnerCheckMutex(handle),
} as const;

export type MutexVariant = keyof typeof mutexVariants;
