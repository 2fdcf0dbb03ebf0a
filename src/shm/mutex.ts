/**
 * Mutex: a futex-style lock in two Int32 words of a SharedArrayBuffer, usable from any thread.
 *
 * Words (offsets in layout.ts):
 *   LOCK  — 0 when free; otherwise (ownerTag << 1) | waitersBit, ownerTag = holder's threadId + 1.
 *   FLAGS — FLAG_OWNER_DIED: the last holder died holding the lock (see recoverFromDeadOwner).
 *
 * Invariants
 * - The lock is held iff LOCK ≠ 0, and LOCK names the holder. The owner is in the lock word itself,
 *   as in Linux robust futexes, so acquisition and "who owns it" are one atomic step: a thread
 *   that dies holding the lock can always be identified.
 * - LOCK moves 0 → owner only by compareExchange, owner → 0 only by the owner (unlock) or by
 *   recovery of a thread that has exited; anyone may add the waiters bit to a held lock.
 * - The waiters bit is conservative: it may be set with nobody parked (one wasted notify), but a
 *   thread never parks unless the word it parks on has the bit set, so unlock never skips a needed
 *   notify.
 *
 * Memory ordering. Every access is an `Atomics` operation, and in the ECMAScript memory model those
 * are sequentially consistent and synchronize-with each other: the unlocking `exchange` (a write)
 * is read by the next locker's `compareExchange`, so every plain write made inside the critical
 * section happens-before every plain read the next holder makes. Lost wake-ups are impossible
 * because `Atomics.wait(view, LOCK, c)` compares and sleeps atomically with respect to `notify`:
 * if unlock's exchange precedes the wait, the wait sees LOCK ≠ c and returns 'not-equal'.
 *
 * Ownership is per thread, not per async task: on the main thread two async callers contend
 * through lockAsync correctly, but unlock() cannot tell them apart.
 *
 * Cost: tryLock+unlock is a few builtin atomics (~50 ns measured here); contended callers spin
 * SPIN_LIMIT times (with Atomics.pause on Node ≥ 24), then park.
 */
import {
  DeadlockError,
  InvalidArgumentError,
  MainThreadBlockingError,
  NotOwnerError,
  TimeoutError,
} from '../errors.ts';
import { HandleKind, Mutex as L, LAYOUT_VERSION, WORD_BYTES } from './layout.ts';
import { parkAsync, parkSync } from './park.ts';
import { cpuPause, currentThreadId, deadlineAfter, now, onMainThread } from './runtime.ts';
import {
  checkHandle,
  checkInteger,
  checkSharedInt32View,
  checkSignal,
  checkTimeout,
  checkWordRange,
} from './validate.ts';

/** Structured-cloneable description of a Mutex: post it to a worker, rebuild with Mutex.from. */
export interface MutexHandle {
  readonly kind: typeof HandleKind.mutex;
  readonly layoutVersion: number;
  readonly buffer: SharedArrayBuffer;
  readonly byteOffset: number;
}

export interface LockAsyncOptions {
  /** Give up after this many milliseconds (rejects with TimeoutError). Default: wait forever. */
  timeoutMs?: number;
  /** Give up when this signal aborts (rejects with `signal.reason`). */
  signal?: AbortSignal;
}

/** How many times a contended locker re-checks the word before it parks. */
export const SPIN_LIMIT = 100;

const MY_TAG = currentThreadId + 1;
const MINE = MY_TAG << L.OWNER_SHIFT;
const MINE_WITH_WAITERS = MINE | L.WAITERS_BIT;

function ownerThreadOf(word: number): number | undefined {
  return word === 0 ? undefined : (word >>> L.OWNER_SHIFT) - 1;
}

export class Mutex {
  /** Words a Mutex occupies in a caller's Int32Array. */
  static readonly WORDS = L.WORDS;

  readonly #view: Int32Array;
  readonly #lock: number;
  readonly #flags: number;

  /** Make a Mutex on its own new SharedArrayBuffer. */
  static create(): Mutex {
    return new Mutex(new Int32Array(new SharedArrayBuffer(L.WORDS * WORD_BYTES)), 0);
  }

