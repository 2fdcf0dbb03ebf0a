/**
 * ANTI-PATTERN (F4 in docs/architecture.md): a pool that cannot see leaked leases and reconnects
 * on a fixed delay.
 *
 * Incident: connection and terminal pools (TypeScript, claude-flow "WebSocket Stability
 * Engineering Report"): before the fixes, connections that a caller never gave back stayed
 * "in use" forever with nothing noticing (leaks, stuck connections, pool exhaustion), waiters
 * queued without bound, and every dropped connection reconnected after the same fixed delay, so a
 * server restart brought every client back in the same instant (a reconnect storm). The fixes:
 * leak detection with thresholds, bounded queues, backoff with jitter.
 *
 * Reproduced faithfully:
 * - `NaiveLeasePool`: idle list + in-use set + an unbounded FIFO of waiters; `acquire` takes an
 *   idle connection or queues; `release` hands it on. Nothing records when or where a connection
 *   was taken, so a lease that is never released is indistinguishable from a busy one:
 *   `stats()` only says "in use".
 * - `FixedDelayReconnector`: on a connection's exit, start a new one after exactly `delayMs`.
 * Do not copy this; atomvisor keeps lease start times in shared memory (leak events, eviction),
 * bounds its queues, and restarts with full-jitter exponential backoff and a breaker.
 */
import type { ServerCommand } from '../fixtures/rpc-server.ts';
import { StdioClient } from './stdio-client.ts';

export class NaiveLeasePool {
  readonly #idle: StdioClient[];
  readonly #inUse = new Set<StdioClient>();
  readonly #waiters: ((client: StdioClient) => void)[] = [];

  constructor(clients: readonly StdioClient[]) {
    this.#idle = [...clients];
  }

  /** Waits (unbounded queue) for a connection; `timeoutMs` only so a benchmark can end. */
  acquire(timeoutMs: number): Promise<StdioClient> {
    const free = this.#idle.pop();
    if (free !== undefined) {
      this.#inUse.add(free);
      return Promise.resolve(free);
    }
    return new Promise((resolve, reject) => {
      const waiter = (client: StdioClient) => {
        clearTimeout(timer);
        this.#inUse.add(client);
        resolve(client);
      };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`acquire timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  release(client: StdioClient): void {
    this.#inUse.delete(client);
    const next = this.#waiters.shift();
    if (next) next(client);
    else this.#idle.push(client);
  }

  /** All the pool knows: a leaked connection just counts as "in use". */
  stats(): { idle: number; inUse: number; waiting: number } {
    return { idle: this.#idle.length, inUse: this.#inUse.size, waiting: this.#waiters.length };
  }
}

/** THE BUG (reconnect half): every dropped connection comes back after the same fixed delay. */
export class FixedDelayReconnector {
  readonly clients = new Set<StdioClient>();
  #stopped = false;

  constructor(
    readonly server: ServerCommand,
    readonly delayMs: number,
    readonly onReconnect: (client: StdioClient) => void,
  ) {}

  manage(client: StdioClient): void {
    this.clients.add(client);
    void client.exited.then(() => {
      this.clients.delete(client);
      if (this.#stopped) return;
      setTimeout(() => {
        if (this.#stopped) return;
        const fresh = new StdioClient(this.server);
        this.onReconnect(fresh);
        this.manage(fresh);
      }, this.delayMs);
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all([...this.clients].map((c) => c.kill()));
  }
}
