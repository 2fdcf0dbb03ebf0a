/**
 * Seqlock: a record of Int32 fields that many threads read as one consistent snapshot without
 * taking a lock, while writers (serialised among themselves) update it.
 *
 * Words (offsets in layout.ts): SEQ, PARKED, then the fields.
 *
 * Invariants
 * - SEQ is even when no write is in progress and odd while exactly one writer holds the record.
 *   A writer enters by compareExchange(SEQ, s, s + 1) from an even s, which is also what
 *   serialises writers, and leaves with store(SEQ, s + 2).
 * - A read is accepted only if SEQ was even before the fields were read and unchanged after:
 *   then no write overlapped the read, and the fields are exactly those some write left.
 * - Readers never loop forever: they retry a bounded number of times, then park (workers), throw
 *   ContentionError (main thread, sync read), or yield to the event loop (readAsync).
 * - A writer that dies mid-write leaves SEQ odd for good. `recoverFromDeadWriter` closes that
 *   write, and only that one (a CAS from the odd value seen); the caller must know every thread
 *   that could be writing has exited, as with Mutex.recoverFromDeadOwner.
 *
 * Memory ordering. Every field access is an `Atomics` operation, so all of them are sequentially
 * consistent and fall into one total order with the writer's SEQ updates. A reader's field loads
 * sit between its two SEQ loads in that order; if both loads return the same even s, no SEQ
 * update (and so no field store, which all lie between a writer's s + 1 and s + 2) falls between
 * them. (Reading the fields with plain loads between the two Atomics loads is faster and usual in
 * C, but ECMAScript makes no ordering promise for racing plain reads on weak-memory CPUs, so this
 * file keeps every access atomic.)
 *
 * Cost: a read of n fields is n + 2 Atomics.load calls when uncontended.
 */
import { ContentionError, InvalidArgumentError, TimeoutError } from '../errors.ts';
import { HandleKind, Seqlock as L, LAYOUT_VERSION, WORD_BYTES } from './layout.ts';
import { parkAsync, parkSync } from './park.ts';
import { cpuPause, deadlineAfter, now, onMainThread } from './runtime.ts';
import {
  checkHandle,
  checkInteger,
  checkSharedInt32View,
  checkSignal,
  checkTimeout,
  checkWordRange,
  timeoutOr,
} from './validate.ts';

export interface SeqlockHandle {
  readonly kind: typeof HandleKind.seqlock;
  readonly layoutVersion: number;
  readonly buffer: SharedArrayBuffer;
  readonly byteOffset: number;
  readonly fieldCount: number;
}

export interface SeqlockWaitOptions {
  /** Give up after this many milliseconds (TimeoutError). Default: 1000 for sync, forever for async. */
  timeoutMs?: number;
  /** Async only: give up when this signal aborts (rejects with `signal.reason`). */
  signal?: AbortSignal;
}

/** Attempts before a reader or writer stops spinning. */
export const SEQLOCK_SPIN_LIMIT = 200;
/**
 * How long a sync call on the main thread keeps retrying (it may not park) before it throws
 * ContentionError. A write holds the record for a few stores, so a long odd SEQ means the writer
 * thread lost its core mid-write: on a loaded 2-core machine that lasts a scheduler slice or two
 * (1–10 ms), so a count of 20 000 spins (~2 ms) threw under load. 25 ms covers such a preemption;
 * only a writer that died mid-write outlasts it.
 */
export const SEQLOCK_MAIN_THREAD_BUDGET_MS = 25;
/** Default bound for a sync read/write that must park: a writer stuck this long has died. */
export const SEQLOCK_DEFAULT_TIMEOUT_MS = 1000;

export class Seqlock {
  readonly #view: Int32Array;
  readonly #seq: number;
  readonly #parked: number;
  readonly #first: number;
  readonly fieldCount: number;

  /** Words a Seqlock over `fieldCount` fields occupies. */
  static words(fieldCount: number): number {
    return L.words(checkInteger(fieldCount, 'fieldCount', 1, L.MAX_FIELDS));
  }

  static create(fieldCount: number): Seqlock {
    const words = Seqlock.words(fieldCount);
    return new Seqlock(new Int32Array(new SharedArrayBuffer(words * WORD_BYTES)), 0, fieldCount);
  }

