/**
 * SharedChannel: a bounded ring of fixed-size Int32 messages in a SharedArrayBuffer, for passing
 * work between threads without postMessage.
 *
 * Modes: 'spsc' (one producer object, one consumer object; Lamport ring with cached indices, see
 * ring-spsc.ts) and 'mpsc' (any number of producers, one consumer; Vyukov per-slot sequences,
 * see ring-mpsc.ts). The single roles are claimed by the first object that uses them; another
 * object trying to take a single role gets ChannelRoleError instead of corrupting the ring.
 *
 * Calls, by how they wait:
 *   trySend / tryReceive     never wait: 'full' / 'empty' / 'closed' are explicit results
 *   trySendMany / tryReceiveMany  never wait; move a batch (one index publish per batch in spsc)
 *   send / receive           block the calling worker (refused on the main thread)
 *   sendAsync / receiveAsync never block: Atomics.waitAsync, for the main thread
 * A full channel is never a silent drop: trySend says 'full', the waiting calls wait (bounded by
 * timeoutMs / signal), and nothing is ever overwritten.
 *
 * Parking (header lines 3 and 4 in layout.ts). A consumer that must sleep reads the NOT_EMPTY
 * futex word, increments CONSUMERS_WAITING, re-tries, and only then waits on NOT_EMPTY. A producer
 * that published a message loads CONSUMERS_WAITING and, if non-zero, bumps NOT_EMPTY and notifies.
 * With sequentially consistent Atomics, either the producer's load sees the increment (so it bumps
 * and wakes) or the consumer's re-try comes after the publish (so it finds the message): no lost
 * wake-up. Producers waiting for room use NOT_FULL / PRODUCERS_WAITING the same way.
 *
 * Closing. close() sets CLOSED, bumps both futex words and wakes everyone. Senders see 'closed'
 * (or ChannelClosedError when waiting). The consumer still drains every message whose send
 * succeeded, so a send that reported 'sent' is always received — nothing is lost to a close race:
 * - spsc: close() also sets the closed bit in TAIL, and the producer publishes with one CAS of
 *   TAIL, so a send either lands before the close or fails; the consumer is drained when TAIL has
 *   the bit and it has read up to it. A single send costs one CAS and one load.
 * - mpsc: each send is bracketed by SENDING++ / SENDING--, taken before it checks CLOSED, and the
 *   consumer reports "closed and drained" only when CLOSED is set, SENDING is 0 and the ring is
 *   empty.
 */
import {
  ChannelClosedError,
  ChannelRoleError,
  InvalidArgumentError,
  LayoutMismatchError,
  MainThreadBlockingError,
  TimeoutError,
} from '../errors.ts';
import { HandleKind, Channel as L, LAYOUT_VERSION, WORD_BYTES } from './layout.ts';
import { parkAsync, parkSync } from './park.ts';
import { MpscRing } from './ring-mpsc.ts';
import { SpscRing } from './ring-spsc.ts';
import { cpuPause, deadlineAfter, now, onMainThread } from './runtime.ts';
import {
  checkHandle,
  checkHeader,
  checkInteger,
  checkSignal,
  checkTimeout,
  describe,
} from './validate.ts';

export type ChannelMode = 'spsc' | 'mpsc';
export type SendResult = 'sent' | 'full' | 'closed';
export type ReceiveResult = 'received' | 'empty' | 'closed';

export interface SharedChannelOptions {
  /** Number of messages the ring holds: a power of two, 2 .. 2^24. Default 1024. */
  capacity?: number;
  /** Int32 words per message, 1 .. 4096. Default 1. */
  messageWords?: number;
  /** 'spsc' (default) or 'mpsc'. */
  mode?: ChannelMode;
}

export interface SharedChannelHandle {
  readonly kind: typeof HandleKind.channel;
  readonly layoutVersion: number;
  readonly buffer: SharedArrayBuffer;
}

export interface ChannelWaitOptions {
  /** Give up after this many milliseconds (TimeoutError). Default: wait forever. */
  timeoutMs?: number;
  /** Async only: give up when this signal aborts (rejects with `signal.reason`). */
  signal?: AbortSignal;
}

/** Re-tries a waiting call makes before it parks. */
export const CHANNEL_SPIN_LIMIT = 100;

interface Ring {
  attachProducer(): void;
  attachConsumer(): void;
  /** MPSC: true when sent. (SPSC's says 'sent' | 'full' | 'closed'; it is called as #spsc.) */
  trySend(message: ArrayLike<number>): unknown;
  tryReceive(out: Int32Array): boolean;
  canSend(): boolean;
  canReceive(): boolean;
}

