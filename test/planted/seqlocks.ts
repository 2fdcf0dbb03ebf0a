/**
 * Deliberately broken seqlocks, the planted bugs the Seqlock tests must catch. Each variant has
 * the surface the tests use (read, readAsync, write) over the same words as Seqlock (layout.ts:
 * SEQ, PARKED, then the fields), so the same worker code runs against any of them. Each plants
 * one bug in one side and keeps the other side correct:
 *
 * - 'no-retry'     reader: waits for an even sequence, reads the fields, and accepts them without
 *                  checking that the sequence is still the same (a write may have overlapped).
 * - 'no-odd-phase' writer: stores the fields, then bumps the sequence by 2, never marking it odd
 *                  first, so neither readers nor other writers can tell a write is in progress.
 * - 'no-notify'    writer: correct odd phase, but never wakes threads parked on the sequence; they
 *                  only notice the write when their own park slice runs out.
 */
import { Seqlock as L } from '../../src/shm/layout.ts';
import { Seqlock, type SeqlockHandle, type SeqlockWaitOptions } from '../../src/shm/seqlock.ts';

export interface SeqlockLike {
  readonly fieldCount: number;
  read(out: Int32Array, options?: SeqlockWaitOptions): Int32Array;
  readAsync(out: Int32Array, options?: SeqlockWaitOptions): Promise<Int32Array>;
  write(values: ArrayLike<number>, firstField?: number, options?: SeqlockWaitOptions): void;
}

function viewOf(handle: SeqlockHandle): Int32Array {
  return new Int32Array(handle.buffer, handle.byteOffset, L.words(handle.fieldCount));
}

/** Reader that checks only the first sequence load. */
class NoRetryReader implements SeqlockLike {
  readonly #inner: Seqlock;
  readonly #view: Int32Array;
  readonly fieldCount: number;
  constructor(handle: SeqlockHandle) {
    this.#inner = Seqlock.from(handle);
    this.#view = viewOf(handle);
    this.fieldCount = handle.fieldCount;
  }
  read(out: Int32Array): Int32Array {
    const view = this.#view;
    while ((Atomics.load(view, L.SEQ) & 1) !== 0) {
      // wait for the writer to leave, as a real reader would
    }
    for (let i = 0; i < this.fieldCount; i++) out[i] = Atomics.load(view, L.FIELDS + i);
    Atomics.load(view, L.SEQ); // the second load is taken, but its answer is ignored
    return out;
  }
  async readAsync(out: Int32Array): Promise<Int32Array> {
    return this.read(out);
  }
  write(values: ArrayLike<number>, firstField = 0, options?: SeqlockWaitOptions): void {
    this.#inner.write(values, firstField, options);
  }
}

/** Writer that never makes the sequence odd: the fields change under an even sequence. */
class NoOddPhaseWriter implements SeqlockLike {
  readonly #inner: Seqlock;
  readonly #view: Int32Array;
  readonly fieldCount: number;
  constructor(handle: SeqlockHandle) {
    this.#inner = Seqlock.from(handle);
    this.#view = viewOf(handle);
    this.fieldCount = handle.fieldCount;
  }
  read(out: Int32Array, options?: SeqlockWaitOptions): Int32Array {
    return this.#inner.read(out, options);
  }
  readAsync(out: Int32Array, options?: SeqlockWaitOptions): Promise<Int32Array> {
    return this.#inner.readAsync(out, options);
  }
  write(values: ArrayLike<number>, firstField = 0): void {
    const view = this.#view;
    const s = Atomics.load(view, L.SEQ);
    for (let i = 0; i < values.length; i++) {
      Atomics.store(view, L.FIELDS + firstField + i, values[i] as number);
    }
    Atomics.store(view, L.SEQ, (s + 2) | 0);
    if (Atomics.load(view, L.PARKED) !== 0) Atomics.notify(view, L.SEQ);
  }
}

/** Writer with a correct odd phase that never notifies parked threads. */
class NoNotifyWriter implements SeqlockLike {
  readonly #inner: Seqlock;
  readonly #view: Int32Array;
  readonly fieldCount: number;
  constructor(handle: SeqlockHandle) {
    this.#inner = Seqlock.from(handle);
    this.#view = viewOf(handle);
    this.fieldCount = handle.fieldCount;
  }
  read(out: Int32Array, options?: SeqlockWaitOptions): Int32Array {
    return this.#inner.read(out, options);
  }
  readAsync(out: Int32Array, options?: SeqlockWaitOptions): Promise<Int32Array> {
    return this.#inner.readAsync(out, options);
  }
  write(values: ArrayLike<number>, firstField = 0): void {
    const view = this.#view;
    let s: number;
    do {
      s = Atomics.load(view, L.SEQ);
    } while ((s & 1) !== 0 || Atomics.compareExchange(view, L.SEQ, s, (s + 1) | 0) !== s);
    for (let i = 0; i < values.length; i++) {
      Atomics.store(view, L.FIELDS + firstField + i, values[i] as number);
    }
    Atomics.store(view, L.SEQ, (s + 2) | 0);
  }
}

export const seqlockVariants = {
  correct: (handle: SeqlockHandle): SeqlockLike => Seqlock.from(handle),
  'no-retry': (handle: SeqlockHandle): SeqlockLike => new NoRetryReader(handle),
  'no-odd-phase': (handle: SeqlockHandle): SeqlockLike => new NoOddPhaseWriter(handle),
  'no-notify': (handle: SeqlockHandle): SeqlockLike => new NoNotifyWriter(handle),
} as const;

export type SeqlockVariant = keyof typeof seqlockVariants;
