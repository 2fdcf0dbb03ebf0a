/**
 * Lease: exclusive use of one connection until released. The lease *is* the slot's lock (the
 * table's ready → leased CAS), so holding it blocks no one but the callers who want this very
 * connection — and they wait asynchronously, bounded, in the coordinator's queue.
 *
 *   await using lease = await coordinator.acquire('lsp');
 *   lease.onNotification('textDocument/publishDiagnostics', (params) => show(params));
 *   await lease.request('textDocument/hover', params);
 *   // released when the block ends (or call lease.release())
 *
 * While it is held, the lease's own handlers come first for what its process sends on its own
 * (src/coordinator/handlers.ts): they answer its requests before the key's and the spec's, and
 * hear its notifications before them. Released, they are dropped.
 */
import { NotLeaseHolderError } from '../errors.ts';
import { Handlers, type NotificationHandler, type RequestHandler } from './handlers.ts';
import type { RequestOptions } from './types.ts';

export interface LeaseBackend {
  request(lease: Lease, method: string, params: unknown, options: RequestOptions): Promise<unknown>;
  notify(lease: Lease, method: string, params: unknown): Promise<void>;
  release(lease: Lease): void;
}

export class Lease {
  readonly key: string;
  readonly slot: number;
  /** Which replica of the key (0-based). */
  readonly replica: number;
  readonly generation: number;
  readonly leaseId: number;
  readonly pid: number;
  /** Where acquire() was called from, kept for leak reports when leak detection is on. */
  readonly stack: string | undefined;
  readonly acquiredAt = performance.now();
  /** This lease's handlers for what its process sends on its own (empty once released). */
  readonly handlers = new Handlers();
  readonly #backend: LeaseBackend;
  #released = false;

  constructor(
    backend: LeaseBackend,
    fields: {
      key: string;
      slot: number;
      replica: number;
      generation: number;
      leaseId: number;
      pid: number;
      stack: string | undefined;
    },
  ) {
    this.#backend = backend;
    this.key = fields.key;
    this.slot = fields.slot;
    this.replica = fields.replica;
    this.generation = fields.generation;
    this.leaseId = fields.leaseId;
    this.pid = fields.pid;
    this.stack = fields.stack;
  }

  get released(): boolean {
    return this.#released;
  }

  /** A JSON-RPC request on the leased connection. */
  request<T = unknown>(method: string, params?: unknown, options: RequestOptions = {}): Promise<T> {
    if (this.#released) return Promise.reject(new NotLeaseHolderError(this.slot, this.leaseId));
    return this.#backend.request(this, method, params, options) as Promise<T>;
  }

  /** A JSON-RPC notification on the leased connection. */
  notify(method: string, params?: unknown): Promise<void> {
    if (this.#released) return Promise.reject(new NotLeaseHolderError(this.slot, this.leaseId));
    return this.#backend.notify(this, method, params);
  }

  /**
   * Answer the server's `method` requests ('*': any) while this lease is held, before the key's
   * and the spec's handlers. Returns the function that removes the handler.
   */
  onRequest(method: string, handler: RequestHandler<Lease>): () => void {
    if (this.#released) throw new NotLeaseHolderError(this.slot, this.leaseId);
    return this.handlers.add('request', method, handler);
  }

  /** Hear the server's `method` notifications ('*': any) while this lease is held, first. */
  onNotification(method: string, handler: NotificationHandler<Lease>): () => void {
    if (this.#released) throw new NotLeaseHolderError(this.slot, this.leaseId);
    return this.handlers.add('notification', method, handler);
  }

  /** Give the connection back. Idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#backend.release(this);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.release();
  }
}