export class SharedChannel {
  readonly capacity: number;
  readonly messageWords: number;
  readonly mode: ChannelMode;
  readonly #view: Int32Array;
  readonly #ring: Ring;
  /** The same ring when it is SPSC: the batch calls publish once per batch there. */
  readonly #spsc: SpscRing | null;
  #ticket = 0;
  #isProducer = false;
  #isConsumer = false;

  static create(options: SharedChannelOptions = {}): SharedChannel {
    if (options === null || typeof options !== 'object') {
      throw new InvalidArgumentError('options', `expected an object, got ${describe(options)}`);
    }
    const capacity = checkInteger(options.capacity ?? 1024, 'options.capacity', 2, L.MAX_CAPACITY);
    if ((capacity & (capacity - 1)) !== 0) {
      throw new InvalidArgumentError('options.capacity', `${capacity} is not a power of two`);
    }
    const messageWords = checkInteger(
      options.messageWords ?? 1,
      'options.messageWords',
      1,
      L.MAX_MESSAGE_WORDS,
    );
    const modeName = options.mode ?? 'spsc';
    if (modeName !== 'spsc' && modeName !== 'mpsc') {
      throw new InvalidArgumentError(
        'options.mode',
        `expected 'spsc' or 'mpsc', got ${describe(modeName)}`,
      );
    }
    const mode = modeName === 'spsc' ? L.MODE_SPSC : L.MODE_MPSC;
    const buffer = new SharedArrayBuffer(L.words(mode, capacity, messageWords) * WORD_BYTES);
    const view = new Int32Array(buffer);
    view[L.VERSION] = LAYOUT_VERSION;
    view[L.MODE] = mode;
    view[L.CAPACITY] = capacity;
    view[L.MESSAGE_WORDS] = messageWords;
    if (mode === L.MODE_MPSC) MpscRing.initialise(view, capacity, messageWords);
    // The magic goes in last: a buffer with the magic is a complete channel.
    Atomics.store(view, L.MAGIC, L.MAGIC_VALUE);
    return new SharedChannel(buffer);
  }

  static from(handle: SharedChannelHandle): SharedChannel {
    const h = checkHandle(handle, HandleKind.channel);
    return new SharedChannel(h.buffer as SharedArrayBuffer);
  }

  private constructor(buffer: SharedArrayBuffer) {
    const view = checkHeader(buffer, L.MAGIC_VALUE, L.SLOTS, 'an atomvisor channel');
    const mode = view[L.MODE] as number;
    this.capacity = view[L.CAPACITY] as number;
    this.messageWords = view[L.MESSAGE_WORDS] as number;
    if (buffer.byteLength < L.words(mode, this.capacity, this.messageWords) * WORD_BYTES) {
      throw new LayoutMismatchError('handle.buffer', 'the buffer is smaller than its header says');
    }
    this.mode = mode === L.MODE_SPSC ? 'spsc' : 'mpsc';
    this.#view = view;
    this.#spsc = mode === L.MODE_SPSC ? new SpscRing(view, this.capacity, this.messageWords) : null;
    this.#ring = this.#spsc ?? new MpscRing(view, this.capacity, this.messageWords);
  }

  get handle(): SharedChannelHandle {
    return {
      kind: HandleKind.channel,
      layoutVersion: LAYOUT_VERSION,
      buffer: this.#view.buffer as SharedArrayBuffer,
    };
  }