  /** Re-create, in this thread, a Mutex described by `mutex.handle`. */
  static from(handle: MutexHandle): Mutex {
    const h = checkHandle(handle, HandleKind.mutex);
    const buffer = h.buffer as SharedArrayBuffer;
    const byteOffset = checkInteger(h.byteOffset, 'handle.byteOffset', 0, buffer.byteLength);
    if (byteOffset % WORD_BYTES !== 0) {
      throw new InvalidArgumentError(
        'handle.byteOffset',
        `${byteOffset} is not aligned to ${WORD_BYTES} bytes`,
      );
    }
    if (byteOffset + L.WORDS * WORD_BYTES > buffer.byteLength) {
      throw new InvalidArgumentError(
        'handle.byteOffset',
        `a Mutex at ${byteOffset} does not fit in ${buffer.byteLength} bytes`,
      );
    }
    return new Mutex(new Int32Array(buffer, byteOffset, L.WORDS), 0);
  }

  /** Release every mutex in `mutexes` still held by exited thread `threadId`. Returns how many. */
  static recoverOwner(threadId: number, mutexes: Iterable<Mutex>): number {
    let recovered = 0;
    for (const mutex of mutexes) if (mutex.recoverFromDeadOwner(threadId)) recovered++;
    return recovered;
  }

  /**
   * Place a Mutex at `view[wordIndex .. wordIndex + Mutex.WORDS)`. The words must start zeroed
   * (a fresh SharedArrayBuffer is) or hold a Mutex already.
   */
  constructor(view: Int32Array, wordIndex: number) {
    this.#view = checkSharedInt32View(view, 'view');
    this.#lock = checkWordRange(view, wordIndex, L.WORDS, 'wordIndex') + L.LOCK;
    this.#flags = wordIndex + L.FLAGS;
  }

  get handle(): MutexHandle {
    return {
      kind: HandleKind.mutex,
      layoutVersion: LAYOUT_VERSION,
      buffer: this.#view.buffer as SharedArrayBuffer,
      byteOffset: this.#view.byteOffset + this.#lock * WORD_BYTES,
    };
  }

