/**
 * ANTI-PATTERN (F1 in docs/architecture.md): a health check loop that holds the pool lock while
 * it probes each connection in turn.
 *
 * Incident: a connection manager (Python asyncio, "Connection Manager Stop-the-World Freeze").
 * `_health_check_loop` took the manager's global `asyncio.Lock` and, still holding it, awaited a
 * network health check on each of its 10 connections one after the other; with a 5 s check
 * timeout and unresponsive hosts the lock was held for 10 × 5 s = 50 s, and every
 * acquire/release — the whole TUI — froze for that long.
 *
 * Reproduced faithfully: one pool-wide lock (`NaiveLock`, FIFO like asyncio.Lock) guards the
 * connection list; `acquire` and `release` take it briefly (correct on their own); the health
 * round takes it and awaits `request(healthMethod, timeoutMs)` on every connection sequentially,
 * inside the lock. Nothing here is deliberately slowed down: the freeze is the sum of the probe
 * timeouts, exactly as in the incident. Do not copy this; see atomvisor's probe scheduler.
 */
import { NaiveLock } from './lock.ts';
import type { StdioClient } from './stdio-client.ts';

interface PooledConnection {
  client: StdioClient;
  inUse: boolean;
  healthFailures: number;
}

export class NaiveConnectionManager {
  readonly lock = new NaiveLock();
  readonly #connections: PooledConnection[];

  constructor(clients: readonly StdioClient[]) {
    this.#connections = clients.map((client) => ({ client, inUse: false, healthFailures: 0 }));
  }

  async acquire(): Promise<StdioClient> {
    await this.lock.acquire();
    try {
      const free = this.#connections.find((c) => !c.inUse);
      if (free === undefined) throw new Error('no free connection');
      free.inUse = true;
      return free.client;
    } finally {
      this.lock.release();
    }
  }

  async release(client: StdioClient): Promise<void> {
    await this.lock.acquire();
    try {
      const pooled = this.#connections.find((c) => c.client === client);
      if (pooled) pooled.inUse = false;
    } finally {
      this.lock.release();
    }
  }

  /** THE BUG: the lock is held across every probe's network I/O, one probe after another. */
  async healthCheckRound(healthMethod: string, timeoutMs: number): Promise<void> {
    await this.lock.acquire();
    try {
      for (const pooled of this.#connections) {
        try {
          await pooled.client.request(healthMethod, undefined, timeoutMs);
          pooled.healthFailures = 0;
        } catch {
          pooled.healthFailures++;
        }
      }
    } finally {
      this.lock.release();
    }
  }
}
