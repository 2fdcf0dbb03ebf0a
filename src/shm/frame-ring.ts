/**
 * FrameRing: a single-producer single-consumer ring of variable-length byte frames in a
 * SharedArrayBuffer — the data plane between the coordinator and an IO worker (src/io/frames.ts
 * builds messages, chunking and back-pressure on top of it). Layout: `FrameRing` in layout.ts.
 *
 * A frame is a 16-byte header (payload length, slot, generation, type) and up to `maxPayload`
 * payload bytes; it never wraps around the end of the data area (a PAD frame, or a gap shorter
 * than a header that both sides skip by rule, fills the rest instead).
 *
 * Invariants
 * - TAIL is written only by the producer, HEAD only by the consumer, each with Atomics.store of a
 *   private copy; 0 ≤ TAIL − HEAD ≤ capacity (as wrapping Int32: capacity ≤ 2^30 keeps the
 *   difference exact).
 * - Frames are written in whole: `commit` writes into space the consumer has released and
 *   nothing is visible until `publish` stores TAIL. A producer that dies between the two leaves
 *   nothing half-written behind: the consumer never reads past the last published TAIL.
 * - The producer caches HEAD and re-reads it only when the cached value says there is no room;
 *   the consumer reads TAIL once per `read` (one batch). Stale caches only ever under-estimate.
 *
 * Ordering. Payload and header bytes are written and read with plain accesses. They are data-race
 * free: the producer's writes precede its Atomics.store(TAIL); the consumer's reads follow the
 * Atomics.load(TAIL) that saw it (Atomics synchronize-with each other in the ECMAScript memory
 * model, so the writes happen-before the reads). Symmetrically, space is rewritten only after the
 * producer loaded the HEAD store that followed the consumer's last read of it.
 *
 * Waking. The consumer that finds the ring empty sets CONSUMER_SLEEPING, re-reads TAIL, and only
 * then waits (Atomics.waitAsync) on DATA_SEQ; `publish` stores TAIL, then loads CONSUMER_SLEEPING
 * and, if set, clears it (exchange: only the clearer notifies), bumps DATA_SEQ and notifies. Both
 * pairs are sequentially consistent, so one side always sees the other's store: no lost wake-up,
 * and no notify at all while the consumer is awake (a batch of frames costs one wake-up or none). Space works the same way with
 * PRODUCER_SLEEPING / SPACE_SEQ. A consumer that is running anyway (it has a read scheduled for
 * the end of its event-loop turn) clears its flag with `stayAwake` and sets it again with
 * `sleepIfEmpty`, which re-checks the same way: while frames keep coming, nobody is notified at
 * all — the producer's wake-up (a task posted to the other thread, tens of µs under load) is the
 * costly part of a hand-over, not the copy. Neither side ever blocks its thread: both waits are
 * Atomics.waitAsync, which the main thread may use. A pending waitAsync does not keep Node's
 * event loop alive; the ring's owners (a Worker handle, a worker's port) do.
 */
import { InvalidArgumentError, LayoutMismatchError } from '../errors.ts';
import { HandleKind, FrameRing as L, LAYOUT_VERSION } from './layout.ts';
import { checkHandle, checkHeader, checkInteger } from './validate.ts';

export interface FrameRingHandle {
  readonly kind: typeof HandleKind.frameRing;
  readonly layoutVersion: number;
  readonly buffer: SharedArrayBuffer;
}

/** Called by `read` for each frame; `data[start, end)` is the payload, valid during the call only. */
export type FrameVisitor = (
  kind: number,
  slot: number,
  generation: number,
  more: boolean,
  data: Buffer,
  start: number,
  end: number,
) => void;

const align = (bytes: number) => (bytes + (L.FRAME_ALIGN - 1)) & ~(L.FRAME_ALIGN - 1);

