/**
 * ANTI-PATTERN (F2 in docs/architecture.md): closing a hung subprocess while holding the pool mutex.
 *
 * Incident: a stdio MCP connection pool (Go, "STDIO Connection Pool Deadlock Fix").
 * `removeConnection()` called `conn.client.Close()` — end stdin, wait for the process — while its
 * callers (`GetConnection`, `cleanupStaleConnections`, `CloseConnection`...) held `p.mutex`. A
 * hung or crashed MCP server never exited, Close blocked forever, and every other goroutine that
 * needed the pool (other tools' GetConnection, the cleanup routine) queued on the mutex: the whole
 * system froze until restarted.
 *
 * Reproduced faithfully: one pool mutex (`NaiveLock`) guards the key → client map;
 * `getConnection` takes it briefly (correct on its own); `cleanupStaleConnections` takes it and,
 * still holding it, closes each stale connection and waits for its process to exit, with no
 * deadline (`StdioClient.close`). A server that ignores stdin EOF and SIGTERM keeps it waiting.
 * The benchmark harness — not the design — SIGKILLs the hung process after a fixed time so the
 * run ends (in the incident an operator restarted the service). Do not copy this; see
 * atomvisor's Supervisor.stop (CAS to closing, then close outside any lock, escalating).
 */
import { NaiveLock } from './lock.ts';
import type { StdioClient } from './stdio-client.ts';

export class NaiveStdioPool {
  readonly mutex = new NaiveLock();
  readonly #connections = new Map<string, StdioClient>();

  add(key: string, client: StdioClient): void {
    this.#connections.set(key, client);
  }

  async getConnection(key: string): Promise<StdioClient> {
    await this.mutex.acquire();
    try {
      const client = this.#connections.get(key);
      if (client === undefined) throw new Error(`no connection for ${key}`);
      return client;
    } finally {
      this.mutex.release();
    }
  }

  /** THE BUG: stale connections are closed — waiting for their processes — under the mutex. */
  async cleanupStaleConnections(isStale: (key: string) => boolean): Promise<void> {
    await this.mutex.acquire();
    try {
      for (const key of [...this.#connections.keys()]) {
        if (isStale(key)) await this.#removeConnection(key);
      }
    } finally {
      this.mutex.release();
    }
  }

  /** Caller holds the mutex (as in the Go code). */
  async #removeConnection(key: string): Promise<void> {
    const client = this.#connections.get(key);
    if (client === undefined) return;
    await client.close(); // blocks while the process is hung
    this.#connections.delete(key);
  }
}