  static from(handle: SeqlockHandle): Seqlock {
    const h = checkHandle(handle, HandleKind.seqlock);
    const buffer = h.buffer as SharedArrayBuffer;
    const fieldCount = checkInteger(h.fieldCount, 'handle.fieldCount', 1, L.MAX_FIELDS);
    const byteOffset = checkInteger(h.byteOffset, 'handle.byteOffset', 0, buffer.byteLength);
    if (byteOffset % WORD_BYTES !== 0) {
      throw new InvalidArgumentError(
        'handle.byteOffset',
        `${byteOffset} is not aligned to ${WORD_BYTES} bytes`,
      );
    }
    const words = L.words(fieldCount);
    if (byteOffset + words * WORD_BYTES > buffer.byteLength) {
      throw new InvalidArgumentError(
        'handle.byteOffset',
        `a Seqlock of ${words} words at ${byteOffset} does not fit in ${buffer.byteLength} bytes`,
      );
    }
    return new Seqlock(new Int32Array(buffer, byteOffset, words), 0, fieldCount);
  }

  /** Place a Seqlock at `view[wordIndex .. wordIndex + Seqlock.words(fieldCount))`, zeroed. */
  constructor(view: Int32Array, wordIndex: number, fieldCount: number) {
    this.#view = checkSharedInt32View(view, 'view');
    this.fieldCount = checkInteger(fieldCount, 'fieldCount', 1, L.MAX_FIELDS);
    checkWordRange(view, wordIndex, L.words(fieldCount), 'wordIndex');
    this.#seq = wordIndex + L.SEQ;
    this.#parked = wordIndex + L.PARKED;
    this.#first = wordIndex + L.FIELDS;
  }

  get handle(): SeqlockHandle {
    return {
      kind: HandleKind.seqlock,
      layoutVersion: LAYOUT_VERSION,
      buffer: this.#view.buffer as SharedArrayBuffer,
      byteOffset: this.#view.byteOffset + this.#seq * WORD_BYTES,
      fieldCount: this.fieldCount,
    };
  }

