/**
 * The in-thread FIFO wait queue for "wait until something is leasable", and the one futex pump
 * that serves such queues when other threads make something leasable. Both users share it:
 * `SlotTable.leaseAnyAsync` (one queue per table instance) and the coordinator (one queue per key,
 * src/coordinator/queues.ts). docs/architecture.md, "Who wakes whom", has the whole picture.
 *
 * WaitQueue owns the waiters and nothing else: arrival order, each waiter's timeout and abort
 * signal (either takes it out of the queue at once, no timer left behind), and the serve pass.
 * What a waiter waits for is the owner's business: `attempt(data, hint)` tries to serve one
 * waiter now and returns what it got, `undefined` (not now), or SKIP (this pass offers nothing
 * this waiter wants). A serve pass visits the waiters in order:
 * - a waiter served is resolved and leaves the queue at once (before the pass goes on);
 * - a waiter that cannot be served (`undefined`) blocks its *lane* for the rest of the pass:
 *   waiters of one lane stay FIFO among themselves (a later one never overtakes an earlier one
 *   that is still waiting), while other lanes are still tried (the coordinator's requests are not
 *   held behind an acquire that cannot be served);
 * - the pass ends once every lane that has waiters is blocked.
 * `hint` is what the event that triggered the pass made usable (a slot, a replica), passed through
 * to `attempt`; a pass after a futex wake-up has none.
 *
 * Nothing here blocks or re-enters: `serve` only calls `attempt` and settles promises, so it may
 * run inside the table calls that make a slot leasable (the synchronous hand-off).
 *
 * ReleasePump is the one waiter on the table's RELEASES futex word per queue owner, alive while
 * anyone is queued. It announces itself once (LEASE_WAITERS) for its whole life, and every epoch
 * read is followed by a serve pass (the retry) and then a park that returns at once if RELEASES
 * moved meanwhile: epoch → announce → retry → park, so no wake-up is lost. One pump per owner, not
 * one park per waiter: a release wakes one pump, not a herd.
 */
import { InvalidArgumentError } from '../errors.ts';
import { MAX_TIMER_MS } from '../shm/validate.ts';

/** `attempt`'s answer for a waiter that wants nothing this pass offers (it does not block). */
export const SKIP: unique symbol = Symbol('skip');

export interface WaitQueueHooks<T, D, H> {
  /** Serve the waiter with `data` now if possible: its value, undefined (not now), or SKIP. */
  attempt(data: D, hint: H | undefined): T | undefined | typeof SKIP;
  /** The error a waiter of `data` gets when its `timeoutMs` ran out. */
  timeoutError(data: D, timeoutMs: number): unknown;
  /** The lane (0 ≤ lane < lanes) of a waiter with `data`. Default: every waiter in lane 0. */
  lane?(data: D): number;
  /** A waiter joined (+1) or left (-1, served, failed, timed out or aborted). */
  counted?(data: D, delta: 1 | -1): void;
}

interface Waiter<T, D> {
  readonly data: D;
  readonly lane: number;
  readonly resolve: (value: T) => void;
  readonly reject: (error: unknown) => void;
  readonly timeoutMs: number;
  timer: NodeJS.Timeout | undefined;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

export class WaitQueue<T, D = undefined, H = undefined> {
  /** In arrival order (a Set keeps insertion order, and deletes anywhere in O(1)). */
  readonly #waiters = new Set<Waiter<T, D>>();
  readonly #hooks: WaitQueueHooks<T, D, H>;
  readonly #laneSizes: number[];

  constructor(hooks: WaitQueueHooks<T, D, H>, lanes = 1) {
    if (!Number.isInteger(lanes) || lanes < 1 || lanes > 31)
      throw new InvalidArgumentError('lanes', `expected an integer 1..31, got ${lanes}`);
    this.#hooks = hooks;
    this.#laneSizes = new Array<number>(lanes).fill(0);
  }

  /** Waiters queued now. */
  get size(): number {
    return this.#waiters.size;
  }

  /** Waiters queued now in `lane`. */
  laneSize(lane: number): number {
    return this.#laneSizes[lane] ?? 0;
  }

