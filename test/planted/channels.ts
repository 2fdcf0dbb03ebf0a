/**
 * Deliberately broken channel rings, the planted bugs the SharedChannel stress tests must catch,
 * and the message format those tests send and check.
 *
 * Each broken variant runs over a real channel's buffer (same header, same slot layout, offsets
 * from layout.ts) and has the surface the stress workers use — blocking send() / receive() with a
 * timeout — so the same worker code runs against SharedChannel and against each of them. Only the
 * ring is broken: waiting (spin, then park on NOT_EMPTY / NOT_FULL with the *_WAITING counters),
 * closing (CLOSED, SENDING) and wake-ups follow SharedChannel's protocol, so a violation the tests
 * see comes from the ring and not from a different waiting scheme.
 */
import { TimeoutError } from '../../src/errors.ts';
import {
  CHANNEL_SPIN_LIMIT,
  type ChannelWaitOptions,
  SharedChannel,
  type SharedChannelHandle,
} from '../../src/shm/channel.ts';
import { Channel as L } from '../../src/shm/layout.ts';
import { parkSync } from '../../src/shm/park.ts';
import { cpuPause, deadlineAfter, now } from '../../src/shm/runtime.ts';

/** What a stress worker needs from a channel; SharedChannel has it. */
export interface ChannelLike {
  send(message: ArrayLike<number>, options?: ChannelWaitOptions): void;
  receive(out?: Int32Array, options?: ChannelWaitOptions): Int32Array | null;
}

/** The waiting, closing and wake-up protocol of SharedChannel around a (broken) ring. */
abstract class PlantedChannel implements ChannelLike {
  protected readonly view: Int32Array;
  protected readonly capacity: number;
  protected readonly mask: number;
  protected readonly words: number;

  constructor(handle: SharedChannelHandle, mode: number) {
    this.view = new Int32Array(handle.buffer);
    if (this.view[L.MODE] !== mode) throw new Error('planted variant used on the wrong mode');
    this.capacity = this.view[L.CAPACITY] as number;
    this.mask = this.capacity - 1;
    this.words = this.view[L.MESSAGE_WORDS] as number;
  }

  protected abstract ringSend(message: ArrayLike<number>): boolean;
  protected abstract ringReceive(out: Int32Array): boolean;
  protected abstract canSend(): boolean;
  protected abstract canReceive(): boolean;

  send(message: ArrayLike<number>, options: ChannelWaitOptions = {}): void {
    const view = this.view;
    const deadline = deadlineAfter(options.timeoutMs);
    for (let attempt = 0; ; attempt++) {
      const before = Atomics.load(view, L.NOT_FULL);
      Atomics.add(view, L.SENDING, 1);
      if (Atomics.load(view, L.CLOSED) !== 0) {
        Atomics.sub(view, L.SENDING, 1);
        throw new Error('planted channel closed while sending');
      }
      const sent = this.ringSend(message);
      Atomics.sub(view, L.SENDING, 1);
      if (sent) {
        if (Atomics.load(view, L.CONSUMERS_WAITING) !== 0) {
          Atomics.add(view, L.NOT_EMPTY, 1);
          Atomics.notify(view, L.NOT_EMPTY);
        }
        return;
      }
      if (attempt < CHANNEL_SPIN_LIMIT) {
        cpuPause();
        continue;
      }
      if (now() >= deadline) throw new TimeoutError('planted send()', options.timeoutMs ?? 0);
      this.#park(L.PRODUCERS_WAITING, L.NOT_FULL, before, deadline, () => this.canSend());
    }
  }

  receive(out?: Int32Array, options: ChannelWaitOptions = {}): Int32Array | null {
    const view = this.view;
    const target = out ?? new Int32Array(this.words);
    const deadline = deadlineAfter(options.timeoutMs);
    for (let attempt = 0; ; attempt++) {
      const before = Atomics.load(view, L.NOT_EMPTY);
      if (this.#receiveOne(target)) return target;
      if (Atomics.load(view, L.CLOSED) !== 0 && Atomics.load(view, L.SENDING) === 0) {
        return this.#receiveOne(target) ? target : null;
      }
      if (attempt < CHANNEL_SPIN_LIMIT) {
        cpuPause();
        continue;
      }
      if (now() >= deadline) throw new TimeoutError('planted receive()', options.timeoutMs ?? 0);
      this.#park(L.CONSUMERS_WAITING, L.NOT_EMPTY, before, deadline, () => this.canReceive());
    }
  }

  #receiveOne(out: Int32Array): boolean {
    if (!this.ringReceive(out)) return false;
    if (Atomics.load(this.view, L.PRODUCERS_WAITING) !== 0) {
      Atomics.add(this.view, L.NOT_FULL, 1);
      Atomics.notify(this.view, L.NOT_FULL);
    }
    return true;
  }

  #park(counter: number, futex: number, before: number, deadline: number, ready: () => boolean) {
    const view = this.view;
    Atomics.add(view, counter, 1);
    try {
      if (Atomics.load(view, L.CLOSED) === 0 && !ready()) parkSync(view, futex, before, deadline);
    } finally {
      Atomics.sub(view, counter, 1);
    }
  }
}

