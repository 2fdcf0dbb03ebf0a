/**
 * The ordinary async mutex the naive designs use — the equivalent of Python's `asyncio.Lock`,
 * Go's `sync.Mutex` seen from async code, or tokio's `RwLock::write`: FIFO, no timeout, no
 * notion of what the holder is doing. Nothing is wrong with the lock itself; the anti-patterns in
 * bench/naive/f*.ts are about what is done while holding it.
 *
 * It records how long each hold lasted, so a scenario can report the longest one (F1's figure).
 */
export class NaiveLock {
  #held = false;
  #since = 0;
  readonly #queue: (() => void)[] = [];
  /** Every hold's duration in ms, in order. */
  readonly holdsMs: number[] = [];

  async acquire(): Promise<void> {
    if (!this.#held) {
      this.#held = true;
      this.#since = performance.now();
      return;
    }
    await new Promise<void>((resolve) => this.#queue.push(resolve));
    // Ownership was handed over by release(); the hold starts now.
    this.#since = performance.now();
  }

  release(): void {
    if (!this.#held) throw new Error('NaiveLock.release() without a holder');
    this.holdsMs.push(performance.now() - this.#since);
    const next = this.#queue.shift();
    if (next === undefined) this.#held = false;
    else next(); // stays held: handed to the next waiter
  }

  async with<T>(fn: () => Promise<T> | T): Promise<T> {
    await this.acquire();
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  get maxHoldMs(): number {
    return this.holdsMs.reduce((m, h) => Math.max(m, h), 0);
  }
}
