/**
 * The single-producer single-consumer ring inside a SharedChannel (Lamport's queue with cached
 * indices). No waiting, no closing, no validation: SharedChannel does those.
 *
 * Invariants
 * - TAIL is written only by the one producer, HEAD only by the one consumer; each side keeps its
 *   own index in a plain field and publishes it with Atomics.store.
 * - 0 ≤ TAIL − HEAD ≤ capacity (mod 2^32; capacity is a power of two ≤ 2^24, so int32 wrap-around
 *   keeps `& mask` and differences exact).
 * - The producer caches HEAD and re-reads it only when the ring looks full; the consumer caches
 *   TAIL and re-reads it only when the ring looks empty. Stale caches are always conservative.
 *
 * Ordering. Payload words are written and read with plain typed-array accesses. They are
 * data-race free: the producer's payload writes precede its Atomics.store(TAIL), the consumer's
 * payload reads follow the Atomics.load(TAIL) that saw that store, and Atomics operations
 * synchronize-with each other in the ECMAScript model, so writes happen-before reads. Symmetrically
 * a slot is rewritten only after the producer loaded the HEAD store that followed the consumer's
 * reads of it.
 */
import { Channel as L } from './layout.ts';

export class SpscRing {
  readonly #view: Int32Array;
  readonly #mask: number;
  readonly #capacity: number;
  readonly #words: number;
  #tail = 0;
  #cachedHead = 0;
  #head = 0;
  #cachedTail = 0;

  constructor(view: Int32Array, capacity: number, messageWords: number) {
    this.#view = view;
    this.#capacity = capacity;
    this.#mask = capacity - 1;
    this.#words = messageWords;
  }

  /** Called once when this object becomes the producer. */
  attachProducer(): void {
    this.#tail = Atomics.load(this.#view, L.TAIL);
    this.#cachedHead = Atomics.load(this.#view, L.HEAD);
  }

  /** Called once when this object becomes the consumer. */
  attachConsumer(): void {
    this.#head = Atomics.load(this.#view, L.HEAD);
    this.#cachedTail = Atomics.load(this.#view, L.TAIL);
  }

  /** Enqueue; false when full. */
  trySend(message: ArrayLike<number>): boolean {
    const view = this.#view;
    const t = this.#tail;
    if (((t - this.#cachedHead) | 0) >= this.#capacity) {
      this.#cachedHead = Atomics.load(view, L.HEAD);
      if (((t - this.#cachedHead) | 0) >= this.#capacity) return false;
    }
    const words = this.#words;
    const base = L.SLOTS + (t & this.#mask) * words;
    const n = message.length;
    for (let i = 0; i < n; i++) view[base + i] = message[i] as number;
    for (let i = n; i < words; i++) view[base + i] = 0;
    this.#tail = (t + 1) | 0;
    Atomics.store(view, L.TAIL, this.#tail);
    return true;
  }

  /** Dequeue into `out`; false when empty. */
  tryReceive(out: Int32Array): boolean {
    const view = this.#view;
    const h = this.#head;
    if (h === this.#cachedTail) {
      this.#cachedTail = Atomics.load(view, L.TAIL);
      if (h === this.#cachedTail) return false;
    }
    const words = this.#words;
    const base = L.SLOTS + (h & this.#mask) * words;
    for (let i = 0; i < words; i++) out[i] = view[base + i] as number;
    this.#head = (h + 1) | 0;
    Atomics.store(view, L.HEAD, this.#head);
    return true;
  }

  /**
   * Enqueue up to `count` full messages laid out back to back in `messages`; returns how many
   * fitted. One publish (Atomics.store of TAIL) for the whole batch: the consumer sees all of them
   * or none, and the payload writes all happen-before that one store.
   */
  trySendMany(messages: Int32Array, count: number): number {
    const view = this.#view;
    const t = this.#tail;
    let free = this.#capacity - ((t - this.#cachedHead) | 0);
    if (free < count) {
      this.#cachedHead = Atomics.load(view, L.HEAD);
      free = this.#capacity - ((t - this.#cachedHead) | 0);
    }
    const n = Math.min(count, free);
    if (n <= 0) return 0;
    const words = this.#words;
    const mask = this.#mask;
    for (let m = 0; m < n; m++) {
      const base = L.SLOTS + ((t + m) & mask) * words;
      const from = m * words;
      for (let i = 0; i < words; i++) view[base + i] = messages[from + i] as number;
    }
    this.#tail = (t + n) | 0;
    Atomics.store(view, L.TAIL, this.#tail);
    return n;
  }

  /**
   * Dequeue up to `max` messages into `out`, back to back; returns how many. One Atomics.store of
   * HEAD frees all their slots, after every payload read.
   */
  tryReceiveMany(out: Int32Array, max: number): number {
    const view = this.#view;
    const h = this.#head;
    let ready = (this.#cachedTail - h) | 0;
    if (ready < max) {
      this.#cachedTail = Atomics.load(view, L.TAIL);
      ready = (this.#cachedTail - h) | 0;
    }
    const n = Math.min(max, ready);
    if (n <= 0) return 0;
    const words = this.#words;
    const mask = this.#mask;
    for (let m = 0; m < n; m++) {
      const base = L.SLOTS + ((h + m) & mask) * words;
      const to = m * words;
      for (let i = 0; i < words; i++) out[to + i] = view[base + i] as number;
    }
    this.#head = (h + n) | 0;
    Atomics.store(view, L.HEAD, this.#head);
    return n;
  }

  /** Room for one more message? (any thread; may be stale, never falsely "no" for the producer) */
  canSend(): boolean {
    return (
      ((Atomics.load(this.#view, L.TAIL) - Atomics.load(this.#view, L.HEAD)) | 0) < this.#capacity
    );
  }

  /** A message ready to read? (exact for the consumer) */
  canReceive(): boolean {
    return Atomics.load(this.#view, L.TAIL) !== Atomics.load(this.#view, L.HEAD);
  }
}
