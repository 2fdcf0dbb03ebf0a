/**
 * ANTI-PATTERN (F5 in docs/architecture.md): one pool-wide lock held for a whole request on one
 * connection.
 *
 * Incident: an agent session pool (Rust/tokio, "pool write lock held during entire prompt
 * streaming causes cross-session deadlock"). `SessionPool::with_connection(thread_id, f)` took the
 * connections map's global `RwLock` for writing (HashMap::get_mut needs `&mut self`) and kept it
 * while `f(conn).await` streamed a prompt — minutes for a long tool call. Session B, cleanup and
 * new sessions all waited for session A's prompt to finish.
 *
 * Reproduced faithfully: one lock (`NaiveLock`, like the tokio write lock) over the session →
 * client map; `withConnection` takes it, looks the session's connection up and awaits the
 * caller's function — the whole request — before releasing it. Do not copy this; in atomvisor a
 * lease locks one connection only and pool-level code never waits on it.
 */
import { NaiveLock } from './lock.ts';
import type { StdioClient } from './stdio-client.ts';

export class NaiveSessionPool {
  readonly lock = new NaiveLock();
  readonly #connections = new Map<string, StdioClient>();

  add(session: string, client: StdioClient): void {
    this.#connections.set(session, client);
  }

  /** THE BUG: the global lock is held while `fn` runs the request. */
  async withConnection<T>(session: string, fn: (client: StdioClient) => Promise<T>): Promise<T> {
    await this.lock.acquire();
    try {
      const client = this.#connections.get(session);
      if (client === undefined) throw new Error(`no connection for session ${session}`);
      return await fn(client);
    } finally {
      this.lock.release();
    }
  }
}
