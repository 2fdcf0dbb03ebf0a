/**
 * The single-producer single-consumer ring inside a SharedChannel (Lamport's queue with cached
 * indices). No waiting, no closing, no validation: SharedChannel does those.
 *
 * Invariants
 * - TAIL is advanced only by the one producer, HEAD only by the one consumer; each side keeps its
 *   own index in a plain field. The consumer publishes HEAD with Atomics.store; the producer
 *   publishes TAIL with one compareExchange from the value it last wrote, because TAIL's top bit
 *   is the ring's CLOSED_BIT: `close()` sets it (by CAS, from any thread), and from then on every
 *   publish fails — so "sent" and "closed" are decided by one atomic step, and a consumer that
 *   sees the bit and an empty ring knows nothing more can arrive (no in-progress counter needed).
 * - Indices count modulo 2^31 (INDEX_MASK); 0 ≤ TAIL − HEAD ≤ capacity (capacity is a power of
 *   two ≤ 2^24, so `& mask` and masked differences stay exact across the wrap).
 * - The producer caches HEAD and re-reads it only when the ring looks full; the consumer caches
 *   TAIL and re-reads it only when the ring looks empty. Stale caches are always conservative.
 *
 * Ordering. Payload words are written and read with plain typed-array accesses. They are
 * data-race free: the producer's payload writes precede its CAS of TAIL, the consumer's
 * payload reads follow the Atomics.load(TAIL) that saw that store, and Atomics operations
 * synchronize-with each other in the ECMAScript model, so writes happen-before reads. Symmetrically
 * a slot is rewritten only after the producer loaded the HEAD store that followed the consumer's
 * reads of it.
 */
import { Channel as L } from './layout.ts';

/** TAIL's top bit: the channel is closed to new sends. */
export const CLOSED_BIT = 1 << 31;
const INDEX_MASK = 0x7fffffff;

export type SpscSend = 'sent' | 'full' | 'closed';

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
    this.#tail = Atomics.load(this.#view, L.TAIL) & INDEX_MASK;
    this.#cachedHead = Atomics.load(this.#view, L.HEAD);
  }

  /** Called once when this object becomes the consumer. */
  attachConsumer(): void {
    this.#head = Atomics.load(this.#view, L.HEAD);
    this.#cachedTail = Atomics.load(this.#view, L.TAIL) & INDEX_MASK;
  }

  /** Set CLOSED_BIT in TAIL (any thread; idempotent): every later publish fails. */
  static close(view: Int32Array): void {
    for (;;) {
      const t = Atomics.load(view, L.TAIL);
      if ((t & CLOSED_BIT) !== 0 || Atomics.compareExchange(view, L.TAIL, t, t | CLOSED_BIT) === t)
        return;
    }
  }

  /** TAIL has CLOSED_BIT and the consumer has read up to it: nothing more can come. */
  drained(): boolean {
    const t = Atomics.load(this.#view, L.TAIL);
    return (t & CLOSED_BIT) !== 0 && (t & INDEX_MASK) === this.#head;
  }

  /** Messages published and not yet read (any thread; approximate while both sides run). */
  size(): number {
    const view = this.#view;
    return ((Atomics.load(view, L.TAIL) & INDEX_MASK) - Atomics.load(view, L.HEAD)) & INDEX_MASK;
  }

  /** Enqueue: one CAS publishes it, or finds the ring closed. */
  trySend(message: ArrayLike<number>): SpscSend {
    const view = this.#view;
    const t = this.#tail;
    if (((t - this.#cachedHead) & INDEX_MASK) >= this.#capacity) {
      this.#cachedHead = Atomics.load(view, L.HEAD);
      if (((t - this.#cachedHead) & INDEX_MASK) >= this.#capacity)
        return (Atomics.load(view, L.TAIL) & CLOSED_BIT) !== 0 ? 'closed' : 'full';
    }
    const words = this.#words;
    const base = L.SLOTS + (t & this.#mask) * words;
    const n = message.length;
    for (let i = 0; i < n; i++) view[base + i] = message[i] as number;
    for (let i = n; i < words; i++) view[base + i] = 0;
    const next = (t + 1) & INDEX_MASK;
    // Fails only when close() set CLOSED_BIT: the payload written above is then never visible.
    if (Atomics.compareExchange(view, L.TAIL, t, next) !== t) return 'closed';
    this.#tail = next;
    return 'sent';
  }

  /** Dequeue into `out`; false when empty. */
  tryReceive(out: Int32Array): boolean {
    const view = this.#view;
    const h = this.#head;
    if (h === this.#cachedTail) {
      this.#cachedTail = Atomics.load(view, L.TAIL) & INDEX_MASK;
      if (h === this.#cachedTail) return false;
    }
    const words = this.#words;
    const base = L.SLOTS + (h & this.#mask) * words;
    for (let i = 0; i < words; i++) out[i] = view[base + i] as number;
    this.#head = (h + 1) & INDEX_MASK;
    Atomics.store(view, L.HEAD, this.#head);
    return true;
  }

  /**
   * Enqueue up to `count` full messages laid out back to back in `messages`; returns how many
   * fitted, or -1 when closed. One publish (a CAS of TAIL) for the whole batch: the consumer sees
   * all of them or none, and the payload writes all happen-before that one CAS.
   */
  trySendMany(messages: Int32Array, count: number): number {
    const view = this.#view;
    const t = this.#tail;
    let free = this.#capacity - ((t - this.#cachedHead) & INDEX_MASK);
    if (free < count) {
      this.#cachedHead = Atomics.load(view, L.HEAD);
      free = this.#capacity - ((t - this.#cachedHead) & INDEX_MASK);
    }
    const n = Math.min(count, free);
    if (n <= 0) return (Atomics.load(view, L.TAIL) & CLOSED_BIT) !== 0 ? -1 : 0;
    const words = this.#words;
    const mask = this.#mask;
    for (let m = 0; m < n; m++) {
      const base = L.SLOTS + ((t + m) & mask) * words;
      const from = m * words;
      for (let i = 0; i < words; i++) view[base + i] = messages[from + i] as number;
    }
    const next = (t + n) & INDEX_MASK;
    if (Atomics.compareExchange(view, L.TAIL, t, next) !== t) return -1; // closed meanwhile
    this.#tail = next;
    return n;
  }

  /**
   * Dequeue up to `max` messages into `out`, back to back; returns how many. One Atomics.store of
   * HEAD frees all their slots, after every payload read.
   */
  tryReceiveMany(out: Int32Array, max: number): number {
    const view = this.#view;
    const h = this.#head;
    let ready = (this.#cachedTail - h) & INDEX_MASK;
    if (ready < max) {
      this.#cachedTail = Atomics.load(view, L.TAIL) & INDEX_MASK;
      ready = (this.#cachedTail - h) & INDEX_MASK;
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
    this.#head = (h + n) & INDEX_MASK;
    Atomics.store(view, L.HEAD, this.#head);
    return n;
  }

  /** Room for one more message? (any thread; may be stale, never falsely "no" for the producer) */
  canSend(): boolean {
    return this.size() < this.#capacity;
  }

  /** A message ready to read? (exact for the consumer) */
  canReceive(): boolean {
    return (Atomics.load(this.#view, L.TAIL) & INDEX_MASK) !== Atomics.load(this.#view, L.HEAD);
  }
}
