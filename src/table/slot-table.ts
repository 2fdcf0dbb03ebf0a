/**
 * SlotTable: every connection's state in one SharedArrayBuffer, readable and changeable from any
 * thread without a shared lock.
 *
 * Each slot is one cache line (layout.ts, Table). Its STATE word (status | generation | flags) is
 * changed only by compareExchange through `transition`, which enforces the state machine of
 * state.ts in one place. The slot's other facts (pid, restarts, start time, exit, probe counters)
 * are published under the slot's Seqlock, so `snapshot` is consistent across fields.
 *
 * Leases. A slot's exclusive lease is the state move ready → leased, by CAS: whoever wins it holds
 * the lease, so two holders are impossible. The holder then writes LEASE_SINCE and then LEASE (its
 * id, unique per slot). Releasing first swaps LEASE from the id to 0 (so a second release, or the
 * release of an evicted lease, fails with NotLeaseHolderError) and then moves leased → ready.
 * Readers of the lease (`lease`) accept LEASE_SINCE only when LEASE holds the same non-zero id
 * before and after reading it: the next holder writes LEASE_SINCE only after LEASE went to 0, so
 * that check can never pair one lease's id with another's start time.
 *
 * Waiting for a lease — across threads on the RELEASES futex word, and in one thread in a FIFO
 * queue with synchronous hand-off — is lease-waits.ts (LeaseWaits); the methods here that wait
 * (`leaseAny`, `leaseAnyAsync`, ...) hand over to it, and every move into a leasable state made
 * through this instance tells it (`transition` to ready, `setFlags` clearing unready, `release`).
 *
 * Time: `now()` is ms since the table's epoch as a wrapping Int32 (ages < 24 days are exact).
 */
import { InvalidArgumentError, NotLeaseHolderError } from '../errors.ts';
import { Table as L, LAYOUT_VERSION, WORD_BYTES } from '../shm/layout.ts';
import { Seqlock } from '../shm/seqlock.ts';
import {
  checkHandle,
  checkHeader,
  checkInteger,
  checkSignal,
  checkTimeout,
} from '../shm/validate.ts';
import { type Leased, LeaseWaits } from './lease-waits.ts';
import {
  decodeState,
  Flag,
  IllegalTransitionGuard,
  MAX_GENERATION,
  type SlotState,
  StateWord,
  Status,
  type StatusName,
  statusName,
} from './state.ts';

export type { Leased };

export const TABLE_HANDLE_KIND = 'atomvisor.table';

export interface SlotTableHandle {
  readonly kind: typeof TABLE_HANDLE_KIND;
  readonly layoutVersion: number;
  readonly buffer: SharedArrayBuffer;
}

export interface SlotFields {
  pid: number;
  restarts: number;
  startedAt: number;
  /** Exit code, or 1000 + signal number; -1 while running or never started. */
  exit: number;
  probeFailures: number;
  probeSuccesses: number;
  lastProbeAt: number;
  lastProbeMs: number;
}

const FIELD_ORDER: readonly (keyof SlotFields)[] = [
  'pid',
  'restarts',
  'startedAt',
  'exit',
  'probeFailures',
  'probeSuccesses',
  'lastProbeAt',
  'lastProbeMs',
];

export interface SlotSnapshot extends SlotState, SlotFields {
  slot: number;
  /** The current lease's id, or 0 when not leased. */
  leaseId: number;
  /** How long the current lease has been held, in ms; -1 when not leased. */
  leaseAgeMs: number;
  waiters: number;
  inFlight: number;
}

export interface LeaseWaitOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

export class SlotTable {
  readonly capacity: number;
  /** The table's epoch, ms since the Unix epoch. */
  readonly epochMs: number;
  readonly #view: Int32Array;
  readonly #seqlocks: (Seqlock | undefined)[];
  readonly #scratch: Int32Array;
  /** Waiting for a lease: the futex, this thread's FIFO queue and its pump, the hand-off. */
  readonly #waits: LeaseWaits;