  /**
   * Join the tail and wait to be served by a later `serve` pass. Rejects with the signal's reason
   * (at once if it has already aborted: such a caller never joins) or with `timeoutError` once
   * `timeoutMs` has passed (undefined, or MAX_TIMER_MS and more: no time limit).
   */
  wait(data: D, timeoutMs: number | undefined, signal: AbortSignal | undefined): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    // Hot under contention: one closure (the executor) per waiter, the rest is shared.
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T, D> = {
        data,
        lane: this.#hooks.lane?.(data) ?? 0,
        resolve,
        reject,
        timeoutMs: timeoutMs ?? 0,
        timer: undefined,
        signal,
        onAbort: undefined,
      };
      this.#waiters.add(waiter);
      this.#laneSizes[waiter.lane]!++;
      this.#hooks.counted?.(data, 1);
      if (timeoutMs !== undefined && timeoutMs < MAX_TIMER_MS)
        waiter.timer = setTimeout(this.#onTimeout, timeoutMs, waiter);
      if (signal !== undefined) {
        waiter.onAbort = () => this.#reject(waiter, signal.reason);
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
    });
  }

  /**
   * One pass over the queue in order (see the file comment); `hint` goes to every attempt.
   * Returns how many waiters it served.
   */
  serve(hint?: H): number {
    if (this.#waiters.size === 0) return 0;
    const sizes = this.#laneSizes;
    const lanes = sizes.length;
    // Lanes blocked in this pass, as bits (lanes ≤ 31).
    let blocked = 0;
    let served = 0;
    for (const waiter of this.#waiters) {
      const bit = 1 << waiter.lane;
      if ((blocked & bit) === 0) {
        const got = this.#hooks.attempt(waiter.data, hint);
        if (got === SKIP) continue;
        if (got !== undefined) {
          if (this.#leave(waiter)) {
            served++;
            waiter.resolve(got);
          }
          continue;
        }
        blocked |= bit;
      }
      let open = false;
      for (let lane = 0; lane < lanes && !open; lane++)
        open = (blocked & (1 << lane)) === 0 && sizes[lane]! > 0;
      if (!open) return served;
    }
    return served;
  }

  /** Fail every waiter with `error` (their key failed or closed). */
  rejectAll(error: unknown): void {
    for (const waiter of this.#waiters) this.#reject(waiter, error);
  }

  readonly #onTimeout = (waiter: Waiter<T, D>): void =>
    this.#reject(waiter, this.#hooks.timeoutError(waiter.data, waiter.timeoutMs));

  #reject(waiter: Waiter<T, D>, error: unknown): void {
    if (this.#leave(waiter)) waiter.reject(error);
  }

  /** Take `waiter` out of the queue, with its timer and abort listener; false if it had left. */
  #leave(waiter: Waiter<T, D>): boolean {
    if (!this.#waiters.delete(waiter)) return false;
    this.#laneSizes[waiter.lane]!--;
    clearTimeout(waiter.timer);
    if (waiter.onAbort !== undefined) waiter.signal?.removeEventListener('abort', waiter.onAbort);
    this.#hooks.counted?.(waiter.data, -1);
    return true;
  }
}

/** The futex of "some slot may have become leasable" (SlotTable has these three methods). */
export interface ReleaseFutex {
  releaseEpoch(): number;
  addLeaseWaiter(delta: number): void;
  parkForRelease(epoch: number, deadline: number, signal?: AbortSignal): Promise<void>;
}

export class ReleasePump {
  readonly #futex: ReleaseFutex;
  readonly #waiting: () => boolean;
  readonly #serve: () => void;
  #pumping = false;
  #stop: AbortController | undefined;

  /**
   * `waiting()`: is anyone queued? `serve()`: one pass over every queue the pump serves (after a
   * wake-up any slot may have freed up, so it gets no hint).
   */
  constructor(futex: ReleaseFutex, waiting: () => boolean, serve: () => void) {
    this.#futex = futex;
    this.#waiting = waiting;
    this.#serve = serve;
  }

  /** Someone joined a queue: make sure the pump runs. */
  start(): void {
    if (!this.#pumping) void this.#run();
  }

  /** The queues emptied: stop parking now (a parked waitAsync holds a ref'd keep-alive timer). */
  stop(): void {
    this.#stop?.abort();
  }

  async #run(): Promise<void> {
    this.#pumping = true;
    const futex = this.#futex;
    futex.addLeaseWaiter(1);
    try {
      while (this.#waiting()) {
        const epoch = futex.releaseEpoch();
        this.#serve();
        if (!this.#waiting()) break;
        const stop = new AbortController();
        this.#stop = stop;
        try {
          await futex.parkForRelease(epoch, Number.POSITIVE_INFINITY, stop.signal);
        } catch {
          // stopped because the queues emptied; the loop condition decides
        } finally {
          this.#stop = undefined;
        }
      }
    } finally {
      futex.addLeaseWaiter(-1);
      this.#pumping = false;
    }
  }
}