  get closed(): boolean {
    return Atomics.load(this.#view, L.CLOSED) !== 0;
  }

  /** Messages in the ring right now (approximate while others send or receive). */
  get size(): number {
    if (this.#spsc) return Math.min(this.#spsc.size(), this.capacity);
    const n = (Atomics.load(this.#view, L.TAIL) - Atomics.load(this.#view, L.HEAD)) | 0;
    return Math.max(0, Math.min(n, this.capacity));
  }

  /** Send without waiting. 'full' and 'closed' are explicit: nothing is dropped or overwritten. */
  trySend(message: ArrayLike<number>): SendResult {
    if (!this.#isProducer) this.#becomeProducer(message);
    else if (message.length > this.messageWords) this.#tooLong(message);
    const view = this.#view;
    if (this.#spsc) {
      const result = this.#spsc.trySend(message);
      if (result === 'sent' && Atomics.load(view, L.CONSUMERS_WAITING) !== 0) {
        Atomics.add(view, L.NOT_EMPTY, 1);
        Atomics.notify(view, L.NOT_EMPTY);
      }
      return result;
    }
    Atomics.add(view, L.SENDING, 1);
    if (Atomics.load(view, L.CLOSED) !== 0) {
      Atomics.sub(view, L.SENDING, 1);
      return 'closed';
    }
    const sent = this.#ring.trySend(message);
    Atomics.sub(view, L.SENDING, 1);
    if (!sent) return 'full';
    if (Atomics.load(view, L.CONSUMERS_WAITING) !== 0) {
      Atomics.add(view, L.NOT_EMPTY, 1);
      Atomics.notify(view, L.NOT_EMPTY);
    }
    return 'sent';
  }

  /**
   * Receive without waiting into `out` (at least messageWords long). 'closed' only once the channel
   * is closed and every sent message has been received.
   */
  tryReceive(out: Int32Array): ReceiveResult {
    if (!this.#isConsumer) this.#becomeConsumer(out);
    else if (!(out instanceof Int32Array) || out.length < this.messageWords) this.#badOut(out);
    if (this.#receiveOne(out)) return 'received';
    const view = this.#view;
    if (this.#spsc) return this.#spsc.drained() ? 'closed' : 'empty';
    // Empty now. Closed-and-drained needs CLOSED, then no send in progress: a send that passed its
    // CLOSED check has then published, so one more try finds it if it is there.
    if (Atomics.load(view, L.CLOSED) === 0 || Atomics.load(view, L.SENDING) !== 0) return 'empty';
    return this.#receiveOne(out) ? 'received' : 'closed';
  }

  /**
   * Send up to `count` messages laid out back to back in `messages` (each exactly messageWords
   * long; default: as many as `messages` holds) without waiting. Returns how many were sent —
   * fewer than `count` when the ring filled up, 0 when it is full — or -1 when the channel is
   * closed. In 'spsc' mode the batch is published with one index store and one wake-up check, so
   * it costs far less per message than trySend; in 'mpsc' mode it is a loop of single sends.
   */
  trySendMany(messages: Int32Array, count?: number): number {
    const n = this.#batchSize(messages, count, 'messages', 'count', 0);
    if (!this.#isProducer) this.#takeProducerRole();
    const view = this.#view;
    if (this.#spsc) {
      const sent = this.#spsc.trySendMany(messages, n);
      if (sent > 0 && Atomics.load(view, L.CONSUMERS_WAITING) !== 0) {
        Atomics.add(view, L.NOT_EMPTY, 1);
        Atomics.notify(view, L.NOT_EMPTY);
      }
      return sent;
    }
    Atomics.add(view, L.SENDING, 1);
    if (Atomics.load(view, L.CLOSED) !== 0) {
      Atomics.sub(view, L.SENDING, 1);
      return -1;
    }
    let sent = 0;
    {
      const words = this.messageWords;
      while (sent < n && this.#ring.trySend(messages.subarray(sent * words, (sent + 1) * words)))
        sent++;
    }
    Atomics.sub(view, L.SENDING, 1);
    if (sent > 0 && Atomics.load(view, L.CONSUMERS_WAITING) !== 0) {
      Atomics.add(view, L.NOT_EMPTY, 1);
      Atomics.notify(view, L.NOT_EMPTY);
    }
    return sent;
  }

  /**
   * Receive up to `max` messages into `out`, back to back (default: as many as `out` holds),
   * without waiting. Returns how many (≥ 1), 0 when the channel is empty, or -1 once it is closed
   * and every sent message has been received.
   */
  tryReceiveMany(out: Int32Array, max?: number): number {
    const n = this.#batchSize(out, max, 'out', 'max', 1);
    if (!this.#isConsumer) this.#becomeConsumer(out);
    const got = this.#receiveMany(out, n);
    if (got > 0) return got;
    if (this.#spsc) return this.#spsc.drained() ? -1 : 0;
    const view = this.#view;
    // As in tryReceive: closed-and-drained needs CLOSED, then no send in progress, then empty.
    if (Atomics.load(view, L.CLOSED) === 0 || Atomics.load(view, L.SENDING) !== 0) return 0;
    const last = this.#receiveMany(out, n);
    return last > 0 ? last : -1;
  }

  /** Send, blocking this worker while the channel is full. Throws ChannelClosedError / TimeoutError. */
  send(message: ArrayLike<number>, options: ChannelWaitOptions = {}): void {
    if (onMainThread)
      throw new MainThreadBlockingError('SharedChannel.send()', 'sendAsync() or trySend()');
    const timeout = checkTimeout(options.timeoutMs, 'options.timeoutMs');
    const deadline = deadlineAfter(timeout);
    for (let attempt = 0; ; attempt++) {
      const before = Atomics.load(this.#view, L.NOT_FULL);
      const result = this.trySend(message);
      if (result === 'sent') return;
      if (result === 'closed') throw new ChannelClosedError();
      if (attempt < CHANNEL_SPIN_LIMIT) {
        cpuPause();
        continue;
      }
      if (now() >= deadline) throw new TimeoutError('SharedChannel.send()', timeout ?? 0);
      this.#parkSync(L.PRODUCERS_WAITING, L.NOT_FULL, before, deadline, () => this.#hasRoom());
    }
  }

  /** Send without blocking the thread: waits asynchronously while the channel is full. */
  async sendAsync(message: ArrayLike<number>, options: ChannelWaitOptions = {}): Promise<void> {
    const timeout = checkTimeout(options.timeoutMs, 'options.timeoutMs');
    const signal = checkSignal(options.signal, 'options.signal');
    if (signal?.aborted) throw signal.reason;
    const deadline = deadlineAfter(timeout);
    for (;;) {
      const before = Atomics.load(this.#view, L.NOT_FULL);
      const result = this.trySend(message);
      if (result === 'sent') return;
      if (result === 'closed') throw new ChannelClosedError();
      if (now() >= deadline) throw new TimeoutError('SharedChannel.sendAsync()', timeout ?? 0);
      await this.#parkAsync(L.PRODUCERS_WAITING, L.NOT_FULL, before, deadline, signal, () =>
        this.#hasRoom(),
      );
    }
  }

  /**
   * Receive, blocking this worker while the channel is empty. Returns `out` (a new Int32Array by
   * default), or null once the channel is closed and drained. Throws TimeoutError.
   */
  receive(out?: Int32Array, options: ChannelWaitOptions = {}): Int32Array | null {
    if (onMainThread)
      throw new MainThreadBlockingError(
        'SharedChannel.receive()',
        'receiveAsync() or tryReceive()',
      );
    const timeout = checkTimeout(options.timeoutMs, 'options.timeoutMs');
    const target = out ?? new Int32Array(this.messageWords);
    const deadline = deadlineAfter(timeout);
    for (let attempt = 0; ; attempt++) {
      const before = Atomics.load(this.#view, L.NOT_EMPTY);
      const result = this.tryReceive(target);
      if (result === 'received') return target;
      if (result === 'closed') return null;
      if (attempt < CHANNEL_SPIN_LIMIT) {
        cpuPause();
        continue;
      }
      if (now() >= deadline) throw new TimeoutError('SharedChannel.receive()', timeout ?? 0);
      this.#parkSync(L.CONSUMERS_WAITING, L.NOT_EMPTY, before, deadline, () =>
        this.#hasMessageOrClosed(),
      );
    }
  }

  /** Receive without blocking the thread. Resolves `out`, or null once closed and drained. */
  async receiveAsync(
    out?: Int32Array,
    options: ChannelWaitOptions = {},
  ): Promise<Int32Array | null> {
    const timeout = checkTimeout(options.timeoutMs, 'options.timeoutMs');
    const signal = checkSignal(options.signal, 'options.signal');
    if (signal?.aborted) throw signal.reason;
    const target = out ?? new Int32Array(this.messageWords);
    const deadline = deadlineAfter(timeout);
    for (;;) {
      const before = Atomics.load(this.#view, L.NOT_EMPTY);
      const result = this.tryReceive(target);
      if (result === 'received') return target;
      if (result === 'closed') return null;
      if (now() >= deadline) throw new TimeoutError('SharedChannel.receiveAsync()', timeout ?? 0);
      await this.#parkAsync(L.CONSUMERS_WAITING, L.NOT_EMPTY, before, deadline, signal, () =>
        this.#hasMessageOrClosed(),
      );
    }
  }

  /** Close: no new sends; the consumer drains what was sent; every waiter wakes. Idempotent. */
  close(): void {
    const view = this.#view;
    Atomics.store(view, L.CLOSED, 1);
    if (this.#spsc) SpscRing.close(view);
    Atomics.add(view, L.NOT_EMPTY, 1);
    Atomics.notify(view, L.NOT_EMPTY);
    Atomics.add(view, L.NOT_FULL, 1);
    Atomics.notify(view, L.NOT_FULL);
  }

  /**
   * Give up this object's single-producer / consumer role so another object (in another thread)
   * can take it, e.g. after the thread that used it has exited.
   */
  releaseRoles(): void {
    const view = this.#view;
    if (this.#isConsumer) Atomics.compareExchange(view, L.CONSUMER_CLAIM, this.#ticket, 0);
    if (this.#isProducer && this.mode === 'spsc')
      Atomics.compareExchange(view, L.PRODUCER_CLAIM, this.#ticket, 0);
    this.#isConsumer = false;
    this.#isProducer = false;
  }

  #receiveOne(out: Int32Array): boolean {
    if (!this.#ring.tryReceive(out)) return false;
    if (Atomics.load(this.#view, L.PRODUCERS_WAITING) !== 0) {
      Atomics.add(this.#view, L.NOT_FULL, 1);
      Atomics.notify(this.#view, L.NOT_FULL);
    }
    return true;
  }

  #receiveMany(out: Int32Array, n: number): number {
    let got = 0;
    if (this.#spsc) got = this.#spsc.tryReceiveMany(out, n);
    else {
      const words = this.messageWords;
      while (got < n && this.#ring.tryReceive(out.subarray(got * words, (got + 1) * words))) got++;
    }
    if (got > 0 && Atomics.load(this.#view, L.PRODUCERS_WAITING) !== 0) {
      Atomics.add(this.#view, L.NOT_FULL, 1);
      Atomics.notify(this.#view, L.NOT_FULL);
    }
    return got;
  }

  /** How many whole messages a batch call moves: `requested`, checked against the buffer. */
  #batchSize(
    buffer: Int32Array,
    requested: number | undefined,
    bufferName: string,
    countName: string,
    min: number,
  ): number {
    if (!(buffer instanceof Int32Array)) {
      throw new InvalidArgumentError(bufferName, `expected an Int32Array, got ${describe(buffer)}`);
    }
    const fits = Math.floor(buffer.length / this.messageWords);
    if (fits < min) {
      throw new InvalidArgumentError(
        bufferName,
        `expected room for at least one ${this.messageWords}-word message, got ${buffer.length} words`,
      );
    }
    return requested === undefined ? fits : checkInteger(requested, countName, min, fits);
  }

  /** Optimistic (never a false "no"): a sleeper re-checks after a wake-up anyway. */
  #hasRoom(): boolean {
    return this.closed || this.#ring.canSend();
  }

  #hasMessageOrClosed(): boolean {
    return this.closed || this.#ring.canReceive();
  }

  #parkSync(
    counter: number,
    futex: number,
    before: number,
    deadline: number,
    ready: () => boolean,
  ): void {
    const view = this.#view;
    Atomics.add(view, counter, 1);
    try {
      if (!ready()) parkSync(view, futex, before, deadline);
    } finally {
      Atomics.sub(view, counter, 1);
    }
  }

  async #parkAsync(
    counter: number,
    futex: number,
    before: number,
    deadline: number,
    signal: AbortSignal | undefined,
    ready: () => boolean,
  ): Promise<void> {
    const view = this.#view;
    Atomics.add(view, counter, 1);
    try {
      if (!ready()) await parkAsync(view, futex, before, deadline, signal);
    } finally {
      Atomics.sub(view, counter, 1);
    }
  }

  #becomeProducer(message: ArrayLike<number>): void {
    if (message === null || typeof message !== 'object' || typeof message.length !== 'number') {
      throw new InvalidArgumentError(
        'message',
        `expected an array of numbers, got ${describe(message)}`,
      );
    }
    if (message.length > this.messageWords) this.#tooLong(message);
    this.#takeProducerRole();
  }

  #takeProducerRole(): void {
    if (this.mode === 'spsc') this.#claim(L.PRODUCER_CLAIM, 'producer');
    this.#ring.attachProducer();
    this.#isProducer = true;
  }

  #becomeConsumer(out: Int32Array): void {
    if (!(out instanceof Int32Array) || out.length < this.messageWords) this.#badOut(out);
    this.#claim(L.CONSUMER_CLAIM, 'consumer');
    this.#ring.attachConsumer();
    this.#isConsumer = true;
  }

  #claim(word: number, role: 'producer' | 'consumer'): void {
    if (this.#ticket === 0) this.#ticket = Atomics.add(this.#view, L.CLAIM_TICKETS, 1) + 1;
    const seen = Atomics.compareExchange(this.#view, word, 0, this.#ticket);
    if (seen !== 0 && seen !== this.#ticket) throw new ChannelRoleError(role, this.mode);
  }

  /** Checked on every receive: a short `out` would silently lose the message's last words. */
  #badOut(out: unknown): never {
    const got = out instanceof Int32Array ? `${out.length} words` : describe(out);
    throw new InvalidArgumentError(
      'out',
      `expected an Int32Array of at least ${this.messageWords} words, got ${got}`,
    );
  }

  #tooLong(message: ArrayLike<number>): never {
    throw new InvalidArgumentError(
      'message',
      `${message.length} words is longer than the channel's ${this.messageWords}-word messages`,
    );
  }
}