  static create(capacity: number, options: { epochMs?: number } = {}): SlotTable {
    checkInteger(capacity, 'capacity', 1, L.MAX_CAPACITY);
    const epochMs = Math.floor(options.epochMs ?? performance.timeOrigin + performance.now());
    const buffer = new SharedArrayBuffer(L.words(capacity) * WORD_BYTES);
    const view = new Int32Array(buffer);
    view[L.VERSION] = LAYOUT_VERSION;
    view[L.CAPACITY] = capacity;
    view[L.EPOCH_HI] = Math.floor(epochMs / 2 ** 32);
    view[L.EPOCH_LO] = (epochMs % 2 ** 32) | 0;
    for (let slot = 0; slot < capacity; slot++) {
      const base = L.slotBase(slot);
      view[base + L.SEQ + 2 + L.F_EXIT] = -1;
    }
    Atomics.store(view, L.MAGIC, L.MAGIC_VALUE);
    return new SlotTable(buffer);
  }

  static from(handle: SlotTableHandle): SlotTable {
    return new SlotTable(checkHandle(handle, TABLE_HANDLE_KIND).buffer as SharedArrayBuffer);
  }

  private constructor(buffer: SharedArrayBuffer) {
    const view = checkHeader(buffer, L.MAGIC_VALUE, L.HEADER_WORDS, 'an atomvisor slot table');
    this.capacity = view[L.CAPACITY] as number;
    this.epochMs = (view[L.EPOCH_HI] as number) * 2 ** 32 + ((view[L.EPOCH_LO] as number) >>> 0);
    this.#view = view;
    this.#waits = new LeaseWaits(view, {
      leaseOne: (slot) => this.#leaseOne(slot),
      ready: (slot) => StateWord.get(this.word(slot), 'status') === Status.ready,
    });
    this.#seqlocks = new Array(this.capacity);
    this.#scratch = new Int32Array(L.FIELD_COUNT);
  }

  get handle(): SlotTableHandle {
    return {
      kind: TABLE_HANDLE_KIND,
      layoutVersion: LAYOUT_VERSION,
      buffer: this.#view.buffer as SharedArrayBuffer,
    };
  }

  /** Milliseconds since the table's epoch, as stored in slots (wrapping Int32). */
  now(): number {
    return (performance.timeOrigin + performance.now() - this.epochMs) | 0;
  }

  /** Age in ms of a timestamp taken with now(). */
  ageMs(stamp: number): number {
    return (this.now() - stamp) | 0;
  }

  /** The raw state word. */
  word(slot: number): number {
    return Atomics.load(this.#view, this.#base(slot) + L.STATE);
  }

  state(slot: number): SlotState {
    return decodeState(this.word(slot));
  }

  /**
   * Claim an empty slot for a new connection: empty → starting. Returns the slot and its new
   * generation, or undefined when the table is full.
   */
  claim(): { slot: number; generation: number } | undefined {
    for (let slot = 0; slot < this.capacity; slot++) {
      const word = this.word(slot);
      if (StateWord.get(word, 'status') !== Status.empty) continue;
      if (
        this.transition(slot, 'starting', {
          from: 'empty',
          generation: StateWord.get(word, 'generation'),
        })
      ) {
        return { slot, generation: StateWord.get(this.word(slot), 'generation') };
      }
    }
    return undefined;
  }

  /**
   * Move `slot` to status `to` by CAS, if it is in one of the `from` statuses (default: any) and,
   * when given, still at `generation`. Returns whether it moved. Throws IllegalTransitionError
   * when the state machine forbids the move from the status found (a caller bug, not a race).
   * Moving into `starting` bumps the generation and clears the flags.
   */
  transition(
    slot: number,
    to: StatusName,
    expect: { from?: StatusName | readonly StatusName[]; generation?: number } = {},
  ): boolean {
    const index = this.#base(slot) + L.STATE;
    const target = Status[to];
    if (target === undefined)
      throw new InvalidArgumentError('to', `unknown status ${JSON.stringify(to)}`);
    const from =
      expect.from === undefined
        ? undefined
        : typeof expect.from === 'string'
          ? [expect.from]
          : expect.from;
    for (;;) {
      const word = Atomics.load(this.#view, index);
      const current = statusName(StateWord.get(word, 'status'));
      const generation = StateWord.get(word, 'generation');
      if (from !== undefined && !from.includes(current)) return false;
      if (expect.generation !== undefined && expect.generation !== generation) return false;
      IllegalTransitionGuard.check(current, to);
      let next = StateWord.with(word, 'status', target);
      if (to === 'starting') {
        next = StateWord.with(
          next,
          'generation',
          generation >= MAX_GENERATION ? 1 : generation + 1,
        );
        next = StateWord.with(next, 'flags', 0);
      }
      if (Atomics.compareExchange(this.#view, index, word, next) === word) {
        if (to === 'ready') this.#waits.madeLeasable(slot);
        return true;
      }
    }
  }

  /** Set and clear flag bits at `generation`; false if the slot moved on to another process. */
  setFlags(slot: number, generation: number, set: number, clear = 0): boolean {
    const index = this.#base(slot) + L.STATE;
    for (;;) {
      const word = Atomics.load(this.#view, index);
      if (StateWord.get(word, 'generation') !== generation) return false;
      const flags = (StateWord.get(word, 'flags') | set) & ~clear & 0xff;
      const next = StateWord.with(word, 'flags', flags);
      if (next === word) return true;
      if (Atomics.compareExchange(this.#view, index, word, next) === word) {
        if ((clear & Flag.unready) !== 0 && StateWord.get(word, 'status') === Status.ready)
          this.#waits.madeLeasable(slot);
        return true;
      }
    }
  }

  /** Publish some of the slot's fields as one consistent update (the others keep their values). */
  publish(slot: number, patch: Partial<SlotFields>): void {
    const values: (number | undefined)[] = new Array(L.FIELD_COUNT);
    for (let i = 0; i < L.FIELD_COUNT; i++) values[i] = patch[FIELD_ORDER[i] as keyof SlotFields];
    this.#seqlock(slot).write(values);
  }

  /**
   * `publish`, only while the slot still runs `generation`: false (nothing written) when the slot
   * has moved on to another process. Meant for the coordinator's thread, which is also the only
   * one that bumps generations (moves into `starting`), so no restart can land between the check
   * and the write.
   */
  publishAt(slot: number, generation: number, patch: Partial<SlotFields>): boolean {
    if (StateWord.get(this.word(slot), 'generation') !== generation) return false;
    this.publish(slot, patch);
    return true;
  }

  /**
   * Close a write to the slot's fields that a dead thread left open (Seqlock.recoverFromDeadWriter):
   * only when every thread that may publish to this slot, other than the caller's, has exited.
   * True if one was abandoned; the fields may then mix that write with older values.
   */
  recoverFromDeadWriter(slot: number): boolean {
    return this.#seqlock(slot).recoverFromDeadWriter();
  }

  /** A consistent copy of the slot's fields. */
  fields(slot: number): SlotFields {
    const raw = this.#seqlock(slot).read(this.#scratch);
    const out = {} as SlotFields;
    for (let i = 0; i < L.FIELD_COUNT; i++)
      out[FIELD_ORDER[i] as keyof SlotFields] = raw[i] as number;
    return out;
  }

  /**
   * Everything about a slot. State and fields belong to the same process generation (the read is
   * retried if a restart lands in between); counters are as of the moment of the read.
   */
  snapshot(slot: number): SlotSnapshot {
    const base = this.#base(slot);
    let word = 0;
    let fields: SlotFields;
    let attempts = 0;
    for (;;) {
      const before = Atomics.load(this.#view, base + L.STATE);
      fields = this.fields(slot);
      word = Atomics.load(this.#view, base + L.STATE);
      if (
        StateWord.get(before, 'generation') === StateWord.get(word, 'generation') ||
        ++attempts >= 16
      )
        break;
    }
    const lease = this.lease(slot);
    return {
      slot,
      ...decodeState(word),
      ...fields,
      leaseId: lease?.leaseId ?? 0,
      leaseAgeMs: lease === undefined ? -1 : this.ageMs(lease.since),
      waiters: Atomics.load(this.#view, base + L.WAITERS),
      inFlight: Atomics.load(this.#view, base + L.IN_FLIGHT),
    };
  }

  /** Requests in flight on the slot right now. */
  inFlight(slot: number): number {
    return Atomics.load(this.#view, this.#base(slot) + L.IN_FLIGHT);
  }

  /** Requests in flight on the slot: add `delta`, return the new count. */
  addInFlight(slot: number, delta: number): number {
    return Atomics.add(this.#view, this.#base(slot) + L.IN_FLIGHT, delta) + delta;
  }

  /** Callers waiting to lease the slot (for stats): add `delta`, return the new count. */
  addWaiters(slot: number, delta: number): number {
    return Atomics.add(this.#view, this.#base(slot) + L.WAITERS, delta) + delta;
  }

  /**
   * Take the slot's exclusive lease if it is ready, not flagged unready, and (when given) at
   * `generation`. Returns the lease id, or 0 when it is not leasable right now. Never waits.
   */
  tryLease(slot: number, generation?: number): number {
    const base = this.#base(slot);
    for (;;) {
      const word = Atomics.load(this.#view, base + L.STATE);
      if (StateWord.get(word, 'status') !== Status.ready) return 0;
      if ((StateWord.get(word, 'flags') & Flag.unready) !== 0) return 0;
      if (generation !== undefined && StateWord.get(word, 'generation') !== generation) return 0;
      const next = StateWord.with(word, 'status', Status.leased);
      if (Atomics.compareExchange(this.#view, base + L.STATE, word, next) !== word) continue;
      let id = Atomics.add(this.#view, base + L.LEASE_IDS, 1) + 1;
      if (id === 0) id = Atomics.add(this.#view, base + L.LEASE_IDS, 1) + 1; // 0 means "none"
      Atomics.store(this.#view, base + L.LEASE_SINCE, this.now());
      Atomics.store(this.#view, base + L.LEASE, id);
      return id;
    }
  }

  /**
   * Release lease `leaseId`. The slot goes back to ready, or to draining when it was marked
   * retireOnRelease or was moved to draining while leased. Returns where it went, or 'evicted'
   * when the lease had been force-evicted (or the process died) meanwhile. Throws NotLeaseHolderError for a lease that is not held (a double release).
   */
  release(slot: number, leaseId: number): 'ready' | 'draining' | 'evicted' {
    const base = this.#base(slot);
    if (
      leaseId === 0 ||
      Atomics.compareExchange(this.#view, base + L.LEASE, leaseId, 0) !== leaseId
    ) {
      throw new NotLeaseHolderError(slot, leaseId);
    }
    for (;;) {
      const word = Atomics.load(this.#view, base + L.STATE);
      const status = StateWord.get(word, 'status');
      // Drained while leased (unregister / close): the holder was let finish; now it closes.
      if (status === Status.draining) return 'draining';
      if (status !== Status.leased) return 'evicted';
      const retire = (StateWord.get(word, 'flags') & Flag.retireOnRelease) !== 0;
      const to = retire ? Status.draining : Status.ready;
      const flags = StateWord.get(word, 'flags') & ~Flag.leakReported;
      const next = StateWord.with(StateWord.with(word, 'status', to), 'flags', flags);
      if (Atomics.compareExchange(this.#view, base + L.STATE, word, next) === word) {
        if (!retire) this.#waits.madeLeasable(slot); // hands off to this thread's queue first
        return retire ? 'draining' : 'ready';
      }
    }
  }

  /**
   * Force-evict a hung lease: leased → closing at `generation`. The holder's later release()
   * returns 'evicted'. Returns whether this call evicted it.
   */
  evict(slot: number, generation: number): boolean {
    const base = this.#base(slot);
    const id = Atomics.load(this.#view, base + L.LEASE);
    if (!this.transition(slot, 'closing', { from: 'leased', generation })) return false;
    if (id !== 0) Atomics.compareExchange(this.#view, base + L.LEASE, id, 0);
    return true;
  }

  /** The current lease (id and start), or undefined when none is fully taken. Lock-free. */
  lease(slot: number): { leaseId: number; since: number } | undefined {
    const base = this.#base(slot);
    const id = Atomics.load(this.#view, base + L.LEASE);
    if (id === 0) return undefined;
    const since = Atomics.load(this.#view, base + L.LEASE_SINCE);
    return Atomics.load(this.#view, base + L.LEASE) === id ? { leaseId: id, since } : undefined;
  }

  /**
   * Lease any of `slots`, blocking this worker until one is free (spread over the slots from a
   * random start). Workers only. Throws TimeoutError.
   */
  leaseAny(slots: readonly number[], options: { timeoutMs?: number } = {}): Leased {
    return this.#waits.leaseAny(slots, checkTimeout(options.timeoutMs, 'options.timeoutMs'));
  }

  /**
   * Lease any of `slots`, waiting asynchronously (any thread, main included) in this instance's
   * FIFO queue: a call made while others of this thread wait joins the tail, and a slot released
   * in this thread goes to the first queued waiter that wants it (lease-waits.ts). Rejects with
   * TimeoutError or the signal's reason, leaving the queue.
   */
  leaseAnyAsync(slots: readonly number[], options: LeaseWaitOptions = {}): Promise<Leased> {
    try {
      const timeout = checkTimeout(options.timeoutMs, 'options.timeoutMs');
      const signal = checkSignal(options.signal, 'options.signal');
      for (const slot of slots) this.#base(slot); // validate now: a queued waiter must not throw later
      return this.#waits.leaseAnyAsync(slots, timeout, signal);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Callers queued in this instance's `leaseAnyAsync` right now (this thread only). */
  get queuedWaiters(): number {
    return this.#waits.queued;
  }

  /** Waiters announced on the RELEASES futex word, all threads (pumps and blocked `leaseAny`). */
  leaseWaiters(): number {
    return this.#waits.announced();
  }

  /**
   * Call `listener(slot)` synchronously whenever this instance (so this thread) makes `slot`
   * leasable — a release, a move to ready, the unready flag cleared — and this instance's own
   * queue did not take it. For a queue kept elsewhere in the same thread (the coordinator's), so a
   * release hands off before the releasing caller can take the slot back. Keep it short and
   * non-reentrant: it runs inside those calls. Returns the unsubscribe function.
   */
  onLeasable(listener: (slot: number) => void): () => void {
    return this.#waits.onLeasable(listener);
  }

  /**
   * The building blocks of waiting for "some slot may have become leasable", for callers with
   * their own notion of what they wait for (the coordinator's request and acquire queues, through
   * a ReleasePump of wait-queue.ts):
   *
   *   const epoch = table.releaseEpoch();   // 1. read the futex word
   *   table.addLeaseWaiter(1);              // 2. announce yourself
   *   try { if (!tryAgain()) await table.parkForRelease(epoch, deadline, signal); } // 3. retry, park
   *   finally { table.addLeaseWaiter(-1); }
   *
   * In that order no wake-up can be lost (lease-waits.ts).
   */
  releaseEpoch(): number {
    return this.#waits.releaseEpoch();
  }

  addLeaseWaiter(delta: number): void {
    this.#waits.addLeaseWaiter(delta);
  }

  /** Park without blocking until RELEASES moves from `epoch`, `deadline` (performance.now ms) or abort. */
  parkForRelease(epoch: number, deadline: number, signal?: AbortSignal): Promise<void> {
    return this.#waits.parkForRelease(epoch, deadline, signal);
  }

  /** Lease `slot` if it is leasable now (one CAS), with the generation it was leased at. */
  #leaseOne(slot: number): Leased | undefined {
    const leaseId = this.tryLease(slot);
    if (leaseId === 0) return undefined;
    return { slot, leaseId, generation: StateWord.get(this.word(slot), 'generation') };
  }

  #seqlock(slot: number): Seqlock {
    let lock = this.#seqlocks[slot];
    if (lock === undefined) {
      lock = new Seqlock(this.#view, this.#base(slot) + L.SEQ, L.FIELD_COUNT);
      this.#seqlocks[slot] = lock;
    }
    return lock;
  }

  #base(slot: number): number {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.capacity) {
      throw new InvalidArgumentError(
        'slot',
        `${slot} is not a slot of this table (0..${this.capacity - 1})`,
      );
    }
    return L.slotBase(slot);
  }
}