export class FrameRing {
  /** Data bytes. */
  readonly capacity: number;
  /** The largest payload one frame carries: a quarter of the capacity. Longer messages are chunked. */
  readonly maxPayload: number;
  /** The whole buffer as bytes: payload offsets given out by `reserve` index into it. */
  readonly bytes: Buffer;
  readonly #view: Int32Array;
  readonly #mask: number;
  /**
   * This object's own counts (plain fields: each side counts its own calls): publishes, wake-ups
   * it sent the other side (notifies), reads that found frames, frames read, and times the
   * consumer parked (each ended by a wake-up from the producer, or by close).
   */
  readonly counts = { publishes: 0, wakeups: 0, reads: 0, frames: 0, parks: 0 };
  // producer
  #tail = 0;
  #cachedHead = 0;
  #reserved = -1;
  // consumer
  #head = 0;

  static create(capacity = 1024 * 1024): FrameRing {
    checkInteger(capacity, 'capacity', L.MIN_CAPACITY, L.MAX_CAPACITY);
    if ((capacity & (capacity - 1)) !== 0)
      throw new InvalidArgumentError('capacity', `${capacity} is not a power of two`);
    const buffer = new SharedArrayBuffer(L.bytes(capacity));
    const view = new Int32Array(buffer);
    view[L.VERSION] = LAYOUT_VERSION;
    view[L.CAPACITY] = capacity;
    Atomics.store(view, L.MAGIC, L.MAGIC_VALUE);
    return new FrameRing(buffer);
  }

  static from(handle: FrameRingHandle): FrameRing {
    const buffer = checkHandle(handle, HandleKind.frameRing).buffer as SharedArrayBuffer;
    const view = checkHeader(buffer, L.MAGIC_VALUE, L.HEADER_WORDS, 'a frame ring');
    if (L.bytes(view[L.CAPACITY] as number) !== buffer.byteLength) {
      throw new LayoutMismatchError(
        'handle.buffer',
        `${buffer.byteLength} bytes do not match the frame ring's capacity ${view[L.CAPACITY]}`,
      );
    }
    return new FrameRing(buffer);
  }

  private constructor(buffer: SharedArrayBuffer) {
    this.#view = new Int32Array(buffer);
    this.bytes = Buffer.from(buffer);
    this.capacity = this.#view[L.CAPACITY] as number;
    this.#mask = this.capacity - 1;
    this.maxPayload = this.capacity / 4 - L.FRAME_HEADER_BYTES;
    this.#tail = Atomics.load(this.#view, L.TAIL);
    this.#cachedHead = Atomics.load(this.#view, L.HEAD);
    this.#head = this.#cachedHead;
  }

  get handle(): FrameRingHandle {
    return {
      kind: HandleKind.frameRing,
      layoutVersion: LAYOUT_VERSION,
      buffer: this.#view.buffer as SharedArrayBuffer,
    };
  }