  /** Take the lock if it is free right now. Never waits. */
  tryLock(): boolean {
    return Atomics.compareExchange(this.#view, this.#lock, 0, MINE) === 0;
  }

  /**
   * Take the lock, blocking this thread up to `timeoutMs` (default: forever). Returns false on
   * timeout. Workers only: on the main thread it throws MainThreadBlockingError.
   */
  lock(timeoutMs?: number): boolean {
    if (onMainThread) throw new MainThreadBlockingError('Mutex.lock()', 'lockAsync() or tryLock()');
    const timeout = checkTimeout(timeoutMs);
    if (this.tryLock()) return true;
    if (this.#spin(true)) return true;
    const deadline = deadlineAfter(timeout);
    for (;;) {
      const c = this.#markWaiting();
      if (c === 0) return true;
      if (parkSync(this.#view, this.#lock, c, deadline) === 'timed-out' && now() >= deadline) {
        return this.#acquireContended() === 0;
      }
    }
  }

  /** Take the lock without blocking any thread: resolves once held. Works on the main thread. */
  async lockAsync(options: LockAsyncOptions = {}): Promise<void> {
    const timeout = checkTimeout(options.timeoutMs, 'options.timeoutMs');
    const signal = checkSignal(options.signal, 'options.signal');
    if (signal?.aborted) throw signal.reason;
    if (this.tryLock()) return;
    if (this.#spin(false)) return;
    const deadline = deadlineAfter(timeout);
    for (;;) {
      const c = this.#markWaiting();
      if (c === 0) return;
      if (now() >= deadline) throw new TimeoutError('Mutex.lockAsync()', timeout ?? 0);
      await parkAsync(this.#view, this.#lock, c, deadline, signal);
    }
  }

  /** Release the lock. Throws NotOwnerError unless this thread holds it. */
  unlock(): void {
    const c = Atomics.load(this.#view, this.#lock);
    if (c >>> L.OWNER_SHIFT !== MY_TAG) {
      throw new NotOwnerError('Mutex.unlock()', currentThreadId, ownerThreadOf(c));
    }
    // Only the waiters bit can change under us (we are alive, so recovery cannot run).
    const previous = Atomics.exchange(this.#view, this.#lock, 0);
    if ((previous & L.WAITERS_BIT) !== 0) Atomics.notify(this.#view, this.#lock, 1);
  }

  /**
   * Owner-death recovery. If the lock is held by `threadId`, which the caller knows has exited
   * (a Worker's 'exit' event), release it, wake a waiter and mark the mutex `ownerDied`: the state
   * it guarded may be half-updated. Returns whether anything was released.
   */
  recoverFromDeadOwner(threadId: number): boolean {
    checkInteger(threadId, 'threadId', 0, L.MAX_THREAD_ID);
    if (threadId === currentThreadId) {
      throw new InvalidArgumentError(
        'threadId',
        'cannot recover a lock from the calling thread, which is alive',
      );
    }
    const deadTag = threadId + 1;
    for (;;) {
      const c = Atomics.load(this.#view, this.#lock);
      if (c >>> L.OWNER_SHIFT !== deadTag) return false;
      // Publish the flag before the release, so whoever takes the lock next sees it.
      Atomics.or(this.#view, this.#flags, L.FLAG_OWNER_DIED);
      if (Atomics.compareExchange(this.#view, this.#lock, c, 0) === c) {
        if ((c & L.WAITERS_BIT) !== 0) Atomics.notify(this.#view, this.#lock, 1);
        return true;
      }
    }
  }

  /**
   * True after a holder died with the lock held, until a holder calls markConsistent(). Check it
   * after every acquisition where a worker may have been terminated mid-section (the analogue of
   * POSIX EOWNERDEAD).
   */
  get ownerDied(): boolean {
    return (Atomics.load(this.#view, this.#flags) & L.FLAG_OWNER_DIED) !== 0;
  }

  /** Declare the guarded state repaired. Only the holder may call it. */
  markConsistent(): void {
    const c = Atomics.load(this.#view, this.#lock);
    if (c >>> L.OWNER_SHIFT !== MY_TAG) {
      throw new NotOwnerError('Mutex.markConsistent()', currentThreadId, ownerThreadOf(c));
    }
    Atomics.and(this.#view, this.#flags, ~L.FLAG_OWNER_DIED);
  }

  get isLocked(): boolean {
    return Atomics.load(this.#view, this.#lock) !== 0;
  }

  /** The holder's threadId, or undefined when free. For diagnostics: it may change at once. */
  get ownerThreadId(): number | undefined {
    return ownerThreadOf(Atomics.load(this.#view, this.#lock));
  }

  /** Bounded spin; true if the lock was taken. */
  #spin(refuseSelfDeadlock: boolean): boolean {
    for (let i = 0; i < SPIN_LIMIT; i++) {
      const c = Atomics.load(this.#view, this.#lock);
      if (c === 0) {
        if (Atomics.compareExchange(this.#view, this.#lock, 0, MINE) === 0) return true;
      } else if (refuseSelfDeadlock && c >>> L.OWNER_SHIFT === MY_TAG) {
        throw new DeadlockError('Mutex.lock()', currentThreadId);
      } else if ((c & L.WAITERS_BIT) !== 0) {
        return false; // others are already parked: spinning would only jump the queue
      }
      cpuPause();
    }
    return false;
  }

  /**
   * One step of the parked path: take the lock if free (keeping the waiters bit, since others may
   * still be parked) and return 0, or make sure the waiters bit is set and return the word to
   * park on.
   */
  #markWaiting(): number {
    for (;;) {
      const c = this.#acquireContended();
      if (c === 0) return 0;
      if ((c & L.WAITERS_BIT) !== 0) return c;
      const withWaiters = c | L.WAITERS_BIT;
      if (Atomics.compareExchange(this.#view, this.#lock, c, withWaiters) === c) return withWaiters;
    }
  }

  /** Try once to take a free lock, setting the waiters bit; returns 0 on success, else the word. */
  #acquireContended(): number {
    const c = Atomics.load(this.#view, this.#lock);
    if (c !== 0) return c;
    const seen = Atomics.compareExchange(this.#view, this.#lock, 0, MINE_WITH_WAITERS);
    return seen;
  }
}
