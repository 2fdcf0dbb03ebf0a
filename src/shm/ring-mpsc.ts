/**
 * The multi-producer single-consumer ring inside a SharedChannel: Dmitry Vyukov's bounded queue,
 * where each slot carries its own sequence word. No waiting, no closing, no validation:
 * SharedChannel does those.
 *
 * Invariants (pos = a ticket, slot = pos & mask, all arithmetic mod 2^32)
 * - slot.seq === pos           → the slot is free for the producer holding ticket pos
 * - slot.seq === pos + 1       → the message for ticket pos is published, readable
 * - slot.seq === pos + capacity → the consumer has emptied it for ticket pos + capacity
 * - A producer owns ticket pos only after compareExchange(TAIL, pos, pos + 1) succeeds, so two
 *   producers never write the same slot; the single consumer owns HEAD.
 * - seq − pos < 0 means the slot still holds an unread message from a lap ago: the ring is full.
 *   Here the per-slot sequence plays the part of the SPSC producer's cached consumer index.
 *
 * Ordering. The payload is written with plain stores between the TAIL CAS and the
 * Atomics.store(seq, pos + 1) that publishes it; the consumer reads it with plain loads after the
 * Atomics.load that saw pos + 1, and frees the slot with an Atomics.store after reading. The
 * Atomics pairs synchronize-with each other, so every plain access is ordered by happens-before
 * (data-race free in the ECMAScript model).
 *
 * A producer that dies between its TAIL CAS and its publish leaves a hole the consumer waits on
 * for ever: the price of Vyukov's design, documented in docs/shm.md.
 */
import { Channel as L } from './layout.ts';

export class MpscRing {
  readonly #view: Int32Array;
  readonly #mask: number;
  readonly #capacity: number;
  readonly #words: number;
  readonly #stride: number;
  #head = 0;

  constructor(view: Int32Array, capacity: number, messageWords: number) {
    this.#view = view;
    this.#capacity = capacity;
    this.#mask = capacity - 1;
    this.#words = messageWords;
    this.#stride = messageWords + 1;
  }

  /** Lay out a fresh ring: slot i starts with sequence i. */
  static initialise(view: Int32Array, capacity: number, messageWords: number): void {
    for (let i = 0; i < capacity; i++) view[L.SLOTS + i * (messageWords + 1)] = i;
  }

  attachProducer(): void {}

  attachConsumer(): void {
    this.#head = Atomics.load(this.#view, L.HEAD);
  }

  /** Enqueue; false when full. */
  trySend(message: ArrayLike<number>): boolean {
    const view = this.#view;
    let pos = Atomics.load(view, L.TAIL);
    for (;;) {
      const slot = L.SLOTS + (pos & this.#mask) * this.#stride;
      const dif = (Atomics.load(view, slot) - pos) | 0;
      if (dif === 0) {
        const seen = Atomics.compareExchange(view, L.TAIL, pos, (pos + 1) | 0);
        if (seen === pos) {
          const n = message.length;
          for (let i = 0; i < n; i++) view[slot + 1 + i] = message[i] as number;
          for (let i = n; i < this.#words; i++) view[slot + 1 + i] = 0;
          Atomics.store(view, slot, (pos + 1) | 0);
          return true;
        }
        pos = seen;
      } else if (dif < 0) {
        return false;
      } else {
        pos = Atomics.load(view, L.TAIL);
      }
    }
  }

  /** Dequeue into `out`; false when empty (or the next message is not yet published). */
  tryReceive(out: Int32Array): boolean {
    const view = this.#view;
    const pos = this.#head;
    const slot = L.SLOTS + (pos & this.#mask) * this.#stride;
    if (((Atomics.load(view, slot) - (pos + 1)) | 0) < 0) return false;
    for (let i = 0; i < this.#words; i++) out[i] = view[slot + 1 + i] as number;
    Atomics.store(view, slot, (pos + this.#capacity) | 0);
    this.#head = (pos + 1) | 0;
    Atomics.store(view, L.HEAD, this.#head);
    return true;
  }

  /** Room for one more message? Optimistic: true also when TAIL has moved on meanwhile. */
  canSend(): boolean {
    const pos = Atomics.load(this.#view, L.TAIL);
    const slot = L.SLOTS + (pos & this.#mask) * this.#stride;
    return ((Atomics.load(this.#view, slot) - pos) | 0) >= 0;
  }

  /** Is the message at HEAD published? */
  canReceive(): boolean {
    const pos = Atomics.load(this.#view, L.HEAD);
    const slot = L.SLOTS + (pos & this.#mask) * this.#stride;
    return ((Atomics.load(this.#view, slot) - (pos + 1)) | 0) >= 0;
  }
}