  get closed(): boolean {
    return Atomics.load(this.#view, L.CLOSED) !== 0;
  }

  /** Mark the ring closed and wake both sides: their waits resolve and they see `closed`. */
  close(): void {
    const view = this.#view;
    Atomics.store(view, L.CLOSED, 1);
    Atomics.add(view, L.DATA_SEQ, 1);
    Atomics.notify(view, L.DATA_SEQ);
    Atomics.add(view, L.SPACE_SEQ, 1);
    Atomics.notify(view, L.SPACE_SEQ);
  }

  // ---- producer ------------------------------------------------------------------------------

  /**
   * Room for a frame of `payloadBytes` (≤ maxPayload)? If so, returns the offset in `bytes` where
   * its payload goes (write it, then `commit`); -1 when there is no room now.
   */
  reserve(payloadBytes: number): number {
    const need = L.FRAME_HEADER_BYTES + align(payloadBytes);
    let pos = this.#tail & this.#mask;
    const toEnd = this.capacity - pos;
    const total = toEnd < need ? toEnd + need : need;
    if (this.capacity - ((this.#tail - this.#cachedHead) | 0) < total) {
      this.#cachedHead = Atomics.load(this.#view, L.HEAD);
      if (this.capacity - ((this.#tail - this.#cachedHead) | 0) < total) return -1;
    }
    if (toEnd < need) {
      // The frame would cross the end: fill the rest (a PAD frame, or a gap skipped by rule).
      if (toEnd >= L.FRAME_HEADER_BYTES) {
        const w = (L.HEADER_BYTES + pos) >> 2;
        this.#view[w + L.FRAME_LENGTH] = toEnd - L.FRAME_HEADER_BYTES;
        this.#view[w + L.FRAME_TYPE] = L.KIND_PAD;
      }
      this.#tail = (this.#tail + toEnd) | 0;
      pos = 0;
    }
    this.#reserved = pos;
    return L.HEADER_BYTES + pos + L.FRAME_HEADER_BYTES;
  }

  /** Finish the frame last reserved. Not visible to the consumer until `publish`. */
  commit(
    kind: number,
    slot: number,
    generation: number,
    more: boolean,
    payloadBytes: number,
  ): void {
    const pos = this.#reserved;
    this.#reserved = -1;
    const w = (L.HEADER_BYTES + pos) >> 2;
    const view = this.#view;
    view[w + L.FRAME_LENGTH] = payloadBytes;
    view[w + L.FRAME_SLOT] = slot;
    view[w + L.FRAME_GENERATION] = generation;
    view[w + L.FRAME_TYPE] = more ? kind | L.FLAG_MORE : kind;
    this.#tail = (this.#tail + L.FRAME_HEADER_BYTES + align(payloadBytes)) | 0;
  }

  /** Copy `data[start, end)` (≤ maxPayload bytes) into one frame; false when there is no room. */
  tryWrite(
    kind: number,
    slot: number,
    generation: number,
    more: boolean,
    data: Uint8Array,
    start = 0,
    end = data.length,
  ): boolean {
    const at = this.reserve(end - start);
    if (at < 0) return false;
    this.bytes.set(start === 0 && end === data.length ? data : data.subarray(start, end), at);
    this.commit(kind, slot, generation, more, end - start);
    return true;
  }

  /** Make every committed frame visible (one store), and wake the consumer if it sleeps. */
  publish(): void {
    this.counts.publishes++;
    const view = this.#view;
    Atomics.store(view, L.TAIL, this.#tail);
    // Only the one who clears the flag notifies: one wake-up per sleep, however many publishes.
    if (
      Atomics.load(view, L.CONSUMER_SLEEPING) !== 0 &&
      Atomics.exchange(view, L.CONSUMER_SLEEPING, 0) !== 0
    ) {
      Atomics.add(view, L.DATA_SEQ, 1);
      Atomics.notify(view, L.DATA_SEQ);
      this.counts.wakeups++;
    }
  }

  /**
   * Resolves when the consumer has freed space since the producer last found none (or the ring
   * closed). Returns undefined instead of a promise when there is already room for `payloadBytes`.
   */
  waitForSpace(payloadBytes: number): Promise<unknown> | undefined {
    const view = this.#view;
    const need = 2 * L.FRAME_HEADER_BYTES + align(payloadBytes); // room even if a PAD is due
    for (;;) {
      const seq = Atomics.load(view, L.SPACE_SEQ);
      Atomics.store(view, L.PRODUCER_SLEEPING, 1);
      this.#cachedHead = Atomics.load(view, L.HEAD);
      const free = this.capacity - ((this.#tail - this.#cachedHead) | 0);
      if (free >= Math.min(need, this.capacity) || Atomics.load(view, L.CLOSED) !== 0) {
        Atomics.store(view, L.PRODUCER_SLEEPING, 0);
        return undefined;
      }
      const wait = Atomics.waitAsync(view, L.SPACE_SEQ, seq);
      if (wait.async) return wait.value;
    }
  }

  // ---- consumer ------------------------------------------------------------------------------

  /**
   * Visit every frame published so far, in order, then release their space with one HEAD store
   * (after `beforeRelease`, if given: the last moment the payloads may be read). PAD frames are
   * skipped. Returns how many frames were visited.
   */
  read(visit: FrameVisitor, beforeRelease?: () => void): number {
    const view = this.#view;
    const tail = Atomics.load(view, L.TAIL);
    let head = this.#head;
    if (head === tail) return 0;
    const capacity = this.capacity;
    const mask = this.#mask;
    const bytes = this.bytes;
    let count = 0;
    // `> 0`, not `!==`: a corrupt length (only a broken producer writes one) ends the batch
    // instead of running past the tail.
    while (((tail - head) | 0) > 0) {
      const pos = head & mask;
      const toEnd = capacity - pos;
      if (toEnd < L.FRAME_HEADER_BYTES) {
        head = (head + toEnd) | 0;
        continue;
      }
      const w = (L.HEADER_BYTES + pos) >> 2;
      const length = view[w + L.FRAME_LENGTH] as number;
      const type = view[w + L.FRAME_TYPE] as number;
      head = (head + L.FRAME_HEADER_BYTES + align(length)) | 0;
      const kind = type & L.KIND_MASK;
      if (kind === L.KIND_PAD) continue;
      const start = L.HEADER_BYTES + pos + L.FRAME_HEADER_BYTES;
      count++;
      visit(
        kind,
        view[w + L.FRAME_SLOT] as number,
        view[w + L.FRAME_GENERATION] as number,
        (type & L.FLAG_MORE) !== 0,
        bytes,
        start,
        start + length,
      );
    }
    beforeRelease?.();
    this.counts.reads++;
    this.counts.frames += count;
    this.#head = head;
    Atomics.store(view, L.HEAD, head);
    if (
      Atomics.load(view, L.PRODUCER_SLEEPING) !== 0 &&
      Atomics.exchange(view, L.PRODUCER_SLEEPING, 0) !== 0
    ) {
      Atomics.add(view, L.SPACE_SEQ, 1);
      Atomics.notify(view, L.SPACE_SEQ);
    }
    return count;
  }

  /**
   * The consumer is running anyway and will read the ring before it idles (it has a read
   * scheduled): producers need not wake it until it says it sleeps again (`sleepIfEmpty`).
   */
  stayAwake(): void {
    Atomics.store(this.#view, L.CONSUMER_SLEEPING, 0);
  }

  /**
   * The consumer that called `stayAwake` is about to idle again, with a `waitForData` wait still
   * pending from before: says it sleeps, then re-checks. True when the ring is empty (producers
   * will now wake that wait); false when a frame came in meanwhile — read it and call again.
   */
  sleepIfEmpty(): boolean {
    const view = this.#view;
    Atomics.store(view, L.CONSUMER_SLEEPING, 1);
    if (Atomics.load(view, L.TAIL) === this.#head && Atomics.load(view, L.CLOSED) === 0)
      return true;
    Atomics.store(view, L.CONSUMER_SLEEPING, 0);
    return false;
  }

  /** Is a frame published and not yet read? (exact for the consumer) */
  readable(): boolean {
    return Atomics.load(this.#view, L.TAIL) !== this.#head;
  }

  /**
   * Resolves when a frame may have been published since the consumer last found none (or the
   * ring closed). Returns undefined instead of a promise when one is already there.
   */
  waitForData(): Promise<unknown> | undefined {
    const view = this.#view;
    for (;;) {
      const seq = Atomics.load(view, L.DATA_SEQ);
      Atomics.store(view, L.CONSUMER_SLEEPING, 1);
      if (Atomics.load(view, L.TAIL) !== this.#head || Atomics.load(view, L.CLOSED) !== 0) {
        Atomics.store(view, L.CONSUMER_SLEEPING, 0);
        return undefined;
      }
      const wait = Atomics.waitAsync(view, L.DATA_SEQ, seq);
      if (wait.async) {
        this.counts.parks++;
        return wait.value;
      }
    }
  }
}