  /** The write sequence: even when idle; grows by 2 per completed write. */
  get sequence(): number {
    return Atomics.load(this.#view, this.#seq);
  }

  /** One field on its own: a single atomic load, always consistent with itself. */
  readField(field: number): number {
    return Atomics.load(this.#view, this.#first + this.#checkField(field, 1));
  }

  /**
   * Try to copy a consistent snapshot into `out` without waiting for a writer. Returns false if a
   * write was in progress on every one of a few attempts.
   */
  tryRead(out: Int32Array | number[]): boolean {
    this.#checkOut(out);
    for (let attempt = 0; attempt < 4; attempt++) {
      if (this.#readOnce(out)) return true;
    }
    return false;
  }

  /**
   * Copy a consistent snapshot of all fields into `out` (a new Int32Array by default) and return
   * it. Spins briefly; then, in a worker, parks up to `timeoutMs` (default 1000) and throws
   * TimeoutError; on the main thread it never parks and throws ContentionError after retrying for
   * SEQLOCK_MAIN_THREAD_BUDGET_MS (use readAsync there if writers can stall).
   */
  read<T extends Int32Array | number[] = Int32Array>(
    out: T = new Int32Array(this.fieldCount) as T,
    options: SeqlockWaitOptions = {},
  ): T {
    this.#checkOut(out);
    for (let attempt = 0; attempt < SEQLOCK_SPIN_LIMIT; attempt++) {
      if (this.#readOnce(out)) return out;
      cpuPause();
    }
    if (onMainThread) {
      const until = now() + SEQLOCK_MAIN_THREAD_BUDGET_MS;
      for (let attempt = SEQLOCK_SPIN_LIMIT; ; attempt++) {
        if (this.#readOnce(out)) return out;
        if ((attempt & 63) === 0 && now() >= until)
          throw new ContentionError('Seqlock.read() on the main thread', attempt);
        cpuPause();
      }
    }
    const timeout = timeoutOr(options.timeoutMs, 'options.timeoutMs', SEQLOCK_DEFAULT_TIMEOUT_MS);
    const deadline = deadlineAfter(timeout);
    for (;;) {
      if (this.#readOnce(out)) return out;
      if (now() >= deadline) throw new TimeoutError('Seqlock.read()', timeout);
      this.#parkSyncWhileOdd(deadline);
    }
  }

  /** Like read(), but waits for a stalled writer without blocking the thread. */
  async readAsync<T extends Int32Array | number[] = Int32Array>(
    out: T = new Int32Array(this.fieldCount) as T,
    options: SeqlockWaitOptions = {},
  ): Promise<T> {
    this.#checkOut(out);
    const timeout = checkTimeout(options.timeoutMs, 'options.timeoutMs');
    const signal = checkSignal(options.signal, 'options.signal');
    if (signal?.aborted) throw signal.reason;
    for (let attempt = 0; attempt < SEQLOCK_SPIN_LIMIT; attempt++) {
      if (this.#readOnce(out)) return out;
      cpuPause();
    }
    const deadline = deadlineAfter(timeout);
    for (;;) {
      if (this.#readOnce(out)) return out;
      if (now() >= deadline) throw new TimeoutError('Seqlock.readAsync()', timeout ?? 0);
      await this.#parkAsyncWhileOdd(deadline, signal);
    }
  }

  /**
   * Write `values` into fields `firstField ..` if no other writer is active. Never waits.
   * An `undefined` entry leaves its field as it is (a sparse update, still one atomic write).
   */
  tryWrite(values: ArrayLike<number | undefined>, firstField = 0): boolean {
    this.#checkField(firstField, values.length);
    const s = Atomics.load(this.#view, this.#seq);
    if ((s & 1) !== 0 || Atomics.compareExchange(this.#view, this.#seq, s, (s + 1) | 0) !== s)
      return false;
    this.#publish(s, values, firstField);
    return true;
  }

  /**
   * Write `values` into fields `firstField ..` as one atomic update. Waits for a concurrent writer:
   * spins, then parks (workers, up to timeoutMs, default 1000, then TimeoutError) or throws
   * ContentionError after bounded spinning (main thread; use writeAsync if writers can stall).
   */
  write(
    values: ArrayLike<number | undefined>,
    firstField = 0,
    options: SeqlockWaitOptions = {},
  ): void {
    this.#checkField(firstField, values.length);
    this.#publish(this.#enter(options), values, firstField);
  }

  /** Like write(), but waits for a stalled writer without blocking the thread. */
  async writeAsync(
    values: ArrayLike<number | undefined>,
    firstField = 0,
    options: SeqlockWaitOptions = {},
  ): Promise<void> {
    this.#checkField(firstField, values.length);
    this.#publish(await this.#enterAsync(options), values, firstField);
  }

  /** Become the writer, waiting as write() documents; returns the even sequence entered from. */
  #enter(options: SeqlockWaitOptions): number {
    for (let attempt = 0; attempt < SEQLOCK_SPIN_LIMIT; attempt++) {
      const s = this.#tryEnter();
      if (s !== -1) return s;
      cpuPause();
    }
    if (onMainThread) {
      const until = now() + SEQLOCK_MAIN_THREAD_BUDGET_MS;
      for (let attempt = SEQLOCK_SPIN_LIMIT; ; attempt++) {
        const s = this.#tryEnter();
        if (s !== -1) return s;
        if ((attempt & 63) === 0 && now() >= until)
          throw new ContentionError('Seqlock.write() on the main thread', attempt);
        cpuPause();
      }
    }
    const timeout = timeoutOr(options.timeoutMs, 'options.timeoutMs', SEQLOCK_DEFAULT_TIMEOUT_MS);
    const deadline = deadlineAfter(timeout);
    for (;;) {
      const s = this.#tryEnter();
      if (s !== -1) return s;
      if (now() >= deadline) throw new TimeoutError('Seqlock.write()', timeout);
      this.#parkSyncWhileOdd(deadline);
    }
  }

  async #enterAsync(options: SeqlockWaitOptions): Promise<number> {
    const timeout = checkTimeout(options.timeoutMs, 'options.timeoutMs');
    const signal = checkSignal(options.signal, 'options.signal');
    if (signal?.aborted) throw signal.reason;
    const deadline = deadlineAfter(timeout);
    for (let attempt = 0; ; attempt++) {
      const s = this.#tryEnter();
      if (s !== -1) return s;
      if (attempt < SEQLOCK_SPIN_LIMIT) {
        cpuPause();
        continue;
      }
      if (now() >= deadline) throw new TimeoutError('Seqlock.writeAsync()', timeout ?? 0);
      await this.#parkAsyncWhileOdd(deadline, signal);
    }
  }

  /**
   * Writer-death recovery. If a write is in progress and the caller knows that no thread that could
   * be writing is still running (a Worker's 'exit' event), close the abandoned write: SEQ moves
   * from the odd value to the next even one — what the writer's own last store would have been —
   * and parked readers wake. Returns true if a write was abandoned.
   *
   * The fields may then hold part of the dead write (each field is whole: Atomics stores never
   * tear a word, but the record as a whole may mix the new values with older ones): rewrite what
   * you cannot trust. Calling this while a writer is alive breaks the seqlock's guarantee for that
   * write, which is why the caller's knowledge is required, not a guess from how long SEQ has been
   * odd (a writer that lost its core looks the same for milliseconds).
   */
  recoverFromDeadWriter(): boolean {
    const s = Atomics.load(this.#view, this.#seq);
    if ((s & 1) === 0) return false;
    if (Atomics.compareExchange(this.#view, this.#seq, s, (s + 1) | 0) !== s) return false;
    Atomics.notify(this.#view, this.#seq);
    return true;
  }

  /** One read attempt: true if `out` now holds a consistent snapshot. */
  #readOnce(out: Int32Array | number[]): boolean {
    const view = this.#view;
    const s = Atomics.load(view, this.#seq);
    if ((s & 1) !== 0) return false;
    const first = this.#first;
    for (let i = 0; i < this.fieldCount; i++) out[i] = Atomics.load(view, first + i);
    return Atomics.load(view, this.#seq) === s;
  }

  /** Enter as the writer if idle: returns the even sequence entered from, or -1. */
  #tryEnter(): number {
    const s = Atomics.load(this.#view, this.#seq);
    if ((s & 1) !== 0) return -1;
    return Atomics.compareExchange(this.#view, this.#seq, s, (s + 1) | 0) === s ? s : -1;
  }

  #publish(entered: number, values: ArrayLike<number | undefined>, firstField: number): void {
    const view = this.#view;
    const base = this.#first + firstField;
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      if (value !== undefined) Atomics.store(view, base + i, value);
    }
    Atomics.store(view, this.#seq, (entered + 2) | 0);
    if (Atomics.load(view, this.#parked) !== 0) Atomics.notify(view, this.#seq);
  }

  /** Sleep (worker) until SEQ changes from the odd value seen, or a short slice passes. */
  #parkSyncWhileOdd(deadline: number): void {
    const s = Atomics.load(this.#view, this.#seq);
    if ((s & 1) === 0) return;
    Atomics.add(this.#view, this.#parked, 1);
    try {
      parkSync(this.#view, this.#seq, s, Math.min(deadline, now() + 10));
    } finally {
      Atomics.sub(this.#view, this.#parked, 1);
    }
  }

  async #parkAsyncWhileOdd(deadline: number, signal: AbortSignal | undefined): Promise<void> {
    const s = Atomics.load(this.#view, this.#seq);
    if ((s & 1) === 0) return;
    Atomics.add(this.#view, this.#parked, 1);
    try {
      await parkAsync(this.#view, this.#seq, s, Math.min(deadline, now() + 10), signal);
    } finally {
      Atomics.sub(this.#view, this.#parked, 1);
    }
  }

  #checkOut(out: unknown): void {
    // A plain array grows as it is filled; a typed array too short would silently drop fields.
    if (Array.isArray(out)) return;
    if (!(out instanceof Int32Array) || out.length < this.fieldCount) {
      throw new InvalidArgumentError(
        'out',
        `expected an Int32Array of at least ${this.fieldCount} words, or an array`,
      );
    }
  }

  #checkField(field: number, count: number): number {
    if (!Number.isInteger(field) || field < 0 || field + count > this.fieldCount) {
      throw new InvalidArgumentError(
        'field',
        `fields ${field}..${field + count - 1} are outside this record of ${this.fieldCount} fields`,
      );
    }
    return field;
  }
}