/**
 * SPSC, 'publish-before-data': the producer stores TAIL *before* it writes the payload, so the
 * consumer can see the message as published and read the slot's old contents (the message from a
 * lap ago, or zeros) or a half-written mix. Otherwise it is SharedChannel's SPSC ring without the
 * cached indices.
 *
 * The payload words are written with Atomics.store (fenced, so slower than the plain writes of the
 * real ring): that only widens the window between publish and data. The bug is the order. With
 * plain writes the same check caught it too, but less reliably on a 2-core machine: in 10 runs,
 * 6 in the first round, 3 within 2–5 rounds, and once not within 5 rounds.
 */
class PublishBeforeDataSpsc extends PlantedChannel {
  #tail: number;
  #head: number;

  constructor(handle: SharedChannelHandle) {
    super(handle, L.MODE_SPSC);
    this.#tail = Atomics.load(this.view, L.TAIL);
    this.#head = Atomics.load(this.view, L.HEAD);
  }

  protected ringSend(message: ArrayLike<number>): boolean {
    const view = this.view;
    const t = this.#tail;
    if (((t - Atomics.load(view, L.HEAD)) | 0) >= this.capacity) return false;
    const base = L.SLOTS + (t & this.mask) * this.words;
    this.#tail = (t + 1) | 0;
    Atomics.store(view, L.TAIL, this.#tail); // BUG: published before the data is there
    const n = message.length;
    for (let i = 0; i < n; i++) Atomics.store(view, base + i, message[i] as number);
    for (let i = n; i < this.words; i++) Atomics.store(view, base + i, 0);
    return true;
  }

  protected ringReceive(out: Int32Array): boolean {
    const view = this.view;
    const h = this.#head;
    if (h === Atomics.load(view, L.TAIL)) return false;
    const base = L.SLOTS + (h & this.mask) * this.words;
    for (let i = 0; i < this.words; i++) out[i] = view[base + i] as number;
    this.#head = (h + 1) | 0;
    Atomics.store(view, L.HEAD, this.#head);
    return true;
  }

  protected canSend(): boolean {
    const view = this.view;
    return ((Atomics.load(view, L.TAIL) - Atomics.load(view, L.HEAD)) | 0) < this.capacity;
  }

  protected canReceive(): boolean {
    return Atomics.load(this.view, L.TAIL) !== Atomics.load(this.view, L.HEAD);
  }
}

type MpscBug = 'tail-load-store' | 'free-before-read';

/**
 * Vyukov's MPSC ring (as in SharedChannel) with one planted bug:
 *
 * - 'tail-load-store': producers claim a ticket with a plain Atomics.load + Atomics.store of TAIL
 *   instead of compareExchange. Two producers that load the same TAIL both take the same slot: one
 *   message overwrites the other (lost) or the two interleave (torn), and TAIL can move backwards.
 *   One change beyond the bug keeps a broken run finite: when a slot is already taken and TAIL is
 *   not ahead of the producer's ticket (it went backwards), the producer steps to the next ticket
 *   instead of re-reading the same stale TAIL for ever.
 * - 'free-before-read': the consumer marks the slot free (seq = pos + capacity) *before* it copies
 *   the payload out, so a producer waiting for room can overwrite the message while it is read.
 */
class PlantedMpsc extends PlantedChannel {
  readonly #bug: MpscBug;
  readonly #stride: number;
  #head: number;

  constructor(handle: SharedChannelHandle, bug: MpscBug) {
    super(handle, L.MODE_MPSC);
    this.#bug = bug;
    this.#stride = this.words + 1;
    this.#head = Atomics.load(this.view, L.HEAD);
  }

  protected ringSend(message: ArrayLike<number>): boolean {
    const view = this.view;
    let pos = Atomics.load(view, L.TAIL);
    for (;;) {
      const slot = L.SLOTS + (pos & this.mask) * this.#stride;
      const dif = (Atomics.load(view, slot) - pos) | 0;
      if (dif === 0) {
        if (this.#bug === 'tail-load-store') {
          Atomics.store(view, L.TAIL, (pos + 1) | 0); // BUG: not a compareExchange
        } else {
          const seen = Atomics.compareExchange(view, L.TAIL, pos, (pos + 1) | 0);
          if (seen !== pos) {
            pos = seen;
            continue;
          }
        }
        const n = message.length;
        for (let i = 0; i < n; i++) view[slot + 1 + i] = message[i] as number;
        for (let i = n; i < this.words; i++) view[slot + 1 + i] = 0;
        Atomics.store(view, slot, (pos + 1) | 0);
        return true;
      }
      if (dif < 0) return false;
      const tail = Atomics.load(view, L.TAIL);
      pos = ((tail - pos) | 0) > 0 ? tail : (pos + 1) | 0;
    }
  }

  protected ringReceive(out: Int32Array): boolean {
    const view = this.view;
    const pos = this.#head;
    const slot = L.SLOTS + (pos & this.mask) * this.#stride;
    if (((Atomics.load(view, slot) - (pos + 1)) | 0) < 0) return false;
    if (this.#bug === 'free-before-read') {
      Atomics.store(view, slot, (pos + this.capacity) | 0); // BUG: freed before it is read
      for (let i = 0; i < this.words; i++) out[i] = view[slot + 1 + i] as number;
    } else {
      for (let i = 0; i < this.words; i++) out[i] = view[slot + 1 + i] as number;
      Atomics.store(view, slot, (pos + this.capacity) | 0);
    }
    this.#head = (pos + 1) | 0;
    Atomics.store(view, L.HEAD, this.#head);
    return true;
  }

  protected canSend(): boolean {
    const pos = Atomics.load(this.view, L.TAIL);
    const slot = L.SLOTS + (pos & this.mask) * this.#stride;
    return ((Atomics.load(this.view, slot) - pos) | 0) >= 0;
  }

  protected canReceive(): boolean {
    const pos = Atomics.load(this.view, L.HEAD);
    const slot = L.SLOTS + (pos & this.mask) * this.#stride;
    return ((Atomics.load(this.view, slot) - (pos + 1)) | 0) >= 0;
  }
}

export const channelVariants = {
  correct: (handle: SharedChannelHandle): ChannelLike => SharedChannel.from(handle),
  'publish-before-data': (handle: SharedChannelHandle): ChannelLike =>
    new PublishBeforeDataSpsc(handle),
  'tail-load-store': (handle: SharedChannelHandle): ChannelLike =>
    new PlantedMpsc(handle, 'tail-load-store'),
  'free-before-read': (handle: SharedChannelHandle): ChannelLike =>
    new PlantedMpsc(handle, 'free-before-read'),
} as const;

export type ChannelVariant = keyof typeof channelVariants;

// ---------------------------------------------------------------------------------------------
// The stress tests' messages. Every word of message `seq` from producer `p` is the same stamp,
// (p + 1) · 2^24 + seq, so a torn message (words from two writes), a stale one (the slot's message
// from a lap ago), a zero-filled one and one from the wrong producer are all visible.

export const MAX_STREAM_SEQ = 2 ** 24;
export const MAX_STREAM_PRODUCERS = 64;

export function stamp(producer: number, seq: number): number {
  return (producer + 1) * MAX_STREAM_SEQ + seq;
}

export function fillMessage(message: Int32Array, producer: number, seq: number): Int32Array {
  return message.fill(stamp(producer, seq));
}

export interface StreamReport {
  received: number;
  violations: number;
  /** The first few violations, described. */
  examples: string[];
  /** The consumer gave up waiting (a lost message or a hang), see `examples`. */
  stalled: boolean;
}

/**
 * Checks a stream of messages from `producers` producers that each send seq 0 .. perProducer − 1
 * in order: every message exactly once, per-producer order, no torn message.
 */
export class StreamChecker {
  readonly #next: Int32Array;
  readonly #perProducer: number;
  received = 0;
  violations = 0;
  stalled = false;
  readonly examples: string[] = [];

  constructor(producers: number, perProducer: number) {
    this.#next = new Int32Array(producers);
    this.#perProducer = perProducer;
  }

  /** Checks one message; returns false if it broke a rule. */
  check(message: Int32Array): boolean {
    this.received++;
    const first = message[0] as number;
    for (let i = 1; i < message.length; i++) {
      if (message[i] !== first) {
        return this.#violation(`torn message [${Array.from(message).join(', ')}]`);
      }
    }
    const producer = Math.floor(first / MAX_STREAM_SEQ) - 1;
    const seq = first % MAX_STREAM_SEQ;
    if (producer < 0 || producer >= this.#next.length || seq >= this.#perProducer) {
      return this.#violation(`message from nowhere: stamp ${first}`);
    }
    const expected = this.#next[producer] as number;
    this.#next[producer] = seq + 1;
    if (seq === expected) return true;
    return this.#violation(
      seq < expected
        ? `producer ${producer}: seq ${seq} again or late (expected ${expected})`
        : `producer ${producer}: seqs ${expected}..${seq - 1} skipped`,
    );
  }

  /** At the end of the stream: every producer's messages all arrived. */
  finish(): void {
    for (let p = 0; p < this.#next.length; p++) {
      const got = this.#next[p] as number;
      if (got !== this.#perProducer) {
        this.#violation(`producer ${p}: stream ended after seq ${got - 1} of ${this.#perProducer}`);
      }
    }
  }

  stall(reason: string): void {
    this.stalled = true;
    this.#violation(`stalled: ${reason}`);
  }

  report(): StreamReport {
    return {
      received: this.received,
      violations: this.violations,
      examples: this.examples,
      stalled: this.stalled,
    };
  }

  #violation(text: string): false {
    this.violations++;
    if (this.examples.length < 5) this.examples.push(text);
    return false;
  }
}
